"""Convolution on the device: im2col + cuBLAS GEMM, its transpose (GEMM +
col2im), the kernel and bias gradients, and the fused ReLU and max pool.

CuPy 14 ships no cuDNN, so a conv is im2col + GEMM: the windows of the
padded input (a strided view, ``windows.window_view``) are copied into a
window-column matrix (G, rows, KH*KW*C/G), a few whole images at a time so
that it stays within COLUMN_BYTES, and multiplied by the kernel with
``matmul`` (cuBLAS) straight into the NHWC output rows. A 1x1 stride-1 conv
needs no copy: its columns are the image itself. The transposed conv is a
GEMM ``gy @ W.T`` into window columns and col2im (KH*KW strided adds,
``windows.scatter_windows``); the kernel gradient sums ``cols.T @ gy`` over
the same chunks. The bias, the ReLU and a fused max pool run after the GEMM
on the whole output (the GPU's memory is fast: no cache-sized pieces).

Only the direct algorithm runs here: ``spec.algorithm`` is ignored
(Winograd's algorithms stay CPU-only), so ``conv2d`` never keeps tiles
and ``conv2d_kernel_grad`` gets none. No threads, no workspace pool: CuPy's
memory pool recycles the arrays. Array-API code (``get_array_module``),
so NumPy arrays run it too. Groups as the cpu set: group g uses input
channels [g*C/G, (g+1)*C/G) and output channels [g*C_out/G, ...). All
functions take and return arrays in ``spec.data_format``.
"""
from ...core import get_array_module
from ..windows import block_windows, scatter_windows, window_view
from .layout import crop_padding, from_nhwc, pad_nhwc, to_nhwc
from .pooling import max_pool2d_grad, window_max

# Bytes of window columns per chunk of images: bounds the im2col matrix
# (at least one image per chunk), large enough for cuBLAS to run at speed.
COLUMN_BYTES = 256 << 20


def conv2d(x, kernel, bias, spec, relu=False, keep_mask=False, keep_tiles=False):
    """y = conv(x, kernel) (+ bias), then max(y, 0) when ``relu``.
    x (N, H, W, C_in), kernel (KH, KW, C_in/G, C_out), bias (C_out,) or None
    -> y (N, OH, OW, C_out), ``spec`` a ConvSpec.

    Returns (y, passing, None): with ``relu`` and ``keep_mask``, ``passing``
    is where the ReLU passes (bool, shaped like y), else None; no Winograd
    tiles (``keep_tiles`` is accepted for the cpu set's signature)."""
    xp = get_array_module(x)
    y = _conv_nhwc(x, kernel, bias, spec)
    passing = None
    if relu:
        xp.maximum(y, 0, out=y)
        if keep_mask:
            passing = from_nhwc(y > 0, spec.data_format)
    return from_nhwc(y, spec.data_format), passing, None


def conv2d_max_pool(x, kernel, bias, spec, pool, relu=False, keep_state=False,
                    keep_tiles=False):
    """max_pool(conv(x, kernel) (+ bias)), then max(., 0) when ``relu``:
    x (N, H, W, C_in) -> (N, OH // PH, OW // PW, C_out), for the 'valid' max
    pool ``pool`` (a PoolSpec on the conv's output) whose strides equal its
    window (PH, PW). The bias is added before the pool (ties: the first
    wins), the ReLU after it (it commutes with max).

    Returns (y, argmax, passing, None): with ``keep_state``, the winning
    offset of each window (as ``max_pool2d``'s, channels_last) and, with
    ``relu``, where the ReLU passes (shaped like y); else None."""
    xp = get_array_module(x)
    y, argmax = window_max(block_windows(_conv_nhwc(x, kernel, bias, spec),
                                         pool.geometry.window), keep_state)
    passing = None
    if relu:
        xp.maximum(y, 0, out=y)
        if keep_state:
            passing = from_nhwc(y > 0, spec.data_format)
    return from_nhwc(y, spec.data_format), argmax, passing, None


def conv2d_transpose(g, kernel, bias, spec):
    """The adjoint of ``conv2d(., kernel, spec)`` in its input: g (N, OH, OW,
    C_out) -> (N, H, W, C_in) (+ bias of C_in). It is the conv's input
    gradient and, with Keras's kernel layout, the transposed convolution:
    a GEMM into window columns and col2im, chunk by chunk of images."""
    xp = get_array_module(g)
    geometry, groups = spec.geometry, spec.groups
    g = to_nhwc(g, spec.data_format)
    batch, c_out = g.shape[0], g.shape[3]
    kh, kw, cg, _ = kernel.shape
    oh, ow = geometry.out_hw
    # (G, C_out/G, KH*KW*C_in/G): per group, output channels -> window columns
    kernel_t = xp.ascontiguousarray(
        kernel.reshape(kh * kw, cg, groups, c_out // groups).transpose(2, 3, 0, 1)
    ).reshape(groups, c_out // groups, kh * kw * cg)
    image = xp.empty((batch,) + geometry.padded_hw + (spec.in_channels,), g.dtype)
    for images in _image_chunks(batch, oh * ow * kh * kw * spec.in_channels * g.itemsize):
        n = images.stop - images.start
        cols = _gemm(_split_groups(g[images].reshape(n * oh * ow, c_out), groups), kernel_t)
        # (KH*KW, n, OH, OW, G, C_in/G): what each window offset adds to the image
        values = cols.reshape(groups, n, oh, ow, kh * kw, cg).transpose(4, 1, 2, 3, 0, 5)
        scatter_windows(values[:, :, :, :, 0] if groups == 1 else values, geometry,
                        image[images])
    z = crop_padding(image, geometry)
    if bias is not None:
        z += bias
    return from_nhwc(z, spec.data_format)


def conv2d_kernel_grad(x, gy, spec, with_bias=False, pool=None, argmax=None, tiles=None):
    """The kernel gradient of ``conv2d(x, ., spec)``: (x, gy) -> gW (KH, KW,
    C_in/G, C_out), ``cols.T @ gy`` summed chunk by chunk of images.

    ``with_bias``: return (gW, gb), gb (C_out,) the sum of gy over its rows.
    ``pool`` (the PoolSpec of a fused max pool) and its ``argmax`` (N, PH,
    PW, C_out), channels_last: gy is given at the pooled size and is first
    scattered to the conv's output size. ``tiles`` is always None here (see
    the module docstring)."""
    xp = get_array_module(x)
    if pool is not None:
        gy = max_pool2d_grad(gy, argmax, pool)
    geometry, groups = spec.geometry, spec.groups
    gy = to_nhwc(gy, spec.data_format)
    x_padded = pad_nhwc(to_nhwc(x, spec.data_format), geometry)
    batch, (oh, ow), c_out = len(x), geometry.out_hw, gy.shape[3]
    kh, kw = geometry.window
    total = None  # (G, KH*KW*C_in/G, C_out/G)
    for images in _image_chunks(batch, oh * ow * kh * kw * spec.in_channels * x.itemsize):
        cols = _columns(x_padded[images], geometry, groups)
        gy_part = _split_groups(gy[images].reshape(-1, c_out), groups)
        part = _gemm(cols.transpose(0, 2, 1), gy_part)
        if total is None:
            total = part
        else:
            total += part
    gk = xp.ascontiguousarray(total.transpose(1, 0, 2)).reshape(
        kh, kw, spec.in_channels // groups, c_out)
    if with_bias:
        return gk, gy.reshape(-1, c_out).sum(axis=0)
    return gk


def bias_grad(gy, data_format):
    """The gradient of a per-channel bias: gy (N, H, W, C) (or (N, C, H, W))
    summed over all but the channel axis -> (C,)."""
    if data_format == 'channels_last':
        return gy.reshape(-1, gy.shape[3]).sum(axis=0)
    return gy.sum(axis=(0, 2, 3))


# --- helpers ---------------------------------------------------------------------------
def _conv_nhwc(x, kernel, bias, spec):
    """conv(x, kernel) (+ bias) as a new (N, OH, OW, C_out) array."""
    xp = get_array_module(x)
    geometry, groups = spec.geometry, spec.groups
    kh, kw, cg, c_out = kernel.shape
    (oh, ow), batch = geometry.out_hw, len(x)
    x_padded = pad_nhwc(to_nhwc(x, spec.data_format), geometry)
    y = xp.empty((batch, oh, ow, c_out), x.dtype)
    y_rows = y.reshape(-1, c_out)
    # (G, KH*KW*C_in/G, C_out/G): the kernel of each group
    kernel_groups = kernel.reshape(kh * kw * cg, groups, c_out // groups).transpose(1, 0, 2)
    for images in _image_chunks(batch, oh * ow * kh * kw * spec.in_channels * x.itemsize):
        rows = y_rows[images.start * oh * ow:images.stop * oh * ow]
        cols = _columns(x_padded[images], geometry, groups)
        if groups == 1:
            xp.matmul(cols[0], kernel_groups[0], out=rows)
        else:
            _split_groups(rows, groups)[...] = _gemm(cols, kernel_groups)
    if bias is not None:
        y += bias
    return y


def _columns(x_padded, geometry, groups):
    """The window columns (G, N*OH*OW, KH*KW*C/G) of the padded images
    ``x_padded`` (N, Hp, Wp, C), each row ordered as a (KH, KW, C/G, C_out)
    kernel's rows: a view of the image for a 1x1 stride-1 conv, else a copy."""
    xp = get_array_module(x_padded)
    n, c = x_padded.shape[0], x_padded.shape[3]
    cg = c // groups
    if geometry.window == (1, 1) and geometry.strides == (1, 1):
        return _split_groups(x_padded.reshape(-1, c), groups)
    (oh, ow), (kh, kw) = geometry.out_hw, geometry.window
    cols = xp.empty((groups, n * oh * ow, kh * kw * cg), x_padded.dtype)
    cols.reshape(groups, n, oh, ow, kh, kw, cg)[...] = window_view(x_padded, geometry).reshape(
        n, oh, ow, kh, kw, groups, cg).transpose(5, 0, 1, 2, 3, 4, 6)
    return cols


def _image_chunks(batch, bytes_per_image):
    """Slices of whole images, each with at most COLUMN_BYTES of window
    columns (at least one image)."""
    per_chunk = max(1, COLUMN_BYTES // max(1, bytes_per_image))
    return [slice(start, min(start + per_chunk, batch)) for start in range(0, batch, per_chunk)]


def _split_groups(rows, groups):
    """(M, C) as a (G, M, C/G) view."""
    m, c = rows.shape
    return rows.reshape(m, groups, c // groups).transpose(1, 0, 2)


def _gemm(a, b):
    """a[g] @ b[g] for (G, M, K) and (G, K, N) -> (G, M, N): one plain 2-D
    GEMM when there is one group, else one batched GEMM."""
    xp = get_array_module(a)
    if a.shape[0] == 1:
        return xp.matmul(a[0], b[0])[None]
    return xp.matmul(a, b)
