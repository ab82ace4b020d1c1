"""The ops behind Variable's own operators and methods: arithmetic, ``@``,
indexing, reshape, transpose, sum, and the two broadcasting adjoints
(``broadcast_to`` / ``sum_to``) that every broadcasting op's backward uses;
and ``cast``, a dtype conversion that keeps the graph.

They live in ``core`` because ``Variable`` needs them; ``deepzero.functions``
re-exports them beside every other op.
"""
import numpy as np

from . import parallel, workspace
from .array_module import ARRAY_TYPES, get_array_module
from .function import Function


# --- broadcasting ------------------------------------------------------------
def sum_to_array(x, shape):
    """Sum array ``x`` down to ``shape`` (the adjoint of broadcasting ``shape``
    to ``x.shape``). Raises ValueError when ``shape`` does not broadcast to
    ``x.shape``: there is no such sum."""
    shape = tuple(shape)
    if x.shape == shape:
        return x
    lead = x.ndim - len(shape)
    if lead < 0 or any(n not in (1, m) for n, m in zip(shape, x.shape[lead:])):
        raise ValueError(f"sum_to: cannot sum shape {x.shape} to {shape}; "
                         f"{shape} does not broadcast to {x.shape}")
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and x.shape[lead + i] != 1)
    y = x.sum(axis=axes, keepdims=True)
    return y.reshape(shape) if lead else y


def _as_shape(shape):
    """A shape as NumPy takes it, an int or a sequence of ints, as a tuple."""
    return (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)


class BroadcastTo(Function):
    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, x):
        self.x_shape = x.shape
        xp = get_array_module(x)
        try:
            return xp.broadcast_to(x, self.shape)
        except ValueError:
            raise ValueError(f"broadcast_to: cannot broadcast shape {x.shape} "
                             f"to {self.shape}") from None

    def backward(self, gy):
        return sum_to(gy, self.x_shape)


class SumTo(Function):
    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, x):
        self.x_shape = x.shape
        return sum_to_array(x, self.shape)

    def backward(self, gy):
        return broadcast_to(gy, self.x_shape)


def broadcast_to(x, shape):
    """Repeat ``x`` along new leading axes and its size-1 axes to ``shape``
    (an int or a tuple), as ``np.broadcast_to``."""
    shape = _as_shape(shape)
    if getattr(x, 'shape', None) == shape:
        return as_variable(x)
    return BroadcastTo(shape)(x)


def sum_to(x, shape):
    """Sum ``x`` down to ``shape`` (an int or a tuple), which must broadcast
    to ``x.shape``: the gradient of ``broadcast_to``."""
    shape = _as_shape(shape)
    if getattr(x, 'shape', None) == shape:
        return as_variable(x)
    return SumTo(shape)(x)


# --- arithmetic ----------------------------------------------------------------
def _broadcasting(name, ufunc, x0, x1):
    """The ufunc named ``ufunc`` ('add', 'multiply', ...) of NumPy or CuPy,
    as the data is, on x0 and x1; a large float result of two arrays of one
    dtype goes into a pooled buffer on the CPU (gradients and activations are
    the large arrays of a training step, see workspace.py). ``name`` is the
    op's, for errors."""
    try:
        shape = _broadcast_shape(x0.shape, x1.shape)
    except ValueError:
        raise ValueError(f"{name}: shapes {x0.shape} and {x1.shape} "
                         "cannot be broadcast together") from None
    xp = get_array_module(x0, x1)
    if x0.dtype == x1.dtype and x0.dtype.kind == 'f':
        return getattr(xp, ufunc)(x0, x1, out=workspace.empty(shape, x0.dtype, xp))
    return getattr(xp, ufunc)(x0, x1)


def _broadcast_shape(shape0, shape1):
    """``np.broadcast_shapes(shape0, shape1)``; equal shapes and a 0-d operand,
    the common cases, without NumPy's shape arithmetic (which takes as long
    as a tiny op)."""
    if shape0 == shape1 or not shape1:
        return shape0
    if not shape0:
        return shape1
    return np.broadcast_shapes(shape0, shape1)


class AddFunction(Function):
    def forward(self, x0, x1):
        self.shapes = x0.shape, x1.shape
        return _broadcasting('add', 'add', x0, x1)

    def backward(self, gy):
        return sum_to(gy, self.shapes[0]), sum_to(gy, self.shapes[1])


class Sub(Function):
    def forward(self, x0, x1):
        self.shapes = x0.shape, x1.shape
        return _broadcasting('sub', 'subtract', x0, x1)

    def backward(self, gy):
        need0, need1 = self.needs_input_grad
        return (sum_to(gy, self.shapes[0]) if need0 else None,
                sum_to(-gy, self.shapes[1]) if need1 else None)


class Mul(Function):
    def forward(self, x0, x1):
        return _broadcasting('mul', 'multiply', x0, x1)

    def backward(self, gy):
        x0, x1 = self.inputs
        need0, need1 = self.needs_input_grad
        gx0 = sum_to(gy * x1, x0.shape) if need0 else None
        gx1 = sum_to(gy * x0, x1.shape) if need1 else None
        return gx0, gx1


class Div(Function):
    def forward(self, x0, x1):
        return _broadcasting('div', 'divide', x0, x1)

    def backward(self, gy):
        x0, x1 = self.inputs
        need0, need1 = self.needs_input_grad
        gx0 = sum_to(gy / x1, x0.shape) if need0 else None
        gx1 = sum_to(gy * (-x0 / x1 ** 2), x1.shape) if need1 else None
        return gx0, gx1


class Neg(Function):
    def forward(self, x):
        return -x

    def backward(self, gy):
        return -gy


class Pow(Function):
    """``x0 ** x1``; the exponent may be a constant or a Variable."""

    def forward(self, x0, x1):
        return _broadcasting('pow', 'power', x0, x1)

    def backward(self, gy):
        x0, x1 = self.inputs
        need0, need1 = self.needs_input_grad
        gx0 = sum_to(gy * x1 * x0 ** (x1 - 1), x0.shape) if need0 else None
        gx1 = None
        if need1:
            y = self.outputs[0]()
            gx1 = sum_to(gy * y * log(x0), x1.shape)
        return gx0, gx1


class Exp(Function):
    def forward(self, x):
        return get_array_module(x).exp(x)

    def backward(self, gy):
        return gy * self.outputs[0]()


class Log(Function):
    def forward(self, x):
        return get_array_module(x).log(x)

    def backward(self, gy):
        return gy / self.inputs[0]


def add(x0, x1):
    return AddFunction()(x0, x1)


def sub(x0, x1):
    return Sub()(x0, x1)


def mul(x0, x1):
    return Mul()(x0, x1)


def div(x0, x1):
    return Div()(x0, x1)


def neg(x):
    return Neg()(x)


def pow(x0, x1):
    return Pow()(x0, x1)


def exp(x):
    return Exp()(x)


def log(x):
    return Log()(x)


# --- matrix product ------------------------------------------------------------
class MatMul(Function):
    """``a @ b`` with NumPy's rules: batched when ndim > 2, 1-d operands
    promoted to a row (a) or a column (b)."""

    def forward(self, a, b):
        try:
            if a.ndim == b.ndim == 2 and a.dtype == b.dtype and a.dtype.kind == 'f' \
                    and a.shape[1] == b.shape[0]:
                # a pooled result (a dense layer's kernel gradient is large),
                # computed on every core
                out = workspace.empty((a.shape[0], b.shape[1]), a.dtype,
                                      get_array_module(a))
                matmul_into(a, b, out)
                return out
            return a @ b
        except ValueError:
            raise ValueError(f"matmul: shapes {a.shape} and {b.shape} are not "
                             f"aligned ({a.shape[-1]} != "
                             f"{b.shape[0] if b.ndim == 1 else b.shape[-2]})") from None

    def backward(self, gy):
        a, b = self.inputs
        need_a, need_b = self.needs_input_grad
        if a.ndim == b.ndim == 2:  # the common case: no vector or batch axes to undo
            return (matmul(gy, transpose(b)) if need_a else None,
                    matmul(transpose(a), gy) if need_b else None)
        a2 = a if a.ndim > 1 else reshape(a, (1,) + a.shape)
        b2 = b if b.ndim > 1 else reshape(b, b.shape + (1,))
        batch = a2.shape[:-2]   # equal batch shapes skip NumPy's shape arithmetic
        if batch != b2.shape[:-2]:
            batch = np.broadcast_shapes(batch, b2.shape[:-2])
        out_shape = batch + (a2.shape[-2], b2.shape[-1])
        gy = reshape(gy, out_shape)
        ga = gb = None
        if need_a:
            ga = reshape(sum_to(matmul(gy, _swap_last(b2)), a2.shape), a.shape)
        if need_b:
            gb = reshape(sum_to(matmul(_swap_last(a2), gy), b2.shape), b.shape)
        return ga, gb


def matmul_into(a, b, out):
    """``out[...] = a @ b`` for 2-d (or batched) arrays of one device: NumPy's
    split over the CPU's cores (core/parallel.py), CuPy's one cuBLAS GEMM."""
    if isinstance(out, np.ndarray):
        parallel.matmul(a, b, out)
    else:
        get_array_module(out).matmul(a, b, out=out)


def _swap_last(x):
    if x.ndim == 2:  # the plain transpose: its backward needs no np.argsort of axes
        return transpose(x)
    axes = list(range(x.ndim))
    axes[-2], axes[-1] = axes[-1], axes[-2]
    return transpose(x, axes)


def matmul(a, b):
    return MatMul()(a, b)


# --- shape -----------------------------------------------------------------------
class ReshapeFunction(Function):
    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.x_shape = x.shape
        try:
            return x.reshape(self.shape)
        except ValueError:
            raise ValueError(f"reshape: cannot reshape {x.shape} ({x.size} "
                             f"elements) into {self.shape}") from None

    def backward(self, gy):
        return reshape(gy, self.x_shape)


def reshape(x, shape):
    shape = tuple(shape)
    if getattr(x, 'shape', None) == shape:
        return as_variable(x)
    return ReshapeFunction(shape)(x)


class Transpose(Function):
    def __init__(self, axes=None):
        self.axes = None if axes is None else tuple(axes)

    def forward(self, x):
        return x.transpose(self.axes)

    def backward(self, gy):
        if self.axes is None:
            return transpose(gy)
        return transpose(gy, tuple(np.argsort(self.axes)))


def transpose(x, axes=None):
    return Transpose(axes)(x)


class GetItem(Function):
    """``x[index]`` for basic and advanced indexing; the gradient scatters
    back, adding where an advanced index repeats a position."""

    def __init__(self, index):
        self.index = _raw_index(index)

    def forward(self, x):
        self.x_shape = x.shape
        self.index = _index_on(get_array_module(x), self.index)
        return x[self.index]

    def backward(self, gy):
        return GetItemGrad(self.index, self.x_shape)(gy)


class GetItemGrad(Function):
    def __init__(self, index, x_shape):
        self.index = index
        self.x_shape = x_shape

    def forward(self, gy):
        xp = get_array_module(gy)
        gx = xp.zeros(self.x_shape, dtype=gy.dtype)
        if _is_basic(self.index):
            gx[self.index] = gy  # basic indexing never repeats a position
        else:
            xp.add.at(gx, self.index, gy)
        return gx

    def backward(self, ggx):
        return getitem(ggx, self.index)


def _raw_index(index):
    """Variables in ``index`` replaced by their arrays (only Variables: an
    array's own ``.data`` is its buffer, or on CuPy a memory pointer)."""
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Variable) else i for i in index)
    return index.data if isinstance(index, Variable) else index


def _index_on(xp, index):
    """``index`` with its arrays on the device of the data it indexes (index
    arrays built on the host, such as ``pad``'s positions, go to the GPU)."""
    if isinstance(index, tuple):
        return tuple(xp.asarray(i) if isinstance(i, ARRAY_TYPES) else i for i in index)
    return xp.asarray(index) if isinstance(index, ARRAY_TYPES) else index


def _is_basic(index):
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, (int, np.integer, slice))
               for i in items)


def getitem(x, index):
    return GetItem(index)(x)


# --- reduction -------------------------------------------------------------------
class Sum(Function):
    def __init__(self, axis=None, keepdims=False):
        self.axis = axis
        self.keepdims = keepdims

    def forward(self, x):
        self.x_shape = x.shape
        return x.sum(axis=self.axis, keepdims=self.keepdims)

    def backward(self, gy):
        return unreduce(gy, self.x_shape, self.axis)


def unreduce(gy, x_shape, axis):
    """Broadcast the gradient of a reduction over ``axis`` back to ``x_shape``."""
    return broadcast_to(reshape(gy, keepdims_shape(x_shape, axis)), x_shape)


def keepdims_shape(shape, axis):
    """The shape a reduction over ``axis`` has with ``keepdims=True``."""
    if axis is None:
        return (1,) * len(shape)
    axes = (axis,) if isinstance(axis, int) else axis
    axes = {a % len(shape) for a in axes}
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def sum(x, axis=None, keepdims=False):
    return Sum(axis, keepdims)(x)


# --- dtype -----------------------------------------------------------------------
class Cast(Function):
    def __init__(self, dtype):
        self.dtype = dtype

    def forward(self, x):
        return x.astype(self.dtype, copy=False)

    def backward(self, gy):
        return cast(gy, self.inputs[0].dtype)


def cast(x, dtype):
    """``x`` converted to ``dtype``, keeping the graph: the gradient goes back
    in ``x``'s dtype. (``Variable.astype`` gives a new leaf instead.)"""
    dtype = np.dtype(dtype)
    if getattr(x, 'dtype', None) == dtype:
        return as_variable(x)
    return Cast(dtype)(x)


from .variable import Variable, as_variable  # noqa: E402  (variable.py imports this module)
