"""keras.datasets loaders: tiny files written in Keras's cache formats are
read here and by Keras's own loader code (its download step replaced by the
file's path), and must give the same arrays; a missing file names itself."""
import gzip
import io
import os
import pickle
import tarfile

import numpy as np
import pytest

from deepzero.keras import datasets


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty Keras home: KERAS_HOME points at it."""
    monkeypatch.setenv('KERAS_HOME', str(tmp_path))
    (tmp_path / 'datasets').mkdir()
    return tmp_path / 'datasets'


@pytest.fixture(scope='module')
def keras_datasets():
    pytest.importorskip('keras')
    import keras.src.datasets as keras_datasets
    return keras_datasets


def kerass(keras_datasets, monkeypatch, name, path, *args, **kwargs):
    """Keras's ``<name>.load_data`` reading ``path`` instead of downloading."""
    module = getattr(keras_datasets, name)
    monkeypatch.setattr(module, 'get_file', lambda *a, **k: str(path))
    return module.load_data(*args, **kwargs)


def assert_same(ours, theirs):
    if isinstance(theirs, tuple):
        assert isinstance(ours, tuple) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            assert_same(a, b)
        return
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    if theirs.dtype == object:
        assert [list(v) for v in ours] == [list(v) for v in theirs]
    else:
        np.testing.assert_array_equal(ours, theirs)


def sequences(rng, count, vocabulary=30):
    out = np.empty(count, dtype=object)
    # lists of Python ints, as Keras's files hold (NumPy scalars would need more
    # pickle globals than a dataset file may use)
    out[:] = [[int(w) for w in rng.integers(1, vocabulary, rng.integers(2, 12))]
              for _ in range(count)]
    return out


def test_mnist_and_boston_housing(cache, keras_datasets, monkeypatch):
    rng = np.random.default_rng(0)
    np.savez(cache / 'mnist.npz', x_train=rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
             y_train=rng.integers(0, 10, 6, dtype=np.uint8),
             x_test=rng.integers(0, 256, (3, 28, 28), dtype=np.uint8),
             y_test=rng.integers(0, 10, 3, dtype=np.uint8))
    ours = datasets.mnist.load_data()
    assert ours[0][0].shape == (6, 28, 28) and ours[0][0].dtype == np.uint8
    assert_same(ours, kerass(keras_datasets, monkeypatch, 'mnist', cache / 'mnist.npz'))
    np.savez(cache / 'boston_housing.npz', x=rng.standard_normal((20, 13)),
             y=rng.uniform(5, 50, 20))
    for split in (0.2, 0.5):
        assert_same(datasets.boston_housing.load_data(test_split=split, seed=3),
                    kerass(keras_datasets, monkeypatch, 'boston_housing',
                           cache / 'boston_housing.npz', test_split=split, seed=3))


@pytest.mark.parametrize('options', [
    dict(),
    dict(num_words=12, skip_top=2, seed=5),
    dict(maxlen=8, start_char=None, oov_char=None),
    dict(index_from=0, start_char=None, num_words=20),
], ids=str)
def test_imdb_and_reuters_follow_kerass_arguments(cache, keras_datasets, monkeypatch, options):
    rng = np.random.default_rng(1)
    np.savez(cache / 'imdb.npz', x_train=sequences(rng, 9), y_train=rng.integers(0, 2, 9),
             x_test=sequences(rng, 7), y_test=rng.integers(0, 2, 7))
    assert_same(datasets.imdb.load_data(**options),
                kerass(keras_datasets, monkeypatch, 'imdb', cache / 'imdb.npz', **options))
    np.savez(cache / 'reuters.npz', x=sequences(rng, 15), y=rng.integers(0, 46, 15))
    assert_same(datasets.reuters.load_data(test_split=0.3, **options),
                kerass(keras_datasets, monkeypatch, 'reuters', cache / 'reuters.npz',
                       test_split=0.3, **options))
    assert len(datasets.reuters.get_label_names()) == 46


def test_fashion_mnist(cache, keras_datasets, monkeypatch):
    rng = np.random.default_rng(2)
    folder = cache / 'fashion-mnist'
    folder.mkdir()
    for prefix, count in (('train', 5), ('t10k', 3)):
        with gzip.open(folder / f'{prefix}-labels-idx1-ubyte.gz', 'wb') as f:
            f.write(b'\0' * 8 + rng.integers(0, 10, count, dtype=np.uint8).tobytes())
        with gzip.open(folder / f'{prefix}-images-idx3-ubyte.gz', 'wb') as f:
            f.write(b'\0' * 16 + rng.integers(0, 256, (count, 28, 28), dtype=np.uint8).tobytes())
    module = keras_datasets.fashion_mnist
    monkeypatch.setattr(module, 'get_file',
                        lambda fname, **kwargs: str(folder / fname))
    assert_same(datasets.fashion_mnist.load_data(), module.load_data())


def _cifar_batch(rng, count, label_keys):
    batch = {b'data': rng.integers(0, 256, (count, 3072), dtype=np.uint8)}
    for key, classes in label_keys.items():
        batch[key.encode()] = [int(v) for v in rng.integers(0, classes, count)]
    return batch


def test_cifar10_from_the_archive(cache):
    """Keras's own loader needs batches of exactly 10,000 images; here 2 per
    batch, checked against what was written."""
    rng = np.random.default_rng(3)
    names = [f'data_batch_{i}' for i in range(1, 6)] + ['test_batch']
    batches = {name: _cifar_batch(rng, 2, {'labels': 10}) for name in names}
    with tarfile.open(cache / 'cifar-10-batches-py.tar.gz', 'w:gz') as tar:
        for name, batch in batches.items():
            payload = pickle.dumps(batch)
            info = tarfile.TarInfo(f'cifar-10-batches-py/{name}')
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    (x_train, y_train), (x_test, y_test) = datasets.cifar10.load_data()
    assert x_train.shape == (10, 32, 32, 3) and x_train.dtype == np.uint8
    assert y_train.shape == (10, 1) and y_train.dtype == np.uint8 and y_test.shape == (2, 1)
    first = batches['data_batch_1'][b'data'][0].reshape(3, 32, 32).transpose(1, 2, 0)
    np.testing.assert_array_equal(x_train[0], first)
    np.testing.assert_array_equal(y_test[:, 0], batches['test_batch'][b'labels'])


def test_cifar100_in_kerass_extracted_folder(cache, keras_datasets, monkeypatch):
    rng = np.random.default_rng(4)
    folder = cache / 'cifar-100-python-target' / 'cifar-100-python'  # Keras 3's layout
    folder.mkdir(parents=True)
    for name, count in (('train', 6), ('test', 2)):
        (folder / name).write_bytes(pickle.dumps(
            _cifar_batch(rng, count, {'fine_labels': 100, 'coarse_labels': 20})))
    for mode in ('fine', 'coarse'):
        assert_same(datasets.cifar100.load_data(mode),
                    kerass(keras_datasets, monkeypatch, 'cifar100',
                           cache / 'cifar-100-python-target', label_mode=mode))


@pytest.mark.parametrize('load, name, url', [
    (datasets.mnist.load_data, 'mnist.npz', 'tf-keras-datasets/mnist.npz'),
    (datasets.imdb.load_data, 'imdb.npz', 'tf-keras-datasets/imdb.npz'),
    (datasets.imdb.get_word_index, 'imdb_word_index.json', 'imdb_word_index.json'),
    (datasets.fashion_mnist.load_data, 'train-labels-idx1-ubyte.gz',
     'tf-keras-datasets/train-labels-idx1-ubyte.gz'),
    (datasets.cifar10.load_data, 'cifar-10-batches-py.tar.gz', 'cifar-10-python.tar.gz'),
    (datasets.cifar100.load_data, 'cifar-100-python.tar.gz', 'cifar-100-python.tar.gz'),
])
def test_a_missing_file_says_what_to_fetch_and_where(cache, load, name, url):
    with pytest.raises(FileNotFoundError) as error:
        load()
    message = str(error.value)
    assert name in message and url in message and str(cache) in message
    assert 'does not download' in message


def test_keras_home_defaults_to_the_home_folder(monkeypatch, tmp_path):
    from deepzero.datasets import keras_cache
    monkeypatch.delenv('KERAS_HOME', raising=False)
    monkeypatch.setenv('HOME', str(tmp_path))
    assert keras_cache.datasets_dir() == os.path.join(str(tmp_path), '.keras', 'datasets')


def test_object_arrays_with_other_globals_are_refused(cache):
    class Sneaky:
        def __reduce__(self):
            return (os.getcwd, ())
    np.savez(cache / 'imdb.npz', x_train=np.array([Sneaky()], dtype=object),
             y_train=np.zeros(1), x_test=np.array([Sneaky()], dtype=object), y_test=np.zeros(1))
    with pytest.raises(pickle.UnpicklingError, match='refusing'):
        datasets.imdb.load_data()


# --- one owner of Keras's cache folder ------------------------------------------------------
def cache_dirs():
    """(datasets, models): the folders deepzero.datasets and deepzero.applications look in."""
    from deepzero.applications.weights import keras_cache_dir
    from deepzero.datasets import keras_cache
    return keras_cache.datasets_dir(), keras_cache_dir()


def expected(home):
    return os.path.join(home, 'datasets'), os.path.join(home, 'models')


def test_datasets_and_weights_follow_kerass_home_rule(monkeypatch, tmp_path):
    monkeypatch.setenv('KERAS_HOME', str(tmp_path / 'kh'))
    assert cache_dirs() == expected(str(tmp_path / 'kh'))
    monkeypatch.delenv('KERAS_HOME')
    monkeypatch.setenv('HOME', str(tmp_path))
    assert cache_dirs() == expected(os.path.join(str(tmp_path), '.keras'))


def test_an_empty_keras_home_is_kerass_temporary_folder(monkeypatch):
    # Keras takes KERAS_HOME='' as set; get_file finds '' not writable: /tmp/.keras
    monkeypatch.setenv('KERAS_HOME', '')
    assert cache_dirs() == expected(os.path.join('/tmp', '.keras'))


def test_an_unwritable_home_is_kerass_temporary_folder(monkeypatch, tmp_path):
    locked = tmp_path / 'locked'
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, 'access', lambda path, mode: (
        False if os.fspath(path) == str(locked) else real_access(path, mode)))
    monkeypatch.delenv('KERAS_HOME', raising=False)
    monkeypatch.setenv('HOME', str(locked))
    assert cache_dirs() == expected(os.path.join('/tmp', '.keras'))
    monkeypatch.setenv('KERAS_HOME', str(locked))  # get_file's fallback for an unwritable home
    assert cache_dirs() == expected(os.path.join('/tmp', '.keras'))


# --- .npz members ---------------------------------------------------------------------------
def npz_with(path, member_bytes):
    import zipfile
    with zipfile.ZipFile(path, 'w') as archive:
        archive.writestr('x.npy', member_bytes)
    return path


def test_numeric_members_round_trip(tmp_path):
    from deepzero.datasets.keras_cache import load_npz
    arrays = {'c': np.arange(12, dtype=np.float32).reshape(3, 4),
              'f': np.asfortranarray(np.arange(6, dtype=np.int16).reshape(2, 3)),
              'empty': np.zeros((0, 5), np.uint8), 'scalar': np.array(7.5)}
    np.savez(tmp_path / 'a.npz', **arrays)
    loaded = load_npz(tmp_path / 'a.npz')
    assert sorted(loaded) == sorted(arrays)
    for name, array in arrays.items():
        assert loaded[name].dtype == array.dtype and loaded[name].flags.writeable
        np.testing.assert_array_equal(loaded[name], array)


def test_a_truncated_numeric_member_says_so(tmp_path):
    from deepzero.datasets.keras_cache import load_npz
    stream = io.BytesIO()
    np.save(stream, np.arange(1000, dtype=np.int64))
    path = npz_with(tmp_path / 'b.npz', stream.getvalue()[:300])
    with pytest.raises(ValueError, match=r"b\.npz, member 'x\.npy' is truncated"):
        load_npz(path)


def test_a_header_claiming_more_than_the_member_holds_is_refused(tmp_path, monkeypatch):
    from deepzero.datasets.keras_cache import load_npz
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {'descr': '<f8', 'fortran_order': False,
                                                  'shape': (10**11,)})
    path = npz_with(tmp_path / 'c.npz', header.getvalue() + b'\0' * 64)

    def no_allocation(*args, **kwargs):
        raise AssertionError('allocated what the header claims')
    monkeypatch.setattr(np, 'empty', no_allocation)
    monkeypatch.setattr(np, 'fromfile', no_allocation)
    with pytest.raises(ValueError, match=r"c\.npz, member 'x\.npy' is truncated.*800000000000"):
        load_npz(path)
