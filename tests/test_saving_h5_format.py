"""The legacy HDF5 layout on its own (no deepzero model needed): attribute
strings as bytes or str, chunked attributes, atomic writes, and weight files
written by Keras 1, 2 and 3."""
import os

import h5py
import numpy as np
import pytest

from deepzero.saving import h5_attrs, legacy_h5
from deepzero.core.files import atomic_write

SQUEEZENET = 'pretrained/squeezenet_weights_tf_dim_ordering_tf_kernels_notop.h5'


@pytest.fixture(scope='module')
def keras():
    os.environ.setdefault('KERAS_BACKEND', 'torch')
    return pytest.importorskip('keras')


# --- attributes -------------------------------------------------------------------
def test_strings_read_back_from_bytes_and_str(tmp_path):
    with h5py.File(tmp_path / 'a.h5', 'w') as f:
        f.attrs['as_bytes'] = 'torch'.encode('utf8')
        f.attrs['as_str'] = 'tensorflow'
        f.attrs['list_bytes'] = np.array([b'conv1', b'fire2/squeeze1x1'])
        f.attrs['list_str'] = ['dense', 'dense_1']
    with h5py.File(tmp_path / 'a.h5', 'r') as f:
        assert h5_attrs.read_str(f, 'as_bytes') == 'torch'
        assert h5_attrs.read_str(f, 'as_str') == 'tensorflow'
        assert h5_attrs.read_str(f, 'absent', 'dflt') == 'dflt'
        assert h5_attrs.read_str_list(f, 'list_bytes') == ['conv1', 'fire2/squeeze1x1']
        assert h5_attrs.read_str_list(f, 'list_str') == ['dense', 'dense_1']
        assert h5_attrs.read_str_list(f, 'absent') == []


def test_json_attribute_accepts_bytes_and_keras_tuples(tmp_path):
    with h5py.File(tmp_path / 'a.h5', 'w') as f:
        f.attrs['cfg'] = b'{"a": {"class_name": "__tuple__", "items": [1, 2]}}'
    with h5py.File(tmp_path / 'a.h5', 'r') as f:
        assert h5_attrs.read_json(f, 'cfg') == {'a': (1, 2)}
        assert h5_attrs.read_json(f, 'missing') is None


def test_long_list_is_split_into_numbered_chunks(tmp_path):
    names = [f'block{i}_a_rather_long_layer_name_{i:05d}' for i in range(3000)]
    with h5py.File(tmp_path / 'a.h5', 'w') as f:
        h5_attrs.write_str_list(f, 'layer_names', names)
    with h5py.File(tmp_path / 'a.h5', 'r') as f:
        assert 'layer_names' not in f.attrs
        chunk_keys = sorted(k for k in f.attrs if k.startswith('layer_names'))
        assert len(chunk_keys) > 1
        assert all(f.attrs[k].nbytes <= h5_attrs.HDF5_OBJECT_HEADER_LIMIT for k in chunk_keys)
        assert h5_attrs.read_str_list(f, 'layer_names') == names


def test_short_and_empty_lists_are_single_attributes(tmp_path):
    with h5py.File(tmp_path / 'a.h5', 'w') as f:
        h5_attrs.write_str_list(f, 'few', ['a', 'bb'])
        h5_attrs.write_str_list(f, 'none', [])
    with h5py.File(tmp_path / 'a.h5', 'r') as f:
        assert f.attrs['few'].dtype.kind == 'S'  # UTF-8 bytes, as Keras 2 writes
        assert h5_attrs.read_str_list(f, 'few') == ['a', 'bb']
        assert h5_attrs.read_str_list(f, 'none') == []


def test_a_name_longer_than_the_limit_is_refused(tmp_path):
    with h5py.File(tmp_path / 'a.h5', 'w') as f:
        with pytest.raises(ValueError, match='layer_names'):
            h5_attrs.write_str_list(f, 'layer_names', ['x' * 70000])


def test_chunks_written_by_keras_are_joined(tmp_path, keras):
    from keras.src.legacy.saving import legacy_h5_format
    names = [f'layer_with_a_long_name_{i:06d}'.encode() for i in range(4000)]
    with h5py.File(tmp_path / 'k.h5', 'w') as f:
        legacy_h5_format.save_attributes_to_hdf5_group(f, 'layer_names', names)
    with h5py.File(tmp_path / 'k.h5', 'r') as f:
        assert 'layer_names0' in f.attrs
        assert h5_attrs.read_str_list(f, 'layer_names') == [n.decode() for n in names]


def test_keras_reads_our_chunks(tmp_path, keras):
    from keras.src.legacy.saving import legacy_h5_format
    names = [f'layer_with_a_long_name_{i:06d}' for i in range(4000)]
    with h5py.File(tmp_path / 'a.h5', 'w') as f:
        h5_attrs.write_str_list(f, 'layer_names', names)
    with h5py.File(tmp_path / 'a.h5', 'r') as f:
        assert legacy_h5_format.load_attributes_from_hdf5_group(f, 'layer_names') == names


# --- atomic writes ---------------------------------------------------------------
def test_atomic_write_replaces_only_on_success(tmp_path):
    target = tmp_path / 'model.h5'
    target.write_bytes(b'old contents')
    with pytest.raises(RuntimeError):
        with atomic_write(target) as tmp:
            with open(tmp, 'wb') as f:
                f.write(b'half written')
            raise RuntimeError('disk on fire')
    assert target.read_bytes() == b'old contents'
    assert os.listdir(tmp_path) == ['model.h5']  # no temporary file left
    with atomic_write(target) as tmp:
        assert os.path.dirname(tmp) == str(tmp_path)
        with open(tmp, 'wb') as f:
            f.write(b'new')
    assert target.read_bytes() == b'new'
    assert os.listdir(tmp_path) == ['model.h5']


def test_atomic_write_file_mode_and_overwrite_flag(tmp_path):
    target = tmp_path / 'sub' / 'w.h5'
    with atomic_write(target) as tmp:
        open(tmp, 'wb').close()
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(target).st_mode & 0o777 == 0o666 & ~umask
    with pytest.raises(FileExistsError, match='w.h5'):
        with atomic_write(target, overwrite=False):
            pass


# --- the weight layout -------------------------------------------------------------
def _entries(rng):
    return [('conv2d', [('conv2d/kernel', rng.standard_normal((3, 3, 3, 4)).astype('f4')),
                        ('conv2d/bias', np.zeros(4, 'f4'))]),
            ('max_pooling2d', []),
            ('dense', [('dense/kernel', rng.standard_normal((4, 2)).astype('f4')),
                       ('dense/bias', np.ones(2, 'f4'))])]


def test_layer_weights_round_trip(tmp_path, rng):
    entries = _entries(rng)
    with h5py.File(tmp_path / 'w.h5', 'w') as f:
        legacy_h5.write_layer_weights(f, entries)
    with h5py.File(tmp_path / 'w.h5', 'r') as f:
        assert h5_attrs.read_str(f, 'keras_version') == '3.15.1'
        assert h5_attrs.read_str_list(f['conv2d'], 'weight_names') == ['conv2d/kernel',
                                                                       'conv2d/bias']
        assert 'kernel' in f['conv2d/conv2d']  # names with '/' nest, as in Keras
        back = [(layer, [(name, dataset[()]) for name, dataset in named])
                for layer, named in legacy_h5.layer_datasets(legacy_h5.weights_group(f))]
    assert [name for name, _ in back] == ['conv2d', 'max_pooling2d', 'dense']
    for (_, saved), (_, loaded) in zip(entries, back):
        assert [n for n, _ in saved] == [n for n, _ in loaded]
        for (_, a), (_, b) in zip(saved, loaded):
            assert a.dtype == b.dtype and np.array_equal(a, b)


def test_duplicate_names_are_refused(tmp_path):
    with h5py.File(tmp_path / 'w.h5', 'w') as f:
        with pytest.raises(ValueError, match="'k'"):
            legacy_h5.write_named_arrays(f.create_group('g'), [('k', np.zeros(1)),
                                                               ('k', np.zeros(1))])


def _write_keras1_file(path, as_bytes):
    """A Keras-1 style VGG-like weights file: root layer_names only, Keras-1
    dataset names ('block1_conv1_W_1:0'), empty weight_names as Keras writes."""
    enc = (lambda names: np.array([n.encode() for n in names])) if as_bytes else list
    kernel = np.arange(3 * 3 * 3 * 2, dtype='f4').reshape(3, 3, 3, 2)
    with h5py.File(path, 'w') as f:
        f.attrs['layer_names'] = enc(['input_1', 'block1_conv1', 'block1_pool'])
        f.create_group('input_1').attrs['weight_names'] = np.zeros(0)
        g = f.create_group('block1_conv1')
        g.attrs['weight_names'] = enc(['block1_conv1_W_1:0', 'block1_conv1_b_1:0'])
        g['block1_conv1_W_1:0'] = kernel
        g['block1_conv1_b_1:0'] = np.array([0.5, -0.5], 'f4')
        f.create_group('block1_pool').attrs['weight_names'] = np.zeros(0)
    return kernel


@pytest.mark.parametrize('as_bytes', [True, False])
def test_keras1_weight_file(tmp_path, as_bytes):
    kernel = _write_keras1_file(tmp_path / 'k1.h5', as_bytes)
    with h5py.File(tmp_path / 'k1.h5', 'r') as f:
        layers = legacy_h5.layer_datasets(legacy_h5.weights_group(f))
        assert [name for name, _ in layers] == ['input_1', 'block1_conv1', 'block1_pool']
        (w_name, w), (b_name, b) = [(name, dataset[()]) for name, dataset in layers[1][1]]
    assert (w_name, b_name) == ('block1_conv1_W_1:0', 'block1_conv1_b_1:0')
    assert np.array_equal(w, kernel) and b.tolist() == [0.5, -0.5]


def test_squeezenet_keras1_file(shared_data):
    path = shared_data / SQUEEZENET
    if not path.exists():
        pytest.skip(f"{path} not found")
    with legacy_h5.open_h5(path) as f:
        assert 'keras_version' not in f.attrs  # Keras 1: no version, no backend
        layers = legacy_h5.layer_datasets(legacy_h5.weights_group(f))
        shapes = [(name, [(n, d.shape, d.dtype) for n, d in named]) for name, named in layers]
    assert len(layers) == 63 and layers[0][0] == 'input_1' and layers[-1][0] == 'drop9'
    with_weights = [(name, named) for name, named in shapes if named]
    assert len(with_weights) == 25
    assert with_weights[0][0] == 'conv1'
    assert [(n, s) for n, s, _ in with_weights[0][1]] == [('uniform1', (3, 3, 3, 64)),
                                                          ('conv1_b', (64,))]
    name, named = with_weights[1]
    assert name == 'fire2/squeeze1x1'  # a layer name with '/', a nested group
    assert [(n, s) for n, s, _ in named] == [('uniform2', (1, 1, 64, 16)),
                                             ('fire2/squeeze1x1_b', (16,))]
    assert sum(np.prod(s) for _, named in with_weights for _, s, _ in named) == 722_496
    assert all(t == np.float32 for _, named in with_weights for _, _, t in named)


def test_keras3_model_file(tmp_path, keras):
    """A file written by Keras 3: weights come back in Keras's weight order."""
    from keras import layers
    model = keras.Sequential([keras.Input((8, 8, 3)), layers.Conv2D(4, 3),
                              layers.BatchNormalization(name='bn'), layers.Flatten(),
                              layers.Dense(2)])
    model.save(tmp_path / 'k3.h5')
    with legacy_h5.open_h5(tmp_path / 'k3.h5') as f:
        assert h5_attrs.read_json(f, 'model_config')['class_name'] == 'Sequential'
        layers_ = [(layer, [(name, dataset[()]) for name, dataset in named])
                   for layer, named in legacy_h5.layer_datasets(legacy_h5.weights_group(f))]
    arrays = [a for _, named in layers_ for _, a in named]
    expected = model.get_weights()
    assert len(arrays) == len(expected)
    for a, b in zip(arrays, expected):
        assert np.array_equal(a, b)
    bn = dict(layers_)['bn']
    assert [n.rsplit('/', 1)[1] for n, _ in bn] == ['gamma', 'beta', 'moving_mean',
                                                    'moving_variance']


def test_keras3_loads_weights_we_wrote(tmp_path, keras, rng):
    from keras import layers
    model = keras.Sequential([keras.Input((6,)), layers.Dense(3), layers.Dense(1)])
    values = [rng.standard_normal(w.shape).astype('f4') for w in model.get_weights()]
    entries = [('first', [('first/kernel', values[0]), ('first/bias', values[1])]),
               ('second', [('second/kernel', values[2]), ('second/bias', values[3])])]
    with h5py.File(tmp_path / 'w.h5', 'w') as f:
        legacy_h5.write_layer_weights(f, entries)
    model.load_weights(tmp_path / 'w.h5')  # positional: names may differ
    for a, b in zip(model.get_weights(), values):
        assert np.array_equal(a, b)


# --- bad files ----------------------------------------------------------------------
def test_truncated_file_error_names_the_file(tmp_path, rng):
    with h5py.File(tmp_path / 'w.h5', 'w') as f:
        legacy_h5.write_layer_weights(f, _entries(rng))
    data = (tmp_path / 'w.h5').read_bytes()
    (tmp_path / 'cut.h5').write_bytes(data[:len(data) // 3])
    with pytest.raises(OSError, match='cut.h5'):
        legacy_h5.open_h5(tmp_path / 'cut.h5')
    with pytest.raises(FileNotFoundError, match='nothere.h5'):
        legacy_h5.open_h5(tmp_path / 'nothere.h5')


def test_non_keras_and_keras0_files_are_explained(tmp_path):
    with h5py.File(tmp_path / 'plain.h5', 'w') as f:
        f['x'] = np.zeros(3)
    with h5py.File(tmp_path / 'k0.h5', 'w') as f:
        f.attrs['nb_layers'] = 3
    with legacy_h5.open_h5(tmp_path / 'plain.h5') as f:
        with pytest.raises(ValueError, match="plain.h5.*layer_names"):
            legacy_h5.weights_group(f)
    with legacy_h5.open_h5(tmp_path / 'k0.h5') as f:
        with pytest.raises(ValueError, match="nb_layers"):
            legacy_h5.weights_group(f)
