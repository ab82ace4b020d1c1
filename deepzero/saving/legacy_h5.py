"""Keras's legacy HDF5 format: ``model.save('x.h5')`` and ``save_weights('x.h5')``.

Layout (what Keras 3 writes; Keras 1/2 files differ only where noted)::

    /                        attrs: keras_version, backend, model_config (JSON),
                                    training_config (JSON, if compiled)
    /model_weights           attrs: layer_names (every layer, in model order),
                                    backend, keras_version
    /model_weights/<layer>   attrs: weight_names (possibly empty)
    /model_weights/<layer>/<weight name>   one dataset per weight
    /optimizer_weights       attrs: weight_names; one dataset per state array

A weights-only file (``save_weights``, or the keras.applications downloads)
is the ``model_weights`` group alone, at the root. Weight names contain
'/', which h5py turns into nested groups (``conv2d/sequential/conv2d/kernel``
in Keras 3, ``conv2d_1/conv2d_1/kernel:0`` in Keras 2, ``conv1/uniform1``
in Keras 1): readers follow ``weight_names`` in order and never guess from
dataset names. Layer names may contain '/' too (Keras-1 SqueezeNet:
``fire2/squeeze1x1``), so layer groups are also found by path.

Weights load topologically by default: the i-th layer of the model that
owns weights takes the i-th layer of the file that has any, whatever the
names. ``by_name=True`` pairs layers by name instead.
"""
import contextlib
import io
import os

import h5py
import numpy as np

from ..core.files import atomic_write
from . import h5_attrs, serialization, weights_io

MODEL_WEIGHTS = 'model_weights'
OPTIMIZER_WEIGHTS = 'optimizer_weights'
TOP_LEVEL_WEIGHTS = 'top_level_model_weights'  # Keras 3: the model's own weights


# --- opening files ------------------------------------------------------------
def open_h5(filepath):
    """Open an HDF5 file for reading; errors name the file."""
    filepath = os.fspath(filepath)
    if not os.path.exists(filepath):
        raise FileNotFoundError(f"No such file: {filepath}")
    try:
        return h5py.File(filepath, 'r')
    except OSError as e:
        raise OSError(f"{filepath} is not a readable HDF5 file (truncated or "
                      f"corrupt?): {e}") from e


@contextlib.contextmanager
def create_h5(filepath, overwrite=True):
    """A new, empty ``h5py.File`` to fill in the ``with`` block; it is saved
    to ``filepath`` atomically when the block ends.

    The file is built in memory (one copy of it while saving) and then
    written with plain file writes: HDF5 writing to a full disk itself fails
    in its destructors ("Can't decrement id ref count", or a crash), while a
    plain write raises OSError(ENOSPC).
    """
    with atomic_write(filepath, overwrite) as tmp_path:
        image = io.BytesIO()
        with h5py.File(image, 'w') as f:
            yield f
        with open(tmp_path, 'wb') as out, image.getbuffer() as data:
            out.write(data)


# --- the layout, independent of any model -------------------------------------
def write_named_arrays(group, named_arrays):
    """Store ``[(name, array), ...]``: attribute ``weight_names`` plus one
    dataset per array, in order."""
    h5_attrs.write_str_list(group, 'weight_names', [name for name, _ in named_arrays])
    for name, value in named_arrays:
        if name in group:
            raise ValueError(f"two weights named {name!r} in HDF5 group "
                             f"{group.name!r}: weight names must be unique per layer")
        group.create_dataset(name, data=np.asarray(value))


def named_datasets(group):
    """``[(name, dataset), ...]`` in ``weight_names`` order; no data is read."""
    named = []
    for name in h5_attrs.read_str_list(group, 'weight_names'):
        dataset = group.get(name)
        if not isinstance(dataset, h5py.Dataset):
            raise ValueError(f"{group.file.filename}: weight {name!r} is listed in "
                             f"{group.name!r} but its dataset is missing")
        named.append((name, dataset))
    return named


def write_layer_weights(group, layers):
    """Write the ``model_weights`` layout into ``group``.

    Args:
        layers: ``[(layer_name, [(weight_name, array), ...]), ...]`` in model
            order, weightless layers included (they are listed too).
    """
    h5_attrs.write_str_list(group, 'layer_names', [name for name, _ in layers])
    h5_attrs.write_str(group, 'backend', serialization.BACKEND)
    h5_attrs.write_str(group, 'keras_version', serialization.KERAS_VERSION)
    # Groups are created in name order, as Keras does, so that a layer name
    # that is a prefix path of another ('a' and 'a/b') is created first.
    for layer_name, named_arrays in sorted(layers, key=lambda item: item[0]):
        if layer_name in group:
            raise ValueError(f"two layers named {layer_name!r}: layer names must "
                             "be unique to save in HDF5 format")
        write_named_arrays(group.create_group(layer_name), named_arrays)
    write_named_arrays(group.create_group(TOP_LEVEL_WEIGHTS), [])


def weights_group(f):
    """The group holding ``layer_names``: the root of a weights-only file or
    ``model_weights`` of a full-model file."""
    if _has_list_attr(f, 'layer_names'):
        return f
    if MODEL_WEIGHTS in f and _has_list_attr(f[MODEL_WEIGHTS], 'layer_names'):
        return f[MODEL_WEIGHTS]
    if 'nb_layers' in f.attrs:
        raise ValueError(f"{f.filename}: this is a Keras 0.x weight file "
                         "(attribute 'nb_layers'); only Keras 1 and later files "
                         "(attribute 'layer_names') can be read")
    raise ValueError(f"{f.filename}: no 'layer_names' attribute at the root or in "
                     "'model_weights': not a Keras HDF5 weight file")


def _has_list_attr(group, name):
    return name in group.attrs or f'{name}0' in group.attrs


def layer_datasets(group):
    """``[(layer_name, [(weight_name, dataset), ...]), ...]`` for every layer
    listed in ``layer_names``, in file order (weightless layers included).
    No data is read: datasets are read once checked against the model."""
    layers = []
    for layer_name in h5_attrs.read_str_list(group, 'layer_names'):
        layer_group = group.get(layer_name)
        if not isinstance(layer_group, h5py.Group):
            raise ValueError(f"{group.file.filename}: layer {layer_name!r} is "
                             "listed in 'layer_names' but has no group")
        layers.append((layer_name, named_datasets(layer_group)))
    top = group.get(TOP_LEVEL_WEIGHTS)
    if isinstance(top, h5py.Group) and h5_attrs.read_str_list(top, 'weight_names'):
        raise ValueError(f"{group.file.filename}: the model in this file has "
                         "weights of its own (outside any layer); deepzero models "
                         "keep all weights in layers")
    return layers


# --- models -------------------------------------------------------------------
def save_weights(model, filepath, overwrite=True):
    """Write a weights-only legacy file (the ``model_weights`` layout at the root)."""
    entries = _model_weight_entries(model)
    with create_h5(filepath, overwrite) as f:
        write_layer_weights(f, entries)


def load_weights(model, filepath, by_name=False, skip_mismatch=False):
    """Load a legacy weight file (weights-only or full model) into ``model``."""
    label = os.fspath(filepath)
    with open_h5(filepath) as f:
        file_layers = layer_datasets(weights_group(f))
        if by_name:
            weights_io.assign_by_name(model, file_layers, skip_mismatch, label)
        else:
            weights_io.assign_topologically(model, file_layers, skip_mismatch, label)


def save_model(model, filepath, overwrite=True, include_optimizer=True):
    """``model.save('x.h5')``: architecture, weights, compile and optimizer state."""
    config = serialization.model_config(model, legacy=True)
    training_config = (serialization.training_config(model)
                       if include_optimizer else None)
    # As Keras: the optimizer's variables as they are (before the first step,
    # just iteration and learning_rate; the slots come with the first step).
    optimizer_state = (weights_io.optimizer_state(model.optimizer)
                       if training_config is not None else [])
    entries = _model_weight_entries(model)
    with create_h5(filepath, overwrite) as f:
        h5_attrs.write_str(f, 'keras_version', serialization.KERAS_VERSION)
        h5_attrs.write_str(f, 'backend', serialization.BACKEND)
        h5_attrs.write_json(f, 'model_config', config)
        if training_config is not None:
            h5_attrs.write_json(f, 'training_config', training_config)
        write_layer_weights(f.create_group(MODEL_WEIGHTS), entries)
        if optimizer_state:
            write_named_arrays(f.create_group(OPTIMIZER_WEIGHTS), optimizer_state)


def load_model(filepath, custom_objects=None, compile=True):
    """Rebuild a model from a full legacy file; with ``compile=True`` also
    recompile it and restore the optimizer state, so training resumes.

    The model's weights are created in the shapes the file holds (see
    ``serialization.model_from_config``) and filled from it."""
    label = os.fspath(filepath)
    with open_h5(filepath) as f:
        config = h5_attrs.read_json(f, 'model_config')
        training_config = h5_attrs.read_json(f, 'training_config')
        if config is None:
            raise ValueError(f"{label}: no 'model_config' attribute; this is a "
                             "weights-only file: build the model, then call "
                             "model.load_weights()")
        file_layers = layer_datasets(weights_group(f))
        model = serialization.model_from_config(
            config, custom_objects, source=label, root='model_config',
            weight_shapes=[dataset.shape for _, named in file_layers for _, dataset in named])
        weights_io.assign_topologically(model, file_layers, skip_mismatch=False, label=label)
        if compile and training_config is not None:
            serialization.compile_from_config(model, training_config, custom_objects,
                                              source=label, root='training_config')
            optimizer = f.get(OPTIMIZER_WEIGHTS)
            state = named_datasets(optimizer) if isinstance(optimizer, h5py.Group) else []
            if state:
                weights_io.restore_optimizer_state(
                    model, [dataset for _, dataset in state], label)
    return model


def _model_weight_entries(model):
    return [(layer.name, weights_io.named_values(weights_io.legacy_weights(layer)))
            for layer in model.layers]
