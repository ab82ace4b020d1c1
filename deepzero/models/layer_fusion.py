"""Conv2D + MaxPooling2D as one op, where a model's graph allows it.

A model knows its graph. Where a Conv2D's output goes only to a
MaxPooling2D, nothing else can see it, so the model runs the pair as
``F.conv2d(..., pool_size=...)`` (functions/conv.py, Conv2DMaxPool): each
piece of the conv output is pooled while it is in cache and the full-size
output is never written. Values and gradients are those of the two layers
called one after the other (tests/test_layer_fusion.py).

Only pairs where that is exact are fused: a plain Conv2D whose activation
commutes with max (linear or relu), no activity regularizer (it would see
the conv output), and a 'valid' MaxPooling2D whose strides equal its window,
in the same data format and dtype.
"""
from .. import activations
from ..layers.conv2d import Conv2D
from ..layers.max_pooling2d import MaxPooling2D


def fusable(conv, pool):
    """Whether ``pool(conv(x))`` may run as one op."""
    return (type(conv) is Conv2D and type(pool) is MaxPooling2D
            and conv.activation in (activations.relu, activations.linear)
            and conv.activity_regularizer is None
            and pool.padding == 'valid' and pool.strides == pool.pool_size
            and pool.data_format == conv.data_format and pool.dtype == conv.dtype)


def call_fused(conv, pool, x, **call_kwargs):
    """``pool(conv(x, **call_kwargs))`` in one op."""
    return conv(x, pool_size=pool.pool_size, **call_kwargs)


def only_readers(nodes, outputs):
    """In a graph of ``nodes`` (layer calls) with model ``outputs``: {node:
    the one node that reads its output}, for every node with one output that
    exactly one node reads and that is not a model output. The model checks
    ``fusable`` on these pairs at each call, so later changes to a layer
    (its activation, an activity regularizer) are seen."""
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
