"""Activation functions, written to stay finite for any float input.

Backward passes reuse the forward output where the derivative is a function
of it (sigmoid, tanh-like, softmax), and piecewise-linear activations multiply
``gy`` by a constant mask or factor array: their second derivative is zero
almost everywhere, so that is exact to any order.
"""
from .. import kernels
from ..core import Function, get_array_module
from ..core.operators import exp
from .math import where
from .reductions import logsumexp_array

__all__ = ['Sigmoid', 'sigmoid', 'ReLUFunction', 'ReLUGrad', 'relu', 'relu6',
           'LeakyReLUFunction', 'leaky_relu', 'ELU', 'elu', 'Softplus', 'softplus',
           'SoftmaxFunction', 'softmax',
           'LogSoftmax', 'log_softmax']


class Sigmoid(Function):
    def forward(self, x):
        xp = get_array_module(x)
        # exp(-|x|) is in (0, 1]: no overflow. sigmoid(x) = 1 / (1 + e) for
        # x >= 0 and e / (1 + e) for x < 0, where e = exp(-|x|).
        e = xp.exp(-xp.abs(x))
        return xp.where(x >= 0, 1, e) / (1 + e)

    def backward(self, gy):
        y = self.outputs[0]()
        return gy * y * (1 - y)


def sigmoid(x):
    """``1 / (1 + exp(-x))``, accurate and warning-free for large ``|x|``."""
    return Sigmoid()(x)


class ReLUFunction(Function):
    def __init__(self, max_value=None):
        if max_value is not None and not max_value > 0:
            raise ValueError(f"relu: max_value must be positive, got {max_value}")
        self.max_value = max_value

    def forward(self, x):
        return kernels.for_arrays(x).relu(x, self.max_value)

    def backward(self, gy):
        # The mask comes from the output (y > 0 exactly where x > 0).
        y = self.outputs[0]().data
        return ReLUGrad(kernels.for_arrays(y).relu_mask(y, self.max_value))(gy)


class ReLUGrad(Function):
    """gy * passing: ReLU's backward, given where its gradient is 1 (a bool
    array, see ``kernels.cpu.relu_mask``).

    Linear in gy with a constant mask, so its own gradient is ReLUGrad again
    (exact to any order)."""

    def __init__(self, passing):
        self.passing = passing

    def forward(self, gy):
        return kernels.for_arrays(gy).relu_grad(gy, self.passing)

    def backward(self, ggx):
        return ReLUGrad(self.passing)(ggx)


def relu(x, max_value=None):
    """``max(x, 0)``, capped at ``max_value`` when given (Keras' ``ReLU(max_value)``).

    The gradient is 1 where ``0 < x < max_value`` and 0 elsewhere (0 at the
    kinks, as in PyTorch).
    """
    return ReLUFunction(max_value)(x)


def relu6(x):
    """``min(max(x, 0), 6)`` (MobileNet's activation)."""
    return relu(x, max_value=6.0)


class LeakyReLUFunction(Function):
    def __init__(self, negative_slope=0.2):
        self.negative_slope = negative_slope

    def forward(self, x):
        return x * self._slopes(x)

    def backward(self, gy):
        return gy * self._slopes(self.inputs[0].data)

    def _slopes(self, x):
        """1 where x > 0, ``negative_slope`` elsewhere, in x's dtype."""
        xp = get_array_module(x)
        return xp.where(x > 0, x.dtype.type(1), x.dtype.type(self.negative_slope))


def leaky_relu(x, negative_slope=0.2):
    """``x`` for ``x > 0``, ``negative_slope * x`` otherwise (Keras' default slope 0.2)."""
    return LeakyReLUFunction(negative_slope)(x)


class ELU(Function):
    def __init__(self, alpha=1.0):
        self.alpha = alpha

    def forward(self, x):
        xp = get_array_module(x)
        alpha = x.dtype.type(self.alpha)
        # expm1 of min(x, 0): accurate near 0 and never overflows for large x.
        return xp.where(x > 0, x, alpha * xp.expm1(xp.minimum(x, 0)))

    def backward(self, gy):
        # For x <= 0, d/dx alpha (e^x - 1) = alpha e^x = y + alpha: written with
        # the output y so the second derivative flows through it.
        y = self.outputs[0]()
        return gy * where(self.inputs[0].data > 0, 1.0, y + self.alpha)


def elu(x, alpha=1.0):
    """``x`` for ``x > 0``, ``alpha * (exp(x) - 1)`` otherwise.

    At 0 the gradient is ``alpha`` (PyTorch's choice).
    """
    return ELU(alpha)(x)


class Softplus(Function):
    def forward(self, x):
        xp = get_array_module(x)
        # log(1 + e^x) = max(x, 0) + log1p(e^-|x|): no overflow, exact for large x.
        return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))

    def backward(self, gy):
        return gy * sigmoid(self.inputs[0])


def softplus(x):
    """``log(1 + exp(x))``, stable for large ``|x|``."""
    return Softplus()(x)


class SoftmaxFunction(Function):
    def __init__(self, axis=-1):
        self.axis = axis

    def forward(self, x):
        xp = get_array_module(x)
        y = xp.exp(x - x.max(axis=self.axis, keepdims=True))  # max-shifted: no overflow
        y /= y.sum(axis=self.axis, keepdims=True)
        return y

    def backward(self, gy):
        y = self.outputs[0]()
        gx = y * gy
        return gx - y * gx.sum(axis=self.axis, keepdims=True)


def softmax(x, axis=-1):
    """``exp(x) / sum(exp(x))`` along ``axis`` (default: the last)."""
    return SoftmaxFunction(axis)(x)


class LogSoftmax(Function):
    def __init__(self, axis=-1):
        self.axis = axis

    def forward(self, x):
        return x - logsumexp_array(x, self.axis)

    def backward(self, gy):
        y = self.outputs[0]()
        return gy - exp(y) * gy.sum(axis=self.axis, keepdims=True)


def log_softmax(x, axis=-1):
    """``x - logsumexp(x)`` along ``axis``: the log of ``softmax``, computed
    without forming softmax (finite even where softmax underflows to 0)."""
    return LogSoftmax(axis)(x)
