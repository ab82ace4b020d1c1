"""deepzero.applications: the same networks as keras.applications, their
arguments, preprocessing, decode_predictions and the weight-file cache.

Sameness is shown with Keras itself: each Keras 3 model, built with
``weights=None``, gets random values for every weight and BatchNormalization
statistic, is saved as a legacy .h5 weight file (the layout of the real
downloads, which load by position), and that file is loaded into deepzero's
model through ``weights=<path>``; outputs on random images must agree.
Default tests use the smallest inputs each architecture accepts; the
``full_size`` ones (default size with the classifier, 150x150 without)
run one image each.

Nothing here touches the network: downloads are simulated by replacing
``urllib.request.urlopen``, and both caches point at temporary folders.
"""
import hashlib
import io
import json
import os
import re
import urllib.error
import urllib.request

import h5py
import numpy as np
import pytest

import deepzero
import deepzero.applications
from deepzero import Variable
from deepzero.applications import (InceptionV3, MobileNet, ResNet50, SqueezeNet, VGG16, VGG19,
                                   Xception, imagenet_utils, mobilenet, squeezenet, vgg16)
from deepzero.applications.weights import RemoteFile, WeightsUnavailableError, fetch
from deepzero.layers import Input

# name -> (minimum input size, default input size)
SIZES = {'VGG16': (32, 224), 'VGG19': (32, 224), 'ResNet50': (32, 224),
         'InceptionV3': (75, 299), 'Xception': (71, 299), 'MobileNet': (32, 224)}
DEEPZERO_MODELS = {'VGG16': VGG16, 'VGG19': VGG19, 'ResNet50': ResNet50,
                   'InceptionV3': InceptionV3, 'Xception': Xception, 'MobileNet': MobileNet}
# Layers Keras names automatically (conv2d_17, ...): compared without the counter.
AUTO_NAME = re.compile(r'^(input_layer|conv2d|batch_normalization|activation|add|concatenate|'
                       r'max_pooling2d|average_pooling2d|global_average_pooling2d|'
                       r'global_max_pooling2d)(_\d+)?$')


# --- Keras oracle -----------------------------------------------------------------
def randomize_weights(keras_model, rng):
    """Random values for every weight: kernels ~ N(0, 1/fan_in), biases and
    BN offsets/means ~ N(0, 0.1), BN scales and variances ~ U(0.5, 1.5)."""
    for layer in keras_model.layers:
        values = []
        for variable in layer.weights:
            shape, name = tuple(variable.shape), variable.name
            if name in ('gamma', 'moving_variance'):
                value = rng.uniform(0.5, 1.5, shape)
            elif name in ('beta', 'moving_mean', 'bias'):
                value = rng.normal(0.0, 0.1, shape)
            else:  # kernels: (kh, kw, in, out), depthwise (kh, kw, in, mult), dense (in, out)
                fan_in = np.prod(shape[:2]) if name == 'depthwise_kernel' \
                    else np.prod(shape[:-1])
                value = rng.standard_normal(shape, dtype=np.float32) / np.sqrt(fan_in)
            values.append(np.asarray(value, dtype=np.float32))
        if values:
            layer.set_weights(values)


@pytest.fixture(scope='module')
def keras_apps():
    return pytest.importorskip('keras').applications


@pytest.fixture(scope='module')
def keras_file(keras_apps, tmp_path_factory):
    """``keras_file(name, **kwargs)`` -> (Keras model, legacy .h5 path), built
    once per argument set."""
    cache = {}
    folder = tmp_path_factory.mktemp('keras_applications')

    def build(name, **kwargs):
        key = (name, tuple(sorted(kwargs.items())))
        if key not in cache:
            keras_model = getattr(keras_apps, name)(weights=None, **kwargs)
            randomize_weights(keras_model, np.random.default_rng(len(cache)))
            path = str(folder / f'{name}_{len(cache)}.h5')
            keras_model.save(path)
            cache[key] = keras_model, path
        return cache[key]
    return build


def compare_with_keras(keras_file, name, size, batch, **kwargs):
    """Load Keras's random weights into deepzero's model; compare outputs and layers."""
    from keras import ops as keras_ops
    keras_model, path = keras_file(name, **kwargs)
    model = DEEPZERO_MODELS[name](weights=path, **kwargs)
    x = np.random.default_rng(7).uniform(-1.0, 1.0, (batch, size, size, 3)).astype(np.float32)
    with deepzero.test_mode(), deepzero.no_grad():
        got = model(x).data
    expected = keras_ops.convert_to_numpy(keras_model(x, training=False))
    assert got.shape == expected.shape and got.dtype == np.float32
    scale = np.abs(expected).max()
    assert scale > 0
    np.testing.assert_array_less(np.abs(got - expected).max(), 1e-4 * scale)
    assert model.name == keras_model.name
    assert [(type(layer).__name__, _base_name(layer.name)) for layer in model.layers] == \
        [(type(layer).__name__, _base_name(layer.name)) for layer in keras_model.layers]
    return model


def _base_name(name):
    match = AUTO_NAME.match(name)
    return match.group(1) if match else name


@pytest.mark.parametrize('name', list(SIZES))
def test_same_network_as_keras_without_top_at_minimum_size(keras_file, name):
    size = SIZES[name][0]
    model = compare_with_keras(keras_file, name, size, batch=2, include_top=False,
                               input_shape=(None, None, 3))
    assert model.count_params() == keras_file(name, include_top=False,
                                              input_shape=(None, None, 3))[0].count_params()


@pytest.mark.full_size
@pytest.mark.parametrize('name', list(SIZES))
def test_same_network_as_keras_without_top_at_150(keras_file, name):
    compare_with_keras(keras_file, name, 150, batch=1, include_top=False,
                       input_shape=(None, None, 3))


# --- deepzero's files in Keras ------------------------------------------------------
# Keras 3 loads every application deepzero saves, in both formats, and
# computes the same outputs. The larger graphs take seconds each: 'slow'.
SLOW_TO_LOAD = ('ResNet50', 'InceptionV3', 'Xception')
SAVED_APPLICATIONS = [
    pytest.param(name, dict(include_top=False, input_shape=(size, size, 3)), id=name,
                 marks=[pytest.mark.slow] if name in SLOW_TO_LOAD else [])
    for name, (size, _) in SIZES.items()] + [
    pytest.param('SqueezeNet', dict(include_top=True, input_shape=(48, 48, 3), classes=10),
                 id='SqueezeNet')]


@pytest.mark.parametrize('extension', ['h5', 'keras'])
@pytest.mark.parametrize('name, kwargs', SAVED_APPLICATIONS)
def test_saved_application_loads_in_keras_with_the_same_outputs(keras_apps, tmp_path, name,
                                                                  kwargs, extension):
    from keras import ops as keras_ops
    from keras.saving import load_model
    model = getattr(deepzero.applications, name)(weights=None, **kwargs)
    randomize_weights(model, np.random.default_rng(0))  # defaults can give outputs near 0
    path = tmp_path / f'{name}.{extension}'
    model.save(path)
    keras_model = load_model(path)
    x = np.random.default_rng(1).uniform(-1, 1, (2,) + kwargs['input_shape']).astype(np.float32)
    with deepzero.test_mode(), deepzero.no_grad():
        expected = model(x).data
    got = keras_ops.convert_to_numpy(keras_model(x, training=False))
    assert [layer.name for layer in keras_model.layers] == [layer.name for layer in model.layers]
    assert np.abs(expected).max() > 0
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())


# VGG19's classifier is VGG16's (one builder, vgg.py); at 224 its 143M
# parameters would cost half a minute, so it is compared at 32x32 below.
@pytest.mark.full_size
@pytest.mark.parametrize('name', [name for name in SIZES if name != 'VGG19'])
def test_same_network_as_keras_with_top_at_default_size(keras_file, name):
    # Logits: a softmax of random weights saturates and would hide differences.
    size = SIZES[name][1]
    compare_with_keras(keras_file, name, size, batch=1, include_top=True,
                       classifier_activation=None)


@pytest.mark.parametrize('name, kwargs', [
    ('VGG19', {}),
    ('MobileNet', {'alpha': 0.5}),  # the 1x1-conv classifier and the width multiplier
])
def test_same_network_as_keras_with_top_at_32(keras_file, name, kwargs):
    # weights=None allows any input size with the classifier.
    compare_with_keras(keras_file, name, 32, batch=2, include_top=True,
                       input_shape=(32, 32, 3), classes=10, classifier_activation=None,
                       **kwargs)


# --- shapes, parameters, the book's conv base ---------------------------------------
def test_vgg16_conv_base_of_the_book(capsys):
    conv_base = VGG16(weights=None, include_top=False, input_shape=(150, 150, 3))
    assert conv_base.output_shape == (None, 4, 4, 512)
    assert conv_base.count_params() == 14_714_688
    assert [layer.name for layer in conv_base.layers[1:4]] == \
        ['block1_conv1', 'block1_conv2', 'block1_pool']
    conv_base.summary()
    text = capsys.readouterr().out
    assert 'Model: "vgg16"' in text and 'block5_pool (MaxPooling2D)' in text
    assert '(None, 4, 4, 512)' in text
    assert 'Total params: 14,714,688 (56.13 MB)' in text


@pytest.mark.parametrize('factory, top, notop, shape', [
    (ResNet50, 25_636_712, 23_587_712, (None, None, None, 2048)),
    (InceptionV3, 23_851_784, 21_802_784, (None, None, None, 2048)),
    (Xception, 22_910_480, 20_861_480, (None, None, None, 2048)),
    (MobileNet, 4_253_864, 3_228_864, (None, None, None, 1024)),
    (SqueezeNet, 1_235_496, 722_496, (None, None, None, 512)),
])
def test_parameter_counts(factory, top, notop, shape):
    assert factory(weights=None).count_params() == top
    base = factory(weights=None, include_top=False)
    assert base.count_params() == notop and base.output_shape == shape


def test_pooling_and_classes():
    model = ResNet50(weights=None, include_top=False, input_shape=(32, 32, 3), pooling='avg')
    assert model.output_shape == (None, 2048) and model.layers[-1].name == 'avg_pool'
    model = ResNet50(weights=None, include_top=False, input_shape=(32, 32, 3), pooling='max')
    assert model.output_shape == (None, 2048) and model.layers[-1].name == 'max_pool'
    model = MobileNet(weights=None, include_top=True, input_shape=(64, 64, 3), classes=7)
    assert model.output_shape == (None, 7) and model.name == 'mobilenet_1.00_64'
    with deepzero.test_mode(), deepzero.no_grad():
        probabilities = model(np.zeros((2, 64, 64, 3), np.float32)).data
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    with pytest.raises(ValueError, match="pooling must be None, 'avg' or 'max'"):
        VGG16(weights=None, include_top=False, pooling='mean')


def test_input_tensor_builds_on_existing_layers():
    image = Input(shape=(64, 64, 3))
    model = ResNet50(weights=None, include_top=False, input_tensor=image)
    assert model.inputs[0] is image and model.output_shape == (None, 2, 2, 2048)
    with pytest.raises(ValueError, match='input_tensor must be a symbolic tensor'):
        VGG16(weights=None, include_top=False, input_tensor=np.zeros((1, 32, 32, 3)))


# --- argument checks, as Keras ------------------------------------------------------------
def test_argument_errors_match_keras(tmp_path):
    with pytest.raises(ValueError, match=re.escape(
            "If using `weights='imagenet'` with `include_top=True`, `classes` should be "
            "1000.  Received classes=10")):
        VGG16(weights='imagenet', classes=10)
    with pytest.raises(ValueError, match='The `weights` argument should be either `None`'):
        VGG16(weights=str(tmp_path / 'missing.h5'))
    with pytest.raises(ValueError, match=re.escape(
            "`input_shape` should be (224, 224, 3).  Received: input_shape=(150, 150, 3)")):
        ResNet50(weights='imagenet', input_shape=(150, 150, 3))
    with pytest.raises(ValueError, match='Input size must be at least 75x75'):
        InceptionV3(weights=None, include_top=False, input_shape=(74, 74, 3))
    with pytest.raises(ValueError, match='The input must have 3 channels'):
        Xception(weights='imagenet', include_top=False, input_shape=(100, 100, 1))
    with pytest.raises(ValueError, match='you should specify a static `input_shape`'):
        VGG16(weights=None, input_shape=(None, None, 3))
    weight_file = tmp_path / 'weights.h5'
    weight_file.touch()
    with pytest.raises(ValueError, match='Only `None` and `softmax` activations are allowed'):
        ResNet50(weights=str(weight_file), classifier_activation='relu')
    with pytest.warns(UserWarning, match='usually expects 1 or 3 input channels'):
        VGG16(weights=None, include_top=False, input_shape=(32, 32, 4))


def test_mobilenet_imagenet_checks():
    with pytest.raises(ValueError, match='depth multiplier must be 1'):
        MobileNet(weights='imagenet', depth_multiplier=2)
    with pytest.raises(ValueError, match='alpha can be one of'):
        MobileNet(weights='imagenet', alpha=0.6)
    assert mobilenet.weights_file(0.25, 128, False).name == 'mobilenet_2_5_128_tf_no_top.h5'
    assert mobilenet.weights_file(1.0, 224, True).url == (
        'https://storage.googleapis.com/tensorflow/keras-applications/mobilenet/'
        'mobilenet_1_0_224_tf.h5')


# --- weight files ---------------------------------------------------------------------------
@pytest.fixture
def caches(tmp_path, monkeypatch):
    """Empty Keras and deepzero caches; the network is unreachable."""
    keras_home, deepzero_home = tmp_path / 'keras_home', tmp_path / 'deepzero_home'
    monkeypatch.setenv('KERAS_HOME', str(keras_home))
    monkeypatch.setenv('DEEPZERO_HOME', str(deepzero_home))

    def offline(url, *args, **kwargs):
        raise urllib.error.URLError('[Errno -3] Temporary failure in name resolution')
    monkeypatch.setattr(urllib.request, 'urlopen', offline)
    return keras_home / 'models', deepzero_home / 'models'


def test_offline_imagenet_weights_error_names_file_url_and_folders(caches):
    keras_models, deepzero_models = caches
    with pytest.raises(WeightsUnavailableError) as info:
        VGG16(weights='imagenet', include_top=False, input_shape=(150, 150, 3))
    message = str(info.value)
    assert 'vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5' in message
    assert ('https://storage.googleapis.com/tensorflow/keras-applications/vgg16/'
            'vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5') in message
    assert str(keras_models) in message and str(deepzero_models) in message
    assert '6d6bbae143d832006294945121d1f1fc' in message
    assert not deepzero_models.exists() or not os.listdir(deepzero_models)


def _small_mobilenet_file(folder, include_top=False):
    """A MobileNet alpha 0.25 / 128 weight file where Keras keeps it (no MD5 pinned)."""
    model = MobileNet(weights=None, alpha=0.25, input_shape=(128, 128, 3),
                      include_top=include_top)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_weights(str(folder / mobilenet.weights_file(0.25, 128, include_top).name))
    return model


@pytest.mark.parametrize('cache', [0, 1], ids=['keras_cache', 'deepzero_cache'])
def test_imagenet_weights_from_either_cache(caches, cache):
    saved = _small_mobilenet_file(caches[cache])
    model = MobileNet(weights='imagenet', alpha=0.25, input_shape=(128, 128, 3),
                      include_top=False)
    for a, b in zip(saved.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_md5_checked_cache_and_stale_copies(caches, shared_data):
    real = shared_data / 'pretrained' / squeezenet.WEIGHTS_FILE_NO_TOP.name
    keras_models, deepzero_models = caches
    keras_models.mkdir(parents=True)
    (keras_models / real.name).write_bytes(real.read_bytes()[:1000])  # truncated copy
    with pytest.raises(WeightsUnavailableError, match='wrong MD5 were ignored'):
        SqueezeNet(weights='imagenet', include_top=False)
    deepzero_models.mkdir(parents=True, exist_ok=True)
    (deepzero_models / real.name).write_bytes(real.read_bytes())
    model = SqueezeNet(weights='imagenet', include_top=False)
    np.testing.assert_array_equal(model.get_layer('conv1').get_weights()[1],
                                  h5py.File(real, 'r')['conv1/conv1_b'][()])


class FakeResponse(io.BytesIO):
    """What ``urlopen`` returns: a readable body with a Content-Length header."""

    def __init__(self, body):
        super().__init__(body)
        self.headers = {'Content-Length': str(len(body))}


def test_download_is_md5_checked_and_atomic(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv('KERAS_HOME', str(tmp_path / 'keras'))
    monkeypatch.setenv('DEEPZERO_HOME', str(tmp_path / 'deepzero'))
    body = b'class index bytes' * 5000
    served = []
    monkeypatch.setattr(urllib.request, 'urlopen',
                        lambda url, timeout: served.append(url) or FakeResponse(body))
    good = RemoteFile('file.bin', 'https://example.org/file.bin', hashlib.md5(body).hexdigest())
    path = fetch(good)
    assert path == str(tmp_path / 'deepzero' / 'models' / 'file.bin')
    assert open(path, 'rb').read() == body and served == [good.url]
    output = capsys.readouterr().out
    assert 'Downloading data from https://example.org/file.bin' in output
    assert f'{len(body)}/{len(body)} [' in output
    assert fetch(good) == path and served == [good.url]  # cached now

    bad = RemoteFile('other.bin', 'https://example.org/other.bin', '0' * 32)
    with pytest.raises(ValueError, match='Incomplete or corrupted download of other.bin'):
        fetch(bad, verbose=False)
    assert sorted(os.listdir(tmp_path / 'deepzero' / 'models')) == ['file.bin']


def test_keras1_weight_file_loads_by_position(tmp_path):
    # The layout of the book-era VGG16 downloads: only 'layer_names' at the
    # root, Keras-1 dataset names, no keras_version.
    model = VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
    rng = np.random.default_rng(1)
    expected = [rng.standard_normal(w.shape).astype(np.float32) for w in model.get_weights()]
    path = tmp_path / 'vgg16_keras1_notop.h5'
    with h5py.File(path, 'w') as f:
        names = [layer.name for layer in model.layers]
        f.attrs['layer_names'] = [n.encode() for n in names]
        arrays = iter(expected)
        for layer in model.layers:
            group = f.create_group(layer.name)
            weight_names = [f'{layer.name}_{kind}_1:0' for kind in 'Wb'] \
                if layer.weights else []
            group.attrs['weight_names'] = [n.encode() for n in weight_names]
            for weight_name in weight_names:
                group.create_dataset(weight_name, data=next(arrays))
    loaded = VGG16(weights=str(path), include_top=False, input_shape=(32, 32, 3))
    for a, b in zip(expected, loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_keras3_weights_h5_file_loads(keras_apps, tmp_path):
    # Keras 3's own weights-only layout (model.save_weights('x.weights.h5')).
    keras_model = keras_apps.MobileNet(weights=None, include_top=False, alpha=0.25,
                                       input_shape=(32, 32, 3))
    randomize_weights(keras_model, np.random.default_rng(3))
    path = str(tmp_path / 'mobilenet.weights.h5')
    keras_model.save_weights(path)
    model = MobileNet(weights=path, include_top=False, alpha=0.25, input_shape=(32, 32, 3))
    for a, b in zip(keras_model.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


# --- preprocessing and decoding --------------------------------------------------------------
@pytest.mark.parametrize('mode', ['caffe', 'tf', 'torch'])
@pytest.mark.parametrize('data_format', ['channels_last', 'channels_first'])
def test_preprocess_input_matches_keras(mode, data_format):
    keras_utils = pytest.importorskip('keras.applications.imagenet_utils')
    shape = (2, 5, 4, 3) if data_format == 'channels_last' else (2, 3, 5, 4)
    images = np.random.default_rng(2).uniform(0, 255, shape).astype(np.float32)
    got = imagenet_utils.preprocess_input(images.copy(), data_format, mode)
    expected = keras_utils.preprocess_input(images.copy(), data_format, mode)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, expected)


def test_preprocess_input_in_place_ints_and_variables():
    images = np.full((1, 2, 2, 3), 127.5, np.float32)
    out = vgg16.preprocess_input(images)
    assert np.shares_memory(out, images)  # Keras: float arrays are overwritten
    np.testing.assert_allclose(out[0, 0, 0], [127.5 - 103.939, 127.5 - 116.779, 127.5 - 123.68],
                               rtol=1e-6)
    ints = np.full((2, 2, 3), 255, np.uint8)
    np.testing.assert_array_equal(mobilenet.preprocess_input(ints), np.ones((2, 2, 3)))
    assert mobilenet.preprocess_input(ints).dtype == np.float32 and ints[0, 0, 0] == 255
    variable = Variable(np.full((1, 2, 2, 3), 255.0, np.float32))
    out = imagenet_utils.preprocess_input(variable, mode='torch')
    out.sum().backward()
    np.testing.assert_allclose(variable.grad.data[0, 0, 0],
                               1 / 255.0 / np.array([0.229, 0.224, 0.225]), rtol=1e-5)
    rgb = np.array([[[[10.0, 20.0, 30.0]]]], np.float32)
    np.testing.assert_allclose(squeezenet.preprocess_input(rgb)[0, 0, 0],
                               [30 - 104.006, 20 - 116.669, 10 - 122.679], rtol=1e-6)
    with pytest.raises(ValueError, match='Expected mode to be one of'):
        imagenet_utils.preprocess_input(rgb, mode='caff')
    with pytest.raises(ValueError, match='expected 3 colour channels on axis 1'):
        vgg16.preprocess_input(np.zeros((1, 4, 4, 3)), data_format='channels_first')


def test_decode_predictions_with_cached_class_index(caches, monkeypatch):
    class_index = {str(i): [f'n{i:08d}', f'class_{i}'] for i in range(1000)}
    _, deepzero_models = caches
    deepzero_models.mkdir(parents=True)
    path = deepzero_models / 'imagenet_class_index.json'
    path.write_text(json.dumps(class_index))
    generated = imagenet_utils.CLASS_INDEX_FILE._replace(
        md5=hashlib.md5(path.read_bytes()).hexdigest())
    monkeypatch.setattr(imagenet_utils, 'CLASS_INDEX_FILE', generated)
    preds = np.zeros((2, 1000), np.float32)
    preds[0, [3, 500, 7]] = [0.5, 0.3, 0.2]
    preds[1, 999] = 1.0
    decoded = vgg16.decode_predictions(preds, top=3)
    assert [entry[:2] for entry in decoded[0]] == [('n00000003', 'class_3'),
                                                  ('n00000500', 'class_500'),
                                                  ('n00000007', 'class_7')]
    assert decoded[0][0][2] == pytest.approx(0.5) and decoded[1][0][:2] == ('n00000999',
                                                                           'class_999')
    assert len(vgg16.decode_predictions(Variable(preds))[1]) == 5
    with pytest.raises(ValueError, match=re.escape('(samples, 1000)')):
        vgg16.decode_predictions(np.zeros((2, 10)))


def test_decode_predictions_offline_without_class_index(caches):
    with pytest.raises(WeightsUnavailableError, match='imagenet_class_index.json') as info:
        imagenet_utils.decode_predictions(np.zeros((1, 1000)))
    assert 'download.tensorflow.org/data/imagenet_class_index.json' in str(info.value)

