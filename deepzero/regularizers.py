"""Weight penalties by Keras name: ``get('l2')``, ``L1L2(l1=0.01, l2=0.01)``.

A regularizer maps a weight (Variable) to a 0-d Variable added to the loss;
layers collect these in ``layer.losses``.
"""
import abc

import numpy as np

from . import functions as F
from .core import as_variable

__all__ = ['Regularizer', 'L1', 'L2', 'L1L2', 'l1', 'l2', 'l1_l2', 'get', 'serialize']


class Regularizer(abc.ABC):
    """Base class: a weight penalty with a Keras config."""

    @abc.abstractmethod
    def __call__(self, x):
        """The penalty of weight ``x``: a 0-d Variable."""

    @abc.abstractmethod
    def get_config(self):
        """The constructor's arguments, as Keras saves them."""

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ', '.join(f'{k}={v}' for k, v in self.get_config().items())
        return f'{type(self).__name__}({args})'


class L1(Regularizer):
    """``l1 * sum(|x|)``."""

    def __init__(self, l1=0.01):
        self.l1 = float(l1)

    def __call__(self, x):
        return self.l1 * F.sum(F.abs(x))

    def get_config(self):
        return {'l1': self.l1}


class L2(Regularizer):
    """``l2 * sum(x ** 2)``."""

    def __init__(self, l2=0.01):
        self.l2 = float(l2)

    def __call__(self, x):
        return self.l2 * F.sum(x * x)

    def get_config(self):
        return {'l2': self.l2}


class L1L2(Regularizer):
    """``l1 * sum(|x|) + l2 * sum(x ** 2)``; both factors default to 0."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = float(l1)
        self.l2 = float(l2)

    def __call__(self, x):
        penalty = as_variable(np.zeros((), dtype=x.dtype))
        if self.l1:
            penalty = penalty + self.l1 * F.sum(F.abs(x))
        if self.l2:
            penalty = penalty + self.l2 * F.sum(x * x)
        return penalty

    def get_config(self):
        return {'l1': self.l1, 'l2': self.l2}


# Keras's lowercase aliases.
l1 = L1
l2 = L2
l1_l2 = L1L2

_BY_NAME = {'l1': L1, 'l2': L2, 'l1_l2': L1L2, 'L1': L1, 'L2': L2, 'L1L2': L1L2}


def get(identifier):
    """A regularizer from None, a name ('l1', 'l2', 'l1_l2' with Keras's
    default factors), a Keras-serialized dict, or a regularizer/callable."""
    if identifier is None:
        return None
    if isinstance(identifier, str):
        if identifier not in _BY_NAME:
            raise ValueError(f"Unknown regularizer {identifier!r}; known: {sorted(_BY_NAME)}")
        return _BY_NAME[identifier]()
    if isinstance(identifier, dict):
        name = identifier.get('class_name')
        if name not in _BY_NAME:
            raise ValueError(f"Unknown regularizer class {name!r}; known: {sorted(_BY_NAME)}")
        return _BY_NAME[name].from_config(identifier.get('config', {}))
    if callable(identifier):
        return identifier
    raise TypeError(f"Could not interpret regularizer {identifier!r}")


def serialize(regularizer):
    """Keras 3's dict form, or None."""
    if regularizer is None:
        return None
    return {'module': 'keras.regularizers', 'class_name': type(regularizer).__name__,
            'config': regularizer.get_config(), 'registered_name': None}
