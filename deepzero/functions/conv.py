"""2-D convolutions: conv2d (with groups), depthwise, separable and transposed.

Images are channels_last (N, H, W, C) by default, channels_first (N, C, H, W)
on request; kernels always keep Keras's layout, (KH, KW, C_in/groups, C_out).

Three Functions do all the work, each the adjoint of the others, so every
gradient of every order is again one of them (DeZero's pattern):

    Conv2DFunction(x, W)            y  = conv(x, W)
    Conv2DTransposeFunction(g, W)   gx = conv^T(g, W)       input gradient
    Conv2DGradKernel(x, g)          gW = sum over windows of x * g   kernel gradient

A bias gradient is BiasGrad. (Ops that share a name with a Keras layer carry
the suffix Function, as Chainer's Convolution2DFunction beside its link.)
Conv2DFunction can apply a ReLU in its output pass
(``conv2d(..., activation='relu')``), and Conv2DMaxPool
(``conv2d(..., pool_size=2)``) max-pools the output as well, with the
values and gradients of the ops they replace.

Each forward calls one array kernel (deepzero/kernels/cpu/conv.py: the
chunked im2col + GEMM pipeline and its post-ops); what a gradient needs (the
ReLU mask, the pool's winners) comes back from the kernel and is handed to
the gradient op. deepzero/kernels/reference.py computes the same conv in a
dozen lines.
"""
import numbers

from .. import kernels
from ..core import as_variable, config
from ..core.runtime import CONV_ALGORITHMS
from ..core.operators import broadcast_to, reshape
from ..core.function import Function
from ..kernels.geometry import ConvSpec, PoolSpec, WindowGeometry, deconv_output_length
from .activations import ReLUGrad
from .conv_utils import check_data_format, check_image, pair, spatial_shape
from .pooling import MaxPool2DGather, MaxPool2DGrad

__all__ = ['conv2d', 'depthwise_conv2d', 'separable_conv2d', 'conv2d_transpose',
           'Conv2DFunction', 'Conv2DMaxPool', 'Conv2DTransposeFunction', 'Conv2DGradKernel',
           'BiasGrad']


class Conv2DFunction(Function):
    """y = conv(x, kernel) (+ bias), then max(y, 0) when ``relu``.
    x (N, H, W, C_in) -> y (N, OH, OW, C_out); ``spec`` a ConvSpec.

    ``keep_mask``: with ``relu``, record where the ReLU passes (a bool per
    output, written while the output is in cache) for the backward pass;
    ``conv2d`` turns it off when no gradient will be taken.
    ``keep_tiles``: where the conv runs Winograd's algorithm, keep x's
    transformed tiles for the kernel gradient, which then need not compute
    them again; ``conv2d`` turns it on when the kernel needs a gradient.
    """

    def __init__(self, spec, relu=False, keep_mask=True, keep_tiles=False):
        self.spec = spec
        self.relu = relu
        self.keep_mask = relu and keep_mask
        self.keep_tiles = keep_tiles

    def forward(self, x, kernel, bias=None):
        y, self.passing, self.tiles = kernels.for_arrays(x).conv2d(
            x, kernel, bias, self.spec, self.relu, self.keep_mask, self.keep_tiles)
        return y

    def backward(self, gy):
        if self.relu:  # the gradient of the pre-activation
            gy = ReLUGrad(self.passing)(gy)
        return self._conv_backward(gy)

    def _conv_backward(self, gy, pool=None, argmax=None):
        """The gradients of x, kernel (and bias) given gy of the conv's own
        output (before any post-op), or at the pooled size of the max pool
        ``pool`` (a PoolSpec) with its winners ``argmax``.

        With ``pool``, the kernel gradient takes gy as it is when x needs no
        gradient (a first layer); else gy is scattered to full size once
        for both: measured, the pooled kernel gradient's four passes with a
        quarter of the rows each cost more than reading that back."""
        x, kernel = self.inputs[:2]
        need = self.needs_input_grad
        if pool is not None and need[0]:
            gy, pool, argmax = MaxPool2DGrad(pool, argmax)(gy), None, None
        gx = Conv2DTransposeFunction(self.spec)(gy, kernel) if need[0] else None
        has_bias = len(self.inputs) == 3
        need_bias = has_bias and need[2]
        if need[1]:  # the bias gradient comes with the kernel's, from the same reads of gy
            tiles, self.tiles = self.tiles, None  # used once: a second backward recomputes
            gk = Conv2DGradKernel(self.spec, need_bias, pool, argmax,
                                  tiles if pool is None else None)(x, gy)
            gk, gb = gk if need_bias else (gk, None)
        else:  # a pooled gradient sums to the same per channel
            gk, gb = None, BiasGrad(self.spec.data_format)(gy) if need_bias else None
        return (gx, gk, gb) if has_bias else (gx, gk)


class Conv2DMaxPool(Conv2DFunction):
    """max_pool(conv(x, kernel) (+ bias), then max(., 0) when ``relu``) in one
    op: x (N, H, W, C_in) -> (N, OH // PH, OW // PW, C_out), for the 'valid'
    max pool ``pool`` (a PoolSpec on the conv's output) whose strides equal
    its window (PH, PW), as Keras's MaxPooling2D defaults to. Each piece of
    the conv output is pooled while in cache (``kernels.cpu.conv2d_max_pool``).

    Backward: the ReLU's gradient, then Conv2DFunction's gradient ops with the
    pool's winners (``argmax``, as MaxPool2DFunction's). When x needs no gradient (a
    first layer), the kernel gradient takes the pooled gradient as it is
    (see Conv2DGradKernel) and the full-size gradient is never written; else
    it is scattered to full size once for both.

    ``keep_state``: record the winners (and the ReLU mask) for backward;
    ``conv2d`` turns it off when no gradient will be taken.
    """

    def __init__(self, spec, pool, relu=False, keep_state=True, keep_tiles=False):
        super().__init__(spec, relu, keep_state, keep_tiles)
        self.pool = pool
        self.keep_state = keep_state

    def forward(self, x, kernel, bias=None):
        y, self.argmax, self.passing, self.tiles = kernels.for_arrays(x).conv2d_max_pool(
            x, kernel, bias, self.spec, self.pool, self.relu, self.keep_state, self.keep_tiles)
        return y

    def backward(self, gy):
        if self.relu:
            gy = ReLUGrad(self.passing)(gy)
        return self._conv_backward(gy, self.pool, self.argmax)


class Conv2DTransposeFunction(Function):
    """The adjoint of ``Conv2DFunction(spec)`` in its input: g (N, OH, OW, C_out) ->
    (N, H, W, C_in) (+ bias of C_in). It is Conv2DFunction's input gradient and, with
    Keras's kernel layout, the transposed convolution."""

    def __init__(self, spec):
        self.spec = spec

    def forward(self, g, kernel, bias=None):
        return kernels.for_arrays(g).conv2d_transpose(g, kernel, bias, self.spec)

    def backward(self, gz):
        g, kernel = self.inputs[:2]
        need = self.needs_input_grad
        grads = (Conv2DFunction(self.spec)(gz, kernel) if need[0] else None,
                 Conv2DGradKernel(self.spec)(gz, g) if need[1] else None)
        if len(self.inputs) == 3:
            grads += (BiasGrad(self.spec.data_format)(gz) if need[2] else None,)
        return grads


class Conv2DGradKernel(Function):
    """The kernel gradient of ``Conv2DFunction(spec)``: (x, gy) -> gW (KH, KW, C_in/G, C_out).

    ``with_bias``: also return the bias gradient (C_out,) (from the same
    reads of gy). ``pool`` (a PoolSpec) and its winners ``argmax``: gy is
    given at the pooled size of a fused max pool, and the full-size gradient
    is never built (see ``kernels.cpu.conv2d_kernel_grad``). ``tiles``: x's
    transformed tiles, as the conv kept them (read once, then dropped).
    """

    def __init__(self, spec, with_bias=False, pool=None, argmax=None, tiles=None):
        self.spec = spec
        self.with_bias = with_bias
        self.pool = pool
        self.argmax = argmax
        self.tiles = tiles

    def forward(self, x, gy):
        tiles, self.tiles = self.tiles, None
        return kernels.for_arrays(x).conv2d_kernel_grad(x, gy, self.spec, self.with_bias,
                                                        self.pool, self.argmax, tiles)

    def backward(self, ggk, ggb=None):
        x, gy = self.inputs
        need = self.needs_input_grad
        gx = None
        if need[0]:
            full_gy = gy if self.pool is None else MaxPool2DGrad(self.pool, self.argmax)(gy)
            gx = Conv2DTransposeFunction(self.spec)(full_gy, ggk)
        if not need[1]:
            return gx, None
        conv = Conv2DFunction(self.spec)
        ggy = conv(x, ggk, ggb) if self.with_bias else conv(x, ggk)
        return gx, ggy if self.pool is None else MaxPool2DGather(self.pool, self.argmax)(ggy)


class BiasGrad(Function):
    """The gradient of a per-channel bias: gy (N, H, W, C) (or (N, C, H, W))
    summed over all but the channel axis -> (C,)."""

    def __init__(self, data_format):
        self.data_format = data_format

    def forward(self, gy):
        return kernels.for_arrays(gy).bias_grad(gy, self.data_format)

    def backward(self, gb):
        channels = (1, 1, 1, -1) if self.data_format == 'channels_last' else (1, -1, 1, 1)
        return broadcast_to(reshape(gb, channels), self.inputs[0].shape)


# --- public functions ------------------------------------------------------------------
def conv2d(x, kernel, bias=None, strides=1, padding='valid', dilation_rate=1, groups=1,
           data_format='channels_last', activation=None, pool_size=None, algorithm=None):
    """2-D convolution (cross-correlation, as in Keras/TF/PyTorch).

    Args:
        x: (N, H, W, C_in), or (N, C_in, H, W) with data_format='channels_first'.
        kernel: (KH, KW, C_in // groups, C_out) (Keras's layout in both formats).
        bias: (C_out,) or None.
        strides, dilation_rate: int or (h, w).
        padding: 'valid', 'same' (TF rule: odd pixel bottom/right), an int,
            (pad_h, pad_w), or ((top, bottom), (left, right)).
        groups: C_in and C_out must be divisible by it; groups == C_in is a
            depthwise conv.
        activation: None or 'relu': ``relu(conv2d(...))`` in one op, the ReLU
            applied in the same pass as the bias (same values and gradients).
        pool_size: None, or an int or (h, w): then the result is max-pooled
            in the same op, as ``max_pool2d(y, pool_size)`` ('valid', strides
            = pool_size) would, with the same values and gradients, while
            each piece of the conv output is in cache.
        algorithm: how a 3x3 stride-1 conv (groups 1, no dilation) is
            computed, here and in its gradients: 'direct' (im2col + GEMM),
            'winograd2' / 'winograd3' / 'winograd4' (Winograd's F(m x m, 3x3):
            2.25x / 3.24x / 4x fewer multiplications, a little more float32
            rounding),
            'auto' (by layer and dtype, see deepzero/kernels/cpu/winograd.py);
            None (default): the ``conv_algorithm`` runtime setting
            (``DEEPZERO_CONV_ALGORITHM``, default 'auto'). Other convs are
            always direct.
    Returns: (N, OH, OW, C_out) (or (N, C_out, OH, OW)), the dtype of x;
    with pool_size, (N, OH // PH, OW // PW, C_out).
    """
    spec = _conv_spec('conv2d', x, kernel, bias, strides, padding, dilation_rate,
                      groups, data_format, algorithm)
    if activation not in (None, 'relu'):
        raise ValueError(f"conv2d: activation must be None or 'relu', got {activation!r}")
    inputs = tuple(as_variable(v) for v in ((x, kernel) if bias is None else (x, kernel, bias)))
    # as Function.__call__ decides whether to record the op
    keep_mask = config.enable_backprop and any(v.requires_grad for v in inputs)
    keep_tiles = config.enable_backprop and inputs[1].requires_grad
    relu = activation == 'relu'
    if pool_size is None:
        return Conv2DFunction(spec, relu, keep_mask, keep_tiles)(*inputs)
    window = pair(pool_size, 'pool_size', 'conv2d')
    if any(p > n for p, n in zip(window, spec.geometry.out_hw)):
        raise ValueError(f"conv2d: pool_size {window} is larger than the conv output "
                         f"{spec.geometry.out_hw} (x {x.shape}, kernel {kernel.shape})")
    pool = PoolSpec(WindowGeometry('conv2d', spec.geometry.out_hw, window, window, (1, 1),
                                   'valid'), data_format)
    return Conv2DMaxPool(spec, pool, relu, keep_mask, keep_tiles)(*inputs)


def depthwise_conv2d(x, kernel, bias=None, strides=1, padding='valid', dilation_rate=1,
                     data_format='channels_last'):
    """Depthwise conv, Keras DepthwiseConv2D: kernel (KH, KW, C_in, depth_multiplier);
    output channel c * depth_multiplier + m comes from input channel c.
    Other arguments as ``conv2d``; bias is (C_in * depth_multiplier,)."""
    if getattr(kernel, 'ndim', None) != 4:
        raise ValueError(f"depthwise_conv2d: kernel must be 4-d (KH, KW, C_in, "
                         f"depth_multiplier), got shape {getattr(kernel, 'shape', None)}")
    kh, kw, c_in, multiplier = kernel.shape
    return conv2d(x, reshape(kernel, (kh, kw, 1, c_in * multiplier)), bias, strides,
                  padding, dilation_rate, c_in, data_format)


def separable_conv2d(x, depthwise_kernel, pointwise_kernel, bias=None, strides=1,
                     padding='valid', dilation_rate=1, data_format='channels_last'):
    """Keras SeparableConv2D: a depthwise conv (kernel (KH, KW, C_in, depth_multiplier),
    with the strides, padding and dilation) then a 1x1 conv (kernel
    (1, 1, C_in * depth_multiplier, C_out)) with the bias (C_out,)."""
    y = depthwise_conv2d(x, depthwise_kernel, None, strides, padding, dilation_rate,
                         data_format)
    return conv2d(y, pointwise_kernel, bias, data_format=data_format)


def conv2d_transpose(x, kernel, bias=None, strides=1, padding='valid', output_padding=None,
                     dilation_rate=1, data_format='channels_last', algorithm=None):
    """Transposed conv, Keras Conv2DTranspose: x (N, H, W, C_in), kernel
    (KH, KW, C_out, C_in), bias (C_out,). ``algorithm`` as ``conv2d``'s (a
    3x3 stride-1 transposed conv is a 3x3 stride-1 conv).

    Output size per axis (Keras's rule, k = dilated kernel size, s = stride):
    without output_padding, H*s + max(k - s, 0) ('valid') or H*s ('same');
    with it, (H - 1)*s + k - 2*pad + output_padding, pad = k // 2 for 'same'.
    """
    op = 'conv2d_transpose'
    check_data_format(data_format, op)
    _check_algorithm(op, algorithm)
    _check_arrays(op, x, kernel, data_format)
    if not isinstance(padding, str) or padding.lower() not in ('valid', 'same'):
        raise ValueError(f"{op}: padding must be 'valid' or 'same', got {padding!r}")
    strides = pair(strides, 'strides', op)
    dilation = pair(dilation_rate, 'dilation_rate', op)
    if output_padding is not None:
        output_padding = pair(output_padding, 'output_padding', op, smallest=0)
        if any(p >= s for p, s in zip(output_padding, strides)):
            raise ValueError(f"{op}: output_padding {output_padding} must be smaller "
                             f"than strides {strides}")
    in_hw, c_in = spatial_shape(x.shape, data_format)
    kh, kw, c_out, k_in = kernel.shape
    if c_in != k_in:
        raise ValueError(f"{op}: input has {c_in} channels but kernel expects {k_in} "
                         f"(x {x.shape}, kernel {kernel.shape})")
    out_hw = tuple(
        deconv_output_length(n, k, padding.lower(), s, None if output_padding is None else p, d)
        for n, k, d, s, p in zip(in_hw, (kh, kw), dilation, strides,
                                 output_padding or (0, 0)))
    geometry = WindowGeometry(op, out_hw, (kh, kw), strides, dilation, padding)
    if geometry.out_hw != tuple(in_hw):   # e.g. 'same' with stride 1 and an even kernel
        raise ValueError(f"{op}: cannot map input {in_hw} to output {out_hw} (kernel "
                         f"{(kh, kw)}, strides {strides}, padding {padding!r}, "
                         f"output_padding {output_padding})")
    _check_bias(op, bias, c_out)
    spec = ConvSpec(geometry, 1, data_format, c_out, algorithm)
    inputs = (x, kernel) if bias is None else (x, kernel, bias)
    return Conv2DTransposeFunction(spec)(*inputs)


def _check_arrays(op, x, kernel, data_format):
    check_image(x, 'x', op, data_format)
    if getattr(kernel, 'ndim', None) != 4:
        raise ValueError(f"{op}: kernel must be 4-d (KH, KW, C_in, C_out), got shape "
                         f"{getattr(kernel, 'shape', None)}")
    if x.dtype != kernel.dtype:
        raise TypeError(f"{op}: x is {x.dtype} but kernel is {kernel.dtype} "
                        f"(x {x.shape}, kernel {kernel.shape})")


def _check_bias(op, bias, channels):
    if bias is not None and tuple(bias.shape) != (channels,):
        raise ValueError(f"{op}: bias must have shape ({channels},), got {bias.shape}")


def _check_algorithm(op, algorithm):
    if algorithm is not None and algorithm not in CONV_ALGORITHMS:
        raise ValueError(f"{op}: algorithm must be None or one of "
                         f"{', '.join(map(repr, CONV_ALGORITHMS))}; got {algorithm!r}")


def _conv_spec(op, x, kernel, bias, strides, padding, dilation_rate, groups, data_format,
               algorithm=None):
    check_data_format(data_format, op)
    _check_algorithm(op, algorithm)
    _check_arrays(op, x, kernel, data_format)
    if not (isinstance(groups, numbers.Integral) and groups >= 1):
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    in_hw, c_in = spatial_shape(x.shape, data_format)
    kh, kw, k_in, c_out = kernel.shape
    if c_in != k_in * groups:
        expects = f"{k_in}" if groups == 1 else f"{k_in} x {groups} groups = {k_in * groups}"
        raise ValueError(f"{op}: input has {c_in} channels but kernel expects {expects} "
                         f"(x {x.shape}, kernel {kernel.shape})")
    if c_out % groups:
        raise ValueError(f"{op}: {c_out} output channels are not divisible by "
                         f"groups={groups} (kernel {kernel.shape})")
    _check_bias(op, bias, c_out)
    geometry = WindowGeometry(op, in_hw, (kh, kw), pair(strides, 'strides', op),
                              pair(dilation_rate, 'dilation_rate', op), padding)
    return ConvSpec(geometry, int(groups), data_format, c_in, algorithm)
