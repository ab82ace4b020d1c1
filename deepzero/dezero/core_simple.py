"""DeZero's ``dezero.core_simple``: the core of the book's steps 23 to 32.

DeZero's simple core is a first, smaller Variable whose gradients are plain
arrays (no higher-order gradients, no broadcasting). Here it is deepzero's
engine again, not a second one: ``Variable`` is this face's DeZero Variable
whose ``grad`` reads as an array. Backprop runs as everywhere else and keeps
the gradient as a Variable underneath; the steps that use this core (28:
gradient descent with ``x.data -= lr * x.grad``, 29: Newton's method) see
arrays, as they expect. The ops are the engine's, with broadcasting.
"""
from .. import core as engine
from ..core import Function, no_grad, using_config
from ..core.operators import add, div, mul, neg, pow, sub
from . import core
from .core import Config, as_array, rdiv, rsub, setup_variable

__all__ = ['Variable', 'Function', 'Config', 'using_config', 'no_grad', 'as_array',
           'as_variable', 'setup_variable',
           'add', 'sub', 'rsub', 'mul', 'div', 'rdiv', 'neg', 'pow']


class Variable(core.Variable):
    """DeZero's simple Variable: ``grad`` is an ndarray (or None). Setting it
    takes an array or a Variable."""

    @property
    def grad(self):
        return None if self._grad is None else self._grad.data

    @grad.setter
    def grad(self, value):
        self._grad = None if value is None else engine.as_variable(value)


def as_variable(obj):
    """``obj`` if it is a Variable, else ``Variable(obj)`` (a simple one)."""
    return obj if isinstance(obj, core.Variable) else Variable(obj)
