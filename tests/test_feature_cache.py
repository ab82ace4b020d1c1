"""deepzero.applications.feature_cache: fast feature extraction with an on-disk cache."""
import os

import numpy as np
import pytest
from PIL import Image

import deepzero.layers as L
from deepzero.applications.feature_cache import extract_features, feature_key
from deepzero.models import Sequential
from deepzero.preprocessing.image import ImageDataGenerator
from deepzero.utils import set_random_seed


@pytest.fixture
def image_dir(tmp_path):
    """Five cats and four dogs, 12x10 RGB PNGs of random noise."""
    rng = np.random.default_rng(0)
    for name, count in (('cats', 5), ('dogs', 4)):
        (tmp_path / 'images' / name).mkdir(parents=True)
        for i in range(count):
            pixels = rng.integers(0, 256, (10, 12, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / 'images' / name / f'{name}.{i}.png')
    return tmp_path / 'images'


def small_base():
    set_random_seed(0)
    return Sequential([L.Input((8, 8, 3)), L.Conv2D(4, 3, activation='relu'),
                       L.MaxPooling2D(2)])


@pytest.fixture
def conv_base():
    return small_base()


def flow(directory, batch_size=4, **generator_args):
    generator_args.setdefault('rescale', 1 / 255)
    return ImageDataGenerator(**generator_args).flow_from_directory(
        directory, target_size=(8, 8), batch_size=batch_size, class_mode='binary',
        shuffle=False)


def count_predicts(monkeypatch, model):
    calls = []
    original = model.predict

    def predict(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(model, 'predict', predict)
    return calls


def test_features_are_the_model_outputs_of_each_sample_once(image_dir, conv_base, capsys):
    iterator = flow(image_dir)
    next(iterator)  # extraction starts from the first batch whatever was drawn before
    features, labels = extract_features(conv_base, iterator)
    images = np.concatenate([iterator[i][0] for i in range(len(iterator))])
    assert features.shape == (9, 3, 3, 4) and features.dtype == np.float32
    np.testing.assert_allclose(features, conv_base.predict(images, verbose=0), rtol=1e-6)
    np.testing.assert_array_equal(labels, [0] * 5 + [1] * 4)
    assert '3/3' in capsys.readouterr().out   # predict's progress bar, 3 batches


def test_second_run_loads_the_cache_without_running_the_model(image_dir, conv_base,
                                                             tmp_path, monkeypatch):
    cache = tmp_path / 'cache'
    first = extract_features(conv_base, flow(image_dir), cache_dir=cache, verbose=0)
    files = os.listdir(cache)
    assert len(files) == 1 and files[0].endswith('.npz')   # no temporary file left
    with np.load(cache / files[0], allow_pickle=False) as data:
        assert sorted(data.files) == ['features', 'labels']
    calls = count_predicts(monkeypatch, conv_base)
    second = extract_features(conv_base, flow(image_dir), cache_dir=cache, verbose=0)
    assert calls == []
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def test_key_follows_weights_files_and_preprocessing(image_dir, conv_base):
    key = feature_key(conv_base, flow(image_dir), 3)
    assert key == feature_key(conv_base, flow(image_dir), 3)
    assert key == feature_key(small_base(), flow(image_dir), 3)   # other automatic names
    assert key != feature_key(conv_base, flow(image_dir), 2)
    assert key != feature_key(conv_base, flow(image_dir, rescale=1 / 127.5), 3)
    assert key != feature_key(conv_base, flow(image_dir, rescale=None,
                                              preprocessing_function=lambda x: x / 255), 3)
    assert key != feature_key(conv_base, flow(image_dir, batch_size=3), 3)
    kernel = conv_base.layers[0].kernel
    saved = kernel.data.copy()
    kernel.data[0, 0, 0, 0] += 1.0
    assert key != feature_key(conv_base, flow(image_dir), 3)
    kernel.data[...] = saved
    assert key == feature_key(conv_base, flow(image_dir), 3)
    picture = image_dir / 'cats' / 'cats.0.png'
    Image.fromarray(np.zeros((10, 12, 3), np.uint8)).save(picture)
    os.utime(picture, ns=(1, 1))
    assert key != feature_key(conv_base, flow(image_dir), 3)


def test_preprocessing_functions_are_told_apart_by_their_code(image_dir, conv_base):
    def keyed(function):
        return feature_key(conv_base, flow(image_dir, rescale=None,
                                           preprocessing_function=function), 3)
    assert keyed(lambda x: x / 255) != keyed(lambda x: x / 127.5)
    assert keyed(lambda x: x / 255) == keyed(lambda x: x / 255)


def test_augmenting_iterators_are_not_cached(image_dir, conv_base, tmp_path):
    augmenting = flow(image_dir, rotation_range=40, horizontal_flip=True, zoom_range=0.2)
    with pytest.raises(ValueError, match='rotation_range, horizontal_flip, zoom_range'):
        extract_features(conv_base, augmenting, cache_dir=tmp_path / 'cache')
    features, _ = extract_features(conv_base, augmenting, verbose=0)   # no cache: fine
    assert features.shape == (9, 3, 3, 4)


def test_array_iterators_are_keyed_by_their_data(conv_base, tmp_path, monkeypatch):
    x = np.random.default_rng(1).random((6, 8, 8, 3)).astype('float32')
    y = np.arange(6) % 2

    def arrays(data):
        return ImageDataGenerator().flow(data, y, batch_size=4, shuffle=False)

    cache = tmp_path / 'cache'
    features, labels = extract_features(conv_base, arrays(x), cache_dir=cache, verbose=0)
    np.testing.assert_array_equal(labels, y)
    np.testing.assert_allclose(features, conv_base.predict(x, verbose=0), rtol=1e-6)
    calls = count_predicts(monkeypatch, conv_base)
    extract_features(conv_base, arrays(x), cache_dir=cache, verbose=0)
    assert calls == []
    extract_features(conv_base, arrays(x + 1), cache_dir=cache, verbose=0)
    assert calls == [1] and len(os.listdir(cache)) == 2


def test_an_unreadable_cache_file_is_recomputed(image_dir, conv_base, tmp_path):
    cache = tmp_path / 'cache'
    expected, _ = extract_features(conv_base, flow(image_dir), cache_dir=cache, verbose=0)
    (path,) = cache.iterdir()
    path.write_bytes(b'not a zip file')
    with pytest.warns(UserWarning, match='unreadable cache file'):
        features, _ = extract_features(conv_base, flow(image_dir), cache_dir=cache, verbose=0)
    np.testing.assert_array_equal(features, expected)
    with np.load(path, allow_pickle=False) as data:   # rewritten
        np.testing.assert_array_equal(data['features'], expected)
