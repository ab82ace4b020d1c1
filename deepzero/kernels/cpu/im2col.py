"""im2col and col2im.

im2col copies every window of the (padded) input into a contiguous buffer
(N, OH, OW, KH, KW, C): a conv becomes a GEMM of (N*OH*OW, KH*KW*C) by
(KH*KW*C, C_out) written straight into the NHWC output. The matrix is never
built whole: each core fills a cache-sized buffer with one chunk of rows after
another and multiplies it there (``each_cols_chunk``).
col2im is its adjoint: KH*KW strided adds of the windows back into the image.
These copies are memory-bound and single-threaded in NumPy, so they run split
over the batch on every core (core/parallel.py).
"""
import numpy as np

from ...core import get_array_module, parallel, workspace
from .layout import assign
from ..windows import scatter_windows

# Bytes of window columns per chunk (see ``each_cols_chunk``). Measured on
# the 2-core VM against whole 64 MB blocks split step by step over the cores:
# 0.75x the time for the book's conv2 forward, 0.9x for VGG16's
# block1_conv2, and the kernel gradients as fast as from a kept im2col
# matrix, which then is never written.
CHUNK_BYTES = 4 << 20
# Up to this many input channels (one group), the window columns are written
# transposed, (KH*KW*C, rows): a window's row is a run of only KW*C values,
# too short for NumPy's copy loop, while a column of the transposed matrix is
# a long strided run over the output row. The GEMM then reads its operand
# transposed, a little slower, far less than the copy saves (docs/performance.md).
TRANSPOSED_MAX_CHANNELS = 4


def each_cols_chunk(windows, groups, visit, min_chunk_bytes=0, row_multiple=1):
    """im2col without the whole matrix: the windows (N, OH, OW, KH, KW, C) are
    cut into chunks of about CHUNK_BYTES (or ``min_chunk_bytes``, if larger)
    of window columns, at least one per core (whole images, or runs of a
    multiple of ``row_multiple`` output rows); each core takes a run of chunks and
    copies them one by one into its own buffer, calling
    ``visit(core, cols, start, stop)`` while they are in its cache. ``cols``
    is (G, stop - start, KH*KW*C/G): the windows of NHWC output rows
    [start, stop), each row ordered as a (KH, KW, C/G, C_out) kernel's rows.
    ``core`` (0, 1, ...) names the caller's run, for per-core results.
    With one group and at most TRANSPOSED_MAX_CHANNELS channels, ``cols`` is
    a view of a transposed buffer (its rows are not contiguous: BLAS reads
    it transposed).
    """
    xp = get_array_module(windows)
    n, oh, ow, kh, kw, c = windows.shape
    total = n * oh * ow * kh * kw * c * windows.itemsize
    chunks = window_blocks(windows, min(max(CHUNK_BYTES, min_chunk_bytes),
                                        -(-total // parallel.THREADS)), row_multiple)
    cores = min(parallel.THREADS, len(chunks))
    transposed = groups == 1 and c <= TRANSPOSED_MAX_CHANNELS

    def run(core_numbers):
        for core in core_numbers:
            mine = chunks[len(chunks) * core // cores:len(chunks) * (core + 1) // cores]
            rows = max(stop - start for _, start, stop in mine)
            if transposed:
                buffer = workspace.scratch((kh * kw * c, rows), windows.dtype, xp)
            else:
                buffer = workspace.scratch((groups, rows, kh * kw * c // groups),
                                           windows.dtype, xp)
            for index, start, stop in mine:
                if transposed:
                    cols_t = buffer[:, :stop - start]
                    cols_t.reshape((kh, kw, c) + windows[index].shape[:3])[...] = \
                        windows[index].transpose(3, 4, 5, 0, 1, 2)
                    cols = cols_t.T[None]
                else:
                    cols = buffer[:, :stop - start]
                    windows_into_cols(windows[index], cols)
                visit(core, cols, start, stop)
    parallel.over_batch(run, np.arange(cores), min_bytes=0)


def windows_into_cols(windows, cols):
    """Copy windows (N, OH, OW, KH, KW, C) into ``cols`` (G, N*OH*OW,
    KH*KW*C/G), each group's rows contiguous (a slice of a larger matrix will
    do), split over the output rows."""
    n, oh, ow, kh, kw, c = windows.shape
    groups = cols.shape[0]
    cg = c // groups
    parallel.over_batch(assign,
                        cols.reshape(groups, n, oh, ow, kh, kw, cg).transpose(
                            2, 1, 0, 3, 4, 5, 6),
                        windows.reshape(n, oh, ow, kh, kw, groups, cg).transpose(
                            1, 0, 5, 2, 3, 4, 6))


def window_blocks(windows, block_bytes, row_multiple=1):
    """Split the windows (N, OH, OW, KH, KW, C) of a conv into blocks of about
    ``block_bytes`` of window columns: whole images when they are small, else
    runs of output rows of one image, a multiple of ``row_multiple`` rows
    long (but the last). Returns (index, start, stop) triples:
    ``windows[index]`` is the block and [start, stop) its run of NHWC output
    rows (``N*OH*OW`` in all)."""
    n, oh, ow = windows.shape[:3]
    row_bytes = ow * int(np.prod(windows.shape[3:])) * windows.itemsize
    if oh * row_bytes <= block_bytes:
        per_block = block_bytes // (oh * row_bytes)
        return [((slice(i, min(i + per_block, n)),), i * oh * ow,
                 min(i + per_block, n) * oh * ow) for i in range(0, n, per_block)]
    rows = max(1, block_bytes // row_bytes // row_multiple) * row_multiple
    return [((slice(i, i + 1), slice(r, min(r + rows, oh))), (i * oh + r) * ow,
             (i * oh + min(r + rows, oh)) * ow)
            for i in range(n) for r in range(0, oh, rows)]


def col2im(cols, geometry, image):
    """Adjoint of im2col: overwrite the padded image ``image`` (N, Hp, Wp, C)
    with the sum of the windows of ``cols`` (KH*KW, G, N, OH, OW, C/G),
    offset-major so that each offset's block is contiguous; split over the
    images on every core."""
    def images(cols_part, image_part):  # cols_part: (N', KH*KW, G, OH, OW, C/G)
        values = cols_part.transpose(1, 0, 3, 4, 2, 5)  # (KH*KW, N', OH, OW, G, C/G)
        scatter_windows(values[:, :, :, :, 0] if values.shape[4] == 1 else values,
                        geometry, image_part)
    parallel.over_batch(images, cols.swapaxes(0, 2).swapaxes(1, 2), image)
