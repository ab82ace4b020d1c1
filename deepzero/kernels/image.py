"""Image resampling with Keras 3's numerics (torch backend): ``resize`` (what
``keras.ops.image.resize``, the ``Resizing`` layer and
``image_dataset_from_directory`` compute) and ``affine_resample`` (what
``keras.ops.image.affine_transform`` under the random geometric layers
computes). Batches are channels-last ``(N, H, W, C)`` float arrays, NumPy or
CuPy; results are float32 (float64 stays float64).

Resize rules (PyTorch's ``F.interpolate``, which Keras's torch backend calls):
- 'bilinear': pixel centres aligned, source ``(o + 0.5) * in / out - 0.5``,
  clamped at 0 and at the last pixel; no antialiasing unless asked.
- 'nearest': PyTorch's 'nearest-exact', source pixel ``floor((o + 0.5) * in / out)``.
- 'bicubic': cubic convolution with a = -0.75, taps clamped to the image.
- ``antialias``: PyTorch's antialiased filters (triangle, or cubic with a = -0.5)
  stretched by the scale when shrinking, weights renormalised at the edges.
Each axis is a few taps per output pixel (2 for bilinear, 4 for bicubic, more
when antialiasing shrinks), applied as weighted gathers, one axis after the
other.

Affine rules (Keras's ``map_coordinates``): output pixel ``(x, y)`` = (column,
row) reads input ``(a0 x + a1 y + a2, b0 x + b1 y + b2)``; each interpolation
tap is placed by ``fill_mode`` on its own: 'reflect' (``dcba|abcd|dcba``),
'wrap' (period n), 'nearest' (edge repeated), 'constant' (a tap outside the
image reads ``fill_value``, so edges blend into it). 'nearest' interpolation
rounds half to even.
"""
import functools
import math

import numpy as np

from ..core import get_array_module

RESIZE_INTERPOLATIONS = ('bilinear', 'nearest', 'bicubic')
AFFINE_INTERPOLATIONS = ('nearest', 'bilinear')
FILL_MODES = ('reflect', 'wrap', 'constant', 'nearest')


def reflect_index(index, size):
    """Integer positions -> indices of the half-sample symmetric extension
    ``dcba|abcd|dcba`` (SciPy's and Keras's 'reflect')."""
    xp = get_array_module(index)
    index = xp.mod(index, 2 * size)
    return xp.where(index >= size, 2 * size - 1 - index, index)


def aspect_crop_box(height, width, target_height, target_width):
    """(top, left, crop_height, crop_width): the largest centred window of the
    target aspect ratio (Keras's ``crop_to_aspect_ratio`` / ``smart_resize``)."""
    crop_height = max(min(height, int(float(width * target_height) / target_width)), 1)
    crop_width = max(min(width, int(float(height * target_width) / target_height)), 1)
    return (int(float(height - crop_height) / 2), int(float(width - crop_width) / 2),
            crop_height, crop_width)


def aspect_padding(height, width, target_height, target_width):
    """(rows, cols) added on EACH side to reach the target aspect ratio
    (Keras's ``pad_to_aspect_ratio``; the padded size can be one pixel off the
    exact ratio, as in Keras)."""
    pad_height = max(height, int(float(width * target_height) / target_width))
    pad_width = max(width, int(float(height * target_width) / target_height))
    return int(float(pad_height - height) / 2), int(float(pad_width - width) / 2)


def _cubic(x, a):
    x = abs(x)
    if x < 1:
        return ((a + 2) * x - (a + 3)) * x * x + 1
    if x < 2:
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return 0.0


def resize_weights(in_size, out_size, interpolation, antialias=False):
    """float32 (out_size, in_size) matrix: output pixel o = sum_i W[o, i] * input i."""
    scale = in_size / out_size
    # PyTorch computes the non-antialiased source positions in float32
    scale32, half = np.float32(in_size) / np.float32(out_size), np.float32(0.5)
    weights = np.zeros((out_size, in_size), dtype=np.float64)
    if antialias and interpolation in ('bilinear', 'bicubic'):
        taps = 1.0 if interpolation == 'bilinear' else 2.0
        support = taps * scale if scale >= 1 else taps
        inv_scale = 1.0 / scale if scale >= 1 else 1.0
        kernel = ((lambda x: max(0.0, 1.0 - abs(x))) if interpolation == 'bilinear'
                  else (lambda x: _cubic(x, -0.5)))
        for o in range(out_size):
            center = scale * (o + 0.5)
            start = max(int(center - support + 0.5), 0)
            stop = min(int(center + support + 0.5), in_size)
            row = [kernel((i - center + 0.5) * inv_scale) for i in range(start, stop)]
            total = sum(row)
            weights[o, start:stop] = [w / total for w in row] if total else row
    elif interpolation == 'nearest':
        for o in range(out_size):
            source = np.float32((o + 0.5) * float(scale32))
            weights[o, min(int(math.floor(source)), in_size - 1)] = 1.0
    elif interpolation == 'bilinear':
        for o in range(out_size):
            source = float(max(scale32 * (np.float32(o) + half) - half, np.float32(0)))
            low = int(source)
            high = low + 1 if low < in_size - 1 else low
            weights[o, low] += 1.0 - (source - low)
            weights[o, high] += source - low
    elif interpolation == 'bicubic':
        for o in range(out_size):
            source = float(scale32 * (np.float32(o) + half) - half)
            low = math.floor(source)
            t = source - low
            for k, w in zip(range(-1, 3), (_cubic(t + 1, -0.75), _cubic(t, -0.75),
                                           _cubic(1 - t, -0.75), _cubic(2 - t, -0.75))):
                weights[o, min(max(low + k, 0), in_size - 1)] += w
    else:
        raise ValueError(f'resize: interpolation must be one of {RESIZE_INTERPOLATIONS}, '
                         f'got {interpolation!r}')
    return weights.astype(np.float32)


def resize(images, size, interpolation='bilinear', antialias=False, crop_to_aspect_ratio=False,
           pad_to_aspect_ratio=False, fill_value=0.0):
    """Resize a batch ``(N, H, W, C)`` to ``size`` = (height, width).

    ``crop_to_aspect_ratio``: first crop the largest centred window of the
    target aspect ratio; ``pad_to_aspect_ratio``: first pad both sides with
    ``fill_value`` to it (at most one of the two). Integer input becomes
    float32; the result is a new array.
    """
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ValueError('resize: only one of crop_to_aspect_ratio and pad_to_aspect_ratio '
                         'can be True')
    xp = get_array_module(images)
    if images.dtype.kind != 'f':
        images = images.astype(np.float32)
    target_height, target_width = (int(n) for n in size)
    height, width = images.shape[1:3]
    if crop_to_aspect_ratio:
        top, left, height, width = aspect_crop_box(height, width, target_height, target_width)
        images = images[:, top:top + height, left:left + width]
    elif pad_to_aspect_ratio:
        rows, cols = aspect_padding(height, width, target_height, target_width)
        if rows or cols:
            images = xp.pad(images, ((0, 0), (rows, rows), (cols, cols), (0, 0)),
                            constant_values=fill_value)
            height, width = height + 2 * rows, width + 2 * cols
    images = _resample_axis(images, 1, resize_taps(height, target_height, interpolation,
                                                    antialias))
    return _resample_axis(images, 2, resize_taps(width, target_width, interpolation, antialias))


@functools.lru_cache(maxsize=64)  # a dataset resizes many images of a few sizes
def resize_taps(in_size, out_size, interpolation, antialias=False):
    """The nonzero entries of ``resize_weights``, row by row: (index, weight),
    both (out_size, taps), rows with fewer taps padded with weight 0. Cached:
    the arrays are read-only."""
    weights = resize_weights(in_size, out_size, interpolation, antialias)
    taps = max(int((weights != 0).sum(axis=1).max()), 1)
    index = np.zeros((out_size, taps), dtype=np.intp)
    tap_weights = np.zeros((out_size, taps), dtype=np.float32)
    for o, row in enumerate(weights):
        nonzero = np.flatnonzero(row)
        index[o, :len(nonzero)] = nonzero
        tap_weights[o, :len(nonzero)] = row[nonzero]
    index.flags.writeable = tap_weights.flags.writeable = False
    return index, tap_weights


def _resample_axis(images, axis, taps):
    """Output pixel o along ``axis`` (1: rows, 2: columns) = sum over taps t of
    weight[o, t] * input[index[o, t]]."""
    xp = get_array_module(images)
    index, weights = taps
    shape = [1, 1, 1, 1]
    shape[axis] = len(index)
    out = None
    for t in range(index.shape[1]):
        gathered = xp.take(images, xp.asarray(index[:, t]), axis=axis)
        if np.all(weights[:, t] == 1):  # 'nearest': a plain gather, exact
            term = gathered
        else:
            term = gathered * xp.asarray(weights[:, t], dtype=images.dtype).reshape(shape)
        out = term if out is None else out + term
    return out


def _fix_index(index, size, fill_mode):
    xp = get_array_module(index)
    if fill_mode == 'reflect':
        return reflect_index(index, size)
    if fill_mode == 'wrap':
        return xp.mod(index, size)
    return xp.clip(index, 0, size - 1)  # 'nearest'; 'constant' masks the outside taps


def affine_resample(images, matrices, interpolation='bilinear', fill_mode='constant',
                    fill_value=0.0):
    """Resample each image of a batch ``(N, H, W, C)`` through its inverse map.

    ``matrices``: (N, 6) or (N, 8) rows ``a0 a1 a2 b0 b1 b2 [0 0]`` (Keras's
    transform layout; the projective terms must be 0). Coordinates are
    computed in float32 as Keras does. Returns a new array of ``images``' dtype.
    """
    if interpolation not in AFFINE_INTERPOLATIONS:
        raise ValueError(f'affine_resample: interpolation must be one of '
                         f'{AFFINE_INTERPOLATIONS}, got {interpolation!r}')
    if fill_mode not in FILL_MODES:
        raise ValueError(f'affine_resample: fill_mode must be one of {FILL_MODES}, '
                         f'got {fill_mode!r}')
    xp = get_array_module(images)
    n, height, width, channels = images.shape
    matrices = np.asarray(matrices, dtype=np.float32).reshape(n, -1)
    if matrices.shape[1] == 8 and np.any(matrices[:, 6:]):
        raise ValueError('affine_resample: projective terms (c0, c1) are not supported')
    coefficients = xp.asarray(matrices[:, :6])[:, :, None, None]
    cols = xp.arange(width, dtype=np.float32)[None, None, :]
    rows = xp.arange(height, dtype=np.float32)[None, :, None]
    a0, a1, a2, b0, b1, b2 = (coefficients[:, k] for k in range(6))
    source_x = a0 * cols + a1 * rows + a2   # (N, H, W)
    source_y = b0 * cols + b1 * rows + b2
    if interpolation == 'nearest':
        x_taps = [(xp.round(source_x).astype(np.int64), None)]
        y_taps = [(xp.round(source_y).astype(np.int64), None)]
    else:
        x_low, y_low = xp.floor(source_x), xp.floor(source_y)
        x_high_weight, y_high_weight = source_x - x_low, source_y - y_low
        x_low, y_low = x_low.astype(np.int64), y_low.astype(np.int64)
        x_taps = [(x_low, 1 - x_high_weight), (x_low + 1, x_high_weight)]
        y_taps = [(y_low, 1 - y_high_weight), (y_low + 1, y_high_weight)]
    constant = fill_mode == 'constant'
    # Each axis's taps once: (placed index, inside the image, weight or None = 1).
    x_taps = [(_fix_index(i, width, fill_mode), constant and (i >= 0) & (i < width), w)
              for i, w in x_taps]
    first_pixel = (xp.arange(n) * (height * width))[:, None, None]  # of each image
    y_taps = [(first_pixel + _fix_index(i, height, fill_mode) * width,
               constant and (i >= 0) & (i < height), w) for i, w in y_taps]
    pixels = images.reshape(n * height * width, channels)
    total = xp.zeros(images.shape, dtype=images.dtype)
    fill_weight = xp.zeros((n, height, width), dtype=images.dtype) if constant else None
    for row, row_inside, y_weight in y_taps:
        for col, col_inside, x_weight in x_taps:
            weight = None if y_weight is None else (y_weight * x_weight).astype(images.dtype)
            if constant:  # a tap outside reads fill_value: its weight goes to the fill
                inside = row_inside & col_inside
                full = xp.ones_like(fill_weight) if weight is None else weight
                weight = xp.where(inside, full, 0)
                fill_weight += full - weight
            values = xp.take(pixels, row + col, axis=0)  # (N, H, W, C)
            total += values if weight is None else values * weight[..., None]
    if constant and fill_value:
        total += fill_weight[..., None] * xp.asarray(fill_value, dtype=images.dtype)
    return total
