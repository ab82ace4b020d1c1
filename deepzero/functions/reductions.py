"""Reductions beyond ``sum`` (which lives in core): mean, max/min, argmax, logsumexp.

Every reduction takes NumPy's ``axis`` (None, an int or a tuple, negatives
allowed) and ``keepdims``. Backward reshapes ``gy`` to the keepdims shape and
broadcasts it back over the reduced axes.
"""
import numpy as np

from ..core import Function, get_array_module
from ..core.operators import exp, keepdims_shape, unreduce

__all__ = ['MeanFunction', 'mean', 'Max', 'max', 'Min', 'min', 'ArgMax', 'argmax',
           'LogSumExp', 'logsumexp', 'logsumexp_array']


class MeanFunction(Function):
    def __init__(self, axis=None, keepdims=False):
        self.axis = axis
        self.keepdims = keepdims

    def forward(self, x):
        self.x_shape = x.shape
        y = x.mean(axis=self.axis, keepdims=self.keepdims)
        self.scale = y.size / x.size if x.size else 0.0  # 1 / (values per mean)
        return y

    def backward(self, gy):
        return unreduce(gy, self.x_shape, self.axis) * self.scale


def mean(x, axis=None, keepdims=False):
    """Arithmetic mean over ``axis`` (all axes by default)."""
    return MeanFunction(axis, keepdims)(x)


class Max(Function):
    """Largest value over ``axis``.

    The gradient is shared evenly among tied maxima, like ``torch.amax`` (and
    ``torch.max`` without a dim); ``torch.max(x, dim)`` would instead send it
    all to one index. Even sharing is the average of the one-sided derivatives,
    and it keeps ``max(x) == -min(-x)`` true for gradients.
    """
    reduce = 'max'  # the array method doing the forward reduction

    def __init__(self, axis=None, keepdims=False):
        self.axis = axis
        self.keepdims = keepdims

    def forward(self, x):
        if x.size == 0:
            raise ValueError(f"{self.reduce}: x is empty (shape {x.shape}); "
                             "there is no value to pick")
        return getattr(x, self.reduce)(axis=self.axis, keepdims=self.keepdims)

    def backward(self, gy):
        x = self.inputs[0].data
        y = self.outputs[0]().data.reshape(keepdims_shape(x.shape, self.axis))
        share = (x == y).astype(gy.dtype)
        share /= share.sum(axis=self.axis, keepdims=True)
        return unreduce(gy, x.shape, self.axis) * share


class Min(Max):
    """Smallest value over ``axis``; ties share the gradient evenly."""
    reduce = 'min'


def max(x, axis=None, keepdims=False):
    """Maximum over ``axis`` (all axes by default); ties share the gradient."""
    return Max(axis, keepdims)(x)


def min(x, axis=None, keepdims=False):
    """Minimum over ``axis`` (all axes by default); ties share the gradient."""
    return Min(axis, keepdims)(x)


class ArgMax(Function):
    """Index of the largest value; integer output, so it has no gradient."""

    def __init__(self, axis=None):
        self.axis = axis

    def forward(self, x):
        return get_array_module(x).argmax(x, axis=self.axis)


def argmax(x, axis=None):
    """Indices of the maxima along ``axis`` (of the flattened ``x`` when None).

    Returns a Variable holding integer data with ``requires_grad=False``.
    """
    return ArgMax(axis)(x)


def logsumexp_array(x, axis=None):
    """``log(sum(exp(x)))`` over ``axis`` on a raw array, keeping the reduced
    axes (size 1). The max is shifted out first, so large inputs do not
    overflow; an all ``-inf`` slice gives ``-inf``."""
    xp = get_array_module(x)
    shift = x.max(axis=axis, keepdims=True)
    shift = xp.where(xp.isfinite(shift), shift, 0)  # all -inf (or +inf) slices: no shift
    with np.errstate(divide='ignore'):  # log(0) = -inf is right for an all -inf slice
        return xp.log(xp.exp(x - shift).sum(axis=axis, keepdims=True)) + shift


class LogSumExp(Function):
    def __init__(self, axis=None, keepdims=False):
        self.axis = axis
        self.keepdims = keepdims

    def forward(self, x):
        self.x_shape = x.shape
        y = logsumexp_array(x, self.axis)
        return y if self.keepdims else y.squeeze(self.axis)

    def backward(self, gy):
        # d/dx logsumexp = softmax(x) = exp(x - y), written with ops so that
        # higher derivatives flow through y.
        y = self.outputs[0]()
        y = unreduce(y, self.x_shape, self.axis)
        return unreduce(gy, self.x_shape, self.axis) * exp(self.inputs[0] - y)


def logsumexp(x, axis=None, keepdims=False):
    """``log(sum(exp(x), axis))`` computed without overflow."""
    return LogSumExp(axis, keepdims)(x)
