"""``Functional``: a model that is a graph of layers over any DAG.

Built from symbolic tensors: ``Model(inputs, outputs)`` walks the recorded
``Node``s back from the outputs (Keras's ``map_graph``), orders the layers
by depth, and at call time runs the nodes from the inputs forward.
"""
from ..core.naming import unique_name
from ..layers.input_layer import InputLayer
from ..layers.layer import format_shape
from ..layers.node import KerasTensor, flatten, map_structure
from ..saving.serialization import deserialize_layer, serialize_layer
from . import layer_fusion
from .model import Model


class Functional(Model):
    """A graph of layers from ``inputs`` (KerasTensors from ``Input``) to
    ``outputs``; one tensor or a list for each."""

    def __init__(self, inputs, outputs, name=None, trainable=True, **kwargs):
        super().__init__(name=name or unique_name('functional'), trainable=trainable, **kwargs)
        self._inputs_struct, self._outputs_struct = inputs, outputs
        self.inputs, self.outputs = flatten(inputs), flatten(outputs)
        for what, tensors in (('inputs', self.inputs), ('outputs', self.outputs)):
            bad = [t for t in tensors if not isinstance(t, KerasTensor)]
            if bad or not tensors:
                raise ValueError(f"Model '{self.name}': {what} must be symbolic tensors "
                                 f"(from keras Input and layer calls), got {bad or tensors}")
        self._nodes, self._nodes_by_depth, layers = map_graph(self.inputs, self.outputs)
        self.__dict__['_sublayers'] = layers
        self._execution_order = [node for depth in sorted(self._nodes_by_depth, reverse=True)
                                 for node in self._nodes_by_depth[depth] if not node.is_input]
        self._fusion_plan = layer_fusion.FusionPlan(self._execution_order, self.outputs)
        self.built = True

    # --- running the graph ----------------------------------------------------------
    def _run_graph(self, inputs, steps, apply):
        """Feed ``inputs`` (one per model input) through ``steps`` (nodes, or
        the steps of the fusion plan: each reads ``call_args`` and gives
        ``outputs``); ``apply(step, args)`` computes one step's outputs from
        its arguments."""
        flat = flatten(inputs)
        if len(flat) != len(self.inputs):
            raise ValueError(f"Model '{self.name}' expects {len(self.inputs)} input(s), "
                             f"got {len(flat)}")
        values = {id(t): value for t, value in zip(self.inputs, flat)}
        for step in steps:
            args = map_structure(lambda t: values[id(t)], step.call_args)
            for tensor, value in zip(step.outputs, flatten(apply(step, args))):
                values[id(tensor)] = value
        outputs = [values[id(t)] for t in self.outputs]
        return outputs if isinstance(self._outputs_struct, (list, tuple)) else outputs[0]

    def call(self, inputs, training=None):
        return self._run_graph(inputs, self._fusion_plan.steps(),
                               lambda step, args: step(args, training))

    def compute_output_shape(self, input_shape):
        return self._run_graph(input_shape, self._execution_order,
                               lambda node, shapes: node.layer.compute_output_shape(shapes))

    def check_input(self, input_shape):
        """Each input must have the rank of its Input and the same fixed sizes."""
        for tensor, shape in zip(self.inputs, flatten(input_shape)):
            expected = tensor.shape
            if len(shape) != len(expected) or any(
                    e is not None and s is not None and e != s
                    for e, s in zip(expected[1:], shape[1:])):
                raise ValueError(f"Model '{self.name}' expects input shape "
                                 f"{format_shape(expected)}, got {format_shape(shape)}")

    # --- config ------------------------------------------------------------------------
    def get_config(self):
        """Keras 3's functional config: name, trainable, layers (each with its
        inbound nodes), input_layers, output_layers."""
        node_index = self._serialized_node_indices()

        def tensor_ref(tensor):
            layer, index, tensor_index = tensor.keras_history
            return [layer.name, node_index[id(layer._inbound_nodes[index])], tensor_index]

        def tensor_config(tensor):
            return {'class_name': '__keras_tensor__',
                    'config': {'shape': list(tensor.shape), 'dtype': tensor.dtype,
                               'keras_history': tensor_ref(tensor)}}

        layer_configs = []
        for layer in self.layers:
            entry = serialize_layer(layer)
            entry['name'] = layer.name
            entry['inbound_nodes'] = [
                {'args': [map_structure(tensor_config, node.call_args)],
                 'kwargs': dict(node.call_kwargs)}
                for node in layer._inbound_nodes if node in self._nodes and not node.is_input]
            layer_configs.append(entry)

        def refs(struct, tensors):
            items = [tensor_ref(t) for t in tensors]
            return items if isinstance(struct, (list, tuple)) else items[0]

        return {'name': self.name, 'trainable': self.trainable, 'layers': layer_configs,
                'input_layers': refs(self._inputs_struct, self.inputs),
                'output_layers': refs(self._outputs_struct, self.outputs)}

    def _serialized_node_indices(self):
        """Node positions counting only this model's nodes of each layer (a
        layer shared with other models keeps its numbering per model)."""
        indices = {}
        for layer in self.layers:
            kept = [node for node in layer._inbound_nodes if node in self._nodes]
            for i, node in enumerate(kept):
                indices[id(node)] = i
        return indices

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """Rebuild the layers and call them on each other as the inbound nodes
        say (Keras 3 form, or Keras 2's [[name, node, tensor, kwargs], ...])."""
        layers, pending = {}, []
        for layer_data in config['layers']:
            layer = deserialize_layer(layer_data, custom_objects)
            name = layer_data.get('name', layer.name)
            layers[name] = layer
            pending.append((name, list(layer_data.get('inbound_nodes', []))))
        node_outputs = {name: [layer.output_tensor] for name, layer in layers.items()
                        if isinstance(layer, InputLayer)}
        node_outputs = {(name, 0): outputs for name, outputs in node_outputs.items()}
        made = {name: 1 if isinstance(layer, InputLayer) else 0
                for name, layer in layers.items()}

        def resolve(ref):
            name, index, tensor_index = ref[0], ref[1], ref[2]
            outputs = node_outputs.get((name, index))
            if outputs is None:
                raise LookupError
            return outputs[tensor_index]

        progress = True
        while progress and any(nodes for _, nodes in pending):
            progress = False
            for name, nodes in pending:
                while nodes:
                    try:
                        args, kwargs = _node_call(nodes[0], resolve)
                    except LookupError:
                        break
                    outputs = layers[name](args, **kwargs)
                    node_outputs[(name, made[name])] = flatten(outputs)
                    made[name] += 1
                    nodes.pop(0)
                    progress = True
        stuck = [name for name, nodes in pending if nodes]
        if stuck:
            raise ValueError(f"Functional config '{config.get('name')}': cannot connect "
                             f"layers {stuck}; their inputs are never produced")

        def tensors(refs):
            if refs and not isinstance(refs[0], (list, tuple)):
                return resolve(refs)
            return [resolve(ref) for ref in refs]

        try:
            inputs, outputs = tensors(config['input_layers']), tensors(config['output_layers'])
        except LookupError:
            raise ValueError(f"Functional config '{config.get('name')}': input_layers or "
                             "output_layers name a tensor that no layer produces") from None
        return cls(inputs, outputs, name=config.get('name'),
                   trainable=config.get('trainable', True))


def _node_call(node_data, resolve):
    """(args, kwargs) of one serialized inbound node."""
    if isinstance(node_data, dict):  # Keras 3
        def tensor(item):
            if isinstance(item, dict) and item.get('class_name') == '__keras_tensor__':
                return resolve(item['config']['keras_history'])
            return item
        args = [_map_nested(tensor, arg) for arg in node_data.get('args', [])]
        return args[0], _call_kwargs(node_data.get('kwargs', {}))
    # Keras 2: a list of [layer_name, node_index, tensor_index, kwargs]
    tensors = [resolve(ref) for ref in node_data]
    kwargs = node_data[0][3] if len(node_data[0]) > 3 else {}
    return (tensors[0] if len(tensors) == 1 else tensors), _call_kwargs(kwargs)


def _call_kwargs(kwargs):
    """Keras records ``mask=None`` for layers that support masking (e.g.
    BatchNormalization); deepzero has no masks, so a None mask is dropped."""
    return {key: value for key, value in kwargs.items()
            if not (key == 'mask' and value is None)}


def _map_nested(fn, item):
    if isinstance(item, list):
        return [_map_nested(fn, x) for x in item]
    return fn(item)


def map_graph(inputs, outputs):
    """Keras's graph walk: (nodes, nodes_by_depth, layers).

    A depth-first search from each output collects the nodes (inputs first)
    and the order in which layers are first met; a node's depth is 1 + the
    largest depth of the nodes that use it (outputs have depth 0). Layers are
    ordered by decreasing depth, ties by first meeting -- the order Keras
    gives ``model.layers``, which positional weight loading relies on.
    """
    input_ids = {id(t) for t in inputs}
    ordered_nodes, layer_order = [], {}
    finished, in_progress = set(), set()

    def visit(tensor):
        if tensor.keras_history is None:
            raise ValueError(f"{tensor} was not produced by a layer; outputs must come "
                             "from layer calls on Input tensors")
        layer, node_index, _ = tensor.keras_history
        node = layer._inbound_nodes[node_index]
        if node in finished:
            return
        if not node.is_input and id(tensor) in input_ids:
            finished.add(node)
            return
        if node in in_progress:
            raise ValueError(f"Layer '{layer.name}' is part of a cycle")
        layer_order.setdefault(layer, len(layer_order))
        in_progress.add(node)
        if not node.is_input:
            for parent in node.input_tensors:
                visit(parent)
        finished.add(node)
        in_progress.discard(node)
        ordered_nodes.append(node)

    for tensor in outputs:
        visit(tensor)

    in_graph = set(ordered_nodes)
    node_depth, layer_depth = {}, {}
    for node in reversed(ordered_nodes):
        depth = max(node_depth.setdefault(node, 0), layer_depth.get(node.layer, 0))
        layer_depth[node.layer] = node_depth[node] = depth
        if not node.is_input:
            for parent in node.parent_nodes:
                if parent in in_graph:
                    node_depth[parent] = max(depth + 1, node_depth.get(parent, 0))

    for tensor in inputs:  # an input no output depends on still belongs to the model
        layer, node_index, _ = tensor.keras_history
        node = layer._inbound_nodes[node_index]
        if layer not in layer_depth and node.is_input:
            layer_depth[layer], layer_order[layer], node_depth[node] = 0, -1, 0
            in_graph.add(node)

    nodes_by_depth = {}
    for node, depth in node_depth.items():
        nodes_by_depth.setdefault(depth, []).append(node)
    layers = sorted(layer_depth, key=lambda layer: (-layer_depth[layer], layer_order[layer]))

    available = {id(t) for t in inputs}
    for depth in sorted(nodes_by_depth, reverse=True):
        for node in nodes_by_depth[depth]:
            if node.is_input and id(node.outputs[0]) not in available:
                raise ValueError(
                    f"Graph disconnected: the outputs depend on Input '{node.layer.name}', "
                    f"which is not among the model inputs "
                    f"{[t.keras_history[0].name for t in inputs]}")
            for tensor in node.input_tensors:
                if id(tensor) not in available:
                    raise ValueError(
                        f"Graph disconnected: cannot reach tensor {tensor} (input of layer "
                        f"'{node.layer.name}') from the model inputs "
                        f"{[t.keras_history[0].name for t in inputs]}")
            available.update(id(t) for t in node.outputs)

    names = [layer.name for layer in layers]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"The names {duplicates} are used by more than one layer in the "
                         "model; all layer names should be unique")
    return in_graph, nodes_by_depth, layers
