"""Where the windows of a 2-D conv or pool sit: padding, output sizes, window
offsets. Plain Python on shapes (no arrays), shared by every kernel set and
by the layers' shape inference, so there is one output-size rule.

Images are channels_last (N, H, W, C) inside the kernels; ``data_format``
only says how an op's arrays arrive and leave.
"""
import numbers


def same_padding(size, span, stride):
    """(before, after) padding of one axis for 'same' (TF/Keras rule): the
    output has ceil(size / stride) cells, the odd pixel goes after.
    ``span`` is the effective (dilated) window size."""
    out = -(-size // stride)
    total = max((out - 1) * stride + span - size, 0)
    return total // 2, total - total // 2


def conv_output_length(length, kernel, padding, stride, dilation=1):
    """Output size along one axis of a conv or pool window: ``padding`` is
    'valid', 'same' or explicit (before, after); 0 when the window does not
    fit; None (an unknown length) stays None."""
    if length is None:
        return None
    span = (kernel - 1) * dilation + 1
    if isinstance(padding, str):
        padding = same_padding(length, span, stride) if padding == 'same' else (0, 0)
    before, after = padding
    return max(0, (length + before + after - span) // stride + 1)


def deconv_output_length(length, kernel, padding, stride, output_padding=None, dilation=1):
    """Output size along one axis of a transposed convolution (Keras's rule,
    k = dilated kernel size, s = stride): without output_padding,
    length*s + max(k - s, 0) ('valid') or length*s ('same'); with it,
    (length - 1)*s + k - 2*pad + output_padding, pad = k // 2 for 'same'.
    None stays None."""
    if length is None:
        return None
    span = (kernel - 1) * dilation + 1
    if output_padding is None:
        if padding == 'valid':
            return length * stride + max(span - stride, 0)
        return length * stride
    pad = span // 2 if padding == 'same' else 0
    return (length - 1) * stride + span - 2 * pad + output_padding


def resolve_padding(padding, in_hw, window_hw, strides, op):
    """((top, bottom), (left, right)) for Keras-style ``padding``.

    'valid': none. 'same': see ``same_padding``. An int, a pair (per axis,
    both sides) or ((top, bottom), (left, right)) give explicit zero padding.
    ``window_hw`` is the effective (dilated) window size.
    """
    if isinstance(padding, str):
        mode = padding.lower()
        if mode == 'valid':
            return (0, 0), (0, 0)
        if mode == 'same':
            return tuple(same_padding(size, window, stride)
                         for size, window, stride in zip(in_hw, window_hw, strides))
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
    ``out_hw`` (OH, OW). ``op`` names the op in errors.
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
        self.out_hw = tuple(conv_output_length(n, k, pads, st, d) for n, k, pads, st, d in
                            zip(self.in_hw, window, self.pads, strides, dilation))

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
        a scatter needs no zero fill."""
        return (self.dilation == (1, 1) and self.strides == self.window and
                all(o * s == p for o, s, p in
                    zip(self.out_hw, self.strides, self.padded_hw)))


def window_offsets(window):
    """(k, (kh, kw)) for every offset of a (KH, KW) window, row-major."""
    kh_n, kw_n = window
    return enumerate((kh, kw) for kh in range(kh_n) for kw in range(kw_n))


def window_slice(geometry, kh, kw):
    """Index of the (N, OH, OW, C) cells of the padded input that window
    offset (kh, kw) reads."""
    (st_h, st_w), (d_h, d_w), (oh, ow) = geometry.strides, geometry.dilation, geometry.out_hw
    return (slice(None),
            slice(kh * d_h, kh * d_h + (oh - 1) * st_h + 1, st_h),
            slice(kw * d_w, kw * d_w + (ow - 1) * st_w + 1, st_w))


class ConvSpec:
    """Everything about one convolution except its arrays: the window
    geometry, ``groups``, ``data_format``, the input channel count, and the
    ``algorithm`` ('auto', 'direct', 'winograd2', 'winograd4'; None: the
    ``conv_algorithm`` runtime setting at each call)."""

    def __init__(self, geometry, groups, data_format, in_channels, algorithm=None):
        self.geometry = geometry
        self.groups = groups
        self.data_format = data_format
        self.in_channels = in_channels
        self.algorithm = algorithm


class PoolSpec:
    """The window geometry and data format of one pooling op."""

    def __init__(self, geometry, data_format):
        self.geometry = geometry
        self.data_format = data_format
