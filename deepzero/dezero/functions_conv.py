"""DeZero's convolution, pooling and im2col functions on deepzero's ops.

DeZero's images are NCHW, its conv kernels OIHW (C_out, C_in, KH, KW) and its
transposed-conv kernels (C_in, C_out, KH, KW). deepzero's ops run
channels_first images as they are (``data_format='channels_first'``) and take
kernels in Keras's layout (KH, KW, C_in, C_out); one differentiable transpose
of the kernel maps DeZero's layout onto it, so gradients come back in
DeZero's layout. ``stride`` and ``pad`` are ints or (h, w) pairs, padding
both sides of each axis; pooling's stride defaults to 1, as in DeZero.

Where deepzero differs on purpose (docs/dezero.md): max pooling pads with
-inf (DeZero pads with 0, so a padded cell could win a window of negative
values), and every gradient of every order is exact (DeZero's second-order
gradient through the conv kernel fails).

``im2col``/``col2im`` are DeZero's teaching ops with its layout: columns
(N, C, KH, KW, OH, OW), or (N*OH*OW, C*KH*KW) with ``to_matrix``. They are
the engine's ``ImageToColumns``/``ColumnsToImage`` (``deepzero.functions.columns``),
here also under DeZero's class names ``Im2col``/``Col2im``; ``conv2d_simple``
and ``pooling_simple`` build a conv and a max pool from them, as the book does.
"""
from ..core import get_array_module
from ..core.operators import mul, reshape, transpose
from ..functions.columns import ColumnsToImage, ImageToColumns, columns_to_image, image_to_columns
from ..functions.conv import Conv2DTransposeFunction, conv2d as engine_conv2d
from ..functions.linear import linear
from ..functions.pooling import avg_pool2d, max_pool2d
from ..functions.reductions import max as engine_max
from ..kernels.geometry import ConvSpec, WindowGeometry
from ..kernels.windows import col2im_nchw, im2col_nchw, inverse_counts
from .utils import get_deconv_outsize, pair

__all__ = ['conv2d', 'deconv2d', 'conv2d_simple', 'pooling', 'pooling_simple',
           'average_pooling', 'im2col', 'col2im', 'Im2col', 'Col2im', 'im2col_array',
           'col2im_array']

CHANNELS_FIRST = 'channels_first'


def _keras_kernel(W):
    """DeZero's kernel (A, B, KH, KW) as (KH, KW, B, A), a differentiable
    transpose: OIHW -> (KH, KW, C_in, C_out); a deconv's (C_in, C_out, KH, KW)
    -> (KH, KW, C_out, C_in), the layout deepzero's transposed conv takes."""
    return transpose(W, (2, 3, 1, 0))


# --- convolution ------------------------------------------------------------------------
def conv2d(x, W, b=None, stride=1, pad=0):
    """Convolution: x (N, C, H, W), W (OC, C, KH, KW), b (OC,) or None ->
    (N, OC, OH, OW), OH = (H + 2 pad - KH) // stride + 1."""
    return engine_conv2d(x, _keras_kernel(W), b, strides=pair(stride), padding=pair(pad),
                         data_format=CHANNELS_FIRST)


def deconv2d(x, W, b=None, stride=1, pad=0, outsize=None):
    """Transposed convolution (the input gradient of ``conv2d``):
    x (N, C, H, W), W (C, OC, KH, KW), b (OC,) or None -> (N, OC, OH, OW)
    with OH = stride (H - 1) + KH - 2 pad unless ``outsize`` (OH, OW) says
    otherwise (it must be a size that a conv with these stride and pad maps
    back to (H, W))."""
    n, c, h, w = x.shape
    c_w, c_out, kh, kw = W.shape
    if c != c_w:
        raise ValueError(f"deconv2d: x has {c} channels but W expects {c_w} "
                         f"(x {x.shape}, W {W.shape})")
    if x.dtype != W.dtype:
        raise TypeError(f"deconv2d: x is {x.dtype} but W is {W.dtype}")
    (sh, sw), (ph, pw) = pair(stride), pair(pad)
    if outsize is None:
        outsize = (get_deconv_outsize(h, kh, sh, ph), get_deconv_outsize(w, kw, sw, pw))
    geometry = WindowGeometry('deconv2d', pair(outsize), (kh, kw), (sh, sw), (1, 1),
                              (ph, pw))
    if geometry.out_hw != (h, w):
        raise ValueError(f"deconv2d: outsize {tuple(outsize)} does not map back to the input "
                         f"size {(h, w)} (kernel {(kh, kw)}, stride {(sh, sw)}, "
                         f"pad {(ph, pw)})")
    if b is not None and tuple(b.shape) != (c_out,):
        raise ValueError(f"deconv2d: b must have shape ({c_out},), got {b.shape}")
    spec = ConvSpec(geometry, 1, CHANNELS_FIRST, c_out)
    inputs = (x, _keras_kernel(W)) + (() if b is None else (b,))
    return Conv2DTransposeFunction(spec)(*inputs)


def conv2d_simple(x, W, b=None, stride=1, pad=0):
    """``conv2d`` built from ``im2col`` and ``linear`` (the book's version)."""
    n, _, h, w = x.shape
    c_out, _, kh, kw = W.shape
    col = im2col(x, (kh, kw), stride, pad, to_matrix=True)   # (N*OH*OW, C*KH*KW)
    y = linear(col, transpose(reshape(W, (c_out, -1))), b)   # (N*OH*OW, OC)
    oh, ow = _geometry('conv2d_simple', (h, w), (kh, kw), stride, pad).out_hw
    return transpose(reshape(y, (n, oh, ow, c_out)), (0, 3, 1, 2))


# --- pooling -----------------------------------------------------------------------------
def pooling(x, kernel_size, stride=1, pad=0):
    """Max pooling: x (N, C, H, W) -> (N, C, OH, OW); the gradient goes to the
    first maximum of each window. Padded cells hold -inf (never win)."""
    return max_pool2d(x, pair(kernel_size), pair(stride), pair(pad), CHANNELS_FIRST)


def average_pooling(x, kernel_size, stride=1, pad=0):
    """Average pooling: x (N, C, H, W) -> (N, C, OH, OW). Each window's sum
    is divided by KH*KW, padded cells (zeros) included, as DeZero (and
    PyTorch's default) do."""
    y = avg_pool2d(x, pair(kernel_size), pair(stride), pair(pad), CHANNELS_FIRST)
    geometry = _geometry('average_pooling', x.shape[2:], kernel_size, stride, pad)
    if not geometry.padded:
        return y
    # deepzero's average leaves padded cells out of the count: rescale per window
    kh, kw = geometry.window
    xp = get_array_module(y.data)
    counts = 1.0 / (inverse_counts(geometry, y.dtype, xp)[:, :, 0] * (kh * kw))
    return mul(y, counts.astype(y.dtype))


def pooling_simple(x, kernel_size, stride=1, pad=0):
    """Max pooling built from ``im2col`` and ``max`` (the book's version; the
    padding reads as 0 here, as im2col pads, and ties share the gradient)."""
    n, c, h, w = x.shape
    geometry = _geometry('pooling_simple', (h, w), kernel_size, stride, pad)
    kh, kw = geometry.window
    col = reshape(im2col(x, (kh, kw), stride, pad, to_matrix=True), (-1, kh * kw))
    y = engine_max(col, axis=1)
    oh, ow = geometry.out_hw
    return transpose(reshape(y, (n, oh, ow, c)), (0, 3, 1, 2))


# --- im2col / col2im -------------------------------------------------------------------------
Im2col = ImageToColumns     # DeZero's names for the engine's ops, arguments in DeZero's order
Col2im = ColumnsToImage


def im2col(x, kernel_size, stride=1, pad=0, to_matrix=True):
    """The windows of x (N, C, H, W) as columns, differentiably: (N, C, KH, KW,
    OH, OW), or (N*OH*OW, C*KH*KW) with ``to_matrix`` (row n*OH*OW + i*OW + j
    holds window (i, j) of image n, channel-major). Padding reads 0."""
    return image_to_columns(x, kernel_size, stride, pad, to_matrix)


def col2im(x, input_shape, kernel_size, stride=1, pad=0, to_matrix=True):
    """The adjoint of ``im2col``: columns back to an ``input_shape`` (N, C, H, W)
    image, each cell the sum of the column entries that read it."""
    return columns_to_image(x, input_shape, kernel_size, stride, pad, to_matrix)


def _geometry(op, in_hw, kernel_size, stride, pad):
    return WindowGeometry(op, tuple(in_hw), pair(kernel_size), pair(stride), (1, 1),
                          pair(pad))


def im2col_array(img, kernel_size, stride, pad, to_matrix=True):
    """``im2col`` on an array (NumPy or CuPy)."""
    return im2col_nchw(img, _geometry('im2col', img.shape[2:], kernel_size, stride, pad),
                       to_matrix)


def col2im_array(col, img_shape, kernel_size, stride, pad, to_matrix=True):
    """``col2im`` on an array (NumPy or CuPy)."""
    return col2im_nchw(col, img_shape,
                       _geometry('col2im', img_shape[2:], kernel_size, stride, pad), to_matrix)
