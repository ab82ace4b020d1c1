"""``Variable``: a box holding an array, its gradient and the function that made it.

Backprop walks from a Variable to its ``creator`` (a Function), from there to
the creator's inputs, and so on. Functions are visited latest-generation first
(a heap), so a Variable used by several functions receives all of its
gradient before its own creator runs.
"""
import heapq

import numpy as np

from .array_module import ARRAY_TYPES, as_array, is_scalar
from .config import config


# dtype kinds a Variable holds: bool, signed and unsigned int, float, complex.
# Kinds rather than array types, so CuPy arrays pass just as NumPy's do.
NUMERIC_KINDS = 'biufc'


class FunctionQueue:
    """The functions a backward pass has still to run: latest generation
    first, functions of one generation in the order they were pushed (not by
    memory address, which changes from run to run: the gradients a Variable
    receives are summed in the same order every time). A function pushed
    again is ignored."""

    def __init__(self):
        self._heap, self._seen, self._pushed = [], set(), 0

    def push(self, f):
        if id(f) not in self._seen:
            self._seen.add(id(f))
            self._pushed += 1
            heapq.heappush(self._heap, (-f.generation, self._pushed, f))

    def pop(self):
        return heapq.heappop(self._heap)[2]

    def __bool__(self):
        return bool(self._heap)


class Variable:
    """An n-d array that remembers how it was computed.

    Args:
        data: ndarray (NumPy or CuPy), Python scalar or nested list, of
            bool or numeric dtype (TypeError otherwise), or None for a
            placeholder filled in later (as in DeZero). Python floats and
            float lists become float32.
        name: optional label, shown in ``repr`` and graph pictures.
        requires_grad: whether backprop computes a gradient for this Variable.
            Defaults to True for floating-point data, False otherwise
            (labels, indices). True on integer or bool data is a TypeError
            (as setting ``requires_grad`` later is), unless the class allows
            integer gradients (``int_grads_allowed``).
    """
    __array_priority__ = 200  # `ndarray + Variable` calls Variable.__radd__

    # The one way to let integer and bool data require a gradient: a subclass
    # sets this True (the DeZero face's Variable does, as DeZero's book runs
    # F.sum and backward() on int data). Such a gradient is exact and in the
    # data's dtype (the gradient of a sum over int data is int ones), and the
    # results of ops on that data take part in backprop too (Function._link).
    # The engine's own Variables, and so the Keras face, keep the TypeError:
    # a gradient truncated to ints would leave a trainable int weight unmoved.
    int_grads_allowed = False

    def __init__(self, data, name=None, requires_grad=None):
        if data is not None and not isinstance(data, ARRAY_TYPES):
            if isinstance(data, Variable):
                raise TypeError("Variable(data): data is already a Variable; "
                                "use it directly or pass data.data")
            data = as_array(data)
        if data is not None and data.dtype.kind not in NUMERIC_KINDS:
            raise TypeError(f"Variable(data): data has dtype {data.dtype}, which is not "
                            "numeric; a Variable holds bool, int, float or complex data")
        self.data = data
        self.name = name
        self.grad = None
        self.creator = None
        self.generation = 0
        if requires_grad is None:
            requires_grad = data is not None and _is_float(data.dtype)
        elif requires_grad:
            self._check_grad_dtype()
        self._requires_grad = bool(requires_grad)  # as the setter does, without its call

    # --- the gradient flag -------------------------------------------------
    @property
    def requires_grad(self):
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        if value:
            self._check_grad_dtype()
        self._requires_grad = bool(value)

    def _check_grad_dtype(self):
        """TypeError unless this Variable's data may require a gradient:
        floating-point or complex data (or none yet), or any numeric data
        where the class sets ``int_grads_allowed``."""
        if (self.data is not None and not _is_float(self.data.dtype)
                and not self.int_grads_allowed):
            raise TypeError(
                f"{self._label()} holds {self.data.dtype} data; gradients need "
                "floating-point data (cast it with .astype('float32'))")

    # --- array-like properties ---------------------------------------------
    @property
    def shape(self):
        return self.data.shape

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def size(self):
        return self.data.size

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def T(self):
        return transpose(self)

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        if self.data is None:
            return 'variable(None)'
        body = str(self.data).replace('\n', '\n' + ' ' * 9)
        name = f", name={self.name!r}" if self.name else ''
        return f'variable({body}{name})'

    def _label(self):
        return f"Variable {self.name!r}" if self.name else "Variable"

    # --- graph --------------------------------------------------------------
    def set_creator(self, func):
        self.creator = func
        self.generation = func.generation + 1

    def cleargrad(self):
        self.grad = None

    def unchain(self):
        self.creator = None

    def unchain_backward(self):
        """Cut the graph above this Variable (e.g. truncated backprop)."""
        funcs = [self.creator] if self.creator is not None else []
        self.unchain()
        while funcs:
            f = funcs.pop()
            for x in f.inputs:
                if x.creator is not None:
                    funcs.append(x.creator)
                    x.unchain()

    def backward(self, retain_grad=False, create_graph=False, grad_ready=None):
        """Accumulate d(self)/d(v) into ``v.grad`` for every Variable ``v``
        that requires a gradient and that ``self`` depends on.

        The gradient flowing back starts from ``self.grad``, ones when it is
        None; one set by hand (an array or a Variable) must have ``self``'s
        shape and is cast to its dtype (``seed_for``). Gradients add up across calls until ``cleargrad()``. With
        ``retain_grad=False`` only leaves (Variables without a creator) keep
        their ``grad``; with ``retain_grad=True`` intermediate Variables add
        this call's gradient to theirs too, as PyTorch's ``retain_grad()``
        does. With ``create_graph=True`` the backward computation is itself
        recorded, so ``v.grad.backward()`` gives second derivatives.

        ``grad_ready``: None, or a callable that gets every leaf which receives
        a gradient in this call, once, as ``grad_ready(leaf)``, as soon as the
        leaf's ``grad`` is complete: when every function of the graph that uses
        the leaf has run its backward (a weight shared by several layers is
        handed over after the last of them). Leaves are handed over while
        backward goes on (the last layers' first), so the caller can start work
        on finished gradients, e.g. send them to other processes; a leaf whose
        uses were not all reached (a branch that got no gradient) is handed
        over when the walk ends.
        """
        if not self.requires_grad:
            raise RuntimeError(
                f"{self._label()} does not require a gradient: nothing it depends "
                "on requires one (computed under no_grad(), or from constants)")
        label = self._label()
        seed = seed_for(self, self.grad, f"{label}.grad (the seed of backward())", label)
        if self.grad is None:
            self.grad = seed

        # This call's gradient of each intermediate Variable, summed over the
        # functions that use it; complete once its creator comes off the heap.
        # Kept apart from ``.grad``, which may hold what earlier calls retained:
        # only this call's gradient may flow further down.
        call_grads = {self: seed}
        queue = FunctionQueue()
        push = queue.push

        def run(f, outputs, gys):
            # the switch set and restored by hand: a using_config() block per
            # function costs a generator and a context manager
            enable_backprop = config.enable_backprop
            config.enable_backprop = create_graph
            try:
                if retain_grad:
                    for y, gy in zip(outputs, gys):
                        if gy is not None and y is not self:  # self.grad is the seed
                            y.grad = _accumulate(y.grad, gy)
                if len(gys) > 1:  # an unused output of a multi-output op gets zeros
                    xp = _xp(f.inputs[0].data)
                    gys = [g if g is not None else
                           Variable(xp.zeros(shape, dtype), requires_grad=False)
                           for g, (shape, dtype) in zip(gys, f.output_meta)]
                gxs = f.backward(*gys)
                if not isinstance(gxs, tuple):
                    gxs = (gxs,)
                for x, gx in zip(f.inputs, gxs):
                    if gx is None or not x._requires_grad:  # the property's storage
                        continue
                    if x.creator is None:
                        x.grad = _accumulate(x.grad, gx)
                        if leaf_uses is not None:
                            received[x] = True
                    else:
                        call_grads[x] = _accumulate(call_grads.get(x), gx)
                        push(x.creator)
            finally:
                config.enable_backprop = enable_backprop

        # grad_ready's bookkeeping: the uses (input slots) of each leaf that
        # functions still to run hold, and the leaves that got a gradient
        leaf_uses = None if grad_ready is None else _leaf_uses(self)
        received = {}   # a dict, not a set: hands leaves over in a fixed order
        if self.creator is not None:
            push(self.creator)
        while queue:
            f = queue.pop()
            outputs = [ref() for ref in f.outputs]
            gys = [call_grads.pop(y, None) for y in outputs]  # None: dead or unused
            if not retain_grad:
                for y in outputs:
                    if y is not None:
                        y.grad = None
            if any(g is not None for g in gys):
                run(f, outputs, gys)
            if leaf_uses is not None:
                for x in f.inputs:
                    if x in leaf_uses:
                        leaf_uses[x] -= 1
                        if leaf_uses[x] == 0 and received.pop(x, False):
                            grad_ready(x)
        for x in received:   # leaves some of whose uses backward never reached
            grad_ready(x)

    # --- operators (the ops live in core/operators.py) ---------------------
    def __add__(self, other):
        return add(self, other)

    def __radd__(self, other):
        return add(other, self)

    def __sub__(self, other):
        return sub(self, other)

    def __rsub__(self, other):
        return sub(other, self)

    def __mul__(self, other):
        return mul(self, other)

    def __rmul__(self, other):
        return mul(other, self)

    def __truediv__(self, other):
        return div(self, other)

    def __rtruediv__(self, other):
        return div(other, self)

    def __neg__(self):
        return neg(self)

    def __pow__(self, other):
        return pow(self, other)

    def __rpow__(self, other):
        return pow(other, self)

    def __matmul__(self, other):
        return matmul(self, other)

    def __rmatmul__(self, other):
        return matmul(other, self)

    def __getitem__(self, index):
        return getitem(self, index)

    # Ordering comparisons give plain boolean arrays (no gradient). `==` and
    # `!=` stay identity comparisons so Variables can sit in sets and lists.
    def __lt__(self, other):
        return self.data < _raw(other)

    def __le__(self, other):
        return self.data <= _raw(other)

    def __gt__(self, other):
        return self.data > _raw(other)

    def __ge__(self, other):
        return self.data >= _raw(other)

    __hash__ = object.__hash__

    # --- methods mirroring NumPy -------------------------------------------
    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = shape[0]
        return reshape(self, tuple(shape))

    def transpose(self, *axes):
        if len(axes) == 0:
            axes = None
        elif len(axes) == 1 and (isinstance(axes[0], (tuple, list)) or axes[0] is None):
            axes = axes[0]
        return transpose(self, axes)

    def sum(self, axis=None, keepdims=False):
        return sum(self, axis, keepdims)

    def astype(self, dtype):
        """A new leaf Variable with the data cast (no gradient link)."""
        return Variable(self.data.astype(dtype), name=self.name)

    def numpy(self):
        return self.data

    # --- devices (core/cuda.py) --------------------------------------------
    @property
    def device(self):
        """'gpu' when the data is a CuPy array, else 'cpu'."""
        return cuda.device_of(self.data)

    def to_cpu(self):
        """Move the data, and the gradient, to host memory (NumPy), in place;
        returns self. A no-op for data already there (CuPy not needed)."""
        return self._move(cuda.as_numpy, 'cpu')

    def to_gpu(self):
        """Move the data, and the gradient, to the current GPU (CuPy), in
        place; returns self. RuntimeError, saying why, where CuPy or a CUDA
        GPU is missing."""
        cuda.require_gpu(f"{self._label()}.to_gpu()")
        return self._move(cuda.as_cupy, 'gpu')

    def _move(self, convert, device):
        if self.data is not None and cuda.device_of(self.data) != device:
            self.data = convert(self.data)
        if self.grad is not None:
            self.grad._move(convert, device)
        return self


class Parameter(Variable):
    """A Variable that a layer owns and an optimizer updates."""


def as_variable(obj, dtype=None):
    """Wrap ``obj`` in a Variable; arrays and scalars become constants
    (``requires_grad=False``) and scalars take ``dtype``."""
    if isinstance(obj, Variable):
        return obj
    return Variable(as_array(obj, dtype), requires_grad=False)


def seed_for(output, seed, seed_name, output_name):
    """The gradient that backprop starts from at ``output``, as a Variable of
    ``output``'s shape and dtype: ones for ``seed`` None, else ``seed`` (an
    array, scalar or Variable: ``.grad`` set before ``backward()``, or
    ``grad()``'s ``grad_outputs``) checked, the rule of both.

    The shape must be ``output``'s: ValueError otherwise (no broadcasting, as
    ``torch.autograd.grad``). A seed of another dtype is cast to ``output``'s
    where NumPy's 'same_kind' rule allows it (a float64 or int seed for
    float32 data gives float32 gradients, as in PyTorch); TypeError where it
    does not (a complex seed for real data, a float seed for int data), as
    the cast would drop the imaginary part or the fractions. A seed Variable
    that requires a gradient is cast by the ``cast`` op, keeping its graph.
    ``seed_name`` and ``output_name`` name the two in the error messages.
    """
    if seed is None:
        return Variable(_xp(output.data).ones_like(output.data), requires_grad=False)
    seed = as_variable(seed)
    if seed.shape != output.shape:
        raise ValueError(f"{seed_name} has shape {seed.shape}, but {output_name} has "
                         f"shape {output.shape}: a seed needs its output's shape")
    dtype = output.data.dtype
    if seed.data.dtype != dtype:
        if not np.can_cast(seed.data.dtype, dtype, 'same_kind'):
            raise TypeError(f"{seed_name} has dtype {seed.data.dtype}, which does not "
                            f"cast safely to {output_name}'s dtype {dtype} (NumPy's "
                            "'same_kind' rule); pass a seed of that dtype")
        seed = cast(seed, dtype)
    return seed


def _is_float(dtype):
    return dtype.kind in 'fc'   # floating or complex; cheaper than np.issubdtype


def _accumulate(total, g):
    """``total + g``, a new Variable (an in-place add would change a gradient
    that another Variable may share); ``g`` itself when ``total`` is None."""
    return g if total is None else total + g


def _leaf_uses(root):
    """{leaf: number of input slots of the functions above ``root`` that hold
    it}, for every leaf requiring a gradient that backward from ``root`` may
    reach; a superset of the functions backward runs, so a count that falls to
    0 means the leaf will get nothing more."""
    uses, seen = {}, set()
    funcs = [root.creator] if root.creator is not None else []
    while funcs:
        f = funcs.pop()
        for x in f.inputs:
            if not x.requires_grad:
                continue
            if x.creator is None:
                uses[x] = uses.get(x, 0) + 1
            elif id(x.creator) not in seen:
                seen.add(id(x.creator))
                funcs.append(x.creator)
    return uses


def _raw(x):
    return x.data if isinstance(x, Variable) else x


def _xp(data):
    from .array_module import get_array_module
    return get_array_module(data)


# The operators above call these; imported last because they build on Variable.
from .operators import (add, sub, mul, div, neg, pow, matmul, getitem,  # noqa: E402
                        reshape, transpose, sum, cast)
from . import cuda  # noqa: E402  (cuda.py reads Variables too)
