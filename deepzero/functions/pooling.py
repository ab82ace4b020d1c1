"""2-D pooling: max, average, and their global forms.

Images are channels_last (N, H, W, C) by default, channels_first on request.
``strides`` defaults to ``pool_size``. Padding follows Keras/TF: max pooling
pads with -inf (a padded cell never wins), average pooling leaves the padded
cells out of each window's count.

Max pooling remembers which offset of each window won (the first maximum,
as TF and PyTorch do; ``argmax``, returned by its kernel and handed to its
gradient op), so its gradient goes to one cell per window. The gradient ops
come in adjoint pairs, which gives every higher order:

    MaxPool2DGrad (scatter to the winners) <-> MaxPool2DGather (read the winners)
    AvgPool2DGrad (spread / count)         <-> AvgPool2DFunction

The array work is in deepzero/kernels/cpu/pooling.py.
"""
from .. import kernels
from ..core import config
from ..core.operators import reshape, sum
from ..core.function import Function
from ..kernels.geometry import PoolSpec, WindowGeometry
from .conv_utils import check_data_format, check_image, pair, spatial_shape

__all__ = ['max_pool2d', 'avg_pool2d', 'global_average_pool2d', 'global_max_pool2d',
           'MaxPool2DFunction', 'MaxPool2DGrad', 'MaxPool2DGather', 'AvgPool2DFunction',
           'AvgPool2DGrad']


# --- max pooling ------------------------------------------------------------------------
class MaxPool2DFunction(Function):
    """y[window] = max(x[window]). ``keep_argmax``: record the winning offset
    of each window (uint8/int32, (N, OH, OW, C) channels_last) for backward."""

    def __init__(self, spec, keep_argmax=True):
        self.spec = spec
        self.keep_argmax = keep_argmax

    def forward(self, x):
        y, self.argmax = kernels.for_arrays(x).max_pool2d(x, self.spec, self.keep_argmax)
        return y

    def backward(self, gy):
        return MaxPool2DGrad(self.spec, self.argmax)(gy)


class MaxPool2DGrad(Function):
    """Scatter: each window's gradient goes to the cell that won its max."""

    def __init__(self, spec, argmax):
        self.spec = spec
        self.argmax = argmax

    def forward(self, gy):
        return kernels.for_arrays(gy).max_pool2d_grad(gy, self.argmax, self.spec)

    def backward(self, ggx):
        return MaxPool2DGather(self.spec, self.argmax)(ggx)


class MaxPool2DGather(Function):
    """Gather: each window reads the cell that won its max (the adjoint of
    MaxPool2DGrad)."""

    def __init__(self, spec, argmax):
        self.spec = spec
        self.argmax = argmax

    def forward(self, x):
        return kernels.for_arrays(x).max_pool2d_gather(x, self.argmax, self.spec)

    def backward(self, gy):
        return MaxPool2DGrad(self.spec, self.argmax)(gy)


# --- average pooling -----------------------------------------------------------------------
class AvgPool2DFunction(Function):
    """y[window] = sum(x[window]) / (number of unpadded cells in the window)."""

    def __init__(self, spec):
        self.spec = spec

    def forward(self, x):
        return kernels.for_arrays(x).avg_pool2d(x, self.spec)

    def backward(self, gy):
        return AvgPool2DGrad(self.spec)(gy)


class AvgPool2DGrad(Function):
    """Each window spreads gy / count over its cells (the adjoint of AvgPool2DFunction)."""

    def __init__(self, spec):
        self.spec = spec

    def forward(self, gy):
        return kernels.for_arrays(gy).avg_pool2d_grad(gy, self.spec)

    def backward(self, ggx):
        return AvgPool2DFunction(self.spec)(ggx)


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
    return MaxPool2DFunction(spec, keep_argmax)(x)


def avg_pool2d(x, pool_size=2, strides=None, padding='valid', data_format='channels_last'):
    """Average pooling; arguments as ``max_pool2d``. Padded cells are left out
    of the average (Keras/TF; PyTorch's count_include_pad=False)."""
    return AvgPool2DFunction(_pool_spec('avg_pool2d', x, pool_size, strides, padding,
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
