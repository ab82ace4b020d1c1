"""2-D pooling: max, average, and their global forms.

Images are channels_last (N, H, W, C) by default, channels_first on request.
``strides`` defaults to ``pool_size``. Padding follows Keras/TF: max pooling
pads with -inf (a padded cell never wins), average pooling leaves the padded
cells out of each window's count.

Windows are strided views of the input (no im2col): a pool walks the KH*KW
offsets of its window, one vectorised pass over the (N, OH, OW, C) output
each. Max pooling remembers which offset won (the first maximum, as TF and
PyTorch do), so its gradient goes to one cell per window. The gradient ops
come in adjoint pairs, which gives every higher order:

    MaxPool2DGrad (scatter to the winners) <-> MaxPool2DGather (read the winners)
    AvgPool2DGrad (spread / count)         <-> AvgPool2D
"""
import numpy as np

from ..core import config, get_array_module, parallel, workspace
from ..core.operators import reshape, sum
from ..core.function import Function
from .conv_utils import (WindowGeometry, check_data_format, check_image, crop_padding,
                         from_nhwc, pad_nhwc, pair, spatial_shape, to_nhwc,
                         window_slice, window_view)

__all__ = ['max_pool2d', 'avg_pool2d', 'global_average_pool2d', 'global_max_pool2d',
           'MaxPool2D', 'MaxPool2DGrad', 'MaxPool2DGather', 'AvgPool2D', 'AvgPool2DGrad']


class PoolSpec:
    """The window geometry and data format of one pooling op."""

    def __init__(self, geometry, data_format):
        self.geometry = geometry
        self.data_format = data_format

    def offsets(self):
        """(k, (kh, kw)) for every window offset, row-major."""
        kh_n, kw_n = self.geometry.window
        return enumerate((kh, kw) for kh in range(kh_n) for kw in range(kw_n))

    def output(self, x_nhwc):
        """An uninitialised (N, OH, OW, C) array for a pool of ``x_nhwc``."""
        xp = get_array_module(x_nhwc)
        n, c = x_nhwc.shape[0], x_nhwc.shape[3]
        return workspace.empty((n,) + self.geometry.out_hw + (c,), x_nhwc.dtype, xp)

    def padded_image(self, gy_nhwc):
        """An uninitialised (N, Hp, Wp, C) array to scatter window values into
        (see ``start_scatter``)."""
        n, c = gy_nhwc.shape[0], gy_nhwc.shape[3]
        return workspace.empty((n,) + self.geometry.padded_hw + (c,), gy_nhwc.dtype,
                               get_array_module(gy_nhwc))

    def start_scatter(self, image):
        """Zero the cells of ``image`` that the scatter will not overwrite."""
        if not self.geometry.covers_input:
            image.fill(0)


# --- max pooling ------------------------------------------------------------------------
class MaxPool2D(Function):
    """y[window] = max(x[window]). ``keep_argmax``: record the winning offset
    of each window (uint8/int32, (N, OH, OW, C)) for backward."""

    def __init__(self, spec, keep_argmax=True):
        self.spec = spec
        self.keep_argmax = keep_argmax

    def forward(self, x):
        xp = get_array_module(x)
        spec = self.spec
        x = to_nhwc(x, spec.data_format)
        padded = pad_nhwc(x, spec.geometry, _lowest(x.dtype))
        y = spec.output(x)
        self.argmax, scratch = None, ()
        if self.keep_argmax:
            self.argmax = workspace.empty(y.shape, argmax_dtype(spec.geometry.window), xp)
            scratch = (workspace.empty(y.shape, bool, xp),
                       workspace.empty(y.shape, self.argmax.dtype, xp))
        parallel.over_batch(self._pool, padded, y,
                            *(() if self.argmax is None else (self.argmax,) + scratch))
        return from_nhwc(y, spec.data_format)

    def _pool(self, padded, y, *argmax_and_scratch):
        window_max(window_view(padded, self.spec.geometry), y, *argmax_and_scratch)

    def backward(self, gy):
        return MaxPool2DGrad(self.spec, self.argmax)(gy)


class MaxPool2DGrad(Function):
    """Scatter: each window's gradient goes to the cell that won its max."""

    def __init__(self, spec, argmax):
        self.spec = spec
        self.argmax = argmax

    def forward(self, gy):
        xp = get_array_module(gy)
        spec = self.spec
        gy = to_nhwc(gy, spec.data_format)
        image = spec.padded_image(gy)
        won = workspace.empty(gy.shape, bool, xp)
        share = workspace.empty(gy.shape, gy.dtype, xp)
        parallel.over_batch(self._scatter, gy, self.argmax, image, won, share)
        return from_nhwc(crop_padding(image, spec.geometry), spec.data_format)

    def _scatter(self, gy, argmax, image, won, share):
        xp = get_array_module(gy)
        spec = self.spec
        spec.start_scatter(image)
        for k, (kh, kw) in spec.offsets():
            target = image[window_slice(spec.geometry, kh, kw)]
            xp.equal(argmax, k, out=won)
            if spec.geometry.overlapping:
                xp.multiply(gy, won, out=share)
                xp.add(target, share, out=target)
            else:  # each cell belongs to one window: write, zeros where it lost
                xp.multiply(gy, won, out=target)

    def backward(self, ggx):
        return MaxPool2DGather(self.spec, self.argmax)(ggx)


class MaxPool2DGather(Function):
    """Gather: each window reads the cell that won its max (the adjoint of
    MaxPool2DGrad)."""

    def __init__(self, spec, argmax):
        self.spec = spec
        self.argmax = argmax

    def forward(self, x):
        xp = get_array_module(x)
        spec = self.spec
        x = to_nhwc(x, spec.data_format)
        windows = window_view(pad_nhwc(x, spec.geometry), spec.geometry)
        y = spec.output(x)
        won = workspace.empty(y.shape, bool, xp)
        share = workspace.empty(y.shape, y.dtype, xp)
        for k, (kh, kw) in spec.offsets():
            xp.equal(self.argmax, k, out=won)
            xp.multiply(windows[:, :, :, kh, kw, :], won, out=y if k == 0 else share)
            if k:
                xp.add(y, share, out=y)
        return from_nhwc(y, spec.data_format)

    def backward(self, gy):
        return MaxPool2DGrad(self.spec, self.argmax)(gy)


def window_max(windows, y, argmax=None, won=None, step=None):
    """y = the max of each window of ``windows`` (N, OH, OW, KH, KW, C).
    With ``argmax`` (an integer array shaped like y), also record the first
    winning offset (row-major) of each window; ``won`` (bool) and ``step``
    (argmax's dtype) are scratch arrays shaped like y."""
    xp = get_array_module(y)
    kh_n, kw_n = windows.shape[3:5]
    y[...] = windows[:, :, :, 0, 0, :]
    if argmax is not None:
        argmax.fill(0)
    for k in range(1, kh_n * kw_n):
        candidate = windows[:, :, :, k // kw_n, k % kw_n, :]
        if argmax is not None:
            # The winner is the last offset that beat the running max
            # (strictly: ties keep the first), i.e. the largest such k.
            # Arithmetic instead of masked writes, which crawl on random masks.
            xp.greater(candidate, y, out=won)
            xp.multiply(won.view(np.uint8), argmax.dtype.type(k), out=step)
            xp.maximum(argmax, step, out=argmax)
        xp.maximum(y, candidate, out=y)


def argmax_dtype(window):
    """The smallest index type that numbers every offset of ``window``."""
    return np.uint8 if np.prod(window) <= 256 else np.int32


def block_windows(x, window):
    """The (N, OH, OW, KH, KW, C) windows of a 'valid' pool of ``x`` (N, H, W, C)
    whose strides equal its ``window`` (KH, KW): a view, no copy."""
    (kh, kw), (n, h, w, c) = window, x.shape
    oh, ow = h // kh, w // kw
    return x[:, :oh * kh, :ow * kw].reshape(n, oh, kh, ow, kw, c).transpose(0, 1, 3, 2, 4, 5)


def _lowest(dtype):
    """The padding value of max pooling: never the maximum of a window."""
    return -np.inf if dtype.kind == 'f' else np.iinfo(dtype).min


# --- average pooling -----------------------------------------------------------------------
class AvgPool2D(Function):
    """y[window] = sum(x[window]) / (number of unpadded cells in the window)."""

    def __init__(self, spec):
        self.spec = spec

    def forward(self, x):
        xp = get_array_module(x)
        spec = self.spec
        x = to_nhwc(x, spec.data_format)
        windows = window_view(pad_nhwc(x, spec.geometry), spec.geometry)
        y = spec.output(x)
        for k, (kh, kw) in spec.offsets():
            if k == 0:
                y[...] = windows[:, :, :, 0, 0, :]
            else:
                xp.add(y, windows[:, :, :, kh, kw, :], out=y)
        y *= _inverse_counts(spec.geometry, x.dtype, xp)
        return from_nhwc(y, spec.data_format)

    def backward(self, gy):
        return AvgPool2DGrad(self.spec)(gy)


class AvgPool2DGrad(Function):
    """Each window spreads gy / count over its cells (the adjoint of AvgPool2D)."""

    def __init__(self, spec):
        self.spec = spec

    def forward(self, gy):
        xp = get_array_module(gy)
        spec = self.spec
        gy = to_nhwc(gy, spec.data_format)
        share = spec.output(gy)
        xp.multiply(gy, _inverse_counts(spec.geometry, gy.dtype, xp), out=share)
        image = spec.padded_image(gy)
        spec.start_scatter(image)
        for _, (kh, kw) in spec.offsets():
            target = image[window_slice(spec.geometry, kh, kw)]
            if spec.geometry.covers_input:
                target[...] = share
            else:
                xp.add(target, share, out=target)
        return from_nhwc(crop_padding(image, spec.geometry), spec.data_format)

    def backward(self, ggx):
        return AvgPool2D(self.spec)(ggx)


def _inverse_counts(geometry, dtype, xp):
    """1 / (unpadded cells per window): a Python float without padding, else
    an (OH, OW, 1) array."""
    if not geometry.padded:
        return 1.0 / float(np.prod(geometry.window))
    counts = []
    for size, out, window, stride, (before, _) in zip(
            geometry.in_hw, geometry.out_hw, geometry.window, geometry.strides,
            geometry.pads):
        start = np.arange(out) * stride - before
        counts.append(np.minimum(start + window, size) - np.maximum(start, 0))
    inverse = 1.0 / np.outer(counts[0], counts[1]).astype(dtype)
    return xp.asarray(inverse[:, :, None])


# --- public functions ------------------------------------------------------------------
def _pool_spec(op, x, pool_size, strides, padding, data_format):
    check_data_format(data_format, op)
    check_image(x, 'x', op, data_format)
    window = pair(pool_size, 'pool_size', op)
    strides = window if strides is None else pair(strides, 'strides', op)
    in_hw, _ = spatial_shape(x.shape, data_format)
    return PoolSpec(WindowGeometry(op, in_hw, window, strides, (1, 1), padding), data_format)


def max_pool2d(x, pool_size=2, strides=None, padding='valid', data_format='channels_last'):
    """Max pooling. x (N, H, W, C) (or (N, C, H, W)); pool_size and strides
    are ints or pairs, strides defaults to pool_size; padding 'valid', 'same'
    (TF rule) or explicit like conv2d's, padded cells hold -inf.
    Gradient: to the first maximum of each window."""
    spec = _pool_spec('max_pool2d', x, pool_size, strides, padding, data_format)
    keep_argmax = config.enable_backprop and getattr(x, 'requires_grad', False)
    return MaxPool2D(spec, keep_argmax)(x)


def avg_pool2d(x, pool_size=2, strides=None, padding='valid', data_format='channels_last'):
    """Average pooling; arguments as ``max_pool2d``. Padded cells are left out
    of the average (Keras/TF; PyTorch's count_include_pad=False)."""
    return AvgPool2D(_pool_spec('avg_pool2d', x, pool_size, strides, padding,
                                data_format))(x)


def global_average_pool2d(x, keepdims=False, data_format='channels_last'):
    """Mean over H and W: (N, C), or (N, 1, 1, C) / (N, C, 1, 1) with keepdims."""
    check_data_format(data_format, 'global_average_pool2d')
    check_image(x, 'x', 'global_average_pool2d', data_format)
    (h, w), _ = spatial_shape(x.shape, data_format)
    axes = (1, 2) if data_format == 'channels_last' else (2, 3)
    return sum(x, axis=axes, keepdims=keepdims) * (1.0 / (h * w))


def global_max_pool2d(x, keepdims=False, data_format='channels_last'):
    """Max over H and W: (N, C), or (N, 1, 1, C) / (N, C, 1, 1) with keepdims.
    Gradient: to the first maximum."""
    check_data_format(data_format, 'global_max_pool2d')
    check_image(x, 'x', 'global_max_pool2d', data_format)
    (h, w), c = spatial_shape(x.shape, data_format)
    y = max_pool2d(x, (h, w), data_format=data_format)
    return y if keepdims else reshape(y, (x.shape[0], c))
