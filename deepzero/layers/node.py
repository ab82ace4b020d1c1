"""``KerasTensor`` and ``Node``: the symbolic graph of the functional API.

Calling a layer on KerasTensors runs no math: it records a ``Node`` (which
layer, on which tensors, giving which tensors) and returns new KerasTensors
carrying only a shape and a dtype. A functional ``Model`` later walks these
nodes from its outputs back to its inputs.
"""
from .. import functions as F


class KerasTensor:
    """A symbolic tensor: ``shape`` with None for the batch axis, ``dtype``, and
    ``keras_history`` = (layer, node_index, tensor_index) naming its producer."""

    def __init__(self, shape, dtype='float32', keras_history=None, name=None):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = dtype
        self.keras_history = keras_history
        self.name = name

    # numpy_array * tensor: NumPy leaves the operation to KerasTensor.__rmul__
    __array_ufunc__ = None

    @property
    def ndim(self):
        return len(self.shape)

    # Ops on a KerasTensor record graph steps (layers/operation.py): slicing
    # as ``model.output[:, 386]``, arithmetic as ``grads / (norm + 1e-5)``.
    def __getitem__(self, index):
        return _op('getitem', self, index)

    def __add__(self, other):
        return _op('add', self, other)

    def __radd__(self, other):
        return _op('add', other, self)

    def __sub__(self, other):
        return _op('sub', self, other)

    def __rsub__(self, other):
        return _op('sub', other, self)

    def __mul__(self, other):
        return _op('mul', self, other)

    def __rmul__(self, other):
        return _op('mul', other, self)

    def __truediv__(self, other):
        return _op('div', self, other)

    def __rtruediv__(self, other):
        return _op('div', other, self)

    def __pow__(self, other):
        return _op('pow', self, other)

    def __rpow__(self, other):
        return _op('pow', other, self)

    def __matmul__(self, other):
        return _op('matmul', self, other)

    def __rmatmul__(self, other):
        return _op('matmul', other, self)

    def __neg__(self):
        return _op('neg', self)

    def __abs__(self):
        return _op('abs', self)

    def __iter__(self):
        raise TypeError(f"{self} is symbolic and cannot be iterated; index it (t[:, 0]) "
                        "instead")

    # identity, as Variables: tensors are keys of the graph's dicts
    __hash__ = object.__hash__

    def __repr__(self):
        producer = self.keras_history[0].name if self.keras_history else None
        return (f"<KerasTensor shape={self.shape}, dtype={self.dtype}, "
                f"name={self.name or producer}>")


def _op(name, *args):
    """The graph step of the deepzero function ``name`` on ``args``."""
    from .operation import symbolic_call  # operation.py builds on this module
    return symbolic_call(getattr(F, name), *args)


class Node:
    """One call of ``layer`` on symbolic inputs.

    ``call_args``: the inputs as passed (a KerasTensor or a list of them);
    ``call_kwargs``: extra keyword arguments (e.g. ``training``);
    ``input_tensors`` / ``outputs``: flat lists of KerasTensors.
    An InputLayer's node has no inputs (``is_input``).
    """

    def __init__(self, layer, call_args=None, call_kwargs=None, outputs=()):
        self.layer = layer
        self.call_args = call_args
        self.call_kwargs = dict(call_kwargs or {})
        self.input_tensors = flatten(call_args) if call_args is not None else []
        self.outputs = list(outputs)
        self.is_input = call_args is None
        node_index = len(layer._inbound_nodes)
        layer._inbound_nodes.append(self)
        for i, tensor in enumerate(self.outputs):
            tensor.keras_history = (layer, node_index, i)

    @property
    def parent_nodes(self):
        return [t.keras_history[0]._inbound_nodes[t.keras_history[1]]
                for t in self.input_tensors]


def flatten(structure):
    """The leaves of nested lists/tuples, in order (a non-list is one leaf)."""
    if isinstance(structure, (list, tuple)) and not is_shape(structure):
        return [leaf for item in structure for leaf in flatten(item)]
    return [structure]


def map_structure(fn, structure):
    """Apply ``fn`` to each leaf, keeping the list nesting (shapes are leaves)."""
    if isinstance(structure, (list, tuple)) and not is_shape(structure):
        return [map_structure(fn, item) for item in structure]
    return fn(structure)


def is_shape(value):
    """True for a shape tuple like (None, 8, 8, 3) (ints and None only)."""
    return isinstance(value, tuple) and all(d is None or isinstance(d, int) for d in value)
