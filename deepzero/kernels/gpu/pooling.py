"""Pooling on the device: max (with its winners), average, and their adjoints.

A max pool copies its windows into a (N, OH, OW, KH*KW, C) array and takes
one argmax and one max over the offsets (CuPy reductions; argmax keeps the
first maximum, as TF, PyTorch and the cpu set do); without winners it is one
max over the strided window view. The adjoints scatter per window offset
(``windows.scatter_windows``). Padding, winners and counts follow the cpu set
(``kernels/windows.py``): max pooling pads with -inf, average pooling leaves
the padded cells out of each count. Array-API code; all functions take and
return arrays in ``spec.data_format`` (a PoolSpec), winners channels_last.
"""
import numpy as np

from ...core import get_array_module
from ..windows import (argmax_dtype, inverse_counts, lowest, scatter_windows, window_view)
from .layout import crop_padding, from_nhwc, pad_nhwc, to_nhwc


def max_pool2d(x, spec, keep_argmax=False):
    """y = the max of each window of x. Returns (y, argmax): with
    ``keep_argmax``, the winning offset of each window (uint8/int32,
    (N, OH, OW, C) channels_last), else None."""
    x = to_nhwc(x, spec.data_format)
    windows = window_view(pad_nhwc(x, spec.geometry, lowest(x.dtype)), spec.geometry)
    y, argmax = window_max(windows, keep_argmax)
    return from_nhwc(y, spec.data_format), argmax


def max_pool2d_grad(gy, argmax, spec):
    """Scatter: each window's gradient gy goes to the cell that won its max
    (``argmax`` from ``max_pool2d``); the result is shaped like the input."""
    xp = get_array_module(gy)
    gy = to_nhwc(gy, spec.data_format)
    # (KH*KW, N, OH, OW, C): offset k of each window gets gy where k won, else 0
    offsets = xp.arange(int(np.prod(spec.geometry.window)), dtype=argmax.dtype)
    values = gy * (argmax == offsets.reshape(-1, 1, 1, 1, 1))
    image = _padded_image(gy, spec.geometry)
    scatter_windows(values, spec.geometry, image)
    return from_nhwc(crop_padding(image, spec.geometry), spec.data_format)


def max_pool2d_gather(x, argmax, spec):
    """Gather: each window of x read at the cell that won its max (the
    adjoint of ``max_pool2d_grad``), (N, OH, OW, C)."""
    xp = get_array_module(x)
    windows = _offset_major(window_view(pad_nhwc(to_nhwc(x, spec.data_format), spec.geometry),
                                        spec.geometry))
    y = xp.take_along_axis(windows, argmax[:, :, :, None].astype(np.intp), axis=3)
    return from_nhwc(y[:, :, :, 0], spec.data_format)


def avg_pool2d(x, spec):
    """y = sum(x[window]) / (number of unpadded cells in the window)."""
    xp = get_array_module(x)
    x = to_nhwc(x, spec.data_format)
    y = window_view(pad_nhwc(x, spec.geometry), spec.geometry).sum(axis=(3, 4))
    y *= inverse_counts(spec.geometry, x.dtype, xp)
    return from_nhwc(y, spec.data_format)


def avg_pool2d_grad(gy, spec):
    """Each window spreads gy / count over its cells (the adjoint of
    ``avg_pool2d``); the result is shaped like the input."""
    xp = get_array_module(gy)
    gy = to_nhwc(gy, spec.data_format)
    share = gy * inverse_counts(spec.geometry, gy.dtype, xp)
    image = _padded_image(gy, spec.geometry)
    scatter_windows(xp.broadcast_to(share, (int(np.prod(spec.geometry.window)),) + share.shape),
                    spec.geometry, image)
    return from_nhwc(crop_padding(image, spec.geometry), spec.data_format)


def window_max(windows, keep_argmax):
    """(y, argmax) for ``windows`` (N, OH, OW, KH, KW, C): y (N, OH, OW, C) the
    max of each window; with ``keep_argmax`` the first winning offset
    (row-major, ``argmax_dtype``), else None."""
    if not keep_argmax:
        return windows.max(axis=(3, 4)), None
    flat = _offset_major(windows)
    argmax = flat.argmax(axis=3).astype(argmax_dtype(windows.shape[3:5]))
    return flat.max(axis=3), argmax


def _offset_major(windows):
    """The windows (N, OH, OW, KH, KW, C) copied into (N, OH, OW, KH*KW, C)."""
    n, oh, ow, kh, kw, c = windows.shape
    return windows.reshape(n, oh, ow, kh * kw, c)


def _padded_image(gy_nhwc, geometry):
    """An uninitialised (N, Hp, Wp, C) array to scatter window values into."""
    n, c = gy_nhwc.shape[0], gy_nhwc.shape[3]
    return get_array_module(gy_nhwc).empty((n,) + geometry.padded_hw + (c,), gy_nhwc.dtype)
