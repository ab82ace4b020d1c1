"""Geometry of the affine resample: single-pixel checks, and parity with Keras 3's
legacy ImageDataGenerator.apply_transform on the same parameter dicts, for the
OpenCV path and the NumPy fallback."""
import warnings

import numpy as np
import pytest

from deepzero.preprocessing.image import (ImageDataGenerator, get_warp_backend, set_warp_backend,
                                          transform_matrix, warp_affine)
from deepzero.preprocessing.image import affine

BACKENDS = ['numpy'] + (['opencv'] if affine.cv2 is not None else [])


@pytest.fixture(params=BACKENDS)
def backend(request):
    previous = set_warp_backend(request.param)
    yield request.param
    set_warp_backend(previous)


@pytest.fixture(scope='module')
def keras_generator():
    pytest.importorskip('keras')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        from keras.src.legacy.preprocessing.image import ImageDataGenerator as KerasGenerator
    return KerasGenerator


def smooth_image(size=40, channels=3, seed=0):
    """A smooth 0..255 float32 image: bilinear upsampling of random 6x6 values."""
    coarse = np.random.default_rng(seed).uniform(0, 255, (6, 6, channels))
    grid = np.linspace(0, 5, size)
    i0 = np.minimum(np.floor(grid).astype(int), 4)
    t = (grid - i0)[:, None, None]
    rows = coarse[i0] * (1 - t) + coarse[i0 + 1] * t
    t = (grid - i0)[None, :, None]
    return (rows[:, i0] * (1 - t) + rows[:, i0 + 1] * t).astype(np.float32)


def one_pixel(row, col, size=9):
    x = np.zeros((size, size, 1), np.float32)
    x[row, col] = 1
    return x


def where(x):
    return tuple(int(v) for v in np.argwhere(x[..., 0] > 0.5)[0])


@pytest.mark.parametrize('params, expected', [
    ({'tx': 2}, (2, 4)),           # tx shifts along x (columns): content moves left
    ({'ty': 2}, (0, 6)),           # ty shifts along y (rows): content moves up
    ({'theta': 90}, (2, 2)),       # counter-clockwise on screen about the centre (4, 4)
    ({'flip_horizontal': True}, (2, 2)),
    ({'flip_vertical': True}, (6, 6)),
])
def test_single_pixel_geometry(backend, params, expected):
    gen = ImageDataGenerator(interpolation_order=0, fill_mode='constant')
    assert where(gen.apply_transform(one_pixel(2, 6), params)) == expected


def test_zoom_below_one_magnifies_horizontally(backend):
    gen = ImageDataGenerator(interpolation_order=0, fill_mode='constant')
    out = gen.apply_transform(one_pixel(4, 6), {'zx': 0.5})[..., 0]
    assert out.sum() == 2 and out[4, 7] == out[4, 8] == 1  # column 6 -> 7..8 (centre 4)


@pytest.mark.parametrize('fill_mode', ['constant', 'nearest', 'reflect', 'wrap'])
@pytest.mark.parametrize('order', [0, 1, 3])
def test_matches_keras_apply_transform(backend, keras_generator, fill_mode, order):
    image = smooth_image()
    ours = ImageDataGenerator(fill_mode=fill_mode, cval=17.0, interpolation_order=order)
    keras = keras_generator(fill_mode=fill_mode, cval=17.0, interpolation_order=order)
    cases = [{'theta': 33}, {'tx': 5.3}, {'ty': -7.6}, {'shear': 25}, {'zx': 0.7, 'zy': 1.4},
             {'zx': 1.3, 'zy': 1.3}, {'flip_horizontal': True}, {'flip_vertical': True},
             {'channel_shift_intensity': 40.0, 'theta': 5}, {'brightness': 1.4, 'theta': 5},
             {'brightness': 0.6},
             {'theta': -40, 'tx': 3, 'ty': -6, 'shear': 10, 'zx': 0.8, 'zy': 1.2,
              'flip_horizontal': True, 'flip_vertical': True}]
    for params in cases:
        expected = keras.apply_transform(image.copy(), dict(params))
        got = ours.apply_transform(image.copy(), dict(params))
        assert got.shape == expected.shape and got.dtype == np.float32
        assert np.abs(got - expected).mean() < 1.0, params
        # Border filling: where Keras fills with cval, so do we.
        if fill_mode == 'constant':
            np.testing.assert_array_equal(got == 17.0, expected == 17.0)


def test_channels_first_and_many_channels_match_channels_last(backend):
    image = smooth_image(channels=6)
    params = {'theta': 20, 'tx': 3, 'zx': 0.9}
    last = ImageDataGenerator().apply_transform(image, params)
    first = ImageDataGenerator(data_format='channels_first').apply_transform(
        image.transpose(2, 0, 1), params)
    np.testing.assert_allclose(first.transpose(1, 2, 0), last, atol=1e-3)


def test_non_square_images_rotate_about_their_true_centre(backend):
    # Keras uses (h/2, w/2) in (x, y) order, so a 180-degree turn of a 4x8 image
    # leaves the frame; here it is an exact point reflection.
    image = np.arange(32, dtype=np.float32).reshape(4, 8, 1)
    out = ImageDataGenerator(interpolation_order=1).apply_transform(image, {'theta': 180})
    np.testing.assert_allclose(out, image[::-1, ::-1], atol=1e-3)


@pytest.mark.skipif(affine.cv2 is None, reason='OpenCV not installed')
@pytest.mark.parametrize('fill_mode', ['constant', 'nearest', 'reflect', 'wrap'])
@pytest.mark.parametrize('dtype', [np.float32, np.uint8])
def test_numpy_fallback_matches_opencv(fill_mode, dtype):
    image = smooth_image(size=31).astype(dtype)
    matrix = transform_matrix(31, 31, theta=25, tx=4.5, ty=-3, shear=8, zx=0.9, zy=1.15)
    previous = set_warp_backend('opencv')
    try:
        fast = warp_affine(image, matrix, fill_mode=fill_mode, cval=5)
        set_warp_backend('numpy')
        slow = warp_affine(image, matrix, fill_mode=fill_mode, cval=5)
    finally:
        set_warp_backend(previous)
    assert fast.dtype == slow.dtype == dtype
    assert np.abs(fast.astype(np.float32) - slow.astype(np.float32)).mean() < 0.1


def test_output_size_and_out_argument(backend):
    image = smooth_image(size=20)
    out = np.empty((10, 15, 3), np.float32)
    matrix = np.array([[2.0, 0, 0], [0, 2.0, 0]])
    result = warp_affine(image, matrix, output_size=(10, 15), out=out)
    assert result is out
    np.testing.assert_allclose(out[:, :10], image[::2, ::2][:, :10], atol=1e-3)


def test_bad_arguments_are_named():
    image = smooth_image(size=8)
    with pytest.raises(ValueError, match='interpolation order'):
        warp_affine(image, np.eye(2, 3), order=6)
    with pytest.raises(ValueError, match='fill_mode'):
        warp_affine(image, np.eye(2, 3), fill_mode='mirror')
    with pytest.raises(ValueError, match='rank 3'):
        warp_affine(image[..., 0], np.eye(2, 3))
    with pytest.raises(ValueError, match='warp backend'):
        set_warp_backend('pillow')
    assert get_warp_backend() in ('opencv', 'numpy')


def test_without_opencv_the_numpy_path_is_used(monkeypatch):
    monkeypatch.setattr(affine, 'cv2', None)
    previous = set_warp_backend('auto')  # the default: OpenCV only where it is installed
    try:
        assert get_warp_backend() == 'numpy'
        with pytest.raises(ImportError, match='opencv-python-headless'):
            set_warp_backend('opencv')
        gen = ImageDataGenerator(rotation_range=30, zoom_range=0.2, horizontal_flip=True)
        batch = next(gen.flow(np.stack([smooth_image()] * 4), batch_size=4, seed=0, workers=0))
        assert batch.shape == (4, 40, 40, 3) and np.isfinite(batch).all()
    finally:
        set_warp_backend(previous)
