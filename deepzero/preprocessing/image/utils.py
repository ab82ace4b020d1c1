"""Image files <-> arrays: ``load_img``, ``img_to_array``, ``array_to_img``,
``save_img``, ``smart_resize`` (Keras's ``keras.preprocessing.image`` utilities).

Arrays are channels-last ``(height, width, channels)`` unless ``data_format``
says ``'channels_first'``. Every file that cannot be read raises
:class:`UnreadableImageError`, which names the file.
"""
import io
import os
import warnings

import numpy as np
from PIL import Image, UnidentifiedImageError

from ...core.files import atomic_write
from ...kernels import image as image_kernels

# PIL resampling filters by the names Keras accepts.
PIL_INTERPOLATION = {
    'nearest': Image.Resampling.NEAREST,
    'bilinear': Image.Resampling.BILINEAR,
    'bicubic': Image.Resampling.BICUBIC,
    'lanczos': Image.Resampling.LANCZOS,
    'box': Image.Resampling.BOX,
    'hamming': Image.Resampling.HAMMING,
}
COLOR_MODES = ('rgb', 'rgba', 'grayscale')
# Grayscale modes Keras keeps as they are in 'grayscale' color mode (no 8-bit clipping).
_WIDE_GRAY_MODES = ('L', 'I;16', 'I;16B', 'I;16L', 'I', 'F')


class UnreadableImageError(ValueError):
    """A file could not be decoded as an image. ``path`` names it, ``reason`` says why."""

    def __init__(self, path, reason):
        self.path = path
        self.reason = reason
        super().__init__(f"cannot read image {str(path)!r}: {reason}")


def _check_data_format(data_format):
    data_format = 'channels_last' if data_format is None else data_format
    if data_format not in ('channels_last', 'channels_first'):
        raise ValueError("data_format must be 'channels_last' or 'channels_first', "
                         f"got {data_format!r}")
    return data_format


def _open_image(path):
    """Open and fully decode ``path`` (str, bytes, PathLike or binary file object)."""
    try:
        if isinstance(path, (str, bytes, os.PathLike)):
            # Read the whole file first so no file handle outlives this call.
            with open(path, 'rb') as f:
                data = f.read()
            if not data:
                raise UnreadableImageError(path, 'the file is empty (0 bytes)')
            img = Image.open(io.BytesIO(data))
        elif hasattr(path, 'read'):
            img = Image.open(path)
        else:
            raise TypeError('load_img: path must be a str, bytes, os.PathLike or a binary '
                            f'file object, got {type(path).__name__}')
        img.load()  # decode now: truncated files fail here, not later
        return img
    except UnidentifiedImageError:
        raise UnreadableImageError(path, 'not a recognised image format') from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        if isinstance(e, (FileNotFoundError, UnreadableImageError)):
            raise
        raise UnreadableImageError(path, f'{type(e).__name__}: {e}') from e


def _convert_color(img, color_mode):
    """Convert to the PIL mode of ``color_mode`` (Keras's rules, plus a proper
    16-bit -> 8-bit scaling where Pillow would clip to 255)."""
    if color_mode == 'grayscale':
        return img if img.mode in _WIDE_GRAY_MODES else img.convert('L')
    target = 'RGB' if color_mode == 'rgb' else 'RGBA'
    if img.mode == target:
        return img
    if img.mode.startswith('I;16'):
        # Pillow clips 16-bit values to 255 when converting; scale them instead.
        eight_bit = np.rint(np.asarray(img, dtype=np.float32) / 257.0).astype(np.uint8)
        img = Image.fromarray(eight_bit, mode='L')
    return img.convert(target)


def _center_crop_box(width, height, target_width, target_height):
    """Largest centred box of the target aspect ratio, as PIL's (left, top, right, bottom)."""
    crop_height = min(height, (width * target_height) // target_width)
    crop_width = min(width, (height * target_width) // target_height)
    top = (height - crop_height) // 2
    left = (width - crop_width) // 2
    return left, top, left + crop_width, top + crop_height


def load_img(path, color_mode='rgb', target_size=None, interpolation='nearest',
             keep_aspect_ratio=False):
    """Load an image file into a PIL image.

    Args:
        path: str, bytes or ``pathlib.Path`` of the file, or a binary file object.
        color_mode: 'rgb' (3 channels), 'rgba' (4) or 'grayscale' (1; 16-bit and
            32-bit grayscale kept as they are). 16-bit grayscale files read as
            'rgb'/'rgba' are scaled to 8 bits (value / 257).
        target_size: None (original size) or ``(height, width)``.
        interpolation: PIL filter used when resizing: 'nearest' (default),
            'bilinear', 'bicubic', 'lanczos', 'box' or 'hamming'.
        keep_aspect_ratio: crop the centre of the image to the target aspect
            ratio before resizing, instead of squashing it.

    Raises:
        UnreadableImageError: the file is empty, truncated, corrupt or not an image.
        FileNotFoundError: there is no such file.
    """
    if color_mode not in COLOR_MODES:
        raise ValueError(f"load_img: color_mode must be one of {COLOR_MODES}, got {color_mode!r}")
    if interpolation not in PIL_INTERPOLATION:
        raise ValueError(f"load_img: interpolation must be one of {tuple(PIL_INTERPOLATION)}, "
                         f"got {interpolation!r}")
    img = _convert_color(_open_image(path), color_mode)
    if target_size is not None:
        target_height, target_width = target_size
        if img.size != (target_width, target_height):
            box = None
            if keep_aspect_ratio:
                box = _center_crop_box(img.width, img.height, target_width, target_height)
            img = img.resize((target_width, target_height), PIL_INTERPOLATION[interpolation],
                             box=box)
    return img


def img_to_array(img, data_format=None, dtype='float32'):
    """PIL image (or array-like) -> array ``(h, w, c)`` (or ``(c, h, w)``); a
    grayscale image gets a channel axis of 1."""
    data_format = _check_data_format(data_format)
    x = np.asarray(img, dtype=dtype)
    if x.ndim == 2:
        x = x[..., np.newaxis] if data_format == 'channels_last' else x[np.newaxis]
    elif x.ndim == 3:
        if data_format == 'channels_first':
            x = x.transpose(2, 0, 1)
    else:
        raise ValueError(f'img_to_array: expected an image of rank 2 or 3, got shape {x.shape}')
    return x


def array_to_img(x, data_format=None, scale=True, dtype='float32'):
    """Array of rank 3 -> PIL image (4/3/1 channels: RGBA/RGB/L, or 'I' for a
    1-channel image with values above 255 when not scaled).

    With ``scale`` the values are shifted to a minimum of 0 and scaled to a
    maximum of 255 first.
    """
    data_format = _check_data_format(data_format)
    x = np.asarray(x, dtype=dtype)
    if x.ndim != 3:
        raise ValueError(f'array_to_img: expected an image array of rank 3, got shape {x.shape}')
    if data_format == 'channels_first':
        x = x.transpose(1, 2, 0)
    if scale:
        x = x - np.min(x)
        x_max = np.max(x)
        if x_max != 0:
            x = x / x_max
        x = x * 255
    channels = x.shape[2]
    if channels == 4:
        return Image.fromarray(x.astype(np.uint8), 'RGBA')
    if channels == 3:
        return Image.fromarray(x.astype(np.uint8), 'RGB')
    if channels == 1:
        if np.max(x) > 255:
            return Image.fromarray(x[:, :, 0].astype(np.int32), 'I')
        return Image.fromarray(x[:, :, 0].astype(np.uint8), 'L')
    raise ValueError(f'array_to_img: unsupported channel count {channels} (shape {x.shape}); '
                     'expected 1, 3 or 4')


def _format_for(path, file_format):
    if file_format is not None:
        return file_format
    extension = os.path.splitext(os.fspath(path))[1].lower()
    registered = Image.registered_extensions()
    if extension not in registered:
        raise ValueError(f'save_img: cannot tell the image format from {str(path)!r}; '
                         'pass file_format')
    return registered[extension]


def save_img(path, x, data_format=None, file_format=None, scale=True, **kwargs):
    """Save an image array to ``path`` (file name or binary file object).

    The format comes from ``file_format`` or the file extension; an RGBA image
    saved as JPEG loses its alpha channel (with a warning). File names are
    written as models are (``core.files.atomic_write``: temporary file + rename, mode
    0o666 less the umask, missing folders created). ``kwargs`` go to PIL's
    ``save``.
    """
    img = array_to_img(x, data_format=data_format, scale=scale)
    if isinstance(path, (str, bytes, os.PathLike)):
        file_format = _format_for(path, file_format)
    if img.mode == 'RGBA' and (file_format or '').lower() in ('jpg', 'jpeg'):
        warnings.warn('save_img: the JPEG format does not support RGBA images; '
                      'converting to RGB (the alpha channel is dropped)')
        img = img.convert('RGB')
    if not isinstance(path, (str, bytes, os.PathLike)):
        img.save(path, format=file_format, **kwargs)
        return
    with atomic_write(os.fsdecode(path)) as tmp_path, open(tmp_path, 'wb') as f:
        img.save(f, format=file_format, **kwargs)


def smart_resize(x, size, interpolation='bilinear', data_format='channels_last'):
    """Resize an image ``(h, w, c)`` or a batch ``(n, h, w, c)`` to ``size`` =
    ``(height, width)`` without distorting it: the largest centred window of the
    target aspect ratio is cropped, then resized with Keras 3's resize
    (``kernels.image.resize``: pixel centres aligned, no antialiasing).
    ``interpolation``: 'nearest', 'bilinear' or 'bicubic'. Integer input comes
    back as float32."""
    data_format = _check_data_format(data_format)
    if interpolation not in image_kernels.RESIZE_INTERPOLATIONS:
        raise ValueError(f"smart_resize: interpolation must be one of "
                         f"{image_kernels.RESIZE_INTERPOLATIONS}, got {interpolation!r}")
    x = np.asarray(x)
    if x.ndim not in (3, 4):
        raise ValueError(f'smart_resize: expected an image (rank 3) or a batch (rank 4), '
                         f'got shape {x.shape}')
    images = x if x.ndim == 4 else x[np.newaxis]
    if data_format == 'channels_first':
        images = images.transpose(0, 2, 3, 1)
    resized = image_kernels.resize(images, size, interpolation, crop_to_aspect_ratio=True)
    if data_format == 'channels_first':
        resized = resized.transpose(0, 3, 1, 2)
    return resized if x.ndim == 4 else resized[0]
