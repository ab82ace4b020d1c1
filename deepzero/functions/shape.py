"""Ops that move values around without changing them: adding and removing axes,
joining, splitting and padding.

``expand_dims``, ``squeeze`` and ``flatten`` only compute a new shape and call
core's ``reshape``. ``concat`` and ``split`` are each other's gradient, and
``pad``'s gradient is a slice, so every op here is differentiable to any order.
"""
import numpy as np

from ..core import Function, get_array_module
from ..core.operators import getitem, reshape

__all__ = ['expand_dims', 'squeeze', 'flatten', 'Concat', 'concat', 'Stack', 'stack',
           'Split', 'split', 'Pad', 'pad']


def _normalize_axis(op, axis, ndim, x_shape):
    """``axis`` as a non-negative int below ``ndim``, or a clear error."""
    if not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{op}: axis must be an int, got {type(axis).__name__}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{op}: axis {axis} is out of range for x of shape {x_shape}")
    return int(axis) % ndim


def _axes(axis):
    return tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)


def expand_dims(x, axis):
    """Insert size-1 axes at ``axis`` (an int or a tuple, positions in the result)."""
    ndim = x.ndim + len(_axes(axis))
    new_axes = {_normalize_axis('expand_dims', a, ndim, x.shape) for a in _axes(axis)}
    if len(new_axes) != len(_axes(axis)):
        raise ValueError(f"expand_dims: repeated axis in {axis}")
    sizes = iter(x.shape)
    return reshape(x, tuple(1 if i in new_axes else next(sizes) for i in range(ndim)))


def squeeze(x, axis=None):
    """Remove size-1 axes: all of them (``axis=None``) or those named by ``axis``."""
    if axis is None:
        drop = {i for i, n in enumerate(x.shape) if n == 1}
    else:
        drop = {_normalize_axis('squeeze', a, x.ndim, x.shape) for a in _axes(axis)}
        for i in drop:
            if x.shape[i] != 1:
                raise ValueError(f"squeeze: axis {i} has size {x.shape[i]}, not 1 "
                                 f"(x shape {x.shape})")
    return reshape(x, tuple(n for i, n in enumerate(x.shape) if i not in drop))


def flatten(x):
    """(N, d1, d2, ...) -> (N, d1 * d2 * ...): keeps the batch axis, as Keras'
    ``Flatten``; a 1-d (N,) input becomes (N, 1)."""
    if x.ndim == 0:
        raise ValueError("flatten: x is 0-d; it needs a batch axis")
    return reshape(x, (x.shape[0], int(np.prod(x.shape[1:], dtype=np.int64))))


class Concat(Function):
    def __init__(self, axis=0):
        self.axis = axis

    def forward(self, *xs):
        shapes = [x.shape for x in xs]
        axis = _normalize_axis('concat', self.axis, xs[0].ndim, shapes[0])
        rest = [s[:axis] + s[axis + 1:] for s in shapes]
        if any(len(s) != len(shapes[0]) for s in shapes) or any(r != rest[0] for r in rest):
            raise ValueError(f"concat: inputs must have equal shapes except on axis "
                             f"{self.axis}, got shapes {shapes}")
        self.axis = axis
        self.split_at = np.cumsum([s[axis] for s in shapes[:-1]]).tolist()
        return get_array_module(*xs).concatenate(xs, axis=axis)

    def backward(self, gy):
        return tuple(split(gy, self.split_at, self.axis))


def concat(xs, axis=0):
    """Join a sequence of Variables/arrays along an existing ``axis``."""
    if len(xs) == 0:
        raise ValueError("concat: needs at least one input")
    return Concat(axis)(*xs)


class Stack(Function):
    def __init__(self, axis=0):
        self.axis = axis

    def forward(self, *xs):
        shapes = [x.shape for x in xs]
        if any(s != shapes[0] for s in shapes):
            raise ValueError(f"stack: inputs must all have the same shape, got shapes {shapes}")
        self.axis = _normalize_axis('stack', self.axis, xs[0].ndim + 1, shapes[0])
        self.x_shape = shapes[0]
        return get_array_module(*xs).stack(xs, axis=self.axis)

    def backward(self, gy):
        pieces = split(gy, len(self.inputs), self.axis)
        return tuple(reshape(p, self.x_shape) for p in pieces)


def stack(xs, axis=0):
    """Join same-shaped Variables/arrays along a new ``axis``."""
    if len(xs) == 0:
        raise ValueError("stack: needs at least one input")
    return Stack(axis)(*xs)


class Split(Function):
    """Several outputs, one per piece; unused pieces get a zero gradient."""

    def __init__(self, indices_or_sections, axis=0):
        self.indices_or_sections = indices_or_sections
        self.axis = axis

    def forward(self, x):
        self.axis = _normalize_axis('split', self.axis, x.ndim, x.shape)
        try:
            return tuple(get_array_module(x).split(x, self.indices_or_sections, self.axis))
        except ValueError:
            raise ValueError(f"split: axis {self.axis} of size {x.shape[self.axis]} cannot "
                             f"be split into {self.indices_or_sections} equal sections "
                             f"(x shape {x.shape})") from None

    def backward(self, *gys):
        return concat(gys, self.axis)


def split(x, indices_or_sections, axis=0):
    """Cut ``x`` along ``axis`` with NumPy's rules: an int N gives N equal
    pieces, a list of indices gives the pieces between them. Returns a list
    of Variables (even for a single piece)."""
    pieces = Split(indices_or_sections, axis)(x)
    return pieces if isinstance(pieces, list) else [pieces]


INDEX_MODES = ('edge', 'reflect', 'symmetric', 'wrap')


class Pad(Function):
    """Constant padding; the gradient is the slice holding the original ``x``."""

    def __init__(self, pad_width, constant_values=0):
        self.pad_width = pad_width  # ((before, after),) * ndim, from _pad_pairs
        self.constant_values = constant_values

    def forward(self, x):
        self.x_shape = x.shape
        return get_array_module(x).pad(x, self.pad_width, mode='constant',
                                       constant_values=self.constant_values)

    def backward(self, gy):
        return getitem(gy, tuple(slice(before, before + n)
                                 for (before, _), n in zip(self.pad_width, self.x_shape)))


def pad(x, pad_width, mode='constant', constant_values=0):
    """Pad ``x`` as ``np.pad`` does.

    Args:
        pad_width: NumPy's forms: ``n``, ``(n,)``, ``(before, after)`` for
            every axis, or one ``(before, after)`` per axis.
        mode: 'constant' (filled with ``constant_values``), or one of
            'edge', 'reflect', 'symmetric', 'wrap', which copy values of ``x``
            (their gradient adds up the copies).
    """
    pairs = _pad_pairs(pad_width, x.shape)
    if mode == 'constant':
        return Pad(pairs, constant_values)(x)
    if mode not in INDEX_MODES:
        raise ValueError(f"pad: mode {mode!r} is not supported; use 'constant' or one "
                         f"of {INDEX_MODES}")
    # Pad an array of flat positions instead of x: it says which element of x
    # each output element copies, and gathering with it is differentiable
    # (core's getitem adds up the gradient of repeated positions).
    positions = np.arange(int(np.prod(x.shape))).reshape(x.shape)
    return getitem(reshape(x, (-1,)), np.pad(positions, pairs, mode=mode))


def _pad_pairs(pad_width, x_shape):
    """``pad_width`` in any NumPy form -> ((before, after),) * ndim of ints."""
    if len(x_shape) == 0:
        raise ValueError("pad: x is 0-d; there is no axis to pad")
    widths = np.asarray(pad_width)
    if widths.dtype.kind not in 'iu':
        raise TypeError(f"pad: pad_width must hold integers, got {pad_width!r}")
    try:
        widths = np.broadcast_to(widths, (len(x_shape), 2))
    except ValueError:
        raise ValueError(f"pad: pad_width {pad_width!r} does not fit x of shape "
                         f"{x_shape}; give n, (before, after) or one pair per axis") from None
    if (widths < 0).any():
        raise ValueError(f"pad: pad_width {pad_width!r} has negative widths")
    return tuple((int(b), int(a)) for b, a in widths)
