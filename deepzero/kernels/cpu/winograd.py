"""Winograd's minimal filtering for 3x3 stride-1 convolutions: F(2x2, 3x3),
F(3x3, 3x3) and F(4x4, 3x3) (Lavin and Gray, "Fast Algorithms for
Convolutional Neural Networks", 2015).

A direct 3x3 conv spends 9 multiply-adds per output cell and channel pair.
F(m x m, 3 x 3) computes an m x m tile of output from an a x a tile of input
(a = m + 2; tiles overlap by 2) in a*a products instead of 9*m*m: 16 for 4
outputs (2.25x fewer) with m = 2, 25 for 9 (3.24x) with m = 3, 36 for 16
(4x fewer) with m = 4:

    Y = A^T [ (G g G^T) * (B^T d B) ] A      (* elementwise, per channel pair)

g is the 3x3 kernel, d an input tile, and B, G, A small fixed matrices. Over
channels the elementwise product becomes a sum: for each of the a*a tile
positions p, the output channels are one GEMM of the tiles' transformed
inputs (tiles x C_in) by the transformed kernel (C_in x C_out). The a*a
GEMMs do the multiplications; the transforms are additions and small
constant factors.

A 2-D transform B^T d B is two 1-D ones, each a GEMM over every channel
and tile at once: B^T times the tiles' rows, then times their columns
(``_transform``: a*a*2a multiplications per tile and channel, where one
GEMM with the a*a x a*a matrix kron(B^T, B^T) would do a*a*a*a).
So a conv here is this per chunk of tiles:

    gather    the chunk's input tiles into X (a, a, tiles, C_in)     (a copy)
    input     V = B^T X B                                           (2 GEMMs)
    product   M[p] = V[p] @ U[p] for each of the a*a positions p     (a*a GEMMs)
    output    Y = A^T M A  ->  (m, m, tiles, C_out)                 (2 GEMMs)
    scatter   Y's tiles into the output rows (or max-pooled where
              they lie: kernels/cpu/conv.py)                        (a copy)

with U = G g G^T, the kernel transformed once per call. Chunks are cut
so that X, V, M and Y stay small, and each core runs its own chunks (as the
im2col pipeline does), so the transformed tiles never travel through memory
whole. Where the image is not a whole number of tiles, the input is padded
with zeros to whole tiles and the extra outputs are never written.

The kernel gradient is the adjoint of the same algorithm in g: per chunk,
the output gradient's tiles are transformed by A (A gy A^T), each
position's V[p]^T @ gM[p] is summed over the chunks, and G^T (G^T . G)
takes the sum back to 3x3. The input gradient of a 3x3 stride-1 conv is
again such a conv (of the padded gradient with the flipped kernel), so it
runs here too (``kernels/cpu/conv.py`` sets it up).

Accuracy: the transforms add and scale values, so float32 results differ
from the direct conv's by a little more than its own rounding (measured
figures: docs/performance.md); ``tile_size`` says when each is used.
"""
import math

import numpy as np

from ...core import get_array_module, parallel, runtime, workspace
from .layout import assign

# Input tiles per chunk, at least (GEMMs with fewer rows run below BLAS's
# peak) and at most about CHUNK_BYTES of transformed input per chunk.
MIN_CHUNK_TILES = 256
CHUNK_BYTES = 2 << 20
# The forward keeps x's transformed tiles for the kernel gradient (saving it
# one input transform) only up to this size: they are 2.25x (F(4x4)) to 4x
# (F(2x2)) the size of x, and a net trained whole would keep them for every
# layer at once.
KEEP_INPUT_BYTES = 64 << 20

# The transform matrices: input B^T (a x a), kernel G (a x 3), output A^T
# (m x a). Toom-Cook's, at the interpolation points 0, 1, -1 and infinity for
# m = 2, plus 2 for m = 3, plus 2 and -2 for m = 4 (m = 2 and 4 as printed
# by Lavin and Gray).
_TRANSFORMS = {
    2: ([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]],
        [[1, 0, 0], [1 / 2, 1 / 2, 1 / 2], [1 / 2, -1 / 2, 1 / 2], [0, 0, 1]],
        [[1, 1, 1, 0], [0, 1, -1, -1]]),
    3: ([[2, -1, -2, 1, 0], [0, -2, -1, 1, 0], [0, 2, -3, 1, 0], [0, -1, 0, 1, 0],
         [0, 2, -1, -2, 1]],
        [[1 / 2, 0, 0], [-1 / 2, -1 / 2, -1 / 2], [-1 / 6, 1 / 6, -1 / 6],
         [1 / 6, 1 / 3, 2 / 3], [0, 0, 1]],
        [[1, 1, 1, 1, 0], [0, 1, -1, 2, 0], [0, 1, 1, 4, 1]]),
    4: ([[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
         [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]],
        [[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
         [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]],
        [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]]),
}
TILE_SIZES = tuple(_TRANSFORMS)
_ALGORITHM_TILES = {'direct': 0, 'winograd2': 2, 'winograd3': 3, 'winograd4': 4}
_matrices = {}  # (m, dtype) -> (B^T, G, A^T)


def transforms(m, dtype):
    """The matrices of F(m x m, 3 x 3) in ``dtype``: B^T (a, a), G (a, 3),
    A^T (m, a)."""
    key = (m, np.dtype(dtype))
    if key not in _matrices:
        _matrices[key] = tuple(np.array(t, dtype) for t in _TRANSFORMS[m])
    return _matrices[key]


def applies(spec):
    """Whether Winograd's algorithms compute the conv of ``spec`` (a
    ConvSpec): a 3x3 window, stride 1, no dilation, one group."""
    geometry = spec.geometry
    return (geometry.window == (3, 3) and geometry.strides == (1, 1) and
            geometry.dilation == (1, 1) and spec.groups == 1)


def tile_size(spec, dtype, c_out):
    """The output tile size m of the Winograd conv to run for ``spec``, or 0
    for the direct (im2col) path.

    ``spec.algorithm`` (else the ``conv_algorithm`` runtime setting) decides:
    'direct' is 0, 'winograd2', 'winograd3' and 'winograd4' are 2, 3 and 4
    where ``applies(spec)``; 'auto' picks by the per-layer measurements in
    docs/performance.md, and only for float32 (float64 is asked for its
    accuracy): from 16 input channels, the m whose tiles, cut at the output's
    edge, take the fewest products (tiles x (m + 2)^2: the GEMMs' work, and
    the transforms' too), the larger m on a tie; small channel counts stay
    direct.
    """
    if not applies(spec):
        return 0
    algorithm = spec.algorithm or runtime.get('conv_algorithm')
    if algorithm != 'auto':
        return _ALGORITHM_TILES[algorithm]
    if np.dtype(dtype) != np.float32 or spec.in_channels < 16:
        return 0
    oh, ow = spec.geometry.out_hw
    return min(sorted(TILE_SIZES, reverse=True),
               key=lambda m: math.ceil(oh / m) * math.ceil(ow / m) * (m + 2) ** 2)


def tile_size_of(tiles):
    """The tile size m of transformed input tiles (a*a, tiles, C), a = m + 2."""
    return math.isqrt(tiles.shape[0]) - 2


def each_output_chunk(x, kernel, pads, m, visit, row_multiple=1, keep_input=False):
    """conv(x, kernel) by F(m x m, 3 x 3), chunk by chunk on every core.

    x (N, H, W, C_in) channels_last, kernel (3, 3, C_in, C_out), ``pads``
    ((top, bottom), (left, right)): the output is (N, OH, OW, C_out), OH = H
    + top + bottom - 2. For each chunk (whole images, or a run of one image's
    output rows starting at a multiple of ``row_multiple``) calls
    ``visit(core, tiles, start, stop)``: [start, stop) are the chunk's NHWC
    output rows (as ``im2col.each_cols_chunk`` counts them) and ``tiles``
    (K, TR, m, TX, m, C_out) its outputs as K images of TR x TX tiles, a
    scratch view that ``tiles_into`` writes out (tiles past the output's
    edge hold values no one reads).

    ``keep_input``: also return the transformed input tiles of all the
    images, (a*a, N*TY*TX, C_in), for ``kernel_grad`` (it then skips
    computing them again), if they take at most KEEP_INPUT_BYTES; else None.
    """
    xp = get_array_module(x)
    n, _, _, c_in = x.shape
    c_out = kernel.shape[3]
    a = m + 2
    padded, (oh, ow), (ty, tx) = _padded_tiles(x, pads, m)
    input_t, kernel_t, output_t = transforms(m, x.dtype)
    u = workspace.scratch((a, a, c_in, c_out), x.dtype, xp)
    _kernel_transform(kernel_t, [xp.ascontiguousarray(kernel)], u)
    u = u.reshape(a * a, c_in, c_out)
    chunks = _tile_chunks(n, ty, tx, a * a * max(c_in, c_out) * x.dtype.itemsize,
                          row_multiple // math.gcd(row_multiple, m))
    cores = min(parallel.THREADS, len(chunks))
    kept_shape = (a * a, n * ty * tx, c_in)
    keep_input = keep_input and math.prod(kept_shape) * x.dtype.itemsize <= KEEP_INPUT_BYTES
    kept = workspace.empty(kept_shape, x.dtype, xp) if keep_input else None

    def run(core_numbers):
        for core in core_numbers:
            mine = chunks[len(chunks) * core // cores:len(chunks) * (core + 1) // cores]
            most = max(_count(images) * _count(rows) for images, rows in mine) * tx
            gathered = workspace.scratch((a * a * most * c_in,), x.dtype, xp)
            scratch = workspace.scratch((a * a * most * max(c_in, c_out),), x.dtype, xp)
            products = workspace.scratch((a * a * most * c_out,), x.dtype, xp)
            for images, rows in mine:
                k, tr = _count(images), _count(rows)
                tiles = k * tr * tx
                v = _input_tiles(padded, images, rows, m, gathered, scratch, input_t,
                                 None if kept is None else _kept_part(kept, images, rows, ty, tx))
                product = products[:a * a * tiles * c_out].reshape(a * a, tiles, c_out)
                xp.matmul(v.reshape(a * a, tiles, c_in), u, out=product)
                # Y = A^T M A, into the products' buffer (M is read first)
                y = _transform(output_t, product.reshape(a, a, tiles * c_out), scratch,
                               products[:m * m * tiles * c_out].reshape(m, m, -1))
                first_row = rows.start * m
                start = (images.start * oh + first_row) * ow
                stop = start + k * min(oh - first_row, tr * m) * ow
                visit(core, y.reshape(m, m, k, tr, tx, c_out).transpose(2, 3, 0, 4, 1, 5),
                      start, stop)
    parallel.over_batch(run, np.arange(cores), min_bytes=0)
    return kept


def tiles_into(tiles, target, bias=None):
    """Write output tiles (K, TR, m, TX, m, C) into ``target`` (K, rows, OW,
    C), rows <= TR*m and OW <= TX*m, adding ``bias`` (C,) if given: the tiles
    that cross the target's bottom or right edge are cut."""
    xp = get_array_module(target)
    for tile_part, target_part in _tile_pieces(tiles.shape, target):
        if bias is None:
            target_part[...] = tiles[tile_part]
        else:
            xp.add(tiles[tile_part], bias, out=target_part)


def kernel_grad(x, gy, pads, m, input_tiles=None):
    """The kernel gradient of ``each_output_chunk``'s conv, by the adjoint of
    its algorithm: x (N, H, W, C_in), gy (N, OH, OW, C_out), both
    channels_last -> gW (3, 3, C_in, C_out). Each core sums its own chunks'
    per-position products; the cores' sums are added at the end.
    ``input_tiles``: x's transformed tiles as ``each_output_chunk`` kept them
    (then x itself is not read)."""
    xp = get_array_module(x)
    n, h, w, c_in = x.shape
    c_out = gy.shape[3]
    a = m + 2
    (top, bottom), (left, right) = pads
    oh, ow = h + top + bottom - 2, w + left + right - 2
    ty, tx = -(-oh // m), -(-ow // m)
    padded = None if input_tiles is not None else _padded_tiles(x, pads, m)[0]
    input_t, kernel_t, output_t = transforms(m, x.dtype)
    chunks = _tile_chunks(n, ty, tx, a * a * max(c_in, c_out) * x.dtype.itemsize)
    cores = min(parallel.THREADS, len(chunks))
    sums = [None] * cores  # per core: (a*a, C_in, C_out)
    ragged = oh % m or ow % m

    def run(core_numbers):
        for core in core_numbers:
            mine = chunks[len(chunks) * core // cores:len(chunks) * (core + 1) // cores]
            most = max(_count(images) * _count(rows) for images, rows in mine) * tx
            gathered = None if padded is None else workspace.scratch((a * a * most * c_in,),
                                                                     x.dtype, xp)
            scratch = workspace.scratch((a * a * most * max(c_in, c_out),), x.dtype, xp)
            gy_tiles = workspace.scratch((m * m * most * c_out,), x.dtype, xp)
            gy_transformed = workspace.scratch((a * a * most * c_out,), x.dtype, xp)
            product = workspace.scratch((a * a, c_in, c_out), x.dtype, xp)
            total = xp.zeros((a, a, c_in, c_out), x.dtype)
            for images, rows in mine:
                k, tr = _count(images), _count(rows)
                tiles = k * tr * tx
                if padded is None:
                    v = _kept_part(input_tiles, images, rows, ty, tx)
                else:
                    v = _input_tiles(padded, images, rows, m, gathered, scratch, input_t)
                g = gy_tiles[:m * m * tiles * c_out].reshape(m, m, k, tr, tx, c_out)
                first_row = rows.start * m
                last_row = min(oh, (rows.start + tr) * m)
                if ragged or last_row - first_row < tr * m:
                    g[...] = 0
                for tile_part, source in _tile_pieces(
                        (k, tr, m, tx, m, c_out), gy[images, first_row:last_row]):
                    g.transpose(2, 3, 0, 4, 1, 5)[tile_part] = source
                gm = _transform(output_t.T, g.reshape(m, m, tiles * c_out), scratch,
                                gy_transformed[:a * a * tiles * c_out].reshape(a, a, -1))
                xp.matmul(v.reshape(a * a, tiles, c_in).transpose(0, 2, 1),
                          gm.reshape(a * a, tiles, c_out), out=product)
                total += product.reshape(total.shape)
            sums[core] = total
    parallel.over_batch(run, np.arange(cores), min_bytes=0)
    gk = xp.empty((3, 3, c_in, c_out), x.dtype)
    _kernel_transform(kernel_t.T, sums, gk)
    return gk


def _kept_part(kept, images, rows, ty, tx):
    """The part (a*a, tiles, C) of kept input tiles (a*a, N*TY*TX, C), tiles
    in image, tile row, tile column order, that holds the tile rows ``rows``
    of ``images`` (whole images, or rows of one image: one run of tiles)."""
    first = (images.start * ty + rows.start) * tx
    return kept[:, first:first + _count(images) * _count(rows) * tx]


# --- helpers ---------------------------------------------------------------------------
def _padded_tiles(x, pads, m):
    """x (N, H, W, C) zero padded by ``pads`` and further at the bottom and
    right to whole tiles: returns (padded (N, TY*m + 2, TX*m + 2, C),
    (OH, OW), (TY, TX)). x itself where it needs no padding (tiles are read
    through strides, so it need not be contiguous)."""
    xp = get_array_module(x)
    n, h, w, c = x.shape
    (top, bottom), (left, right) = pads
    oh, ow = h + top + bottom - 2, w + left + right - 2
    ty, tx = -(-oh // m), -(-ow // m)
    hp, wp = ty * m + 2, tx * m + 2
    if (hp, wp) == (h, w) and not top and not left:
        return x, (oh, ow), (ty, tx)
    padded = workspace.scratch((n, hp, wp, c), x.dtype, xp)
    # zero only the border: the interior is overwritten by x
    padded[:, :top] = 0
    padded[:, top + h:] = 0
    padded[:, top:top + h, :left] = 0
    padded[:, top:top + h, left + w:] = 0
    parallel.over_batch(assign, padded[:, top:top + h, left:left + w], x)
    return padded, (oh, ow), (ty, tx)


def _kernel_transform(matrix, kernels, out):
    """out = ``matrix @ k @ matrix.T`` for every channel pair of the sum of
    ``kernels`` (a list of (b, b, C_in, C_out) arrays, C-contiguous), ``out``
    (a, a, C_in, C_out): the kernel transform G g G^T, or G^T . G back. Split
    over the input channels on every core (a 512 x 512 kernel's transform
    takes as long as a small layer's conv)."""
    xp = get_array_module(out)
    a, b = matrix.shape
    channels_first = [k.transpose(2, 0, 1, 3) for k in kernels]

    def part(out_part, *kernel_parts):   # (C', a, a, C_out), (C', b, b, C_out)...
        c_part, c_out = out_part.shape[0], out_part.shape[3]
        values = kernel_parts[0].transpose(1, 2, 0, 3)
        if len(kernel_parts) > 1:
            values = values.copy()
            for other in kernel_parts[1:]:
                values += other.transpose(1, 2, 0, 3)
        scratch = xp.empty((b * a * c_part * c_out,), out.dtype)
        _transform(matrix, values.reshape(b, b, c_part * c_out), scratch,
                   out_part.transpose(1, 2, 0, 3).reshape(a, a, c_part * c_out))
    parallel.over_batch(part, out.transpose(2, 0, 1, 3), *channels_first)


def _transform(matrix, values, scratch, out):
    """``matrix @ tile @ matrix.T`` for every tile of ``values`` (b, b,
    cols): two batches of GEMMs, over the first axis (into ``scratch``, at
    least a*b*cols elements), then the second, into ``out`` (a, a, cols; it
    may lie in the buffer of ``values``, which is read first). ``values``
    and ``out`` may be strided views whose last axis is contiguous.
    ``matrix`` (a, b). Returns ``out``."""
    xp = get_array_module(values)
    a, b = matrix.shape
    cols = values.shape[2]
    # first[j, i'] = sum_i matrix[i', i] values[i, j]: one GEMM per j
    first = scratch[:b * a * cols].reshape(b, a, cols)
    xp.matmul(matrix, values.transpose(1, 0, 2), out=first)
    # out[i', j'] = sum_j matrix[j', j] first[j, i']: one GEMM per i'
    xp.matmul(matrix, first.transpose(1, 0, 2), out=out)
    return out


def _input_tiles(padded, images, rows, m, gathered, scratch, input_t, out=None):
    """The transformed input tiles V (a, a, K*TR*TX*C) of the tile rows
    ``rows`` of ``images`` (slices): the tiles are gathered into
    ``gathered`` (tile positions first), then B^T . B is applied (through
    ``scratch``), and V is written back into ``gathered``, or into ``out``
    (a*a, K*TR*TX, C) if given."""
    xp = get_array_module(padded)
    a = m + 2
    n, hp, wp, c = padded.shape
    sn, sh, sw, sc = padded.strides
    tile_view = xp.lib.stride_tricks.as_strided(
        padded, shape=(n, (hp - 2) // m, (wp - 2) // m, a, a, c),
        strides=(sn, m * sh, m * sw, sh, sw, sc), writeable=False)[images, rows]
    k, tr, tx = tile_view.shape[:3]
    size = a * a * k * tr * tx * c
    x_tiles = gathered[:size].reshape(a, a, k, tr, tx, c)
    x_tiles[...] = tile_view.transpose(3, 4, 0, 1, 2, 5)
    cols = size // (a * a)
    out = gathered[:size] if out is None else out
    return _transform(input_t, x_tiles.reshape(a, a, cols), scratch, out.reshape(a, a, cols))


def _tile_chunks(n, ty, tx, bytes_per_tile, row_multiple=1):
    """Cut N images of TY x TX tiles into chunks of MIN_CHUNK_TILES to
    CHUNK_BYTES / ``bytes_per_tile`` tiles, at least one per core: whole
    images when they are small, else runs of tile rows of one image (a
    multiple of ``row_multiple`` long, but the last). Returns (images, rows)
    pairs of slices."""
    tiles = max(MIN_CHUNK_TILES, CHUNK_BYTES // bytes_per_tile)
    tiles = min(tiles, -(-n * ty * tx // parallel.THREADS))
    if ty * tx <= tiles:
        per_chunk = max(1, tiles // (ty * tx))
        return [(slice(i, min(i + per_chunk, n)), slice(0, ty)) for i in range(0, n, per_chunk)]
    rows = max(1, tiles // tx // row_multiple) * row_multiple
    return [(slice(i, i + 1), slice(r, min(r + rows, ty)))
            for i in range(n) for r in range(0, ty, rows)]


def _count(index):
    return index.stop - index.start


def _tile_pieces(tiles_shape, target):
    """Pair the parts of tiles (K, TR, m, TX, m, C) with the parts of
    ``target`` (K, rows, OW, C) that they cover: the whole tiles, and the
    tiles cut by the target's bottom or right edge. Yields (index into the
    tiles, view of the target)."""
    k, _, m, _, _, c = tiles_shape
    rows, ow = target.shape[1:3]
    for tile_rows, in_rows, target_rows in _axis_pieces(rows, m):
        for tile_cols, in_cols, target_cols in _axis_pieces(ow, m):
            part = target[:, target_rows, target_cols]
            yield ((slice(None), tile_rows, in_rows, tile_cols, in_cols),
                   part.reshape(k, tile_rows.stop - tile_rows.start, in_rows.stop,
                                tile_cols.stop - tile_cols.start, in_cols.stop, c))


def _axis_pieces(length, m):
    """Along one axis of ``length`` cells in tiles of m: (tile slice, slice
    within the tile, slice of cells) for the whole tiles and the cut one."""
    whole, rest = divmod(length, m)
    pieces = [(slice(0, whole), slice(0, m), slice(0, whole * m))] if whole else []
    if rest:
        pieces.append((slice(whole, whole + 1), slice(0, rest), slice(whole * m, length)))
    return pieces
