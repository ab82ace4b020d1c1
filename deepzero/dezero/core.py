"""DeZero's ``dezero.core`` on deepzero's engine.

The classes are deepzero's own (``deepzero.core``): the same Variable,
Function and backprop. What differs is DeZero's conventions:

- ``Variable(data, name=None)`` takes part in backprop whatever its dtype:
  integer and bool data get exact gradients in their own dtype, as the book
  relies on (``Variable(np.array([[1, 2, 3], [4, 5, 6]]))`` then ``F.sum``
  and ``backward()`` gives int ones). deepzero's own ``Variable`` keeps
  integer data out of backprop (``requires_grad=True`` on it is a
  TypeError); this class always asks for a gradient, and lets int and bool
  data have one through the engine's one switch for that, the class
  attribute ``int_grads_allowed``.
- An op's result is an engine Variable, not an instance of this class; a
  metaclass makes ``isinstance(v, Variable)`` (and ``issubclass``) answer
  True for every engine Variable, so the ``isinstance`` checks of DeZero
  code hold.
- ``Config`` is the engine's run-time switches (``Config.enable_backprop``,
  ``Config.train``), per thread.
- ``as_array(x, array_module=np)`` and ``as_variable(obj)`` have DeZero's
  signatures.

Scalars meeting float32 data stay float32 (deepzero's rule): DeZero under
NumPy 2 turns ``x * 2`` of float32 ``x`` into float64; see docs/dezero.md.
"""
import numpy as np

from .. import core as engine
from ..core import Function, no_grad, test_mode, using_config
from ..core.operators import add, div, mul, neg, pow, sub

__all__ = ['Variable', 'Parameter', 'Function', 'Config', 'using_config', 'no_grad',
           'test_mode', 'as_array', 'as_variable', 'setup_variable',
           'add', 'sub', 'rsub', 'mul', 'div', 'rdiv', 'neg', 'pow']

Config = engine.config  # DeZero reads and sets class attributes: the engine's switches


class _EngineInstances(type):
    """``isinstance(v, dezero.Variable)`` holds for every engine Variable (an
    op's result is one), not only for those made by this face's constructor."""

    def __instancecheck__(cls, obj):
        return isinstance(obj, cls.engine_class)

    def __subclasscheck__(cls, sub):
        return issubclass(sub, cls.engine_class)


class Variable(engine.Variable, metaclass=_EngineInstances):
    """DeZero's Variable: deepzero's, taking part in backprop for any numeric
    data (see the module docstring). ``data``: an ndarray (NumPy or CuPy),
    a scalar, or None; ``name``: a label for ``repr`` and graph pictures."""
    engine_class = engine.Variable
    int_grads_allowed = True  # see the module docstring

    def __init__(self, data, name=None):
        # a placeholder (data None, filled in later, as DeZero's layers do with
        # their lazily made weights) takes part too
        super().__init__(data, name, requires_grad=True)


class Parameter(Variable, engine.Parameter):
    """A Variable that a layer owns and an optimizer updates (deepzero's
    ``Parameter``, so deepzero's optimizers and layers see it as one)."""
    engine_class = engine.Parameter


def as_variable(obj):
    """``obj`` if it is a Variable, else ``Variable(obj)``."""
    return obj if isinstance(obj, engine.Variable) else Variable(obj)


def as_array(x, array_module=np):
    """A scalar as a 0-d array of ``array_module`` (its NumPy dtype, as
    DeZero: ``as_array(1.0)`` is float64); anything else as it is."""
    return array_module.array(x) if np.isscalar(x) else x


def rsub(x0, x1):
    """``x1 - x0`` (DeZero's name for the reflected subtraction)."""
    return sub(x1, x0)


def rdiv(x0, x1):
    """``x1 / x0`` (DeZero's name for the reflected division)."""
    return div(x1, x0)


def setup_variable():
    """DeZero installs Variable's operators here. deepzero's Variable defines
    ``+ - * / ** @``, indexing, ``reshape``/``transpose``/``T``/``sum`` in its
    class, so there is nothing left to install; kept because DeZero's code
    (the book's steps 28 and 29) calls it."""
