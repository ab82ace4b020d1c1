"""Moving weight values between a model and the arrays read from a file.

Shared by both formats: which weights a layer saves and in what order, the
shape checks (with ``skip_mismatch``), and the optimizer state.
"""
import warnings

import numpy as np


def legacy_weights(layer):
    """The weights a legacy HDF5 file stores for ``layer``, in Keras's order:
    trainable then non-trainable (BatchNormalization: gamma, beta,
    moving_mean, moving_variance). For a nested model, every weight of its
    sub-layers."""
    return _unique(list(layer.trainable_weights) + list(layer.non_trainable_weights))


def _unique(variables):
    seen, unique = set(), []
    for v in variables:
        if id(v) not in seen:
            seen.add(id(v))
            unique.append(v)
    return unique


def weight_name(variable):
    """A weight's name in a file: its path ('conv2d/kernel') as Keras 3 writes."""
    return getattr(variable, 'path', None) or variable.name


def named_values(variables):
    """``[(name, ndarray), ...]`` of ``variables``, copied to host memory."""
    return [(weight_name(v), to_numpy(v)) for v in variables]


def to_numpy(variable):
    data = getattr(variable, 'data', variable)
    if hasattr(data, 'get'):  # CuPy array
        data = data.get()
    return np.asarray(data)


def assign(variables, values, owner, skip_mismatch=False):
    """Copy ``values`` into ``variables`` (same count), casting to each
    variable's dtype. A shape mismatch raises ValueError naming ``owner``,
    the weight and both shapes, or with ``skip_mismatch`` warns and leaves
    that weight as it is."""
    for variable, value in zip(variables, values):
        value = np.asarray(value)
        if tuple(variable.shape) != value.shape:
            message = (f"{owner}: weight {weight_name(variable)!r} has shape "
                       f"{tuple(variable.shape)} but the file holds shape {value.shape}")
            if skip_mismatch:
                warnings.warn(f"Skipping {message}", stacklevel=3)
                continue
            raise ValueError(message)
        variable.data[...] = value


def _check_count(layer, values, owner):
    expected = legacy_weights(layer)
    if len(values) != len(expected):
        raise ValueError(f"{owner}: layer {layer.name!r} has {len(expected)} "
                         f"weight(s) but the file holds {len(values)}")
    return expected


def assign_topologically(model, file_layers, skip_mismatch, label):
    """Pair the model's layers that own weights with the file's layers that
    hold any, by position (names are ignored), as Keras does by default.

    Args:
        file_layers: ``[(layer_name, [(weight_name, array), ...]), ...]``.
        label: the file, for error messages.
    """
    model_layers = [layer for layer in model.layers if legacy_weights(layer)]
    saved = [(name, named) for name, named in file_layers if named]
    if len(model_layers) != len(saved):
        raise ValueError(
            f"{label}: layer count mismatch: the model has {len(model_layers)} "
            f"layers with weights ({[l.name for l in model_layers]}) but the file "
            f"holds weights for {len(saved)} ({[name for name, _ in saved]})")
    for k, (layer, (saved_name, named)) in enumerate(zip(model_layers, saved)):
        owner = f"{label}: layer #{k} ({layer.name!r} in the model, {saved_name!r} in the file)"
        values = [value for _, value in named]
        assign(_check_count(layer, values, owner), values, owner, skip_mismatch)


def assign_by_name(model, file_layers, skip_mismatch, label):
    """Load each file layer into the model layers of the same name; names the
    model does not have are skipped. With ``skip_mismatch`` a layer whose
    weight count differs is skipped with a warning."""
    by_name = {}
    for layer in model.layers:
        by_name.setdefault(layer.name, []).append(layer)
    for saved_name, named in file_layers:
        values = [value for _, value in named]
        for layer in by_name.get(saved_name, []):
            owner = f"{label}: layer {saved_name!r}"
            try:
                variables = _check_count(layer, values, owner)
            except ValueError as e:
                if not skip_mismatch:
                    raise
                warnings.warn(f"Skipping {e}", stacklevel=2)
                continue
            assign(variables, values, owner, skip_mismatch)


# --- optimizer state -----------------------------------------------------------
def optimizer_state(optimizer):
    """``[(path, ndarray), ...]`` of an optimizer's state, Keras 3 names
    ('rm_sprop/iteration', 'rm_sprop/learning_rate', 'rm_sprop/<var>_velocity').
    """
    return [(weight_name(v), to_numpy(v)) for v in optimizer.variables]


def restore_optimizer_state(model, values, label):
    """Load saved optimizer state into ``model.optimizer``; on a mismatch,
    warn and keep the fresh optimizer (as Keras does)."""
    try:
        set_optimizer_state(model.optimizer, model.trainable_weights, values)
    except ValueError as e:
        warnings.warn(f"{label}: could not restore the optimizer state ({e}); "
                      "the model starts with a fresh optimizer", stacklevel=3)


def set_optimizer_state(optimizer, trainable_weights, values):
    """Load ``values`` (in ``optimizer.variables`` order) into ``optimizer``.

    State saved after the first step includes per-weight slots, so the
    optimizer is built on ``trainable_weights`` first; state saved before
    it (just iteration and learning_rate) loads as it is. Raises ValueError
    on a count or shape mismatch, before changing anything.
    """
    if len(values) != len(optimizer.variables):
        optimizer.build(list(trainable_weights))
    current = optimizer.variables
    if len(current) != len(values):
        raise ValueError(f"the optimizer has {len(current)} state arrays but the "
                         f"file holds {len(values)}")
    values = [np.asarray(value) for value in values]
    for variable, value in zip(current, values):
        if tuple(variable.shape) != value.shape:
            raise ValueError(f"optimizer state {weight_name(variable)!r} has shape "
                             f"{tuple(variable.shape)} but the file holds {value.shape}")
    for variable, value in zip(current, values):
        variable.data[...] = value
