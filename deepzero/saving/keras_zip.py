"""Keras 3's native format: ``model.save('x.keras')`` and ``x.weights.h5``.

A ``.keras`` file is a zip archive (members stored uncompressed) with::

    metadata.json      {"keras_version": ..., "date_saved": ...}
    config.json        the model's Keras 3 config, plus build_config and
                       compile_config
    model.weights.h5   the weights, in the layout below

Weights are addressed by the object tree, not by layer names: the model is
``/``, its i-th layer ``layers/<class name in snake_case>`` (``conv2d``,
``conv2d_1``, ... counted per class within one model, in layer order),
a nested model's layers ``layers/functional/layers/...``, the optimizer
``optimizer``. Each object's own variables sit in ``<path>/vars/0``,
``<path>/vars/1``, ... and ``<path>/vars`` carries a ``name`` attribute;
the object writes and reads them itself (``save_own_variables`` /
``load_own_variables``, Keras's protocol; a model has none of its own).
A ``.weights.h5`` file (``model.save_weights``) is that weights file alone.
"""
import datetime
import io
import json
import os
import warnings
import zipfile

import h5py

from ..core.files import atomic_write
from ..core.naming import to_snake_case
from . import serialization, weights_io
from .config_checks import quote
from .legacy_h5 import create_h5, open_h5

CONFIG_FILE = 'config.json'
METADATA_FILE = 'metadata.json'
WEIGHTS_FILE = 'model.weights.h5'
# A member that inflates more than this many times its stored size is
# refused (a decompression bomb); real weight files barely compress.
MAX_EXPANSION = 1000
# The most config.json may inflate to. A real one is about 1 KB per layer
# (ResNet152: 0.5 MB), so this holds some 16000 layers; parsing JSON costs up
# to ~25 times its size in Python objects, so the cap also bounds that.
MAX_CONFIG_BYTES = 16 * 2 ** 20


# --- walking the object tree ------------------------------------------------------
def _walk(obj, path=''):
    """Yield ``(path, object)`` for ``obj`` and, for a model, every layer
    below it (a model's ``layers``), with Keras's per-class counters. An
    object that saves variables of its own (a layer: its sub-layers' too) is
    not walked into, so no weight is stored twice."""
    yield path, obj
    if weights_io.own_variables(obj):
        return
    used = {}
    for child in getattr(obj, 'layers', ()):
        base = to_snake_case(serialization.keras_class_name(child))
        used[base] = used.get(base, -1) + 1
        name = base if used[base] == 0 else f'{base}_{used[base]}'
        yield from _walk(child, f'{path}/layers/{name}'.lstrip('/'))


def _vars_group_path(path):
    return f'{path}/vars' if path else 'vars'


class _DatasetWriter:
    """The store ``save_own_variables`` fills: ``store['0'] = variable``
    writes dataset '0' of the object's ``vars`` group."""

    def __init__(self, group):
        self.group = group

    def __setitem__(self, key, variable):
        self.group.create_dataset(key, data=weights_io.to_numpy(variable))


def write_weights(f, model, include_optimizer=True):
    """Write ``model``'s weights (and its optimizer's state) into h5 file
    ``f``: each object saves its own variables (``save_own_variables``)."""
    for path, obj in _walk(model):
        _write_vars(f, path, obj)
    optimizer = getattr(model, 'optimizer', None)
    if include_optimizer and optimizer is not None:
        _write_vars(f, 'optimizer', optimizer)


def _write_vars(f, path, obj):
    group = f.create_group(_vars_group_path(path))
    group.attrs['name'] = obj.name
    obj.save_own_variables(_DatasetWriter(group))


def _stored_vars(f, path, label):
    """The datasets stored for ``path``, in order (empty list if none); a
    damaged group is a ValueError naming the file and the group."""
    group_path = _vars_group_path(path)
    group = f.get(group_path)
    if group is None:
        return []
    if not isinstance(group, h5py.Group):
        raise ValueError(f"{label}: '{group_path}' should be a group "
                         "of datasets '0', '1', ...; it is a dataset")
    datasets = [group.get(str(i)) for i in range(len(group))]
    if not all(isinstance(d, h5py.Dataset) for d in datasets):
        raise ValueError(f"{label}: '{group_path}' should hold datasets "
                         f"'0' to '{len(group) - 1}'; it holds {sorted(group)[:10]}")
    return datasets


def _stored_shapes(f):
    """The shapes of every weight array in h5 file ``f`` (no data is read),
    the optimizer's state excepted."""
    shapes = []

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset) and not name.startswith('optimizer/'):
            shapes.append(tuple(obj.shape))

    f.visititems(visit)
    return shapes


def read_weights(f, model, skip_mismatch=False, label='', load_optimizer=True):
    """Load ``model``'s weights from h5 file ``f`` (layout of this module).
    Every weight is checked against the file, then all are read, and only
    then does each object take its own (``load_own_variables``)."""
    checked = []   # (object, {key: (variable, dataset)}), nothing read yet
    for path, obj in _walk(model):
        own = weights_io.own_variables(obj)
        sources = _stored_vars(f, path, label)
        owner = f"{label}: layer {obj.name!r} (at '{path or '/'}')"
        if len(sources) != len(own):
            message = (f"{owner} has {len(own)} weight(s) but the file holds "
                       f"{len(sources)}")
            if skip_mismatch:
                warnings.warn(f"Skipping {message}", stacklevel=3)
                continue
            raise ValueError(message)
        checked.append((obj, weights_io.plan_own_variables(own, sources, owner,
                                                           skip_mismatch)))
    stores = [(obj, weights_io.read_store(planned, label)) for obj, planned in checked]
    for obj, store in stores:
        obj.load_own_variables(store)
    state = _stored_vars(f, 'optimizer', label)
    if load_optimizer and getattr(model, 'optimizer', None) is not None and state:
        weights_io.restore_optimizer_state(model, state, label)


# --- .weights.h5 -------------------------------------------------------------------
def save_weights(model, filepath, overwrite=True):
    with create_h5(filepath, overwrite) as f:
        write_weights(f, model)


def load_weights(model, filepath, skip_mismatch=False):
    with open_h5(filepath) as f:
        read_weights(f, model, skip_mismatch, label=os.fspath(filepath))


# --- .keras ----------------------------------------------------------------------------
def model_file_config(model, include_optimizer=True):
    """``config.json``: the model's Keras 3 entry with build and compile configs."""
    config = serialization.model_config(model)
    config['build_config'] = {'input_shape': _build_input_shape(model)}
    compile_config = (serialization.get_compile_config(model)
                      if include_optimizer else None)
    config['compile_config'] = compile_config or {}
    return config


def _build_input_shape(model):
    if serialization.keras_class_name(model) != 'Sequential':
        return None
    shape = getattr(model, 'input_shape', None)
    return list(shape) if shape is not None else None


def save_model(model, filepath, overwrite=True, include_optimizer=True):
    config = model_file_config(model, include_optimizer)
    metadata = {'keras_version': serialization.KERAS_VERSION,
                'date_saved': datetime.datetime.now().strftime('%Y-%m-%d@%H:%M:%S')}
    with atomic_write(filepath, overwrite) as tmp_path:
        weights = io.BytesIO()   # see legacy_h5.create_h5 for why in memory
        with h5py.File(weights, 'w') as f:
            write_weights(f, model, include_optimizer)
        with zipfile.ZipFile(tmp_path, 'w', zipfile.ZIP_STORED) as zf, \
                weights.getbuffer() as weights_bytes:
            zf.writestr(METADATA_FILE, json.dumps(metadata))
            zf.writestr(CONFIG_FILE, json.dumps(config))
            zf.writestr(WEIGHTS_FILE, weights_bytes)


def _open_zip(filepath):
    filepath = os.fspath(filepath)
    if not os.path.exists(filepath):
        raise FileNotFoundError(f"No such file: {filepath}")
    try:
        return zipfile.ZipFile(filepath, 'r')
    except (zipfile.BadZipFile, OSError) as e:
        raise ValueError(f"{filepath} is not a readable .keras file (truncated or "
                         f"corrupt zip archive): {e}") from e


def _read_member(zf, name, label, limit=None):
    """The bytes of member ``name``; refuses a member that inflates beyond
    ``limit`` bytes (or MAX_EXPANSION times its stored size), inflating no
    more than that whatever its header declares."""
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise ValueError(f"{label}: the archive has no {name}; not a .keras "
                         "model file") from None
    if limit is None:
        limit = MAX_EXPANSION * max(info.compress_size, 1 << 20)
    too_big = (f"{label}: member {name} inflates to more than {limit} bytes (from "
               f"{info.compress_size} stored): refusing a possible decompression bomb")
    if info.file_size > limit:
        raise ValueError(too_big)
    try:
        with zf.open(info) as member:
            data = member.read(limit + 1)
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise ValueError(f"{label}: cannot read {name} (truncated or corrupt "
                         f"archive): {e}") from e
    if len(data) > limit:
        raise ValueError(too_big)
    return data


def _read_config(zf, label):
    """config.json parsed, read with the MAX_CONFIG_BYTES cap."""
    text = _read_member(zf, CONFIG_FILE, label, MAX_CONFIG_BYTES)
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as e:  # not UTF-8 or not JSON; nested too deep
        raise ValueError(f"{label}: {CONFIG_FILE} is not valid JSON: "
                         f"{quote(str(e))}") from e


def _open_weights(data, label):
    try:
        return h5py.File(io.BytesIO(data), 'r')
    except OSError as e:
        raise ValueError(f"{label}: {WEIGHTS_FILE} is not a readable HDF5 file: {e}") from e


def load_model(filepath, custom_objects=None, compile=True):
    """Rebuild a model from a .keras file; its weights are created in the
    shapes the file holds (see ``serialization.model_from_config``)."""
    label = os.fspath(filepath)
    with _open_zip(filepath) as zf:
        config = _read_config(zf, label)
        weights = _read_member(zf, WEIGHTS_FILE, label)
    with _open_weights(weights, label) as f:
        model = serialization.model_from_config(
            config, custom_objects, source=label, root=CONFIG_FILE,
            weight_shapes=_stored_shapes(f))
        compile_config = config.get('compile_config') if compile else None
        if compile_config:
            serialization.compile_from_config(model, compile_config, custom_objects,
                                              source=label, root=f'{CONFIG_FILE}: compile_config')
        read_weights(f, model, label=label, load_optimizer=bool(compile_config))
    return model


def load_weights_from_archive(model, filepath, skip_mismatch=False):
    """``model.load_weights('x.keras')``: the weights member of a .keras file."""
    label = os.fspath(filepath)
    with _open_zip(filepath) as zf:
        weights = _read_member(zf, WEIGHTS_FILE, label)
    with _open_weights(weights, label) as f:
        read_weights(f, model, skip_mismatch, label=label)


def is_zip(filepath):
    return zipfile.is_zipfile(os.fspath(filepath))

