"""Activation functions by Keras name: ``get('relu')``, ``serialize(fn)``.

Each activation maps a Variable to a Variable with deepzero ops, so it is
differentiable. Layers store the function and write its name into their
config, as Keras 3 does (``"activation": "relu"``).
"""
from . import functions as F

__all__ = ['linear', 'relu', 'relu6', 'leaky_relu', 'elu', 'selu', 'sigmoid', 'hard_sigmoid', 'tanh',
           'softplus', 'softsign', 'silu', 'swish', 'exponential', 'softmax', 'log_softmax',
           'get', 'serialize']


def linear(x):
    """Identity (Keras's default activation)."""
    return x


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Keras's relu: ``x`` for ``threshold <= x < max_value``, ``max_value``
    above it, ``negative_slope * (x - threshold)`` below the threshold."""
    if negative_slope == 0 and threshold == 0:
        return F.relu(x, max_value=max_value)
    below = negative_slope * (x - threshold)
    y = F.where(x.data >= threshold, x, below)
    if max_value is not None:
        y = F.minimum(y, max_value)
    return y


def relu6(x):
    return F.relu6(x)


def leaky_relu(x, negative_slope=0.2):
    return F.leaky_relu(x, negative_slope=negative_slope)


def elu(x, alpha=1.0):
    return F.elu(x, alpha)


def selu(x):
    """Scaled ELU with the constants of Klambauer et al. (2017)."""
    alpha, scale = 1.6732632423543772, 1.0507009873554805
    return scale * F.elu(x, alpha)


def sigmoid(x):
    return F.sigmoid(x)


def hard_sigmoid(x):
    """Keras 3's piecewise-linear sigmoid: ``relu6(x + 3) / 6``."""
    return F.relu6(x + 3.0) / 6.0


def tanh(x):
    return F.tanh(x)


def softplus(x):
    return F.softplus(x)


def softsign(x):
    return x / (F.abs(x) + 1.0)


def silu(x):
    """``x * sigmoid(x)``, also known as swish."""
    return x * F.sigmoid(x)


swish = silu


def exponential(x):
    return F.exp(x)


def softmax(x, axis=-1):
    return F.softmax(x, axis=axis)


def log_softmax(x, axis=-1):
    return F.log_softmax(x, axis=axis)


_BY_NAME = {fn.__name__: fn for fn in (
    linear, relu, relu6, leaky_relu, elu, selu, sigmoid, hard_sigmoid, tanh,
    softplus, softsign, silu, exponential, softmax, log_softmax)}
_BY_NAME['swish'] = silu


def get(identifier):
    """An activation function from a name, a Keras-serialized dict, a
    callable (returned as is) or None (linear)."""
    if identifier is None:
        return linear
    if isinstance(identifier, dict):  # {'class_name': 'function', 'config': 'relu'}
        identifier = identifier.get('config')
    if isinstance(identifier, str):
        try:
            return _BY_NAME[identifier]
        except KeyError:
            raise ValueError(f"Unknown activation {identifier!r}; known: "
                             f"{sorted(_BY_NAME)}") from None
    if callable(identifier):
        return identifier
    raise TypeError(f"Could not interpret activation {identifier!r}: expected a "
                    "name, a callable or None")


def serialize(activation):
    """The name Keras writes in configs (``'relu'``); custom callables are
    written by their ``__name__``."""
    name = getattr(activation, '__name__', None)
    if name is None:
        raise TypeError(f"Cannot serialize activation {activation!r}: it has no name")
    return name
