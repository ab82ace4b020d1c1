"""Ops on symbolic tensors: ``model.output[:, 386]``, ``K.mean(t)``,
``K.gradients(loss, model.input)``.

Keras lets any op take a symbolic tensor (a KerasTensor) and gives back
another one, a step of the graph that a functional model or
``keras.backend.function`` runs later. Here such a step is a ``Node`` of an
``Operation``: a weight-free layer holding one deepzero function and the
arguments it was called with, the KerasTensors among them replaced by slots.
When the graph runs, the slots receive the Variables computed for those
tensors and the function runs define-by-run on them, so the step is
differentiable like any other. The output shape comes from running the
function on stand-in arrays (each unknown size as 2, then as 3: a size that
differs between the two is unknown in the result).

``Gradients`` is the step that ``K.gradients`` records: it takes the loss
and the tensors to differentiate by as inputs and, when the graph runs, asks
the engine (``core.grad``) for the gradient of the loss's sum with respect
to the Variables computed for them.

``symbolic_call(fn, *args, **kwargs)`` is the dispatch every such op uses:
``fn(*args, **kwargs)`` where no argument is symbolic, else a new
``Operation`` node.
"""
import numpy as np

from ..core import Variable, as_array, get_array_module, grad, no_grad
from ..core.naming import unique_name
from .layer import Layer
from .node import KerasTensor, flatten


class _Slot:
    """Where the ``index``-th symbolic argument goes in an Operation's call."""

    def __init__(self, index):
        self.index = index


def _with_slots(item, tensors):
    """``item`` (args, nested in tuples/lists/dicts) with each KerasTensor
    replaced by a slot and appended to ``tensors``."""
    if isinstance(item, KerasTensor):
        tensors.append(item)
        return _Slot(len(tensors) - 1)
    if isinstance(item, (tuple, list)):
        return type(item)(_with_slots(x, tensors) for x in item)
    if isinstance(item, dict):
        return {key: _with_slots(value, tensors) for key, value in item.items()}
    return item


def _filled(item, values):
    """The inverse of ``_with_slots``: slots replaced by ``values``."""
    if isinstance(item, _Slot):
        return values[item.index]
    if isinstance(item, (tuple, list)):
        return type(item)(_filled(x, values) for x in item)
    if isinstance(item, dict):
        return {key: _filled(value, values) for key, value in item.items()}
    return item


def symbolic_call(fn, *args, **kwargs):
    """``fn(*args, **kwargs)``, or, where an argument is a KerasTensor, the
    KerasTensor(s) of a new graph step that will compute it."""
    tensors = []
    template = _with_slots((args, kwargs), tensors)
    if not tensors:
        return fn(*args, **kwargs)
    return Operation(fn, template)(tensors)


class Operation(Layer):
    """A graph step computing ``fn(*args, **kwargs)``, the KerasTensors among
    the arguments being its inputs (``call`` receives their values in order).

    Args:
        fn: a deepzero function on Variables/arrays (e.g. ``F.mean``).
        template: ``(args, kwargs)`` with ``_Slot``s for the inputs.
        name: default ``fn``'s name, made unique ('mean', 'mean_1', ...).
    """
    built_at_init = True

    def __init__(self, fn, template, name=None):
        super().__init__(name=name or unique_name(fn.__name__.strip('_')))
        self.fn = fn
        self.template = template

    def call(self, inputs):
        args, kwargs = _filled(self.template, list(inputs))
        return self.fn(*args, **kwargs)

    def compute_output_shape(self, input_shapes):
        """Run ``fn`` on stand-ins of ones (unknown sizes as 2, then as 3)
        without recording a graph; sizes equal in both runs are known."""
        probes = [self._probe(input_shapes, unknown) for unknown in (2, 3)]
        shapes = [[tuple(v.shape) for v in flatten(p)] for p in probes]
        if [len(s) for s in shapes[0]] != [len(s) for s in shapes[1]]:
            raise ValueError(f"Operation '{self.name}': the rank of {self.fn.__name__}'s "
                             "result depends on the unknown sizes of its inputs "
                             f"{input_shapes}; give the inputs fixed sizes")
        merged = [tuple(a if a == b else None for a, b in zip(s2, s3))
                  for s2, s3 in zip(*shapes)]
        self._output_dtypes = [np.dtype(v.dtype).name for v in flatten(probes[0])]
        return merged if isinstance(probes[0], (list, tuple)) else merged[0]

    def _probe(self, input_shapes, unknown):
        stand_ins = [np.ones(tuple(unknown if d is None else d for d in shape), dtype)
                     for shape, dtype in zip(input_shapes, self._input_dtypes)]
        try:
            with no_grad(), np.errstate(all='ignore'):
                return self.call(stand_ins)
        except (ValueError, TypeError, IndexError) as e:
            raise type(e)(f"{self.fn.__name__} on symbolic tensors of shapes {input_shapes} "
                          f"(None: any size; tried as {unknown}): {e}") from None

    def _call_symbolic(self, inputs, training, kwargs):
        self._input_dtypes = [t.dtype for t in inputs]
        outputs = super()._call_symbolic(inputs, training, kwargs)
        for tensor, dtype in zip(flatten(outputs), self._output_dtypes):
            tensor.dtype = dtype
        return outputs

    def _as_input_variable(self, x):
        # values inside a graph arrive as Variables; a value fed from outside
        # keeps its dtype (an op's input need not be float)
        return x if isinstance(x, Variable) else Variable(as_array(x), requires_grad=False)

    def get_config(self):
        raise NotImplementedError(
            f"Operation '{self.name}' ({self.fn.__name__} on symbolic tensors) cannot be "
            "saved in a model config; wrap the computation in a Layer subclass to save it")


class Gradients(Layer):
    """The graph step of ``gradients(loss, variables)``.

    Its inputs are ``[loss] + tensors`` (KerasTensors); ``weights`` are
    Variables (a model's Parameters) to differentiate by as well. It gives
    one gradient per tensor, then one per weight, with their shapes. The
    loss is summed (Keras's and TensorFlow's rule for a non-scalar loss).
    A tensor or weight that the loss reaches only through steps without a
    gradient (``argmax``, integer casts) gets zeros.
    """
    built_at_init = True

    def __init__(self, weights=(), name=None):
        super().__init__(name=name or unique_name('gradients'))
        self.differentiated_weights = list(weights)

    def call(self, inputs):
        loss, tensors = inputs[0], list(inputs[1:])
        wrt = tensors + self.differentiated_weights
        grads = grad([loss], wrt)
        return [g if g is not None else
                Variable(get_array_module(v.data).zeros(v.shape, v.dtype), requires_grad=False)
                for g, v in zip(grads, wrt)]

    def compute_output_shape(self, input_shapes):
        return [tuple(s) for s in input_shapes[1:]] + [
            tuple(w.shape) for w in self.differentiated_weights]

    def _as_input_variable(self, x):
        return x if isinstance(x, Variable) else Variable(as_array(x))

    def get_config(self):
        raise NotImplementedError(f"'{self.name}' (symbolic gradients) cannot be saved in a "
                                  "model config")


def gradients(loss, variables):
    """Symbolic gradients of ``loss`` (its sum, when not a scalar) with
    respect to ``variables``, as Keras 2's ``K.gradients``.

    Args:
        loss: a KerasTensor computed from a model's tensors.
        variables: a KerasTensor (``model.input``, ``layer.output``), a
            weight Variable (``model.trainable_weights[0]``), or a list of
            them.

    Returns:
        A list with one KerasTensor per variable, each the shape of its
        variable, or None for a KerasTensor that ``loss`` does not depend on
        (TensorFlow's answer). Run them with ``K.function``.
    """
    if not isinstance(loss, KerasTensor):
        raise TypeError(f"gradients: loss must be a symbolic tensor (computed from a model's "
                        f"input or output), got {type(loss).__name__}; for Variables use "
                        "deepzero.grad(loss, variables)")
    variables = list(variables) if isinstance(variables, (list, tuple)) else [variables]
    bad = [type(v).__name__ for v in variables
           if not isinstance(v, (KerasTensor, Variable))]
    if bad:
        raise TypeError(f"gradients: variables must be symbolic tensors or weight "
                        f"Variables, got {bad}")
    upstream = _upstream_tensors(loss)
    tensors = [v for v in variables if isinstance(v, KerasTensor) and id(v) in upstream]
    weights = [v for v in variables if isinstance(v, Variable)]
    if not tensors and not weights:
        return [None] * len(variables)
    step = Gradients(weights)
    outputs = step([loss] + tensors)
    by_id = {id(v): g for v, g in zip(tensors + weights, outputs)}
    return [by_id.get(id(v)) for v in variables]


def _upstream_tensors(tensor):
    """The ids of ``tensor`` and of every KerasTensor its graph reads."""
    seen, stack = set(), [tensor]
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        if t.keras_history is not None:
            layer, node_index, _ = t.keras_history
            stack.extend(layer._inbound_nodes[node_index].input_tensors)
    return seen

