"""2-D convolutions: conv2d (with groups), depthwise, separable and transposed.

Images are channels_last (N, H, W, C) by default, channels_first (N, C, H, W)
on request; kernels always keep Keras's layout, (KH, KW, C_in/groups, C_out).

Three Functions do all the work, each the adjoint of the others, so every
gradient of every order is again one of them (DeZero's pattern):

    Conv2D(x, W)            y  = conv(x, W)
    Conv2DTranspose(g, W)   gx = conv^T(g, W)    input gradient of Conv2D
    Conv2DGradKernel(x, g)  gW = sum over windows of x * g   kernel gradient

Conv2D is im2col (strided copies) + GEMM written straight into the NHWC
output, chunk by chunk on every core: each cache-sized chunk of window
columns is multiplied while it is in cache, and no im2col matrix is ever
built whole (``conv_utils.each_cols_chunk``). The bias and an optional ReLU
are applied to each chunk's output in the same visit (as oneDNN's post-ops
do): a Keras ``Conv2D(activation='relu')`` needs no separate ReLU pass or
pre-activation array. Conv2DGradKernel sums ``cols.T @ gy`` over the same
chunks, im2col'd again (as fast as reading a kept matrix, which then is
never written). Conv2DTranspose is a GEMM ``gy @ W.T`` into window columns
+ col2im (KH*KW strided adds). A bias gradient is BiasGrad (a GEMV with
ones). Large arrays come from the workspace pool (core/workspace.py);
copies run on every core (core/parallel.py).

Conv2DMaxPool (``conv2d(..., pool_size=2)``) is Conv2D with a max pool as
one more post-op: each chunk is pooled while in cache, and the full-size
output is never written. Its kernel gradient can take the pooled gradient
as it is (``FusedPool``, Conv2DGradKernel).
"""
import numbers

from ..core import as_variable, config, get_array_module, parallel, workspace
from ..core.operators import broadcast_to, reshape
from ..core.function import Function
from .activations import ReLUGrad, relu_passing
from .pooling import (MaxPool2DGather, MaxPool2DGrad, PoolSpec, argmax_dtype, block_windows,
                      window_max)
from . import conv_utils
from .conv_utils import (WindowGeometry, check_data_format, check_image, col2im, crop_padding,
                         each_cols_chunk, from_nhwc, pad_nhwc, pair, spatial_shape, to_nhwc,
                         window_view)

__all__ = ['conv2d', 'depthwise_conv2d', 'separable_conv2d', 'conv2d_transpose',
           'Conv2D', 'Conv2DMaxPool', 'Conv2DTranspose', 'Conv2DGradKernel', 'BiasGrad']

# Bytes of output per piece of the bias + ReLU pass (within a core's L2).
POST_OP_BYTES = 512 << 10


class ConvSpec:
    """Everything about one convolution except its arrays: the window
    geometry, ``groups``, ``data_format`` and the input channel count."""

    def __init__(self, geometry, groups, data_format, in_channels):
        self.geometry = geometry
        self.groups = groups
        self.data_format = data_format
        self.in_channels = in_channels

    def input_shape_nhwc(self, batch):
        return (batch,) + self.geometry.in_hw + (self.in_channels,)


class Conv2D(Function):
    """y = conv(x, kernel) (+ bias), then max(y, 0) when ``relu``.
    x (N, H, W, C_in) -> y (N, OH, OW, C_out).

    ``keep_mask``: with ``relu``, record where the ReLU passes (a bool per
    output, written while the output is in cache) for the backward pass;
    ``conv2d`` turns it off when no gradient will be taken.
    """

    def __init__(self, spec, relu=False, keep_mask=True):
        self.spec = spec
        self.relu = relu
        self.keep_mask = relu and keep_mask

    def forward(self, x, kernel, bias=None):
        spec, groups = self.spec, self.spec.groups
        xp = get_array_module(x)
        windows = self._windows(x)
        c_out = kernel.shape[3]
        y = workspace.empty(windows.shape[:3] + (c_out,), x.dtype, xp)
        y_rows = y.reshape(-1, c_out)
        kernel_groups = _grouped_kernel(kernel, groups)
        self.passing = workspace.empty(y.shape, bool, xp) if self.keep_mask else None
        passing_rows = None if self.passing is None else self.passing.reshape(-1, c_out)

        def multiply(core, cols, start, stop):
            _gemm(cols, kernel_groups, _split_groups(y_rows[start:stop], groups))
            if bias is not None or self.relu:
                self._post_ops(y_rows[start:stop], bias,
                               None if passing_rows is None else passing_rows[start:stop])
        each_cols_chunk(windows, groups, multiply)
        if self.passing is not None:
            self.passing = from_nhwc(self.passing, spec.data_format)
        return from_nhwc(y, spec.data_format)

    def _windows(self, x):
        """The (N, OH, OW, KH, KW, C_in) window view of x, padded."""
        geometry = self.spec.geometry
        return window_view(pad_nhwc(to_nhwc(x, self.spec.data_format), geometry), geometry)

    def _post_ops(self, rows, bias, passing):
        """rows += bias, then max(rows, 0) and where that passes, in pieces
        that stay in L1/L2 from one pass to the next."""
        xp = get_array_module(rows)
        piece = max(1, POST_OP_BYTES // (rows.shape[1] * rows.itemsize))
        for start in range(0, rows.shape[0], piece):
            part = rows[start:start + piece]
            if bias is not None:
                xp.add(part, bias, out=part)
            if self.relu:
                xp.maximum(part, 0, out=part)
            if passing is not None:
                relu_passing(part, None, passing[start:start + piece])

    def backward(self, gy):
        if self.relu:  # the gradient of the pre-activation
            gy = ReLUGrad(self.passing)(gy)
        return self._conv_backward(gy)

    def _conv_backward(self, gy, pool=None):
        """The gradients of x, kernel (and bias) given gy of the conv's own
        output (before any post-op), or at the pooled size of ``pool``.

        With ``pool``, the kernel gradient takes gy as it is when x needs no
        gradient (a first layer); else gy is scattered to full size once
        for both: measured, the pooled kernel gradient's four passes with a
        quarter of the rows each cost more than reading that back."""
        x, kernel = self.inputs[:2]
        need = self.needs_input_grad
        if pool is not None and need[0]:
            gy, pool = pool.scatter(gy), None
        gx = Conv2DTranspose(self.spec)(gy, kernel) if need[0] else None
        has_bias = len(self.inputs) == 3
        need_bias = has_bias and need[2]
        if need[1]:  # the bias gradient comes with the kernel's, from the same reads of gy
            gk = Conv2DGradKernel(self.spec, with_bias=need_bias, pool=pool)(x, gy)
            gk, gb = gk if need_bias else (gk, None)
        else:  # a pooled gradient sums to the same per channel
            gk, gb = None, BiasGrad(self.spec.data_format)(gy) if need_bias else None
        return (gx, gk, gb) if has_bias else (gx, gk)


class Conv2DMaxPool(Conv2D):
    """max_pool(conv(x, kernel) (+ bias), then max(., 0) when ``relu``) in one
    op: x (N, H, W, C_in) -> (N, OH // PH, OW // PW, C_out), for a 'valid' max
    pool whose strides equal its window (PH, PW), as Keras's MaxPooling2D
    defaults to.

    Each chunk's conv output is pooled while it is in the core's cache, so
    the full-size conv output is never written nor read again. The bias is
    added before the pool (rounding can make ties, and the first of them
    wins, as in max_pool2d); the ReLU after it, at a quarter of the size: it
    commutes with max, and a window's winner passes the ReLU exactly where
    the pooled value is > 0, so that is the mask kept for backward.
    Backward: that ReLUGrad, then Conv2D's gradient ops. When x needs no
    gradient (a first layer), the kernel gradient takes the pooled gradient
    as it is (see Conv2DGradKernel) and the full-size gradient is never
    written; else it is scattered to full size once for both.

    ``keep_state``: record the winners (and the ReLU mask) for backward;
    ``conv2d`` turns it off when no gradient will be taken.
    """

    def __init__(self, spec, pool, relu=False, keep_state=True):
        super().__init__(spec, relu, keep_state)
        self.pool = pool
        self.keep_argmax = keep_state

    def forward(self, x, kernel, bias=None):
        spec, groups, pool = self.spec, self.spec.groups, self.pool
        xp = get_array_module(x)
        windows = self._windows(x)
        ow, c_out = windows.shape[2], kernel.shape[3]
        y = workspace.empty((len(x),) + pool.spec.geometry.out_hw + (c_out,), x.dtype, xp)
        if self.keep_argmax:
            pool.argmax = workspace.empty(y.shape, argmax_dtype(pool.window), xp)
        self.passing = workspace.empty(y.shape, bool, xp) if self.keep_mask else None
        kernel_groups = _grouped_kernel(kernel, groups)

        def multiply(core, cols, start, stop):
            out = workspace.empty((stop - start, c_out), x.dtype, xp)
            _gemm(cols, kernel_groups, _split_groups(out, groups))
            images, rows, read, pooled = pool.chunk_rows(start // ow, stop // ow)
            if read.stop:
                self._pool_rows(out.reshape(-1, rows, ow, c_out)[:, read], bias, images, pooled,
                                y)
        each_cols_chunk(windows, groups, multiply, row_multiple=pool.window[0])
        if self.passing is not None:
            self.passing = from_nhwc(self.passing, spec.data_format)
        return from_nhwc(y, spec.data_format)

    def _pool_rows(self, part, bias, images, pooled, y):
        """Pool ``part`` (K, rows, OW, C_out), rows of the conv output of
        ``images``, into y[images, pooled]: bias, max (+ winners), then the
        ReLU. A chunk's rows (a few MB at most) stay in cache: measured, cutting
        them into L2-sized pieces cost more in NumPy calls than it saved."""
        xp = get_array_module(part)
        if bias is not None:
            xp.add(part, bias, out=part)
        target = y[images, pooled]
        argmax_and_scratch = ()
        if self.pool.argmax is not None:
            argmax_and_scratch = (self.pool.argmax[images, pooled],
                                  xp.empty(target.shape, bool),
                                  xp.empty(target.shape, self.pool.argmax.dtype))
        window_max(block_windows(part, self.pool.window), target, *argmax_and_scratch)
        if self.relu:
            xp.maximum(target, 0, out=target)
        if self.passing is not None:
            relu_passing(target, None, self.passing[images, pooled])

    def backward(self, gy):
        if self.relu:
            gy = ReLUGrad(self.passing)(gy)
        return self._conv_backward(gy, self.pool)


class FusedPool:
    """A 'valid' max pool with strides equal to its window, run on a conv's
    output chunk by chunk. ``spec``: its PoolSpec (``in_hw`` is the conv's
    output size); ``argmax``: the winning offset of each window, (N, PH, PW,
    C) NHWC, once a forward that keeps it has run.

    The kernel gradient takes a gradient at the pooled size together with
    this object (see Conv2DGradKernel); ``scatter`` and ``gather`` move a
    gradient between the pooled and the full size.
    """

    def __init__(self, spec):
        self.spec = spec
        self.window = spec.geometry.window
        self.argmax = None

    def chunk_rows(self, first, last):
        """Where the conv-output rows [first, last) of one chunk sit, counted
        over all images (image * OH + row): whole images, or a run of one
        image's rows that starts at a multiple of PH (``each_cols_chunk``
        cuts them so). Returns (images, rows, read, pooled): a slice of
        images, the rows per image in the chunk, the slice of those rows
        that the pool reads, and the slice of pooled rows it writes."""
        oh, ph = self.spec.geometry.in_hw[0], self.window[0]
        image, row = divmod(first, oh)
        if row == 0 and last - first >= oh:  # whole images
            count, rows = (last - first) // oh, oh
        else:  # a run of one image's rows
            count, rows = 1, last - first
        read = max(0, min(rows, self.spec.geometry.out_hw[0] * ph - row))
        return (slice(image, image + count), rows, slice(0, read),
                slice(row // ph, (row + read) // ph))

    def scatter(self, gy):
        """A gradient at the pooled size, sent to the winners at the conv's
        output size (0 elsewhere): a Variable, written whole."""
        return MaxPool2DGrad(self.spec, self.argmax)(gy)

    def gather(self, y):
        """The adjoint of ``scatter``: each window of a full-size gradient y
        read at its winner, (N, PH, PW, C) (in the pool's data_format)."""
        return MaxPool2DGather(self.spec, self.argmax)(y)


class Conv2DTranspose(Function):
    """The adjoint of ``Conv2D(spec)`` in its input: g (N, OH, OW, C_out) ->
    (N, H, W, C_in) (+ bias of C_in). It is Conv2D's input gradient and, with
    Keras's kernel layout, the transposed convolution."""

    def __init__(self, spec):
        self.spec = spec

    def forward(self, g, kernel, bias=None):
        spec, geometry = self.spec, self.spec.geometry
        xp = get_array_module(g)
        g = to_nhwc(g, spec.data_format)
        batch, c_out = g.shape[0], g.shape[3]
        kh, kw, cg, _ = kernel.shape
        groups = spec.groups
        # (KH*KW, G, C_out/G, C_in/G): for each window offset and group, the
        # map from output channels back to input channels
        kernel_t = kernel.reshape(kh * kw, cg, groups, c_out // groups).transpose(0, 2, 3, 1)
        image = workspace.empty((batch,) + geometry.padded_hw + (spec.in_channels,),
                                g.dtype, xp)
        # Each core takes its own images, a few at a time: their window
        # columns (GEMM) are scattered back (col2im) while they are in cache.
        oh, ow = geometry.out_hw
        window_cells = kh * kw * oh * ow * spec.in_channels
        per_chunk = max(1, conv_utils.CHUNK_BYTES // (window_cells * g.dtype.itemsize))

        def transpose_images(g_part, image_part):
            buffer = workspace.empty((min(per_chunk, len(g_part)) * window_cells,), g.dtype, xp)
            for start in range(0, len(g_part), per_chunk):
                images = g_part[start:start + per_chunk]
                rows = images.shape[0] * oh * ow
                cols = buffer[:images.shape[0] * window_cells].reshape(kh * kw, groups, rows, cg)
                parallel.matmul(_split_groups(images.reshape(rows, c_out), groups), kernel_t,
                                cols)
                col2im(cols.reshape((kh * kw, groups, images.shape[0]) + geometry.out_hw + (cg,)),
                       geometry, image_part[start:start + per_chunk])
        parallel.over_batch(transpose_images, g, image, min_bytes=0)
        z = crop_padding(image, geometry)
        if bias is not None:
            z += bias
        return from_nhwc(z, spec.data_format)

    def backward(self, gz):
        g, kernel = self.inputs[:2]
        need = self.needs_input_grad
        grads = (Conv2D(self.spec)(gz, kernel) if need[0] else None,
                 Conv2DGradKernel(self.spec)(gz, g) if need[1] else None)
        if len(self.inputs) == 3:
            grads += (BiasGrad(self.spec.data_format)(gz) if need[2] else None,)
        return grads


class Conv2DGradKernel(Function):
    """The kernel gradient of ``Conv2D(spec)``: (x, gy) -> gW (KH, KW, C_in/G, C_out),
    ``cols.T @ gy`` summed chunk by chunk of x's window columns: each core
    adds up its own chunks, then the cores' sums are added.

    ``with_bias``: also return the bias gradient (C_out,), the sum of gy over
    its rows, taken from each chunk of gy while it is in cache for the GEMM.

    ``pool`` (a FusedPool): gy is given at the pooled size (N, PH, PW, C_out).
    The sum over output rows may run in any order, so it runs pool offset by
    pool offset: for offset (a, b), the windows of the output cells (a + i*ph,
    b + j*pw) against gy * (winner == (a, b)), both at the pooled size and
    contiguous. The full-size gradient, 3/4 zeros, is never built.
    """

    def __init__(self, spec, with_bias=False, pool=None):
        self.spec = spec
        self.with_bias = with_bias
        self.pool = pool

    def forward(self, x, gy):
        spec, pool = self.spec, self.pool
        xp = get_array_module(x)
        geometry = spec.geometry
        windows = window_view(pad_nhwc(to_nhwc(x, spec.data_format), geometry), geometry)
        gy_nhwc = to_nhwc(gy, spec.data_format)
        gy_rows = gy_nhwc.reshape(-1, gy_nhwc.shape[3])
        kh, kw = geometry.window
        gk = xp.empty((kh, kw, spec.in_channels // spec.groups, gy_rows.shape[1]), x.dtype)
        gk_groups = _grouped_kernel(gk, spec.groups)  # (G, K, C_out/G)
        sums = {}  # core -> [its kernel sum, its bias sum]

        def accumulate(core, cols, gy_chunk):
            product = xp.matmul(cols.transpose(0, 2, 1), _split_groups(gy_chunk, spec.groups),
                                out=workspace.empty(gk_groups.shape, x.dtype, xp))
            bias_sum = xp.ones(len(gy_chunk), x.dtype) @ gy_chunk if self.with_bias else None
            if core in sums:
                sums[core][0] += product
                if self.with_bias:
                    sums[core][1] += bias_sum
            else:
                sums[core] = [product, bias_sum]
        # Each chunk adds a kernel-sized product to its core's sum: chunks of
        # at least 4 kernels keep those adds small next to the GEMMs.
        min_chunk_bytes = 4 * gk.nbytes
        if pool is None:
            each_cols_chunk(windows, spec.groups,
                            lambda core, cols, start, stop: accumulate(core, cols,
                                                                       gy_rows[start:stop]),
                            min_chunk_bytes)
        else:
            winners = pool.argmax.reshape(gy_rows.shape)
            (ph, pw), (out_h, out_w) = pool.window, pool.spec.geometry.out_hw
            for k in range(ph * pw):
                a, b = divmod(k, pw)

                def offset_k(core, cols, start, stop, k=k):
                    won = xp.equal(winners[start:stop], k,
                                   out=workspace.empty((stop - start, gy_rows.shape[1]), bool, xp))
                    accumulate(core, cols, xp.multiply(
                        gy_rows[start:stop], won,
                        out=workspace.empty((stop - start, gy_rows.shape[1]), x.dtype, xp)))
                each_cols_chunk(windows[:, a:a + ph * out_h:ph, b:b + pw * out_w:pw], spec.groups,
                                offset_k, min_chunk_bytes)
        (gk_groups[...], gb), *others = sums.values()
        for kernel_sum, bias_sum in others:
            gk_groups += kernel_sum
            if self.with_bias:
                gb += bias_sum
        return (gk, gb) if self.with_bias else gk

    def backward(self, ggk, ggb=None):
        x, gy = self.inputs
        need = self.needs_input_grad
        gx = None
        if need[0]:
            gx = Conv2DTranspose(self.spec)(gy if self.pool is None else self.pool.scatter(gy),
                                            ggk)
        if not need[1]:
            return gx, None
        ggy = Conv2D(self.spec)(x, ggk, ggb) if self.with_bias else Conv2D(self.spec)(x, ggk)
        return gx, ggy if self.pool is None else self.pool.gather(ggy)


# --- GEMM helpers: group g uses input channels [g*C/G, (g+1)*C/G) and output
# channels [g*C_out/G, ...), as Keras/TF/PyTorch do -------------------------------
def _grouped_kernel(kernel, groups):
    """(KH, KW, C/G, C_out) as a (G, KH*KW*C/G, C_out/G) view."""
    kh, kw, cg, c_out = kernel.shape
    return kernel.reshape(kh * kw * cg, groups, c_out // groups).transpose(1, 0, 2)


def _split_groups(rows, groups):
    """(M, C) as a (G, M, C/G) view."""
    m, c = rows.shape
    return rows.reshape(m, groups, c // groups).transpose(1, 0, 2)


def _gemm(a, b, out):
    """out[g] = a[g] @ b[g]; one plain 2-D GEMM when there is one group."""
    if a.shape[0] == 1:
        parallel.matmul(a[0], b[0], out[0])
    else:
        parallel.matmul(a, b, out)


class BiasGrad(Function):
    """The gradient of a per-channel bias: gy (N, H, W, C) (or (N, C, H, W))
    summed over all but the channel axis -> (C,).

    A product with a vector of ones: BLAS streams it on every core, ~8x
    faster than NumPy's sum over leading axes."""

    def __init__(self, data_format):
        self.data_format = data_format

    def forward(self, gy):
        xp = get_array_module(gy)
        if self.data_format == 'channels_last':
            rows = gy.reshape(-1, gy.shape[3])
            return xp.ones(rows.shape[0], gy.dtype) @ rows
        per_image = gy.reshape(gy.shape[0], gy.shape[1], -1)  # (N, C, H*W)
        return (per_image @ xp.ones(per_image.shape[2], gy.dtype)).sum(axis=0)

    def backward(self, gb):
        channels = (1, 1, 1, -1) if self.data_format == 'channels_last' else (1, -1, 1, 1)
        return broadcast_to(reshape(gb, channels), self.inputs[0].shape)


# --- public functions ------------------------------------------------------------------
def conv2d(x, kernel, bias=None, strides=1, padding='valid', dilation_rate=1, groups=1,
           data_format='channels_last', activation=None, pool_size=None):
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
    Returns: (N, OH, OW, C_out) (or (N, C_out, OH, OW)), the dtype of x;
    with pool_size, (N, OH // PH, OW // PW, C_out).
    """
    spec = _conv_spec('conv2d', x, kernel, bias, strides, padding, dilation_rate,
                      groups, data_format)
    if activation not in (None, 'relu'):
        raise ValueError(f"conv2d: activation must be None or 'relu', got {activation!r}")
    inputs = tuple(as_variable(v) for v in ((x, kernel) if bias is None else (x, kernel, bias)))
    # as Function.__call__ decides whether to record the op
    keep_mask = config.enable_backprop and any(v.requires_grad for v in inputs)
    relu = activation == 'relu'
    if pool_size is None:
        return Conv2D(spec, relu, keep_mask)(*inputs)
    window = pair(pool_size, 'pool_size', 'conv2d')
    if any(p > n for p, n in zip(window, spec.geometry.out_hw)):
        raise ValueError(f"conv2d: pool_size {window} is larger than the conv output "
                         f"{spec.geometry.out_hw} (x {x.shape}, kernel {kernel.shape})")
    pool = FusedPool(PoolSpec(WindowGeometry('conv2d', spec.geometry.out_hw, window, window,
                                             (1, 1), 'valid'), data_format))
    return Conv2DMaxPool(spec, pool, relu, keep_mask)(*inputs)


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
                     dilation_rate=1, data_format='channels_last'):
    """Transposed conv, Keras Conv2DTranspose: x (N, H, W, C_in), kernel
    (KH, KW, C_out, C_in), bias (C_out,).

    Output size per axis (Keras's rule, k = dilated kernel size, s = stride):
    without output_padding, H*s + max(k - s, 0) ('valid') or H*s ('same');
    with it, (H - 1)*s + k - 2*pad + output_padding, pad = k // 2 for 'same'.
    """
    op = 'conv2d_transpose'
    check_data_format(data_format, op)
    _check_arrays(op, x, kernel, data_format)
    if not isinstance(padding, str) or padding.lower() not in ('valid', 'same'):
        raise ValueError(f"{op}: padding must be 'valid' or 'same', got {padding!r}")
    strides = pair(strides, 'strides', op)
    dilation = pair(dilation_rate, 'dilation_rate', op)
    if output_padding is not None:
        output_padding = _output_padding_pair(output_padding, op)
        if any(p >= s for p, s in zip(output_padding, strides)):
            raise ValueError(f"{op}: output_padding {output_padding} must be smaller "
                             f"than strides {strides}")
    in_hw, c_in = spatial_shape(x.shape, data_format)
    kh, kw, c_out, k_in = kernel.shape
    if c_in != k_in:
        raise ValueError(f"{op}: input has {c_in} channels but kernel expects {k_in} "
                         f"(x {x.shape}, kernel {kernel.shape})")
    out_hw = tuple(
        _transpose_length(n, (k - 1) * d + 1, s, padding.lower(),
                          None if output_padding is None else p)
        for n, k, d, s, p in zip(in_hw, (kh, kw), dilation, strides,
                                 output_padding or (0, 0)))
    geometry = WindowGeometry(op, out_hw, (kh, kw), strides, dilation, padding)
    if geometry.out_hw != tuple(in_hw):  # pragma: no cover - guards the size rule
        raise ValueError(f"{op}: cannot map input {in_hw} to output {out_hw}")
    _check_bias(op, bias, c_out)
    spec = ConvSpec(geometry, 1, data_format, c_out)
    inputs = (x, kernel) if bias is None else (x, kernel, bias)
    return Conv2DTranspose(spec)(*inputs)


def _output_padding_pair(value, op):
    """output_padding: a non-negative int or pair."""
    if isinstance(value, numbers.Integral):
        value = (value, value)
    try:
        a, b = value
        if not all(isinstance(v, numbers.Integral) and v >= 0 for v in (a, b)):
            raise TypeError
    except (TypeError, ValueError):
        raise ValueError(f"{op}: output_padding must be a non-negative int or a pair "
                         f"of them, got {value!r}") from None
    return int(a), int(b)


def _transpose_length(n, k, s, padding, output_padding):
    if output_padding is None:
        return n * s + max(k - s, 0) if padding == 'valid' else n * s
    pad = k // 2 if padding == 'same' else 0
    return (n - 1) * s + k - 2 * pad + output_padding


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


def _conv_spec(op, x, kernel, bias, strides, padding, dilation_rate, groups, data_format):
    check_data_format(data_format, op)
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
    return ConvSpec(geometry, int(groups), data_format, c_in)
