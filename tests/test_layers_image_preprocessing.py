"""Keras 3's image preprocessing layers: Resizing, CenterCrop and the random
augmentations, against real Keras 3 (torch backend) where Keras is
deterministic, and saved / loaded both ways in .keras and .h5 files."""
import numpy as np
import pytest

import deepzero.layers as L
from deepzero import saving, utils
from deepzero.kernels import image as image_kernels
from deepzero.models import Model, Sequential

IMAGES = (2, 9, 12, 3)

DETERMINISTIC = [
    ('Resizing', dict(height=5, width=7)),
    ('Resizing', dict(height=20, width=15, interpolation='bicubic')),
    ('Resizing', dict(height=12, width=6, crop_to_aspect_ratio=True)),
    ('Resizing', dict(height=6, width=6, pad_to_aspect_ratio=True, fill_value=3.0)),
    ('Resizing', dict(height=4, width=5, interpolation='nearest')),
    ('Resizing', dict(height=4, width=5, antialias=True)),
    ('CenterCrop', dict(height=5, width=4)),
    ('CenterCrop', dict(height=12, width=20)),  # larger than the image: smart resize
]
# Random layers whose draw is a single value (lower == upper): Keras's training
# output is then deterministic, and ours must equal it.
FIXED_DRAWS = [
    ('RandomRotation', dict(factor=(0.1, 0.1))),
    ('RandomRotation', dict(factor=(-0.3, -0.3), fill_mode='constant', fill_value=5.0)),
    ('RandomZoom', dict(height_factor=(0.3, 0.3), fill_mode='wrap')),
    ('RandomZoom', dict(height_factor=(-0.3, -0.3), width_factor=(0.2, 0.2),
                        interpolation='nearest')),
    ('RandomTranslation', dict(height_factor=(0.2, 0.2), width_factor=(-0.25, -0.25),
                               fill_mode='nearest')),
    ('RandomBrightness', dict(factor=(0.3, 0.3))),
    ('RandomContrast', dict(factor=0.0)),
]
RANDOM = [
    ('RandomFlip', dict(mode='horizontal', seed=1)),
    ('RandomFlip', dict()),
    ('RandomRotation', dict(factor=0.1, seed=2)),
    ('RandomZoom', dict(height_factor=0.2)),
    ('RandomZoom', dict(height_factor=(-0.2, 0.1), width_factor=0.3, fill_mode='constant')),
    ('RandomTranslation', dict(height_factor=0.1, width_factor=(-0.2, 0.3), fill_mode='wrap')),
    ('RandomContrast', dict(factor=0.2, seed=3)),
    ('RandomBrightness', dict(factor=0.2, value_range=(0, 1))),
]


@pytest.fixture(scope='module')
def keras():
    return pytest.importorskip('keras')


@pytest.fixture
def images():
    return np.random.default_rng(0).uniform(0, 255, IMAGES).astype(np.float32)


def _close(ours, theirs, keras, tolerance=5e-4):
    ours = np.asarray(ours.data)
    theirs = keras.ops.convert_to_numpy(theirs)
    assert ours.shape == theirs.shape and ours.dtype == np.float32
    assert np.abs(ours - theirs).max() < tolerance


@pytest.mark.parametrize('name, kwargs', DETERMINISTIC + FIXED_DRAWS + RANDOM,
                         ids=lambda v: v if isinstance(v, str) else None)
def test_inference_output_shape_and_config_match_keras(keras, images, name, kwargs):
    theirs, ours = getattr(keras.layers, name)(**kwargs), getattr(L, name)(**kwargs)
    _close(ours(images, training=False), theirs(images, training=False), keras)
    their_config, our_config = theirs.get_config(), ours.get_config()
    their_config.pop('name'), our_config.pop('name')
    assert our_config == their_config
    symbolic = getattr(L, name)(**kwargs)(L.Input(IMAGES[1:]))
    assert symbolic.shape == tuple(theirs(keras.Input(IMAGES[1:])).shape)


@pytest.mark.parametrize('name, kwargs', FIXED_DRAWS, ids=lambda v: v if isinstance(v, str)
                         else None)
def test_training_output_matches_keras_for_a_fixed_draw(keras, images, name, kwargs):
    theirs, ours = getattr(keras.layers, name)(**kwargs), getattr(L, name)(**kwargs)
    _close(ours(images, training=True), theirs(images, training=True), keras)


@pytest.mark.parametrize('fill_mode', image_kernels.FILL_MODES)
@pytest.mark.parametrize('interpolation', image_kernels.AFFINE_INTERPOLATIONS)
def test_affine_resample_matches_keras_affine_transform(keras, images, fill_mode,
                                                        interpolation):
    angle = 0.3
    matrices = np.array([[np.cos(angle), -np.sin(angle), 5.2, np.sin(angle), np.cos(angle),
                          -3.7, 0, 0], [1.3, 0, -4.1, 0, 0.8, 2.2, 0, 0]], np.float32)
    ours = image_kernels.affine_resample(images, matrices, interpolation, fill_mode, 7.0)
    theirs = keras.ops.image.affine_transform(images, matrices, interpolation=interpolation,
                                              fill_mode=fill_mode, fill_value=7.0)
    np.testing.assert_allclose(ours, keras.ops.convert_to_numpy(theirs), atol=1e-3)


@pytest.mark.parametrize('interpolation', image_kernels.RESIZE_INTERPOLATIONS)
@pytest.mark.parametrize('size', [(20, 20), (10, 40), (60, 70), (45, 17), (30, 50)])
def test_resize_matches_keras_ops_image_resize(keras, interpolation, size):
    x = np.random.default_rng(1).uniform(0, 255, (2, 30, 50, 3)).astype(np.float32)
    for antialias in ((False, True) if interpolation != 'nearest' else (False,)):
        ours = image_kernels.resize(x, size, interpolation, antialias)
        theirs = keras.ops.image.resize(x, size, interpolation=interpolation,
                                        antialias=antialias)
        assert ours.dtype == np.float32
        np.testing.assert_allclose(ours, keras.ops.convert_to_numpy(theirs), atol=1e-3)


def test_random_layers_augment_only_in_training(images):
    layer = L.RandomRotation(0.2, seed=0)
    np.testing.assert_array_equal(layer(images, training=False).data, images)
    assert not np.allclose(layer(images).data, images)  # a direct call trains, as in Keras
    model = Sequential([L.Input(IMAGES[1:]), L.RandomFlip(seed=0), L.RandomZoom(0.5, seed=0)])
    np.testing.assert_array_equal(model.predict(images, verbose=0), images)
    assert not np.allclose(model(images, training=True).data, images)


def test_seeded_layers_repeat_and_unseeded_follow_set_random_seed(images):
    first, second = L.RandomZoom(0.3, seed=5), L.RandomZoom(0.3, seed=5)
    a, b = first(images).data, second(images).data
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first(images).data, a)  # each call draws anew
    utils.set_random_seed(7)
    c = L.RandomTranslation(0.2, 0.2)(images).data
    utils.set_random_seed(7)
    np.testing.assert_array_equal(L.RandomTranslation(0.2, 0.2)(images).data, c)


def test_flip_modes_mirror_the_right_axis(images):
    flipped = [L.RandomFlip(mode, seed=s)(images).data for mode in ('horizontal', 'vertical')
               for s in range(8)]
    for out in flipped:
        for image, result in zip(images, out):
            assert (np.array_equal(result, image) or np.array_equal(result, image[:, ::-1])
                    or np.array_equal(result, image[::-1]))


def test_brightness_and_contrast_stay_in_value_range(images):
    bright = L.RandomBrightness((0.5, 0.9), seed=0)(images).data
    assert bright.min() >= 0 and bright.max() <= 255 and bright.dtype == np.float32
    contrast = L.RandomContrast((0.5, 0.9), seed=0)(images).data
    assert contrast.min() >= 0 and contrast.max() <= 255


def test_unbatched_integer_and_channels_first_input(images):
    image = images[0].astype(np.uint8)
    out = L.Resizing(4, 6)(image).data
    assert out.shape == (4, 6, 3) and out.dtype == np.float32
    first = L.CenterCrop(5, 4, data_format='channels_first')(images.transpose(0, 3, 1, 2)).data
    np.testing.assert_array_equal(first.transpose(0, 2, 3, 1), L.CenterCrop(5, 4)(images).data)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match='fill_mode'):
        L.RandomRotation(0.1, fill_mode='mirror')
    with pytest.raises(ValueError, match='height_factor'):
        L.RandomZoom(-1.0)
    with pytest.raises(ValueError, match='factor'):
        L.RandomRotation(1.5)
    with pytest.raises(ValueError, match='interpolation'):
        L.Resizing(4, 4, interpolation='lanczos3')
    with pytest.raises(ValueError, match='mode'):
        L.RandomFlip('diagonal')


def test_a_layer_that_would_cut_gradients_says_so(images):
    dense_then_flip = Sequential([L.Input((4,)), L.Dense(27), L.Reshape((3, 3, 3)),
                                  L.RandomFlip()])
    with pytest.raises(ValueError, match='passes no gradient'):
        dense_then_flip(np.ones((1, 4), np.float32), training=True)
    assert dense_then_flip(np.ones((1, 4), np.float32), training=False).shape == (1, 3, 3, 3)


def test_gradients_reach_the_input_through_random_layers_in_inference(images):
    """Saliency and Grad-CAM differentiate a model with its augmentation
    layers with respect to its input: in inference those pass it through."""
    from deepzero.core import Variable
    model = Sequential([L.Input(IMAGES[1:]), L.RandomFlip(), L.RandomRotation(0.2),
                        L.Rescaling(1 / 255.0), L.Flatten(), L.Dense(1)])
    x = Variable(images)
    model(x, training=False).sum().backward()
    expected = np.broadcast_to(model.layers[-1].get_weights()[0][:, 0].reshape(IMAGES[1:]) / 255,
                               IMAGES)
    np.testing.assert_allclose(x.grad.data, expected, rtol=1e-5)


def _augmenting_model(lib, brightness=True):
    layers = lib.layers
    inputs = layers.Input((12, 12, 3))
    augmentation = [layers.RandomFlip('horizontal'), layers.RandomRotation(0.1),
                    layers.RandomZoom(0.2), layers.RandomTranslation(0.1, 0.1),
                    layers.RandomContrast(0.1)]
    if brightness:
        augmentation.append(layers.RandomBrightness(0.1))
    x = lib.Sequential(augmentation)(inputs)
    x = layers.Resizing(10, 10, interpolation='bicubic')(x)
    x = layers.CenterCrop(8, 8)(x)
    x = layers.Rescaling(1 / 255.0)(x)
    x = layers.Conv2D(4, 3, activation='relu')(x)
    outputs = layers.Dense(2, activation='softmax')(layers.Flatten()(x))
    return lib.Model(inputs, outputs)


class _DeepzeroLib:
    layers, Sequential, Model = L, Sequential, Model


@pytest.mark.parametrize('fmt', ['keras', 'h5'])
def test_files_cross_both_ways(keras, tmp_path, fmt):
    import logging
    logging.getLogger('absl').setLevel(logging.ERROR)  # "HDF5 is legacy" notices
    x = np.random.default_rng(2).uniform(0, 255, (3, 12, 12, 3)).astype(np.float32)
    # Keras 3.15 cannot write RandomBrightness to .h5 ("cannot pickle 'module'
    # object" while copying its config); it reads ours (below).
    theirs = _augmenting_model(keras, brightness=fmt != 'h5')
    theirs.save(tmp_path / f'keras.{fmt}')
    ours = saving.load_model(tmp_path / f'keras.{fmt}')
    expected = keras.ops.convert_to_numpy(theirs(x, training=False))
    np.testing.assert_allclose(ours.predict(x, verbose=0), expected, atol=1e-5)
    assert [type(layer).__name__ for layer in ours.layers[1].layers] == \
        [type(layer).__name__ for layer in theirs.layers[1].layers]
    assert ours.layers[1].layers[1].get_config()['factor'] == (-0.1, 0.1)

    mine = _augmenting_model(_DeepzeroLib)
    mine.save(tmp_path / f'deepzero.{fmt}')
    loaded = keras.models.load_model(tmp_path / f'deepzero.{fmt}')
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(x, training=False)),
                               mine.predict(x, verbose=0), atol=1e-5)
    assert loaded.layers[2].get_config()['interpolation'] == 'bicubic'


@pytest.mark.parametrize('name, kwargs', [
    ('Resizing', dict(height=5, width=7, interpolation='bicubic')),
    ('Resizing', dict(height=4, width=5, interpolation='nearest')),
    ('CenterCrop', dict(height=12, width=20)),
    ('RandomFlip', dict(seed=0)),
    ('RandomRotation', dict(factor=0.2, seed=0, fill_mode='constant')),
    ('RandomZoom', dict(height_factor=0.3, seed=0, fill_mode='wrap', interpolation='nearest')),
    ('RandomContrast', dict(factor=0.5, seed=0)),
    ('RandomBrightness', dict(factor=0.5, seed=0)),
], ids=lambda v: v if isinstance(v, str) else None)
def test_layers_run_on_the_array_module_of_their_input(xp, images, name, kwargs):
    """The same seeded layer on NumPy and on CuPy data gives the same images,
    on the input's device."""
    expected = np.asarray(getattr(L, name)(**kwargs)(images).data)
    out = getattr(L, name)(**kwargs)(xp.asarray(images)).data
    assert type(out) is type(xp.asarray(images)) and out.dtype == np.float32
    np.testing.assert_allclose(xp.asnumpy(out) if xp is not np else out, expected, atol=1e-3)
