"""load_img / img_to_array / array_to_img / save_img / smart_resize, including
every kind of awkward file."""
import io
import os
import stat
import warnings

import numpy as np
import pytest
from PIL import Image

from deepzero.preprocessing.image import (UnreadableImageError, array_to_img, img_to_array,
                                          load_img, save_img, smart_resize)


def gradient_rgb(height=12, width=16):
    rows = np.linspace(0, 255, height)[:, None]
    cols = np.linspace(0, 255, width)[None, :]
    return np.stack([rows + 0 * cols, 0 * rows + cols, (rows + cols) / 2], -1).astype(np.uint8)


@pytest.fixture
def rgb_png(tmp_path):
    path = tmp_path / 'a.png'
    Image.fromarray(gradient_rgb()).save(path)
    return path


def test_load_img_accepts_str_path_and_file_objects(rgb_png):
    expected = gradient_rgb()
    for source in (str(rgb_png), rgb_png, io.BytesIO(rgb_png.read_bytes())):
        img = load_img(source)
        assert img.mode == 'RGB' and img.size == (16, 12)
        np.testing.assert_array_equal(np.asarray(img), expected)


def test_load_img_target_size_is_height_width_and_uses_the_filter(rgb_png):
    img = load_img(rgb_png, target_size=(6, 8), interpolation='nearest')
    assert img.size == (8, 6)
    np.testing.assert_array_equal(np.asarray(img), np.asarray(
        Image.fromarray(gradient_rgb()).resize((8, 6), Image.Resampling.NEAREST)))
    assert load_img(rgb_png, target_size=(6, 8), interpolation='bilinear').size == (8, 6)
    with pytest.raises(ValueError, match='interpolation'):
        load_img(rgb_png, target_size=(6, 8), interpolation='cubic')


def test_keep_aspect_ratio_crops_the_centre(tmp_path):
    image = np.zeros((10, 30, 3), np.uint8)
    image[:, 10:20] = 255  # white centre third
    path = tmp_path / 'wide.png'
    Image.fromarray(image).save(path)
    squashed = np.asarray(load_img(path, target_size=(10, 10)))
    cropped = np.asarray(load_img(path, target_size=(10, 10), keep_aspect_ratio=True))
    assert cropped.min() == 255 and squashed.min() == 0


def test_keras_load_img_gives_the_same_pixels(rgb_png):
    keras_image = pytest.importorskip('keras.utils')
    for kwargs in ({}, {'target_size': (7, 9)}, {'target_size': (7, 9), 'keep_aspect_ratio': True},
                   {'color_mode': 'grayscale', 'target_size': (5, 5), 'interpolation': 'bilinear'}):
        ours = img_to_array(load_img(rgb_png, **kwargs))
        theirs = keras_image.img_to_array(keras_image.load_img(rgb_png, **kwargs))
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize('mode, color_mode, channels', [
    ('L', 'rgb', 3), ('CMYK', 'rgb', 3), ('P', 'rgb', 3), ('RGBA', 'rgb', 3),
    ('RGB', 'grayscale', 1), ('RGB', 'rgba', 4), ('P', 'rgba', 4), ('L', 'grayscale', 1)])
def test_color_conversions(tmp_path, mode, color_mode, channels):
    path = tmp_path / ('x.jpg' if mode == 'CMYK' else 'x.png')
    Image.fromarray(gradient_rgb()).convert(mode).save(path)
    x = img_to_array(load_img(path, color_mode=color_mode))
    assert x.shape == (12, 16, channels) and x.dtype == np.float32
    assert 0 <= x.min() and x.max() <= 255 and x.max() > 100


def test_16_bit_png_is_scaled_not_clipped(tmp_path):
    values = (np.arange(16, dtype=np.uint16).reshape(4, 4) * 4000)
    path = tmp_path / 'deep.png'
    Image.fromarray(values).save(path)
    gray = img_to_array(load_img(path, color_mode='grayscale'))
    np.testing.assert_array_equal(gray[..., 0], values)  # kept at 16 bits, as Keras
    rgb = img_to_array(load_img(path))
    np.testing.assert_array_equal(rgb[..., 0], np.rint(values / 257.0))
    assert len(np.unique(rgb)) == 16


@pytest.mark.parametrize('content, reason', [
    (b'', 'empty'),
    (b'this is not an image at all', 'not a recognised image format'),
])
def test_unreadable_files_raise_naming_the_file(tmp_path, content, reason):
    path = tmp_path / 'bad.jpg'
    path.write_bytes(content)
    with pytest.raises(UnreadableImageError, match=reason) as info:
        load_img(path)
    assert info.value.path == path and 'bad.jpg' in str(info.value)


def test_truncated_and_corrupt_jpeg_raise(tmp_path):
    buffer = io.BytesIO()
    Image.fromarray(gradient_rgb(64, 64)).save(buffer, 'JPEG')
    data = buffer.getvalue()
    truncated = tmp_path / 'truncated.jpg'
    truncated.write_bytes(data[:len(data) // 2])
    with pytest.raises(UnreadableImageError, match='truncated.jpg'):
        load_img(truncated)
    corrupt = tmp_path / 'corrupt.jpg'
    corrupt.write_bytes(data[:20] + b'\x00' * 50 + data[70:200])
    with pytest.raises(UnreadableImageError, match='corrupt.jpg'):
        load_img(corrupt)


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_img(tmp_path / 'nope.png')
    with pytest.raises(TypeError, match='path'):
        load_img(42)


def test_img_to_array_and_back():
    image = Image.fromarray(gradient_rgb())
    x = img_to_array(image)
    assert x.shape == (12, 16, 3) and x.dtype == np.float32
    assert img_to_array(image, data_format='channels_first').shape == (3, 12, 16)
    assert img_to_array(image.convert('L')).shape == (12, 16, 1)
    assert img_to_array(image, dtype='uint8').dtype == np.uint8
    np.testing.assert_array_equal(np.asarray(array_to_img(x, scale=False)), gradient_rgb())
    scaled = np.asarray(array_to_img(x / 10.0 + 3))  # min -> 0, max -> 255
    assert scaled.min() == 0 and scaled.max() == 255
    assert array_to_img(np.zeros((4, 4, 4))).mode == 'RGBA'
    assert array_to_img(np.zeros((4, 4, 1))).mode == 'L'
    assert array_to_img(np.full((4, 4, 1), 1000.0), scale=False).mode == 'I'
    with pytest.raises(ValueError, match='rank 3'):
        array_to_img(np.zeros((4, 4)))
    with pytest.raises(ValueError, match='channel count 2'):
        array_to_img(np.zeros((4, 4, 2)))


def test_save_img_round_trip_atomic_and_rgba_jpeg_warning(tmp_path):
    x = gradient_rgb().astype(np.float32)
    path = tmp_path / 'out.png'
    save_img(path, x, scale=False)
    np.testing.assert_array_equal(np.asarray(Image.open(path)), gradient_rgb())
    assert sorted(p.name for p in tmp_path.iterdir()) == ['out.png']  # no temp file left
    rgba = np.concatenate([x, np.full((12, 16, 1), 255.0, np.float32)], -1)
    with pytest.warns(UserWarning, match='RGBA'):
        save_img(tmp_path / 'out.jpg', rgba, scale=False)
    assert Image.open(tmp_path / 'out.jpg').mode == 'RGB'
    buffer = io.BytesIO()
    save_img(buffer, x, file_format='png')
    assert buffer.getvalue()[:4] == b'\x89PNG'
    with pytest.raises(ValueError, match='file_format'):
        save_img(tmp_path / 'out.unknownext', x)


def test_save_img_gives_the_file_the_mode_of_a_plain_open(tmp_path):
    previous = os.umask(0o022)
    try:
        save_img(tmp_path / 'out.png', gradient_rgb().astype(np.float32))
    finally:
        os.umask(previous)
    assert stat.S_IMODE(os.stat(tmp_path / 'out.png').st_mode) == 0o644


def test_smart_resize_matches_keras():
    keras_image = pytest.importorskip('keras.preprocessing.image')
    x = gradient_rgb(30, 50).astype(np.float32)
    for size in ((20, 20), (10, 40), (60, 60)):
        ours = smart_resize(x, size)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            theirs = np.asarray(keras_image.smart_resize(x, size))
        assert ours.shape == theirs.shape == size + (3,)
        assert np.abs(ours - theirs).max() < 1e-3, size  # Keras 3's resize numerics
        theirs = np.asarray(keras_image.smart_resize(x, size, interpolation='bicubic'))
        np.testing.assert_allclose(smart_resize(x, size, 'bicubic'), theirs, atol=1e-3)
    # 'nearest' takes the source pixel under each output pixel centre (PyTorch's
    # 'nearest-exact', what Keras's torch backend runs).
    nearest = smart_resize(x, (15, 25), interpolation='nearest')
    np.testing.assert_array_equal(nearest, x[1::2, 1::2][:15, :25])
    batch = smart_resize(np.stack([x, x]), (20, 20))
    assert batch.shape == (2, 20, 20, 3) and batch.dtype == np.float32
    assert smart_resize(x.astype(np.uint8), (8, 8)).dtype == np.float32
