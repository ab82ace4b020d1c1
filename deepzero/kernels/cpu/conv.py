"""Convolution kernels: the chunked im2col + GEMM pipeline and its post-ops,
the transposed convolution (GEMM + col2im), the kernel and bias gradients.

A conv is im2col (strided copies) + GEMM written straight into the NHWC
output, chunk by chunk on every core: each cache-sized chunk of window
columns is multiplied while it is in cache, and no im2col matrix is ever
built whole (``im2col.each_cols_chunk``). The bias and an optional ReLU are
applied to each chunk's output in the same visit (as oneDNN's post-ops do):
a Keras ``Conv2D(activation='relu')`` needs no separate ReLU pass or
pre-activation array. A fused max pool is one more post-op: each chunk is
pooled while in cache, and the full-size output is never written.

3x3 stride-1 convs (one group, no dilation) may run Winograd's algorithms
instead (``winograd.py``; ``winograd.tile_size`` decides): the same chunks
and post-ops, with each chunk's output computed from tiles instead of
window columns (``_each_output_chunk`` hides which). Their input gradient is
again such a conv, their kernel gradient the algorithm's adjoint.

The kernel gradient sums ``cols.T @ gy`` over the same chunks, im2col'd again
(as fast as reading a kept matrix, which then is never written). The
transposed convolution (the input gradient) is a GEMM ``gy @ W.T`` into
window columns + col2im (KH*KW strided adds). A bias gradient is a GEMV with
ones. Large arrays come from the workspace pool (core/workspace.py).

Groups: group g uses input channels [g*C/G, (g+1)*C/G) and output channels
[g*C_out/G, ...), as Keras/TF/PyTorch do. All functions take and return
arrays in ``spec.data_format``.
"""
from ...core import get_array_module, parallel, workspace
from ..geometry import ConvSpec, WindowGeometry, window_offsets
from . import winograd
from .activations import relu_passing
from . import im2col
from .im2col import col2im, each_cols_chunk
from .layout import crop_padding, from_nhwc, pad_nhwc, to_nhwc
from .pooling import window_max
from ..windows import argmax_dtype, block_windows, window_view

# Bytes of output per piece of the bias + ReLU pass (within a core's L2).
POST_OP_BYTES = 512 << 10


def conv2d(x, kernel, bias, spec, relu=False, keep_mask=False, keep_tiles=False):
    """y = conv(x, kernel) (+ bias), then max(y, 0) when ``relu``.
    x (N, H, W, C_in), kernel (KH, KW, C_in/G, C_out), bias (C_out,) or None
    -> y (N, OH, OW, C_out), ``spec`` a ConvSpec.

    Returns (y, passing, tiles): with ``relu`` and ``keep_mask``,
    ``passing`` is where the ReLU passes (bool, shaped like y; written while
    the output is in cache) for the backward pass, else None; with
    ``keep_tiles``, where Winograd's algorithm ran, ``tiles`` are x's
    transformed tiles for ``conv2d_kernel_grad``, else None."""
    xp = get_array_module(x)
    c_out = kernel.shape[3]
    y = workspace.empty((len(x),) + spec.geometry.out_hw + (c_out,), x.dtype, xp)
    y_rows = y.reshape(-1, c_out)
    passing = workspace.empty(y.shape, bool, xp) if relu and keep_mask else None
    passing_rows = None if passing is None else passing.reshape(-1, c_out)

    def post_ops(core, start, stop):
        if relu:
            _post_ops(y_rows[start:stop], None, relu,
                      None if passing_rows is None else passing_rows[start:stop])
    tiles = _each_output_chunk(x, kernel, bias, spec,
                               lambda core, start, stop: y_rows[start:stop], post_ops,
                               keep_tiles=keep_tiles)
    if passing is not None:
        passing = from_nhwc(passing, spec.data_format)
    return from_nhwc(y, spec.data_format), passing, tiles


def conv2d_max_pool(x, kernel, bias, spec, pool, relu=False, keep_state=False,
                    keep_tiles=False):
    """max_pool(conv(x, kernel) (+ bias)), then max(., 0) when ``relu``:
    x (N, H, W, C_in) -> (N, OH // PH, OW // PW, C_out), for the 'valid' max
    pool ``pool`` (a PoolSpec on the conv's output) whose strides equal its
    window (PH, PW).

    Each chunk's conv output is pooled while it is in the core's cache, so
    the full-size conv output is never written nor read again. The bias is
    added before the pool (rounding can make ties, and the first of them
    wins, as in max pooling); the ReLU after it, at a quarter of the size: it
    commutes with max, and a window's winner passes the ReLU exactly where
    the pooled value is > 0, so that is the mask.

    Returns (y, argmax, passing, tiles): with ``keep_state``, the winning
    offset of each window (as ``max_pool2d``'s, channels_last) and, with
    ``relu``, where the ReLU passes (shaped like y); else None. ``tiles``
    as ``conv2d``'s."""
    xp = get_array_module(x)
    (_, ow), c_out = spec.geometry.out_hw, kernel.shape[3]
    y = workspace.empty((len(x),) + pool.geometry.out_hw + (c_out,), x.dtype, xp)
    argmax = passing = None
    if keep_state:
        argmax = workspace.empty(y.shape, argmax_dtype(pool.geometry.window), xp)
        passing = workspace.empty(y.shape, bool, xp) if relu else None
    scratch = {}  # core -> the conv output of its current chunk
    window = pool.geometry.window

    def chunk_output(core, start, stop):
        scratch[core] = workspace.scratch((stop - start, c_out), x.dtype, xp)
        return scratch[core]

    def targets(start, stop):
        """The chunk's rows in y, argmax and passing, and the rows it reads."""
        images, rows, read, pooled = _pooled_rows(pool.geometry, start // ow, stop // ow)
        return rows, read, [None if a is None else a[images, pooled]
                            for a in (y, argmax, passing)]

    def pool_chunk(core, start, stop):
        rows, read, (y_part, argmax_part, passing_part) = targets(start, stop)
        if read.stop:
            part = scratch[core].reshape(-1, rows, ow, c_out)[:, read]
            _pool_part(part, window, relu, y_part, argmax_part, passing_part)

    def pool_tiles(core, tiles, start, stop):
        _, read, parts = targets(start, stop)
        if read.stop:
            _pool_tile_outputs(tiles, window[0], bias, relu, *parts)
    # Winograd's output tiles are pooled where they lie when every pool
    # window falls inside one tile: no full-size output is written at all.
    m = winograd.tile_size(spec, x.dtype, c_out)
    in_tiles = m and window[0] == window[1] and m % window[0] == 0
    tiles = _each_output_chunk(x, kernel, bias, spec, chunk_output, pool_chunk,
                               row_multiple=window[0], keep_tiles=keep_tiles,
                               visit_tiles=pool_tiles if in_tiles else None)
    if passing is not None:
        passing = from_nhwc(passing, spec.data_format)
    return from_nhwc(y, spec.data_format), argmax, passing, tiles


def conv2d_transpose(g, kernel, bias, spec):
    """The adjoint of ``conv2d(., kernel, spec)`` in its input: g (N, OH, OW,
    C_out) -> (N, H, W, C_in) (+ bias of C_in). It is the conv's input
    gradient and, with Keras's kernel layout, the transposed convolution.

    Where Winograd's algorithms apply (a 3x3 stride-1 conv padded by at most
    2 on each side) it is itself such a conv: of g, padded by 2 - pad, with
    the kernel flipped in space and its channel axes swapped. Else a GEMM
    into window columns and col2im."""
    flipped = _flipped_conv(spec, kernel.shape[3], g.dtype)
    if flipped is not None:
        return conv2d(g, kernel[::-1, ::-1].transpose(0, 1, 3, 2), bias, flipped)[0]
    geometry = spec.geometry
    xp = get_array_module(g)
    g = to_nhwc(g, spec.data_format)
    batch, c_out = g.shape[0], g.shape[3]
    kh, kw, cg, _ = kernel.shape
    groups = spec.groups
    # (KH*KW, G, C_out/G, C_in/G): for each window offset and group, the
    # map from output channels back to input channels
    kernel_t = kernel.reshape(kh * kw, cg, groups, c_out // groups).transpose(0, 2, 3, 1)
    image = workspace.empty((batch,) + geometry.padded_hw + (spec.in_channels,), g.dtype, xp)
    # Each core takes its own images, a few at a time: their window
    # columns (GEMM) are scattered back (col2im) while they are in cache.
    oh, ow = geometry.out_hw
    window_cells = kh * kw * oh * ow * spec.in_channels
    per_chunk = max(1, im2col.CHUNK_BYTES // (window_cells * g.dtype.itemsize))

    def transpose_images(g_part, image_part):
        buffer = workspace.scratch((min(per_chunk, len(g_part)) * window_cells,), g.dtype, xp)
        for start in range(0, len(g_part), per_chunk):
            images = g_part[start:start + per_chunk]
            rows = images.shape[0] * oh * ow
            cols = buffer[:images.shape[0] * window_cells].reshape(kh * kw, groups, rows, cg)
            parallel.matmul(_split_groups(images.reshape(rows, c_out), groups), kernel_t, cols)
            col2im(cols.reshape((kh * kw, groups, images.shape[0]) + geometry.out_hw + (cg,)),
                   geometry, image_part[start:start + per_chunk])
    parallel.over_batch(transpose_images, g, image, min_bytes=0)
    z = crop_padding(image, geometry)
    if bias is not None:
        z += bias
    return from_nhwc(z, spec.data_format)


def conv2d_kernel_grad(x, gy, spec, with_bias=False, pool=None, argmax=None, tiles=None):
    """The kernel gradient of ``conv2d(x, ., spec)``: (x, gy) -> gW (KH, KW,
    C_in/G, C_out), ``cols.T @ gy`` summed chunk by chunk of x's window
    columns: each core adds up its own chunks, then the cores' sums are added.

    ``with_bias``: return (gW, gb), gb (C_out,) the sum of gy over its rows,
    taken from each chunk of gy while it is in cache for the GEMM.

    ``pool`` (the PoolSpec of a fused max pool) and its ``argmax`` (N, PH,
    PW, C_out), channels_last: gy is given at the pooled size. The sum over output rows may
    run in any order, so it runs pool offset by pool offset: for offset
    (a, b), the windows of the output cells (a + i*ph, b + j*pw) against
    gy * (argmax == (a, b)), both at the pooled size and contiguous. The
    full-size gradient, 3/4 zeros, is never built.

    ``tiles``: x's transformed tiles, kept by ``conv2d`` (Winograd's
    algorithm then runs with their tile size, and x is not read again).
    """
    xp = get_array_module(x)
    geometry = spec.geometry
    gy_nhwc = to_nhwc(gy, spec.data_format)
    if tiles is not None:
        m = winograd.tile_size_of(tiles)
    else:
        m = winograd.tile_size(spec, x.dtype, gy_nhwc.shape[3]) if pool is None else 0
    if m:
        gk = winograd.kernel_grad(to_nhwc(x, spec.data_format), gy_nhwc, geometry.pads, m,
                                  tiles)
        return (gk, bias_grad(gy_nhwc, 'channels_last')) if with_bias else gk
    windows = _windows(x, spec)
    gy_rows = gy_nhwc.reshape(-1, gy_nhwc.shape[3])
    kh, kw = geometry.window
    gk = xp.empty((kh, kw, spec.in_channels // spec.groups, gy_rows.shape[1]), x.dtype)
    gk_groups = _grouped_kernel(gk, spec.groups)  # (G, K, C_out/G)
    sums = {}  # core -> [its kernel sum, its bias sum]

    def accumulate(core, cols, gy_chunk):
        product = xp.matmul(cols.transpose(0, 2, 1), _split_groups(gy_chunk, spec.groups),
                            out=workspace.empty(gk_groups.shape, x.dtype, xp))
        bias_sum = xp.ones(len(gy_chunk), x.dtype) @ gy_chunk if with_bias else None
        if core in sums:
            sums[core][0] += product
            if with_bias:
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
        winner_rows = argmax.reshape(gy_rows.shape)
        (ph, pw), (out_h, out_w) = pool.geometry.window, pool.geometry.out_hw
        for k, (a, b) in window_offsets((ph, pw)):
            def offset_k(core, cols, start, stop, k=k):
                won = xp.equal(winner_rows[start:stop], k,
                               out=workspace.empty((stop - start, gy_rows.shape[1]), bool, xp))
                accumulate(core, cols, xp.multiply(
                    gy_rows[start:stop], won,
                    out=workspace.empty((stop - start, gy_rows.shape[1]), x.dtype, xp)))
            each_cols_chunk(windows[:, a:a + ph * out_h:ph, b:b + pw * out_w:pw], spec.groups,
                            offset_k, min_chunk_bytes)
    (gk_groups[...], gb), *others = sums.values()
    for kernel_sum, bias_sum in others:
        gk_groups += kernel_sum
        if with_bias:
            gb += bias_sum
    return (gk, gb) if with_bias else gk


def bias_grad(gy, data_format):
    """The gradient of a per-channel bias: gy (N, H, W, C) (or (N, C, H, W))
    summed over all but the channel axis -> (C,).

    A product with a vector of ones: BLAS streams it on every core, ~8x
    faster than NumPy's sum over leading axes."""
    xp = get_array_module(gy)
    if data_format == 'channels_last':
        rows = gy.reshape(-1, gy.shape[3])
        return xp.ones(rows.shape[0], gy.dtype) @ rows
    per_image = gy.reshape(gy.shape[0], gy.shape[1], -1)  # (N, C, H*W)
    return (per_image @ xp.ones(per_image.shape[2], gy.dtype)).sum(axis=0)


# --- helpers ---------------------------------------------------------------------------
def _each_output_chunk(x, kernel, bias, spec, into, visit, row_multiple=1, keep_tiles=False,
                       visit_tiles=None):
    """conv(x, kernel) (+ bias) chunk by chunk on every core: Winograd's
    F(m x m, 3 x 3) where ``winograd.tile_size`` picks it, else im2col +
    GEMM. For each chunk of NHWC output rows [start, stop) (whole images, or
    a run of one image's rows starting at a multiple of ``row_multiple``),
    the conv's values are written into ``into(core, start, stop)`` (a
    (stop - start, C_out) array), then ``visit(core, start, stop)`` runs
    while they are in the core's cache. The bias is added as Winograd's
    tiles are copied out, or in L2-sized pieces after the GEMM. Returns x's
    transformed tiles with ``keep_tiles`` where Winograd's algorithm ran,
    else None. ``visit_tiles(core, tiles, start, stop)``, if given, takes
    the place of ``into`` and ``visit`` where Winograd's algorithm runs: it
    gets a chunk's output tiles (as ``winograd.each_output_chunk`` gives
    them, without the bias) to use where they lie."""
    c_out, ow = kernel.shape[3], spec.geometry.out_hw[1]
    m = winograd.tile_size(spec, x.dtype, c_out)
    if m:
        def write_tiles(core, tiles, start, stop):
            winograd.tiles_into(tiles, into(core, start, stop).reshape(
                tiles.shape[0], -1, ow, c_out), bias)
            visit(core, start, stop)
        if visit_tiles is not None:
            write_tiles = visit_tiles
        return winograd.each_output_chunk(to_nhwc(x, spec.data_format), kernel,
                                          spec.geometry.pads, m, write_tiles, row_multiple,
                                          keep_tiles)
    groups = spec.groups
    kernel_groups = _grouped_kernel(kernel, groups)

    def multiply(core, cols, start, stop):
        rows = into(core, start, stop)
        _gemm(cols, kernel_groups, _split_groups(rows, groups))
        if bias is not None:
            _post_ops(rows, bias, False, None)
        visit(core, start, stop)
    each_cols_chunk(_windows(x, spec), groups, multiply, row_multiple=row_multiple)
    return None


def _flipped_conv(spec, c_in, dtype):
    """The ConvSpec of the conv that computes the input gradient of
    ``spec``'s conv by Winograd's algorithms, or None where they are not to
    run: a 3x3 stride-1 conv of the output gradient (``c_in`` channels,
    ``dtype``), padded by 2 - pad on each side (so a pad of at most 2)."""
    if not winograd.applies(spec) or any(p > 2 for side in spec.geometry.pads for p in side):
        return None
    pads = tuple((2 - before, 2 - after) for before, after in spec.geometry.pads)
    geometry = WindowGeometry('conv2d_transpose', spec.geometry.out_hw, (3, 3), (1, 1),
                              (1, 1), pads)
    flipped = ConvSpec(geometry, 1, spec.data_format, c_in, spec.algorithm)
    return flipped if winograd.tile_size(flipped, dtype, spec.in_channels) else None


def _windows(x, spec):
    """The (N, OH, OW, KH, KW, C_in) window view of x, padded."""
    geometry = spec.geometry
    return window_view(pad_nhwc(to_nhwc(x, spec.data_format), geometry), geometry)


def _post_ops(rows, bias, relu, passing):
    """rows += bias, then max(rows, 0) and where that passes, in pieces
    that stay in L1/L2 from one pass to the next."""
    xp = get_array_module(rows)
    piece = max(1, POST_OP_BYTES // (rows.shape[1] * rows.itemsize))
    for start in range(0, rows.shape[0], piece):
        part = rows[start:start + piece]
        if bias is not None:
            xp.add(part, bias, out=part)
        if relu:
            xp.maximum(part, 0, out=part)
        if passing is not None:
            relu_passing(part, None, passing[start:start + piece])


def _pooled_rows(pool_geometry, first, last):
    """Where the conv-output rows [first, last) of one chunk sit, counted
    over all images (image * OH + row): whole images, or a run of one
    image's rows that starts at a multiple of PH (``each_cols_chunk``
    cuts them so). Returns (images, rows, read, pooled): a slice of
    images, the rows per image in the chunk, the slice of those rows
    that the pool reads, and the slice of pooled rows it writes."""
    oh, ph = pool_geometry.in_hw[0], pool_geometry.window[0]
    image, row = divmod(first, oh)
    if row == 0 and last - first >= oh:  # whole images
        count, rows = (last - first) // oh, oh
    else:  # a run of one image's rows
        count, rows = 1, last - first
    read = max(0, min(rows, pool_geometry.out_hw[0] * ph - row))
    return (slice(image, image + count), rows, slice(0, read),
            slice(row // ph, (row + read) // ph))


def _pool_part(part, window, relu, target, argmax, passing):
    """Pool ``part`` (K, rows, OW, C_out), rows of a conv output, into
    ``target``: max (+ the winners in argmax), then the ReLU (+ where it passes). A chunk's
    rows (a few MB at most) stay in cache: measured, cutting them into
    L2-sized pieces cost more in NumPy calls than it saved."""
    xp = get_array_module(part)
    scratch = ()
    if argmax is not None:
        scratch = (argmax, xp.empty(target.shape, bool), xp.empty(target.shape, argmax.dtype))
    window_max(block_windows(part, window), target, *scratch)
    if relu:
        xp.maximum(target, 0, out=target)
    if passing is not None:
        relu_passing(target, None, passing)


def _pool_tile_outputs(tiles, window, bias, relu, target, argmax, passing):
    """Max-pool Winograd's output tiles (K, TR, m, TX, m, C) by ``window``
    (a divisor of m) where they lie: the bias is added to the tiles in place,
    each pooled cell's candidates are contiguous runs of the tiles' buffer,
    and only the pooled tiles (+ winners, + ReLU mask) are written out, into
    ``target`` (K, rows, OW // window, C) and the others like it (cut at the
    edge; None for those not wanted)."""
    xp = get_array_module(tiles)
    k, tr, m, tx, _, c = tiles.shape
    q = m // window
    values = tiles.transpose(2, 4, 0, 1, 3, 5)  # (m, m, K, TR, TX, C): the buffer's own order
    if bias is not None:
        xp.add(values, bias, out=values)
    windows = values.reshape(q, window, q, window, -1).transpose(0, 2, 1, 3, 4)
    pooled = workspace.scratch((q, q, windows.shape[-1]), tiles.dtype, xp)
    scratch = ()
    if argmax is not None:
        scratch = tuple(workspace.scratch(pooled.shape, dtype, xp)
                        for dtype in (argmax.dtype, bool, argmax.dtype))
    window_max(windows, pooled, *scratch)
    if relu:
        xp.maximum(pooled, 0, out=pooled)

    def as_tiles(a):  # (q, q, K*TR*TX*C) -> (K, TR, q, TX, q, C)
        return a.reshape(q, q, k, tr, tx, c).transpose(2, 3, 0, 4, 1, 5)
    winograd.tiles_into(as_tiles(pooled), target)
    if argmax is not None:
        winograd.tiles_into(as_tiles(scratch[0]), argmax)
    if passing is not None:
        mask = workspace.scratch(pooled.shape, bool, xp)
        relu_passing(pooled, None, mask)
        winograd.tiles_into(as_tiles(mask), passing)


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
