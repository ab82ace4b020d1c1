"""Pooling kernels: max (with its winners), average, and their adjoints.

Windows are strided views of the input (no im2col): a pool walks the KH*KW
offsets of its window, one vectorised pass over the (N, OH, OW, C) output
each (``windows.gather_windows`` / ``scatter_windows``). Max pooling pads
with -inf (a padded cell never wins) and records which offset won (the first
maximum, as TF and PyTorch do), channels_last, so its gradient goes to one
cell per window. Average pooling leaves the padded cells out of each
window's count. All functions take and return arrays in
``spec.data_format`` (a PoolSpec).
"""
import numpy as np

from ...core import get_array_module, parallel, workspace
from .layout import crop_padding, from_nhwc, pad_nhwc, to_nhwc
from ..windows import (argmax_dtype, gather_windows, inverse_counts, lowest,
                       scatter_windows, window_view)


def max_pool2d(x, spec, keep_argmax=False):
    """y = the max of each window of x. Returns (y, argmax): with
    ``keep_argmax``, the winning offset of each window (uint8/int32,
    (N, OH, OW, C) channels_last), else None."""
    xp = get_array_module(x)
    x = to_nhwc(x, spec.data_format)
    padded = pad_nhwc(x, spec.geometry, lowest(x.dtype))
    y = _pooled(x, spec.geometry)
    argmax, scratch = None, ()
    if keep_argmax:
        argmax = workspace.empty(y.shape, argmax_dtype(spec.geometry.window), xp)
        scratch = (argmax, workspace.empty(y.shape, bool, xp),
                   workspace.empty(y.shape, argmax.dtype, xp))
    parallel.over_batch(lambda padded, y, *scratch: window_max(
                            window_view(padded, spec.geometry), y, *scratch),
                        padded, y, *scratch)
    return from_nhwc(y, spec.data_format), argmax


def max_pool2d_grad(gy, argmax, spec):
    """Scatter: each window's gradient gy goes to the cell that won its max
    (``argmax`` from ``max_pool2d``); the result is shaped like the input."""
    xp = get_array_module(gy)
    gy = to_nhwc(gy, spec.data_format)
    image = _padded_image(gy, spec.geometry)
    won = workspace.empty(gy.shape, bool, xp)
    share = workspace.empty(gy.shape, gy.dtype, xp)
    count = int(np.prod(spec.geometry.window))
    parallel.over_batch(lambda gy, argmax, image, won, share: scatter_windows(
                            xp.broadcast_to(gy, (count,) + gy.shape), spec.geometry, image,
                            argmax, won, share),
                        gy, argmax, image, won, share)
    return from_nhwc(crop_padding(image, spec.geometry), spec.data_format)


def max_pool2d_gather(x, argmax, spec):
    """Gather: each window of x read at the cell that won its max (the
    adjoint of ``max_pool2d_grad``), (N, OH, OW, C)."""
    xp = get_array_module(x)
    x = to_nhwc(x, spec.data_format)
    y = _pooled(x, spec.geometry)
    gather_windows(window_view(pad_nhwc(x, spec.geometry), spec.geometry), y, argmax,
                   workspace.empty(y.shape, bool, xp), workspace.empty(y.shape, y.dtype, xp))
    return from_nhwc(y, spec.data_format)


def avg_pool2d(x, spec):
    """y = sum(x[window]) / (number of unpadded cells in the window)."""
    xp = get_array_module(x)
    x = to_nhwc(x, spec.data_format)
    y = _pooled(x, spec.geometry)
    gather_windows(window_view(pad_nhwc(x, spec.geometry), spec.geometry), y)
    y *= inverse_counts(spec.geometry, x.dtype, xp)
    return from_nhwc(y, spec.data_format)


def avg_pool2d_grad(gy, spec):
    """Each window spreads gy / count over its cells (the adjoint of
    ``avg_pool2d``); the result is shaped like the input."""
    xp = get_array_module(gy)
    gy = to_nhwc(gy, spec.data_format)
    share = _pooled(gy, spec.geometry)
    xp.multiply(gy, inverse_counts(spec.geometry, gy.dtype, xp), out=share)
    image = _padded_image(gy, spec.geometry)
    scatter_windows(xp.broadcast_to(share, (int(np.prod(spec.geometry.window)),) + share.shape),
                    spec.geometry, image)
    return from_nhwc(crop_padding(image, spec.geometry), spec.data_format)


def window_max(windows, y, argmax=None, won=None, step=None):
    """y = the max of each window of ``windows`` (N, OH, OW, KH, KW, C), or
    any (..., KH, KW, C) with y shaped (..., C). With ``argmax`` (an integer
    array shaped like y), also record the first winning offset (row-major) of
    each window; ``won`` (bool) and ``step`` (argmax's dtype) are scratch
    arrays shaped like y."""
    xp = get_array_module(y)
    kh_n, kw_n = windows.shape[-3:-1]
    y[...] = windows[..., 0, 0, :]
    if argmax is not None:
        argmax.fill(0)
    for k in range(1, kh_n * kw_n):
        candidate = windows[..., k // kw_n, k % kw_n, :]
        if argmax is not None:
            # The winner is the last offset that beat the running max
            # (strictly: ties keep the first), i.e. the largest such k.
            # Arithmetic instead of masked writes, which crawl on random masks.
            xp.greater(candidate, y, out=won)
            xp.multiply(won.view(np.uint8), argmax.dtype.type(k), out=step)
            xp.maximum(argmax, step, out=argmax)
        xp.maximum(y, candidate, out=y)


def _pooled(x_nhwc, geometry):
    """An uninitialised (N, OH, OW, C) array for a pool of ``x_nhwc``."""
    n, c = x_nhwc.shape[0], x_nhwc.shape[3]
    return workspace.empty((n,) + geometry.out_hw + (c,), x_nhwc.dtype,
                           get_array_module(x_nhwc))


def _padded_image(gy_nhwc, geometry):
    """An uninitialised (N, Hp, Wp, C) array to scatter window values into."""
    n, c = gy_nhwc.shape[0], gy_nhwc.shape[3]
    return workspace.empty((n,) + geometry.padded_hw + (c,), gy_nhwc.dtype,
                           get_array_module(gy_nhwc))
