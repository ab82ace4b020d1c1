"""ImageDataGenerator: argument meanings, random draws, standardize and fit,
against Keras 3's legacy ImageDataGenerator where it is the reference."""
import warnings

import numpy as np
import pytest

from deepzero.preprocessing.image import ImageDataGenerator


@pytest.fixture(scope='module')
def keras_generator():
    pytest.importorskip('keras')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        from keras.src.legacy.preprocessing.image import ImageDataGenerator as KerasGenerator
    return KerasGenerator


def draws(gen, key, shape=(20, 50, 3), n=400, seed=0):
    rng = np.random.default_rng(seed)
    return np.array([gen.get_random_transform(shape, rng)[key] for _ in range(n)])


def test_width_shift_is_horizontal_tx_and_height_shift_is_vertical_ty():
    # A 20-high, 50-wide image: width fractions scale by 50, height by 20.
    tx = draws(ImageDataGenerator(width_shift_range=0.2), 'tx')
    assert np.abs(tx).max() <= 10 and np.abs(tx).max() > 8
    assert (draws(ImageDataGenerator(width_shift_range=0.2), 'ty') == 0).all()
    ty = draws(ImageDataGenerator(height_shift_range=0.2), 'ty')
    assert np.abs(ty).max() <= 4 and np.abs(ty).max() > 3
    # And it moves the image that way: a horizontal-only shift keeps every row's content.
    image = np.tile(np.arange(50, dtype=np.float32), (20, 1))[..., None]
    gen = ImageDataGenerator(width_shift_range=0.2, fill_mode='nearest')
    moved = gen.random_transform(image, seed=3)
    np.testing.assert_allclose(moved, np.broadcast_to(moved[:1], moved.shape), atol=1e-4)


def test_shift_range_kinds():
    ints = draws(ImageDataGenerator(width_shift_range=3), 'tx')   # int: 0..2 with a sign
    assert set(ints.tolist()) == {-2.0, -1.0, 0.0, 1.0, 2.0}
    listed = draws(ImageDataGenerator(width_shift_range=[5, 7]), 'tx')  # pixels
    assert set(listed.tolist()) == {-7.0, -5.0, 5.0, 7.0}
    fractions = draws(ImageDataGenerator(width_shift_range=[0.1]), 'tx')  # fraction of 50
    assert set(fractions.tolist()) == {-5.0, 5.0}
    pixels = draws(ImageDataGenerator(width_shift_range=4.0), 'tx')  # float >= 1: pixels
    assert np.abs(pixels).max() <= 4 and len(set(pixels.tolist())) > 100
    with pytest.raises(ValueError, match='width_shift_range'):
        ImageDataGenerator(width_shift_range='wide')


def test_other_ranges():
    gen = ImageDataGenerator(rotation_range=40, shear_range=20, zoom_range=[0.5, 0.9],
                             channel_shift_range=30, brightness_range=(0.2, 0.4),
                             horizontal_flip=True)
    for key, low, high in (('theta', -40, 40), ('shear', -20, 20), ('zx', 0.5, 0.9),
                           ('zy', 0.5, 0.9), ('channel_shift_intensity', -30, 30),
                           ('brightness', 0.2, 0.4)):
        values = draws(gen, key).astype(float)
        assert low <= values.min() and values.max() <= high and values.std() > 0, key
    flips = draws(gen, 'flip_horizontal')
    assert 0.35 < flips.mean() < 0.65 and not draws(gen, 'flip_vertical').any()
    assert ImageDataGenerator(zoom_range=0.2).zoom_range == [0.8, 1.2]
    plain = ImageDataGenerator().get_random_transform((8, 8, 3), seed=1)
    assert plain == {'theta': 0, 'tx': 0, 'ty': 0, 'shear': 0, 'zx': 1, 'zy': 1,
                     'flip_horizontal': False, 'flip_vertical': False,
                     'channel_shift_intensity': None, 'brightness': None}


def test_seeds_are_reproducible_and_leave_global_state_alone():
    gen = ImageDataGenerator(rotation_range=30, zoom_range=0.2, horizontal_flip=True)
    state = np.random.get_state()[1].copy()
    image = np.random.default_rng(0).uniform(0, 255, (16, 16, 3)).astype(np.float32)
    first = gen.random_transform(image, seed=5)
    np.testing.assert_array_equal(first, gen.random_transform(image, seed=5))
    assert gen.get_random_transform((16, 16, 3), 5) == gen.get_random_transform((16, 16, 3), 5)
    gen.fit(image[None], augment=True, seed=1)
    np.testing.assert_array_equal(np.random.get_state()[1], state)


def test_argument_validation():
    for kwargs, message in (({'fill_mode': 'mirror'}, 'fill_mode'),
                            ({'zoom_range': [1, 2, 3]}, 'zoom_range'),
                            ({'brightness_range': 0.5}, 'brightness_range'),
                            ({'validation_split': 1.5}, 'validation_split'),
                            ({'interpolation_order': 6}, 'interpolation_order'),
                            ({'data_format': 'channels_middle'}, 'data_format')):
        with pytest.raises(ValueError, match=message):
            ImageDataGenerator(**kwargs)
    with pytest.warns(UserWarning, match='overrides'):
        gen = ImageDataGenerator(featurewise_std_normalization=True)
    assert gen.featurewise_center
    with pytest.warns(UserWarning, match='overrides'):
        gen = ImageDataGenerator(zca_whitening=True, featurewise_std_normalization=True)
    assert gen.featurewise_center and not gen.featurewise_std_normalization


def test_standardize_order_matches_keras(keras_generator):
    rng = np.random.default_rng(1)
    data = rng.uniform(0, 255, (12, 6, 6, 3)).astype(np.float32)
    settings = dict(featurewise_center=True, featurewise_std_normalization=True,
                    samplewise_center=True, samplewise_std_normalization=True,
                    rescale=1 / 255.0, preprocessing_function=lambda im: im * 2 + 1)
    ours, keras = ImageDataGenerator(**settings), keras_generator(**settings)
    ours.fit(data)
    keras.fit(data)
    np.testing.assert_allclose(ours.mean, keras.mean, rtol=1e-5)
    np.testing.assert_allclose(ours.std, keras.std, rtol=1e-5)
    for image in data[:3]:
        expected = keras.standardize(image.copy())
        got = ours.standardize(image.copy())
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    batch = ours.standardize(data[:3].copy())  # a batch: each image on its own
    np.testing.assert_allclose(batch[1], keras.standardize(data[1].copy()), rtol=1e-4, atol=1e-5)


def test_zca_matches_keras(keras_generator):
    data = np.random.default_rng(2).uniform(0, 1, (20, 4, 4, 3)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # both warn that ZCA implies featurewise_center
        ours, keras = ImageDataGenerator(zca_whitening=True), keras_generator(zca_whitening=True)
        ours.fit(data)
        keras.fit(data)
    np.testing.assert_allclose(ours.zca_whitening_matrix, keras.zca_whitening_matrix,
                               rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(ours.standardize(data[0].copy()),
                               keras.standardize(data[0].copy()), rtol=1e-3, atol=1e-3)


def test_unfit_featurewise_warns_and_integer_input_is_cast():
    gen = ImageDataGenerator(featurewise_center=True, rescale=0.5)
    with pytest.warns(UserWarning, match='fit'):
        out = gen.standardize(np.full((2, 2, 3), 4, np.uint8))
    assert out.dtype == np.float32 and (out == 2).all()
    with pytest.raises(ValueError, match='rank 4'):
        gen.fit(np.zeros((2, 2, 3)))


def test_apply_transform_keeps_float_dtype_and_writes_into_out():
    gen = ImageDataGenerator()
    image = np.random.default_rng(0).uniform(0, 1, (8, 8, 3))
    assert gen.apply_transform(image, {'theta': 10}).dtype == np.float64
    assert gen.apply_transform(image.astype(np.uint8), {}).dtype == np.float32
    out = np.empty((8, 8, 3), np.float32)
    assert gen.apply_transform(image, {'flip_horizontal': True}, out=out) is out
    np.testing.assert_allclose(out, image[:, ::-1], rtol=1e-6)
