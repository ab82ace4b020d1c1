"""Shared machinery of the conv and pooling ops: argument checking, window
geometry (padding, output size), layout conversion, im2col and col2im.

Everything works on channels_last (N, H, W, C) arrays; a channels_first op
converts at its boundary with ``to_nhwc`` / ``from_nhwc``.

im2col copies every window of the (padded) input into a contiguous buffer
(N, OH, OW, KH, KW, C): a conv becomes a GEMM of (N*OH*OW, KH*KW*C) by
(KH*KW*C, C_out) written straight into the NHWC output. The matrix is never
built whole: each core fills a cache-sized buffer with one chunk of rows after
another and multiplies it there (``each_cols_chunk``).
col2im is its adjoint: KH*KW strided adds of the windows back into the image.
These copies are memory-bound and single-threaded in NumPy, so they run split
over the batch on every core (core/parallel.py).
"""
import numbers

import numpy as np

from ..core import get_array_module, parallel, workspace

DATA_FORMATS = ('channels_last', 'channels_first')


def pair(value, name, op):
    """``value`` as a pair of positive ints: an int or a sequence of two."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value, value)
    try:
        a, b = value
        ok = all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1
                 for v in (a, b))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"{op}: {name} must be a positive int or a pair of them, "
                         f"got {value!r}")
    return int(a), int(b)


def check_data_format(data_format, op):
    if data_format not in DATA_FORMATS:
        raise ValueError(f"{op}: data_format must be 'channels_last' or "
                         f"'channels_first', got {data_format!r}")
    return data_format


def check_image(x, name, op, data_format):
    if x.ndim != 4:
        layout = '(N, H, W, C)' if data_format == 'channels_last' else '(N, C, H, W)'
        raise ValueError(f"{op}: {name} must be 4-d {layout}, got shape {x.shape}")


def spatial_shape(shape, data_format):
    """(H, W) and C of an image shape in ``data_format``."""
    if data_format == 'channels_last':
        return shape[1:3], shape[3]
    return shape[2:4], shape[1]


def to_nhwc(x, data_format):
    """A channels_last view of ``x`` (no copy)."""
    return x if data_format == 'channels_last' else x.transpose(0, 2, 3, 1)


def from_nhwc(y, data_format):
    """``y`` (N, H, W, C) in ``data_format``, C-contiguous."""
    if data_format == 'channels_last':
        return y
    xp = get_array_module(y)
    out = workspace.empty((y.shape[0], y.shape[3], y.shape[1], y.shape[2]), y.dtype, xp)
    parallel.over_batch(assign, out, y.transpose(0, 3, 1, 2))
    return out


def assign(target, source):
    """``target[...] = source`` (a function, for ``parallel.over_batch``)."""
    target[...] = source


def resolve_padding(padding, in_hw, window_hw, strides, op):
    """((top, bottom), (left, right)) for Keras-style ``padding``.

    'valid': none. 'same': TF/Keras rule, total = max((ceil(H/s)-1)*s + K - H, 0),
    the odd pixel at the bottom/right. An int, a pair (per axis, both sides) or
    ((top, bottom), (left, right)) give explicit zero padding.
    ``window_hw`` is the effective (dilated) window size.
    """
    if isinstance(padding, str):
        mode = padding.lower()
        if mode == 'valid':
            return (0, 0), (0, 0)
        if mode == 'same':
            pads = []
            for size, window, stride in zip(in_hw, window_hw, strides):
                out = -(-size // stride)
                total = max((out - 1) * stride + window - size, 0)
                pads.append((total // 2, total - total // 2))
            return tuple(pads)
        raise ValueError(f"{op}: padding must be 'valid', 'same', an int, a pair or "
                         f"((top, bottom), (left, right)), got {padding!r}")
    try:
        if isinstance(padding, numbers.Integral):
            padding = (padding, padding)
        pads = tuple((p, p) if isinstance(p, numbers.Integral) else tuple(p)
                     for p in padding)
        ok = (len(pads) == 2 and all(len(p) == 2 for p in pads) and
              all(isinstance(v, numbers.Integral) and v >= 0 for p in pads for v in p))
    except TypeError:
        ok = False
    if not ok:
        raise ValueError(f"{op}: padding must be 'valid', 'same', an int, a pair or "
                         f"((top, bottom), (left, right)), got {padding!r}")
    return tuple((int(a), int(b)) for a, b in pads)


class WindowGeometry:
    """Where the windows of a 2-D conv or pool sit in a (padded) input.

    Attributes: ``in_hw`` (H, W), ``window`` (KH, KW), ``strides``,
    ``dilation``, ``pads`` ((top, bottom), (left, right)), ``padded_hw``,
    ``out_hw`` (OH, OW).
    """

    def __init__(self, op, in_hw, window, strides, dilation, padding):
        self.in_hw = tuple(int(n) for n in in_hw)
        self.window = window
        self.strides = strides
        self.dilation = dilation
        span = tuple((k - 1) * d + 1 for k, d in zip(window, dilation))
        self.pads = resolve_padding(padding, self.in_hw, span, strides, op)
        self.padded_hw = tuple(n + a + b for n, (a, b) in zip(self.in_hw, self.pads))
        if any(p < s for p, s in zip(self.padded_hw, span)):
            raise ValueError(f"{op}: window {window} (dilated to {span}) is larger than "
                             f"the padded input {self.padded_hw} (input {self.in_hw}, "
                             f"padding {self.pads})")
        self.out_hw = tuple((p - s) // st + 1
                            for p, s, st in zip(self.padded_hw, span, strides))

    @property
    def padded(self):
        return any(p for side in self.pads for p in side)

    @property
    def overlapping(self):
        """Whether windows share input cells (their adjoint must accumulate)."""
        return any((k - 1) * d + 1 > s
                   for k, d, s in zip(self.window, self.dilation, self.strides))

    @property
    def covers_input(self):
        """Whether every padded-input cell lies in exactly one window, so that
        col2im needs no zero fill."""
        return (self.dilation == (1, 1) and self.strides == self.window and
                all(o * s == p for o, s, p in
                    zip(self.out_hw, self.strides, self.padded_hw)))


def pad_nhwc(x, geometry, fill=0.0):
    """``x`` (N, H, W, C) padded by ``geometry.pads`` with ``fill`` (x itself
    when there is no padding)."""
    if not geometry.padded:
        return x
    xp = get_array_module(x)
    (top, _), (left, _) = geometry.pads
    h, w = geometry.in_hw
    out = workspace.empty((x.shape[0],) + geometry.padded_hw + (x.shape[3],), x.dtype, xp)
    # fill only the border: the interior is overwritten by x
    out[:, :top] = fill
    out[:, top + h:] = fill
    out[:, top:top + h, :left] = fill
    out[:, top:top + h, left + w:] = fill
    parallel.over_batch(assign, out[:, top:top + h, left:left + w], x)
    return out


def window_view(x_padded, geometry):
    """Strided view (N, OH, OW, KH, KW, C) of every window (no copy)."""
    xp = get_array_module(x_padded)
    sn, sh, sw, sc = x_padded.strides
    (st_h, st_w), (d_h, d_w) = geometry.strides, geometry.dilation
    n, c = x_padded.shape[0], x_padded.shape[3]
    return xp.lib.stride_tricks.as_strided(
        x_padded, shape=(n,) + geometry.out_hw + geometry.window + (c,),
        strides=(sn, sh * st_h, sw * st_w, sh * d_h, sw * d_w, sc), writeable=False)


def window_slice(geometry, kh, kw):
    """Index of the (N, OH, OW, C) cells that window offset (kh, kw) reads."""
    (st_h, st_w), (d_h, d_w), (oh, ow) = geometry.strides, geometry.dilation, geometry.out_hw
    return (slice(None),
            slice(kh * d_h, kh * d_h + (oh - 1) * st_h + 1, st_h),
            slice(kw * d_w, kw * d_w + (ow - 1) * st_w + 1, st_w))


# Bytes of window columns per chunk (see ``each_cols_chunk``). Measured on
# the 2-core VM against whole 64 MB blocks split step by step over the cores:
# 0.75x the time for the book's conv2 forward, 0.9x for VGG16's
# block1_conv2, and the kernel gradients as fast as from a kept im2col
# matrix, which then is never written.
CHUNK_BYTES = 4 << 20


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
    """
    xp = get_array_module(windows)
    n, oh, ow, kh, kw, c = windows.shape
    total = n * oh * ow * kh * kw * c * windows.itemsize
    chunks = window_blocks(windows, min(max(CHUNK_BYTES, min_chunk_bytes),
                                        -(-total // parallel.THREADS)), row_multiple)
    cores = min(parallel.THREADS, len(chunks))

    def run(core_numbers):
        for core in core_numbers:
            mine = chunks[len(chunks) * core // cores:len(chunks) * (core + 1) // cores]
            rows = max(stop - start for _, start, stop in mine)
            buffer = workspace.empty((groups, rows, kh * kw * c // groups), windows.dtype, xp)
            for index, start, stop in mine:
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
    offset-major so that each offset's block is contiguous."""
    def images(cols_part, image_part):  # cols_part: (N', KH*KW, G, OH, OW, C/G)
        _col2im_images(cols_part.swapaxes(0, 2).swapaxes(0, 1), geometry, image_part)
    parallel.over_batch(images, cols.swapaxes(0, 2).swapaxes(1, 2), image)


def _col2im_images(cols, geometry, image):
    xp = get_array_module(cols)
    (kh_n, kw_n), (oh, ow) = geometry.window, geometry.out_hw
    n, c = image.shape[0], image.shape[3]
    groups = cols.shape[1]
    if not geometry.covers_input:
        image.fill(0)
    for kh in range(kh_n):
        for kw in range(kw_n):
            target = image[window_slice(geometry, kh, kw)]
            source = cols[kh * kw_n + kw]
            if groups == 1:
                source = source[0]
            else:
                target = target.reshape(n, oh, ow, groups, c // groups)
                source = source.transpose(1, 2, 3, 0, 4)
            if geometry.covers_input:
                target[...] = source
            else:
                xp.add(target, source, out=target)


def crop_padding(image, geometry):
    """The unpadded interior of a padded (N, Hp, Wp, C) image, contiguous."""
    if not geometry.padded:
        return image
    xp = get_array_module(image)
    (top, _), (left, _) = geometry.pads
    h, w = geometry.in_hw
    out = workspace.empty((image.shape[0], h, w, image.shape[3]), image.dtype, xp)
    parallel.over_batch(assign, out, image[:, top:top + h, left:left + w, :])
    return out
