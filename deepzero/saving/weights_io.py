"""Moving weight values between a model and the arrays read from a file.

Shared by both formats: which weights a layer saves and in what order, the
shape checks (with ``skip_mismatch``), and the optimizer state.

Keras 3 files hold each object's own variables, which the object itself
saves and loads (Keras's protocol): ``save_own_variables(store)`` puts them
in a dict-like ``store`` under '0', '1', ..., and ``load_own_variables(store)``
takes them back from arrays under the same keys.

Loading is all or nothing: every weight's shape and dtype is checked against
the file's dataset (metadata only), then every dataset is read, and only then
is any weight changed. So a file that does not fit leaves the model as it
was, and a dataset whose shape does not fit is never read.
"""
import warnings

import h5py
import numpy as np

from ..core import cuda
from ..layers.layer import assign


def legacy_weights(layer):
    """The weights a legacy HDF5 file stores for ``layer``, in Keras's order:
    trainable then non-trainable (BatchNormalization: gamma, beta,
    moving_mean, moving_variance). For a nested model, every weight of its
    sub-layers. The two lists split ``layer.weights``, which holds each
    weight once, so neither repeats a weight."""
    return list(layer.trainable_weights) + list(layer.non_trainable_weights)


def weight_name(variable):
    """A weight's name in a file: its path ('conv2d/kernel') as Keras 3 writes."""
    return getattr(variable, 'path', None) or variable.name


def named_values(variables):
    """``[(name, ndarray), ...]`` of ``variables``, copied to host memory."""
    return [(weight_name(v), to_numpy(v)) for v in variables]


def to_numpy(variable):
    """A variable's (or an array's) data in host memory: the bytes a file
    gets are the same whichever device the model is on."""
    return cuda.as_numpy(variable)


def own_variables(obj):
    """``{key: variable}``: what ``obj.save_own_variables`` stores, without
    copying any data."""
    store = {}
    obj.save_own_variables(store)
    return store


def plan_own_variables(own, sources, owner, skip_mismatch=False):
    """``{key: (variable, source)}`` for ``own`` (``own_variables``) paired
    in order with ``sources``, checked as ``plan`` checks them: a mismatch
    raises or, with ``skip_mismatch``, leaves its key out. Reads no data."""
    return {key: (variable, source)
            for (key, variable), source in zip(own.items(), sources)
            if plan([variable], [source], owner, skip_mismatch)}


def read_store(planned, label=''):
    """The store for ``load_own_variables``: ``{key: array}`` read from the
    sources of ``planned`` (``plan_own_variables``), each in its variable's
    dtype; a read error is an OSError naming ``label``, the file."""
    return {key: _read(source, variable.dtype, label)
            for key, (variable, source) in planned.items()}


def plan(variables, sources, owner, skip_mismatch=False, planned=None):
    """Pair ``variables`` with ``sources`` (same count; HDF5 datasets or
    arrays) after checking each pair's shape and dtype, reading no data.

    A mismatch raises ValueError naming ``owner``, the weight and both
    shapes, or with ``skip_mismatch`` warns and leaves that weight out.
    Returns ``planned`` (a new list if None) with the matching pairs
    appended, for ``assign_planned``.
    """
    planned = [] if planned is None else planned
    for variable, source in zip(variables, sources):
        problem = _mismatch(variable, source)
        if problem is None:
            planned.append((variable, source))
            continue
        message = f"{owner}: weight {weight_name(variable)!r} {problem}"
        if skip_mismatch:
            warnings.warn(f"Skipping {message}", stacklevel=3)
            continue
        raise ValueError(message)
    return planned


def _mismatch(variable, source):
    """Why ``source`` cannot fill ``variable`` (None if it can), from the
    source's shape, dtype and storage alone."""
    if tuple(variable.shape) != tuple(source.shape):
        return (f"has shape {tuple(variable.shape)} but the file holds shape "
                f"{tuple(source.shape)}")
    if np.dtype(source.dtype).kind not in 'biuf':
        return f"is numeric but the file holds {np.dtype(source.dtype)} data"
    if isinstance(source, h5py.Dataset) and source.id.get_create_plist().get_nfilters() == 0:
        # A dataset without filters (compression) stores all its bytes; fewer
        # means it was declared but never (fully) written, and reading it
        # would only produce the fill value, possibly gigabytes of it.
        stored, declared = source.id.get_storage_size(), source.size * source.dtype.itemsize
        if stored < declared:
            return (f"is incomplete in the file: shape {tuple(source.shape)} declares "
                    f"{declared} bytes but only {stored} are stored")
    return None


def assign_planned(planned, label=''):
    """Read every source of ``planned`` (in its variable's dtype), then copy
    them all into the variables: a read error (an OSError naming ``label``,
    the file) changes no weight."""
    values = [_read(source, variable.dtype, label) for variable, source in planned]
    for (variable, _), value in zip(planned, values):
        assign(variable.data, value)   # to the variable's device


def _read(source, dtype, label):
    if not isinstance(source, h5py.Dataset):
        return np.asarray(source, dtype)
    value = np.empty(source.shape, dtype)
    if value.size:
        try:
            source.read_direct(value)
        except OSError as e:
            raise OSError(f"{label}: cannot read dataset {source.name!r} (corrupt "
                          f"file?): {e}") from e
    return value


def _check_count(layer, values, owner):
    expected = legacy_weights(layer)
    if len(values) != len(expected):
        raise ValueError(f"{owner}: layer {layer.name!r} has {len(expected)} "
                         f"weight(s) but the file holds {len(values)}")
    return expected


def assign_topologically(model, file_layers, skip_mismatch, label):
    """Pair the model's layers that own weights with the file's layers that
    hold any, by position (names are ignored), as Keras does by default.
    Every pair is checked before any weight changes.

    Args:
        file_layers: ``[(layer_name, [(weight_name, dataset), ...]), ...]``.
        label: the file, for error messages.
    """
    model_layers = [layer for layer in model.layers if legacy_weights(layer)]
    saved = [(name, named) for name, named in file_layers if named]
    if len(model_layers) != len(saved):
        raise ValueError(
            f"{label}: layer count mismatch: the model has {len(model_layers)} "
            f"layers with weights ({[l.name for l in model_layers]}) but the file "
            f"holds weights for {len(saved)} ({[name for name, _ in saved]})")
    planned = []
    for k, (layer, (saved_name, named)) in enumerate(zip(model_layers, saved)):
        owner = f"{label}: layer #{k} ({layer.name!r} in the model, {saved_name!r} in the file)"
        sources = [source for _, source in named]
        plan(_check_count(layer, sources, owner), sources, owner, skip_mismatch, planned)
    assign_planned(planned, label)


def assign_by_name(model, file_layers, skip_mismatch, label):
    """Load each file layer into the model layers of the same name; names the
    model does not have are skipped. With ``skip_mismatch`` a layer whose
    weight count differs is skipped with a warning. Every pair is checked
    before any weight changes."""
    by_name = {}
    for layer in model.layers:
        by_name.setdefault(layer.name, []).append(layer)
    planned = []
    for saved_name, named in file_layers:
        sources = [source for _, source in named]
        for layer in by_name.get(saved_name, []):
            owner = f"{label}: layer {saved_name!r}"
            try:
                variables = _check_count(layer, sources, owner)
            except ValueError as e:
                if not skip_mismatch:
                    raise
                warnings.warn(f"Skipping {e}", stacklevel=2)
                continue
            plan(variables, sources, owner, skip_mismatch, planned)
    assign_planned(planned, label)


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
    own = own_variables(optimizer)
    if len(own) != len(values):
        raise ValueError(f"the optimizer has {len(own)} state arrays but the "
                         f"file holds {len(values)}")
    optimizer.load_own_variables(read_store(plan_own_variables(own, values, 'optimizer state')))
