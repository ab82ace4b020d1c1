"""The windows of a conv or pool as strided views, the one gather and the
one scatter over window offsets that pooling and col2im share, and the
pools' small rules (padding value, winner dtype, window counts). Array-API
code only (``get_array_module``): both kernel sets, cpu/ and gpu/, use it.

A window op visits the KH*KW offsets of its window: offset (kh, kw) of every
window at once is a strided (N, OH, OW, C) slice of the padded input
(``geometry.window_slice``), so each offset is one vectorised pass. The
gather reads those slices, the scatter (its adjoint) writes them.
"""
import numpy as np

from ..core import get_array_module
from .geometry import window_offsets, window_slice


def window_view(x_padded, geometry):
    """Strided view (N, OH, OW, KH, KW, C) of every window (no copy)."""
    xp = get_array_module(x_padded)
    sn, sh, sw, sc = x_padded.strides
    (st_h, st_w), (d_h, d_w) = geometry.strides, geometry.dilation
    n, c = x_padded.shape[0], x_padded.shape[3]
    view = xp.lib.stride_tricks.as_strided(
        x_padded, shape=(n,) + geometry.out_hw + geometry.window + (c,),
        strides=(sn, sh * st_h, sw * st_w, sh * d_h, sw * d_w, sc))
    if xp is np:  # windows overlap: a write would land in several; CuPy has no such flag
        view.flags.writeable = False
    return view


def block_windows(x, window):
    """The (N, OH, OW, KH, KW, C) windows of a 'valid' pool of ``x`` (N, H, W, C)
    whose strides equal its ``window`` (KH, KW): a view, no copy."""
    (kh, kw), (n, h, w, c) = window, x.shape
    oh, ow = h // kh, w // kw
    return x[:, :oh * kh, :ow * kw].reshape(n, oh, kh, ow, kw, c).transpose(0, 1, 3, 2, 4, 5)


def gather_windows(windows, out, winners=None, won=None, share=None):
    """out (N, OH, OW, C) = the sum of each window of ``windows``
    (N, OH, OW, KH, KW, C) over its offsets.

    With ``winners`` (N, OH, OW, C), offset k counts only where winners == k:
    each window reads its winning cell (max pooling's gather). ``won`` (bool)
    and ``share`` (out's dtype) are then scratch arrays shaped like out."""
    xp = get_array_module(out)
    for k, (kh, kw) in window_offsets(windows.shape[3:5]):
        source = windows[:, :, :, kh, kw, :]
        if winners is not None:
            xp.equal(winners, k, out=won)
            xp.multiply(source, won, out=out if k == 0 else share)
            if k:
                xp.add(out, share, out=out)
        elif k == 0:
            out[...] = source
        else:
            xp.add(out, source, out=out)


def scatter_windows(values, geometry, image, winners=None, won=None, share=None):
    """The adjoint of reading windows: into the padded image (N, Hp, Wp, C),
    each window offset k writes ``values[k]`` (N, OH, OW, C) at the cells it
    reads, summed where windows overlap; cells no window reads get 0.
    ``values`` is (KH*KW, N, OH, OW, C) (a broadcast view when every offset
    writes the same); its C may be split as (G, C/G).

    With ``winners`` (N, OH, OW, C), offset k writes only where winners == k,
    0 elsewhere (max pooling's gradient). ``won`` (bool) and, for
    overlapping windows, ``share`` (image's dtype) are then scratch arrays
    shaped like winners."""
    xp = get_array_module(image)
    if not geometry.covers_input:
        image.fill(0)
    for k, (kh, kw) in window_offsets(geometry.window):
        source = values[k]
        target = image[window_slice(geometry, kh, kw)]
        if target.shape != source.shape:  # C as (G, C/G): a view, the channels are contiguous
            target = target.reshape(source.shape)
        if winners is not None:
            xp.equal(winners, k, out=won)
            if not geometry.overlapping:  # each cell in one window: zeros where it lost
                xp.multiply(source, won, out=target)
                continue
            source = xp.multiply(source, won, out=share)
        if geometry.overlapping:
            xp.add(target, source, out=target)
        else:
            target[...] = source


def argmax_dtype(window):
    """The smallest index type that numbers every offset of ``window``."""
    return np.uint8 if np.prod(window) <= 256 else np.int32


def lowest(dtype):
    """The padding value of max pooling: never the maximum of a window."""
    return -np.inf if dtype.kind == 'f' else np.iinfo(dtype).min


def inverse_counts(geometry, dtype, xp):
    """1 / (unpadded cells per window) of an average pool: a Python float
    without padding, else an (OH, OW, 1) array of ``xp`` (built there: no
    host-to-device copy)."""
    if not geometry.padded:
        return 1.0 / float(np.prod(geometry.window))
    counts = []
    for size, out, window, stride, (before, _) in zip(
            geometry.in_hw, geometry.out_hw, geometry.window, geometry.strides,
            geometry.pads):
        start = xp.arange(out) * stride - before
        counts.append(xp.minimum(start + window, size) - xp.maximum(start, 0))
    return (1.0 / xp.outer(counts[0], counts[1]).astype(dtype))[:, :, None]


def im2col_nchw(image, geometry, to_matrix):
    """The windows of ``image`` (N, C, H, W) as columns: (N, C, KH, KW, OH,
    OW), or (N*OH*OW, C*KH*KW) with ``to_matrix`` (row n*OH*OW + i*OW + j
    holds window (i, j) of image n, channel-major). Padding reads 0."""
    n = image.shape[0]
    xp = get_array_module(image)
    (top, bottom), (left, right) = geometry.pads
    padded = xp.pad(image.transpose(0, 2, 3, 1), ((0, 0), (top, bottom), (left, right), (0, 0)))
    windows = window_view(padded, geometry)                    # (N, OH, OW, KH, KW, C)
    if to_matrix:
        return windows.transpose(0, 1, 2, 5, 3, 4).reshape(n * geometry.out_hw[0]
                                                           * geometry.out_hw[1], -1)
    return xp.ascontiguousarray(windows.transpose(0, 5, 3, 4, 1, 2))


def col2im_nchw(columns, image_shape, geometry, to_matrix):
    """The adjoint of ``im2col_nchw``: ``columns`` back to an ``image_shape``
    (N, C, H, W) image, each cell the sum of the entries that read it."""
    n, c, h, w = image_shape
    (kh, kw), (oh, ow) = geometry.window, geometry.out_hw
    if to_matrix:
        columns = columns.reshape(n, oh, ow, c, kh, kw).transpose(0, 3, 4, 5, 1, 2)
    # one (N, OH, OW, C) slab per window offset, as scatter_windows takes them
    values = columns.transpose(2, 3, 0, 4, 5, 1).reshape(kh * kw, n, oh, ow, c)
    xp = get_array_module(columns)
    image = xp.empty((n,) + geometry.padded_hw + (c,), columns.dtype)
    scatter_windows(values, geometry, image)
    (top, _), (left, _) = geometry.pads
    return xp.ascontiguousarray(image[:, top:top + h, left:left + w].transpose(0, 3, 1, 2))
