"""Reading files that do not fit, are damaged or were made to hurt: every one
gets a clear error naming the file, costs little memory, and leaves the model
as it was."""
import io
import json
import pathlib
import re
import struct
import tracemalloc
import zipfile

import h5py
import numpy as np
import pytest

from deepzero import initializers, layers, losses, metrics, optimizers, saving
from deepzero.models import Model, Sequential
from deepzero.saving import h5_attrs, keras_zip

FORMATS = ['m.h5', 'm.keras']
MiB = 2 ** 20


def dense_stack(*units, names=None):
    names = names or [None] * len(units)
    return Sequential([layers.Input((5,))] + [layers.Dense(n, name=name)
                                             for n, name in zip(units, names)])


def randomized(model, rng):
    model.set_weights([rng.standard_normal(w.shape).astype(w.dtype) for w in model.weights])
    return model


def traced_failure(fn, *args, match):
    """Run ``fn``, which must raise ValueError matching ``match``; return the
    peak memory traced meanwhile (NumPy arrays included) and the error."""
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=match) as info:
            fn(*args)
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak, info


# --- editing saved files ---------------------------------------------------------------
def read_config(path):
    path = str(path)
    if path.endswith('.h5'):
        with h5py.File(path, 'r') as f:
            return h5_attrs.read_json(f, 'model_config')
    with zipfile.ZipFile(path) as zf:
        return json.loads(zf.read('config.json'))


def write_config(path, config=None, text=None):
    """Replace the model config of a saved .h5 or .keras file (``text``:
    raw text instead of ``config``)."""
    text = json.dumps(config) if text is None else text
    if str(path).endswith('.h5'):
        with h5py.File(path, 'a') as f:
            h5_attrs.write_str(f, 'model_config', text)
        return
    replace_members(path, {'config.json': text.encode()})


def replace_members(path, new, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    members.update(new)
    with zipfile.ZipFile(path, 'w', compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def edit_weights(path, edit):
    """Call ``edit(h5 file)`` on the weights of a saved file (for .keras, its
    model.weights.h5 member)."""
    if not str(path).endswith('.keras'):
        with h5py.File(path, 'a') as f:
            edit(f)
        return
    with zipfile.ZipFile(path) as zf:
        buffer = io.BytesIO(zf.read('model.weights.h5'))
    with h5py.File(buffer, 'a') as f:
        edit(f)
    replace_members(path, {'model.weights.h5': buffer.getvalue()})


def last_kernel_path(f):
    """Where the last Dense kernel of ``dense_stack`` sits, in either layout."""
    if 'layers' in f:  # Keras 3 layout
        last = sorted(f['layers'], key=lambda n: (len(n), n))[-1]
        return f'layers/{last}/vars/0'
    group = f['model_weights'] if 'model_weights' in f else f
    layer = h5_attrs.read_str_list(group, 'layer_names')[-1]
    return f'{group[layer].name}/{h5_attrs.read_str_list(group[layer], "weight_names")[0]}'


def replace_dataset(f, path, **create_args):
    del f[path]
    f.create_dataset(path, **create_args)


# --- 10: all or nothing -----------------------------------------------------------------
@pytest.mark.parametrize('filename, by_name', [('w.weights.h5', False), ('w.h5', False),
                                               ('w.h5', True), ('m.keras', False)])
def test_load_weights_failing_on_the_last_layer_changes_no_weight(tmp_path, rng, filename,
                                                                  by_name):
    names = ['a', 'b', 'c']
    saved = randomized(dense_stack(4, 3, 2, names=names), rng)
    if filename.endswith('.keras'):
        saved.save(tmp_path / filename)
    else:
        saved.save_weights(tmp_path / filename)
    model = dense_stack(4, 3, 6, names=names)  # only the last layer differs
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError, match=r"\(3, 6\).*\(3, 2\)"):
        saving.load_weights(model, tmp_path / filename, by_name=by_name)
    after = model.get_weights()
    assert all(a.tobytes() == b.tobytes() for a, b in zip(after, before))


# --- 13: config.json that inflates too far -----------------------------------------------
def test_config_json_inflating_past_the_cap_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(keras_zip, 'MAX_CONFIG_BYTES', 64 * 1024)
    path = tmp_path / 'm.keras'
    dense_stack(2).save(path)
    config = dict(read_config(path), padding=' ' * MiB)  # valid JSON, 1 MiB inflated
    replace_members(path, {'config.json': json.dumps(config).encode()}, zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 32 * 1024
    with pytest.raises(ValueError, match=r"m\.keras: member config\.json inflates to more "
                                         r"than 65536 bytes"):
        saving.load_model(path)


def _patch_declared_size(data, name, size):
    """Set the uncompressed size a zip's headers declare for member ``name``."""
    data = bytearray(data)
    encoded = name.encode()
    for signature, size_at, name_at in ((b'PK\x03\x04', 22, 30), (b'PK\x01\x02', 24, 46)):
        start = data.find(signature)
        while start != -1:
            if data[start + name_at:start + name_at + len(encoded)] == encoded:
                struct.pack_into('<I', data, start + size_at, size)
            start = data.find(signature, start + 1)
    return bytes(data)


def test_config_json_is_inflated_no_further_than_declared(tmp_path, monkeypatch):
    """A header that understates the size does not get more inflated."""
    monkeypatch.setattr(keras_zip, 'MAX_CONFIG_BYTES', 64 * 1024)
    path = tmp_path / 'm.keras'
    dense_stack(2).save(path)
    config = dict(read_config(path), padding=' ' * MiB)
    replace_members(path, {'config.json': json.dumps(config).encode()}, zipfile.ZIP_DEFLATED)
    path.write_bytes(_patch_declared_size(path.read_bytes(), 'config.json', 1000))
    with pytest.raises(ValueError, match=r"m\.keras.*config\.json"):
        saving.load_model(path)


def test_errors_quote_only_the_start_of_a_huge_value(tmp_path):
    path = tmp_path / 'm.keras'
    dense_stack(2, names=['d1']).save(path)
    config = read_config(path)
    config['config']['layers'][1]['config']['units'] = list(range(200_000))
    write_config(path, config)
    with pytest.raises(ValueError, match=r"m\.keras.*'d1'.*units") as info:
        saving.load_model(path)
    assert len(str(info.value)) < 5000


# --- 14: datasets are checked before they are read ----------------------------------------
@pytest.mark.parametrize('filename', ['w.h5', 'w.weights.h5', 'm.keras'])
def test_dataset_of_the_wrong_shape_is_never_read(tmp_path, filename):
    """A (4000, 4000) float32 kernel (64 MB, declared, never written) for a
    (3, 2) weight: refused from its shape, reading nothing."""
    model = dense_stack(3, 2)
    path = tmp_path / filename
    model.save(path) if filename.endswith('.keras') else model.save_weights(path)
    edit_weights(path, lambda f: replace_dataset(f, last_kernel_path(f), shape=(4000, 4000),
                                                 dtype='f4'))
    assert path.stat().st_size < 100_000
    peak, _ = traced_failure(saving.load_weights, dense_stack(3, 2), path,
                             match=r"w\.|m\.keras")
    assert peak < 8 * MiB


@pytest.mark.parametrize('filename', ['w.h5', 'm.keras'])
@pytest.mark.parametrize('dataset, problem', [
    (dict(shape=(3, 2), dtype='f4'), r'incomplete.*\(3, 2\) declares 24 bytes but only 0'),
    (dict(data=np.array([[b'a', b'b']] * 3)), r'numeric.*S1'),
])
def test_unwritten_or_non_numeric_dataset_is_refused(tmp_path, filename, dataset, problem):
    model = dense_stack(3, 2)
    path = tmp_path / filename
    model.save(path) if filename.endswith('.keras') else model.save_weights(path)
    edit_weights(path, lambda f: replace_dataset(f, last_kernel_path(f), **dataset))
    with pytest.raises(ValueError, match=re.escape(filename) + '.*' + problem):
        saving.load_weights(dense_stack(3, 2), path)


# --- 15: sizes from the config are checked against the file's weights -----------------------
@pytest.mark.parametrize('filename', FORMATS)
def test_config_sizes_the_file_does_not_hold_allocate_nothing(tmp_path, filename):
    """units 2,000,000 would mean a 32 MB kernel (64 MB drawn in float64)
    that the file does not hold: refused before it is created."""
    path = tmp_path / filename
    dense_stack(3, 2, names=['d1', 'd2']).save(path)
    config = read_config(path)
    config['config']['layers'][-1]['config']['units'] = 2_000_000
    write_config(path, config)
    peak, _ = traced_failure(saving.load_model, path,
                             match=re.escape(filename) + r".*'d2'.*\(3, 2000000\)")
    assert peak < 8 * MiB


def test_config_sizes_with_no_weights_in_the_file_allocate_nothing(tmp_path):
    path = tmp_path / 'm.h5'
    dense_stack(2, names=['d1']).save(path)
    with h5py.File(path, 'a') as f:
        del f['model_weights/d1/d1']
        h5_attrs.write_str_list(f['model_weights/d1'], 'weight_names', [])
        config = h5_attrs.read_json(f, 'model_config')
        config['config']['layers'][-1]['config']['units'] = 2_000_000
        h5_attrs.write_json(f, 'model_config', config)
    peak, _ = traced_failure(saving.load_model, path,
                             match=r"m\.h5: layer 'd1'.*\(5, 2000000\).*holds no weights")
    assert peak < 8 * MiB


@pytest.mark.parametrize('filename', FORMATS)
def test_loading_a_model_draws_no_initial_values(tmp_path, rng, filename, monkeypatch):
    model = randomized(dense_stack(3, 2), rng)
    model.save(tmp_path / filename)

    def no_draws(self, shape, dtype=None):
        raise AssertionError('initial values drawn for weights the file provides')

    monkeypatch.setattr(initializers.VarianceScaling, '__call__', no_draws)
    loaded = saving.load_model(tmp_path / filename)
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        assert a.dtype == np.float32 and np.array_equal(a, b)


# --- 16: malformed configs ------------------------------------------------------------------
def sequential_model():
    return Sequential([layers.Input((8, 8, 3), name='x'), layers.Conv2D(2, 3, name='c1'),
                       layers.Flatten(name='f'), layers.Dense(2, name='d1')])


def functional_model():
    inputs = layers.Input((4,), name='x')
    hidden = layers.Dense(3, name='d1')(inputs)
    return Model(inputs, layers.Dense(2, name='d2')(hidden))


def _entry(config, i):
    return config['config']['layers'][i]


def _set(config, i, key, value):
    _entry(config, i)['config'][key] = value


def _nested(depth):
    value = 1
    for _ in range(depth):
        value = {'a': value}
    return value


def _cycle(config):
    """d1 takes its own output (as d2 does)."""
    _entry(config, 1)['inbound_nodes'] = _entry(config, 2)['inbound_nodes']


# (case id, model, edit of the config, what the message must name)
MALFORMED = [
    ('no class_name', sequential_model, lambda c: c.pop('class_name'), r'class_name'),
    ('config is None', sequential_model, lambda c: c.update(config=None), r'config'),
    ('config missing', functional_model, lambda c: c.pop('config'), r'config'),
    ('class_name is a number', sequential_model, lambda c: c.update(class_name=3),
     r'class_name'),
    ('layers is None', sequential_model, lambda c: c['config'].update(layers=None),
     r'config\.layers'),
    ('layers is a string', functional_model, lambda c: c['config'].update(layers='x'),
     r'config\.layers'),
    ('layer entry is None', sequential_model,
     lambda c: c['config']['layers'].__setitem__(1, None), r'layers\[1\]'),
    ('layer entry without config', sequential_model, lambda c: _entry(c, 3).pop('config'),
     r'layers\[3\]\.config'),
    ('layer entry without class_name', functional_model,
     lambda c: _entry(c, 1).pop('class_name'), r"layers\[1\].*'d1'.*class_name"),
    ('layer config is a list', sequential_model,
     lambda c: _entry(c, 3).update(config=[1]), r'layers\[3\]\.config'),
    ('unknown class', sequential_model, lambda c: _entry(c, 2).update(class_name='Foo'),
     r"'f'.*class_name.*'Foo'"),
    ('a module and function name', sequential_model,
     lambda c: _entry(c, 2).update(module='os', class_name='system'), r"class_name.*'system'"),
    ('Lambda', sequential_model, lambda c: _entry(c, 2).update(class_name='Lambda'),
     r'Lambda.*code'),
    ('layer name is a number', sequential_model, lambda c: _set(c, 3, 'name', 5),
     r'config\.name'),
    ('negative units', sequential_model, lambda c: _set(c, 3, 'units', -3), r"'d1'.*units"),
    ('zero units', sequential_model, lambda c: _set(c, 3, 'units', 0), r"'d1'.*units"),
    ('fractional units', sequential_model, lambda c: _set(c, 3, 'units', 2.5),
     r"'d1'.*units"),
    ('units as a string', sequential_model, lambda c: _set(c, 3, 'units', 'two'),
     r"'d1'.*units"),
    ('units None', sequential_model, lambda c: _set(c, 3, 'units', None), r"'d1'.*units"),
    ('units missing', sequential_model, lambda c: _entry(c, 3)['config'].pop('units'),
     r"'d1'.*units"),
    ('negative kernel size', sequential_model, lambda c: _set(c, 1, 'kernel_size', [-3, 3]),
     r"'c1'.*kernel_size"),
    ('zero kernel size', sequential_model, lambda c: _set(c, 1, 'kernel_size', 0),
     r"'c1'.*kernel_size"),
    ('kernel size as a string', sequential_model, lambda c: _set(c, 1, 'kernel_size', 'x'),
     r"'c1'.*kernel_size"),
    ('strides as a float', sequential_model, lambda c: _set(c, 1, 'strides', 1.5),
     r"'c1'.*strides"),
    ('filters as a string', sequential_model, lambda c: _set(c, 1, 'filters', '2'),
     r"'c1'.*filters"),
    ('unknown argument', sequential_model, lambda c: _set(c, 3, 'foo', 1), r"'d1'.*foo"),
    ('unknown activation', sequential_model, lambda c: _set(c, 3, 'activation', 'nope'),
     r"'d1'.*activation"),
    ('initializer config None', sequential_model,
     lambda c: _set(c, 3, 'kernel_initializer', {'class_name': 'GlorotUniform',
                                                 'config': None}), r"'d1'.*initializer"),
    ('initializer seed a string', sequential_model,
     lambda c: _set(c, 3, 'kernel_initializer', {'class_name': 'GlorotUniform',
                                                 'config': {'seed': 'x'}}), r"'d1'.*seed"),
    ('unknown dtype', sequential_model, lambda c: _set(c, 3, 'dtype', 'floot'),
     r"'d1'.*dtype"),
    ('dtype policy without config', sequential_model,
     lambda c: _set(c, 3, 'dtype', {'class_name': 'DTypePolicy', 'config': None}),
     r"'d1'.*dtype"),
    ('input shape a string', sequential_model, lambda c: _set(c, 0, 'batch_shape', 'abc'),
     r"'x'.*batch_shape"),
    ('negative input size', sequential_model,
     lambda c: _set(c, 0, 'batch_shape', [None, -8, 8, 3]), r"'x'.*batch_shape"),
    ('input size a string', functional_model,
     lambda c: _set(c, 0, 'batch_shape', [None, '4']), r"'x'.*batch_shape"),
    ('build_config input_shape a string', sequential_model,
     lambda c: _entry(c, 3).update(build_config={'input_shape': 'x'}),
     r"'d1'.*build_config\.input_shape"),
    ('deep nesting', sequential_model, lambda c: _set(c, 3, 'kernel_regularizer', _nested(150)),
     r'kernel_regularizer(\.a)+: nested more than 100 levels'),
    ('inbound cycle', functional_model, _cycle, r"inbound_nodes form a cycle: 'd1' -> 'd1'"),
    ('inbound nodes a string', functional_model,
     lambda c: _entry(c, 1).update(inbound_nodes='x'), r"'d1'.*inbound_nodes"),
    ('inbound node names no layer', functional_model,
     lambda c: _entry(c, 2).update(inbound_nodes=[[['zz', 0, 0, {}]]]),
     r"'d2'.*inbound_nodes.*'zz'"),
    ('inbound reference malformed', functional_model,
     lambda c: _entry(c, 2).update(inbound_nodes=[[['d1', -1]]]), r"'d2'.*inbound_nodes"),
    ('output_layers missing', functional_model, lambda c: c['config'].pop('output_layers'),
     r'output_layers'),
    ('output_layers names no layer', functional_model,
     lambda c: c['config'].update(output_layers=[['zz', 0, 0]]), r"output_layers.*'zz'"),
    ('compile config a list', sequential_model, lambda c: c.update(compile_config=[1]),
     r'compile_config'),
]


@pytest.mark.parametrize('filename', FORMATS)
@pytest.mark.parametrize('case, make_model, edit, field', MALFORMED,
                         ids=[case[0] for case in MALFORMED])
def test_malformed_config_is_a_value_error_naming_file_and_field(tmp_path, filename, case,
                                                                 make_model, edit, field):
    path = tmp_path / filename
    model = make_model()
    if case.startswith('compile'):
        model.compile(optimizer='sgd', loss='mse')
        if filename.endswith('.h5'):  # the legacy file keeps it in training_config
            model.save(path)
            with h5py.File(path, 'a') as f:
                h5_attrs.write_str(f, 'training_config', '[1]')
            with pytest.raises(ValueError, match=r'm\.h5.*training_config'):
                saving.load_model(path)
            return
    model.save(path)
    config = read_config(path)
    edit(config)
    write_config(path, config)
    with pytest.raises(ValueError, match=re.escape(filename) + '.*' + field):
        saving.load_model(path)


@pytest.mark.parametrize('kind, base', [('optimizer', 'Optimizer'), ('loss', 'Loss'),
                                        ('metric', 'Metric')])
def test_a_base_class_named_in_a_file_is_unknown(tmp_path, kind, base):
    """Classes load by name from their package's table (optimizers.ALL_OPTIMIZERS,
    losses.LOSS_CLASSES, metrics.METRIC_CLASSES): an abstract base is refused
    when loading, not when fit first calls it."""
    path = tmp_path / 'm.keras'
    model = sequential_model()
    model.compile(optimizer=optimizers.SGD(), loss=losses.MeanSquaredError(),
                  metrics=[metrics.MeanAbsoluteError()])
    model.save(path)
    config = read_config(path)
    key = {'optimizer': 'optimizer', 'loss': 'loss', 'metric': 'metrics'}[kind]
    entry = config['compile_config'][key]
    (entry[0] if isinstance(entry, list) else entry)['class_name'] = base
    write_config(path, config)
    with pytest.raises(ValueError, match=f"m.keras: .*unknown {kind} class '{base}'"):
        saving.load_model(path)


@pytest.mark.parametrize('filename', FORMATS)
def test_json_nested_too_deep_to_parse_is_a_value_error(tmp_path, filename):
    path = tmp_path / filename
    dense_stack(2).save(path)
    write_config(path, text='[' * 100_000 + ']' * 100_000)
    with pytest.raises(ValueError, match=re.escape(filename) + '.*(JSON|json)'):
        saving.load_model(path)


def test_loading_code_runs_nothing_from_a_file():
    """The readers never evaluate, unpickle or import what a file names."""
    root = pathlib.Path(saving.__file__).parent
    sources = list(root.glob('*.py'))
    forbidden = re.compile(r'\b(eval|exec|compile\(.*mode|pickle|marshal|importlib|'
                           r'__import__|allow_pickle|getattr\(.*module)\b')
    for source in sources:
        for number, line in enumerate(source.read_text().splitlines(), 1):
            code = line.split('#', 1)[0]
            assert not forbidden.search(code), f"{source.name}:{number}: {line.strip()}"


# --- 19: damaged .h5 files ------------------------------------------------------------------
def _drop(path):
    return lambda f: f.__delitem__(path)


def _set_attr(path, name, value):
    return lambda f: f[path].attrs.__setitem__(name, value)


DAMAGE = [
    ('no model_weights', _drop('model_weights'), r"no 'layer_names'"),
    ('a layer group missing', _drop('model_weights/d2'), r"layer 'd2'.*no group"),
    ('a layer group is a dataset',
     lambda f: (f.__delitem__('model_weights/d2'), f.create_dataset('model_weights/d2',
                                                                    data=[1])),
     r"layer 'd2'.*no group"),
    ('a weight dataset missing', _drop('model_weights/d2/d2/kernel'),
     r"'d2/kernel'.*dataset is missing"),
    ('a weight is a group',
     lambda f: (f.__delitem__('model_weights/d2/d2/kernel'),
                f.create_group('model_weights/d2/d2/kernel')), r"'d2/kernel'.*dataset is missing"),
    ('weight_names not UTF-8', _set_attr('model_weights/d2', 'weight_names',
                                         np.array([b'\xff\xfe'])),
     r"'weight_names'.*not UTF-8"),
    ('model_config a number', lambda f: f.attrs.__setitem__('model_config', 5),
     r'model_config.*not a Keras model config'),
    ('optimizer weight missing', _set_attr('optimizer_weights', 'weight_names',
                                           np.array([b'zz'])),
     r"'zz'.*dataset is missing"),
]


@pytest.mark.parametrize('case, damage, problem', DAMAGE, ids=[case[0] for case in DAMAGE])
def test_damaged_h5_is_a_value_error_naming_file_and_part(tmp_path, case, damage, problem):
    path = tmp_path / 'm.h5'
    model = dense_stack(3, 2, names=['d1', 'd2'])
    model.compile(optimizer='rmsprop', loss='mse')
    model.train_on_batch(np.ones((2, 5), 'f4'), np.ones((2, 2), 'f4'))
    model.save(path)
    with h5py.File(path, 'a') as f:
        damage(f)
    with pytest.raises(ValueError, match=r'm\.h5.*' + problem):
        saving.load_model(path)


KERAS3_DAMAGE = [
    ('vars missing', _drop('layers/dense_1/vars'), r"has 2 weight\(s\) but the file holds 0"),
    ('vars/0 missing', _drop('layers/dense_1/vars/0'), r"'layers/dense_1/vars' should hold"),
    ('vars is a dataset',
     lambda f: (f.__delitem__('layers/dense_1/vars'),
                f.create_dataset('layers/dense_1/vars', data=[1])), r"should be a group"),
]


@pytest.mark.parametrize('case, damage, problem', KERAS3_DAMAGE,
                         ids=[case[0] for case in KERAS3_DAMAGE])
def test_damaged_weights_h5_is_a_value_error_naming_file_and_part(tmp_path, case, damage,
                                                                  problem):
    path = tmp_path / 'w.weights.h5'
    dense_stack(3, 2).save_weights(path)
    with h5py.File(path, 'a') as f:
        damage(f)
    with pytest.raises(ValueError, match=r'w\.weights\.h5.*' + problem):
        saving.load_weights(dense_stack(3, 2), path)


@pytest.mark.parametrize('filename', ['junk.h5', 'junk.weights.h5'])
def test_a_file_that_is_not_hdf5_is_an_os_error_naming_it(tmp_path, filename):
    path = tmp_path / filename
    path.write_bytes(b'not an HDF5 file' * 100)
    with pytest.raises(OSError, match=re.escape(filename)):
        saving.load_weights(dense_stack(2), path)
    with pytest.raises(OSError, match=re.escape(filename)):
        saving.load_model(path)


def test_a_corrupt_dataset_is_an_os_error_naming_the_file_and_changes_no_weight(tmp_path,
                                                                               rng):
    path = tmp_path / 'w.h5'
    randomized(dense_stack(3, 2), rng).save_weights(path)
    with h5py.File(path, 'a') as f:  # store the last kernel compressed, then break it
        kernel = last_kernel_path(f)
        replace_dataset(f, kernel, data=rng.standard_normal((3, 2)).astype('f4'),
                        compression='gzip', chunks=(3, 2))
        chunk = f[kernel].id.get_chunk_info(0)
    with open(path, 'r+b') as raw:
        raw.seek(chunk.byte_offset)
        raw.write(b'\xff' * chunk.size)
    model = dense_stack(3, 2)
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(OSError, match=r"w\.h5: cannot read dataset"):
        saving.load_weights(model, path)
    assert all(a.tobytes() == b.tobytes() for a, b in zip(model.get_weights(), before))


@pytest.mark.parametrize('text, why', [(b'{not json', 'is not JSON: Expecting'),
                                       (b'[' * 100000, 'JSON nested too deeply to parse')])
def test_a_model_config_that_is_not_json_is_named_once(tmp_path, text, why):
    path = tmp_path / 'bad.h5'
    with h5py.File(path, 'w') as f:
        f.attrs['model_config'] = text
    with pytest.raises(ValueError) as raised:
        saving.load_model(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: attribute 'model_config' of '/'") and why in message
    assert message.count(str(path)) == 1 and message.count("'model_config'") == 1
