"""Conv2D + MaxPooling2D as one op, where a model's graph allows it.

A model knows its graph. Where a Conv2D's output goes only to a
MaxPooling2D, nothing else can see it, so the model runs the pair as one
op: ``Conv2D.call_pooled(x, pool)``, which is ``F.conv2d(...,
pool_size=...)`` (functions/conv.py, Conv2DMaxPool): each piece of the conv
output is pooled while it is in cache and the full-size output is never
written. Values, gradients and losses are those of the two layers called
one after the other (tests/test_layer_fusion.py).

The design, in three parts:

- ``FusionPlan`` is the rewrite, made once per graph from its nodes: each
  Conv2D node whose output is read by one MaxPooling2D node only (and is
  not a model output) becomes one ``FusedConvPool`` step in the place of
  the two nodes; every other node is a ``LayerCall`` step. ``Functional``
  makes the plan when it is built; a ``Sequential`` uses the plan of the
  functional graph it records when it builds. Both models run
  ``plan.steps()``, one step after the other (``step(args, training)``),
  and know nothing more of fusion.
- Whether a pair is exact depends on the layers, which can change after the
  model was built (an activation set, a regularizer added), so
  ``steps()`` asks ``Conv2D.can_call_pooled(pool)`` again at each call and
  runs the two nodes apart where it says no. Only exact pairs are fused: a
  plain Conv2D whose activation commutes with max (linear or relu) and
  that has no activity regularizer (it would see the full-size output),
  and a plain 'valid' MaxPooling2D whose strides equal its window, in the
  same data format and dtype. The pool's own activity regularizer is taken
  on the fused op's output, which is the pool's output.
- The fused call belongs to the conv layer (as PyTorch's ConvReLU2d beside
  Conv2d): ``Conv2D.call`` stays Keras's plain ``call(inputs)``, and
  ``Conv2D.call_pooled`` runs the op through the same layer-call steps
  (build, input checks, training mode, penalties) as ``conv(x)``.
"""
from ..layers.conv2d import Conv2D
from ..layers.max_pooling2d import MaxPooling2D


class LayerCall:
    """A step that runs one node: its layer on the node's arguments, with the
    node's call keywords (they win over the model's ``training``)."""

    def __init__(self, node):
        self.node = node
        self.call_args, self.outputs = node.call_args, node.outputs

    def __call__(self, args, training):
        return self.node.layer(args, **{'training': training, **self.node.call_kwargs})


class FusedConvPool:
    """A step that stands for two nodes, a Conv2D call and the MaxPooling2D
    call that alone reads its output: it takes the conv node's arguments and
    gives the pool node's outputs, in one op. Both layers ignore
    ``training``. ``apart`` runs the two nodes as two steps instead."""

    def __init__(self, conv_node, pool_node):
        self.conv, self.pool = conv_node.layer, pool_node.layer
        self.call_args, self.outputs = conv_node.call_args, pool_node.outputs
        self.apart = (LayerCall(conv_node), LayerCall(pool_node))

    def is_exact(self):
        return self.conv.can_call_pooled(self.pool)

    def __call__(self, args, training):
        return self.conv.call_pooled(args, self.pool)


class FusionPlan:
    """The steps that run a graph of ``nodes`` (layer calls, in execution
    order, without input nodes) whose model outputs are ``outputs``."""

    def __init__(self, nodes, outputs):
        readers = only_readers(nodes, outputs)
        pool_of = {node: readers[node] for node in nodes
                   if isinstance(node.layer, Conv2D) and node in readers
                   and isinstance(readers[node].layer, MaxPooling2D)}
        fused_pools = set(pool_of.values())
        # A pair runs where its conv node ran: the pool node's only input is
        # the conv output, and its outputs are read only by later nodes.
        self._steps = [FusedConvPool(node, pool_of[node]) if node in pool_of
                       else LayerCall(node)
                       for node in nodes if node not in fused_pools]

    def steps(self):
        """This call's steps, in order: each pair that is exact now as one
        step, the others as two."""
        for step in self._steps:
            if isinstance(step, FusedConvPool) and not step.is_exact():
                yield from step.apart
            else:
                yield step


def only_readers(nodes, outputs):
    """In a graph of ``nodes`` (layer calls) with model ``outputs``: {node:
    the one node that reads its output}, for every node with one output that
    exactly one node reads and that is not a model output."""
    readers = {}
    for node in nodes:
        for tensor in node.input_tensors:
            readers.setdefault(id(tensor), []).append(node)
    output_ids = {id(t) for t in outputs}
    pairs = {}
    for node in nodes:
        if node.is_input or len(node.outputs) != 1 or id(node.outputs[0]) in output_ids:
            continue
        users = readers.get(id(node.outputs[0]), [])
        if len(users) == 1:
            pairs[node] = users[0]
    return pairs
