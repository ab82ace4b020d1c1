"""Keras 3's functional namespace, ``keras.ops``, over deepzero.

Each function takes NumPy arrays, deepzero Variables or symbolic tensors
(KerasTensors), with Keras's argument names and defaults:

- on arrays and Variables it runs the deepzero ops at once and returns a
  Variable, deepzero's tensor (differentiable where its inputs require a
  gradient; ``convert_to_numpy`` gives the array);
- on a KerasTensor it records a graph step (layers/operation.py) and
  returns a KerasTensor, which a functional model or
  ``keras.backend.function`` runs later.

This module only adapts conventions: the math is in ``deepzero.functions``.
"""
import functools

import numpy as np

from .. import functions as F
from ..core import Variable, as_array, as_variable, cuda, get_array_module, runtime
from ..core.operators import cast as cast_op
from .node import KerasTensor
from .operation import symbolic_call

__all__ = ['mean', 'sum', 'max', 'min', 'std', 'var', 'square', 'sqrt', 'abs', 'absolute',
           'exp', 'log', 'power', 'add', 'subtract', 'multiply', 'divide', 'negative',
           'matmul', 'dot', 'reshape', 'transpose', 'concatenate', 'stack', 'expand_dims',
           'squeeze', 'relu', 'sigmoid', 'softmax', 'tanh', 'clip', 'maximum', 'minimum',
           'where', 'argmax', 'normalize', 'cast', 'stop_gradient', 'convert_to_tensor',
           'convert_to_numpy', 'shape', 'ndim', 'is_tensor']


def graph_step(impl):
    """``impl`` (eager, on arrays/Variables), recorded as a graph step when
    an argument is symbolic; the step is named after ``impl``."""
    @functools.wraps(impl)
    def op(*args, **kwargs):
        return symbolic_call(impl, *args, **kwargs)
    return op


# --- reductions ---------------------------------------------------------------------
@graph_step
def mean(x, axis=None, keepdims=False):
    return F.mean(x, _axis(axis), keepdims)


@graph_step
def sum(x, axis=None, keepdims=False):
    return F.sum(x, _axis(axis), keepdims)


@graph_step
def max(x, axis=None, keepdims=False, initial=None):
    y = F.max(x, _axis(axis), keepdims)
    return y if initial is None else F.maximum(y, initial)


@graph_step
def min(x, axis=None, keepdims=False, initial=None):
    y = F.min(x, _axis(axis), keepdims)
    return y if initial is None else F.minimum(y, initial)


@graph_step
def var(x, axis=None, keepdims=False):
    """Population variance (NumPy's ddof=0, as Keras)."""
    centred = F.sub(x, F.mean(x, _axis(axis), keepdims=True))
    return F.mean(F.mul(centred, centred), _axis(axis), keepdims)


@graph_step
def std(x, axis=None, keepdims=False):
    return F.sqrt(var(x, axis, keepdims))


@graph_step
def argmax(x, axis=None, keepdims=False):
    """int32 indices of the maxima (Keras's dtype); no gradient."""
    y = cast_op(F.argmax(x, axis), 'int32')
    if keepdims:
        y = F.expand_dims(y, axis) if axis is not None else F.reshape(y, (1,) * np.ndim(x))
    return y


def _axis(axis):
    return tuple(axis) if isinstance(axis, list) else axis


# --- elementwise --------------------------------------------------------------------
@graph_step
def square(x):
    return F.mul(x, x)


@graph_step
def sqrt(x):
    return F.sqrt(x)


@graph_step
def abs(x):
    return F.abs(x)


absolute = abs


@graph_step
def exp(x):
    return F.exp(x)


@graph_step
def log(x):
    return F.log(x)


@graph_step
def power(x1, x2):
    return F.pow(x1, x2)


@graph_step
def add(x1, x2):
    return F.add(x1, x2)


@graph_step
def subtract(x1, x2):
    return F.sub(x1, x2)


@graph_step
def multiply(x1, x2):
    return F.mul(x1, x2)


@graph_step
def divide(x1, x2):
    return F.div(x1, x2)


@graph_step
def negative(x):
    return F.neg(x)


@graph_step
def maximum(x1, x2):
    return F.maximum(x1, x2)


@graph_step
def minimum(x1, x2):
    return F.minimum(x1, x2)


@graph_step
def clip(x, x_min, x_max):
    return F.clip(x, x_min, x_max)


@graph_step
def where(condition, x1=None, x2=None):
    """``x1`` where ``condition`` holds, else ``x2`` (both needed here)."""
    if x1 is None or x2 is None:
        raise ValueError("where: give both x1 and x2 (the one-argument form, the indices "
                         "of the True entries, is not supported)")
    condition = condition.data if isinstance(condition, Variable) else condition
    condition = get_array_module(condition).asarray(condition).astype(bool, copy=False)
    return F.where(condition, x1, x2)


# --- activations --------------------------------------------------------------------
@graph_step
def relu(x):
    return F.relu(x)


@graph_step
def sigmoid(x):
    return F.sigmoid(x)


@graph_step
def tanh(x):
    return F.tanh(x)


@graph_step
def softmax(x, axis=-1):
    return F.softmax(x, axis)


@graph_step
def normalize(x, axis=-1, order=2, epsilon=None):
    """``x`` divided by its L2 norm along ``axis``, as Keras 3:
    ``x * min(1 / sqrt(sum(x**2)), 1 / epsilon)`` (epsilon default
    ``backend.epsilon()``). Only ``order=2``."""
    if order != 2:
        raise ValueError(f"normalize: only order=2 (the L2 norm) is supported, got {order!r}")
    epsilon = runtime.get('epsilon') if epsilon is None else epsilon
    x = as_variable(x)
    if x.ndim == 0:
        x = F.reshape(x, (1,))
    inv_norm = F.div(1.0, F.sqrt(F.sum(F.mul(x, x), axis=axis, keepdims=True)))
    return F.mul(x, F.minimum(inv_norm, 1.0 / epsilon))


# --- shapes ---------------------------------------------------------------------------
@graph_step
def matmul(x1, x2):
    return F.matmul(x1, x2)


@graph_step
def dot(x1, x2):
    """NumPy's ``dot`` for vectors and matrices (a matrix product; 1-d
    operands are vectors)."""
    x1, x2 = as_variable(x1), as_variable(x2)
    if x1.ndim > 2 and x2.ndim > 2:
        raise ValueError(f"dot: shapes {x1.shape} and {x2.shape}; use matmul for batches")
    return F.matmul(x1, x2)


@graph_step
def reshape(x, newshape):
    return F.reshape(x, (newshape,) if isinstance(newshape, int) else tuple(newshape))


@graph_step
def transpose(x, axes=None):
    return F.transpose(x, None if axes is None else tuple(axes))


@graph_step
def concatenate(xs, axis=0):
    return F.concat(list(xs), axis)


@graph_step
def stack(x, axis=0):
    return F.stack(list(x), axis)


@graph_step
def expand_dims(x, axis):
    return F.expand_dims(x, axis)


@graph_step
def squeeze(x, axis=None):
    return F.squeeze(x, axis)


# --- dtypes and conversions -----------------------------------------------------------
@graph_step
def cast(x, dtype):
    return cast_op(x, np.dtype(dtype))


@graph_step
def stop_gradient(x):
    """The same values, cut from the graph: no gradient flows through it."""
    return Variable(as_variable(x).data, requires_grad=False)


def convert_to_tensor(x, dtype=None, sparse=None):
    """A Variable holding ``x`` (a constant: no gradient), cast to ``dtype``;
    Python floats and float lists become float32 (deepzero's float); arrays
    keep their dtype; Variables and KerasTensors come back as they are
    unless cast."""
    if sparse:
        raise ValueError("convert_to_tensor: sparse tensors are not supported")
    if isinstance(x, (Variable, KerasTensor)):
        return x if dtype is None or np.dtype(dtype) == np.dtype(x.dtype) else cast(x, dtype)
    x = as_array(x)
    return Variable(x if dtype is None else x.astype(dtype, copy=False), requires_grad=False)


def convert_to_numpy(x):
    """A NumPy array (in host memory) of a Variable, array or scalar."""
    if isinstance(x, KerasTensor):
        raise ValueError(f"convert_to_numpy: {x} is symbolic and has no values yet; run "
                         "it with keras.backend.function or a Model first")
    return cuda.as_numpy(x)


def shape(x):
    """The shape as a tuple (None for sizes a symbolic tensor does not know)."""
    return tuple(x.shape) if hasattr(x, 'shape') else np.shape(x)


def ndim(x):
    return len(shape(x))


def is_tensor(x):
    """Whether ``x`` is deepzero's tensor, a Variable."""
    return isinstance(x, Variable)
