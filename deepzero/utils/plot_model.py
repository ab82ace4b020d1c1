"""Pictures of a model's layer graph, as Keras's ``plot_model`` draws them.

One box per layer (its name and class; optionally its activation and its
input and output shapes); edges follow the data: consecutive layers in a
Sequential model, the recorded inbound nodes in a functional model (so
branches and merges show as they are wired). A subclassed model, whose graph
is only known when ``call`` runs, is one box. With ``expand_nested`` a model
used as a layer is drawn as a dashed cluster of its own layers.

``model_to_dot`` gives the DOT text; ``plot_model`` renders it with
Graphviz's ``dot`` (see ``render_dot``).
"""
import html

from .dot_graph import render_dot


def _model_kinds():
    # Imported here: utils sits below the models package, which it only inspects.
    from ..models.functional import Functional
    from ..models.sequential import Sequential
    return Functional, Sequential


def _graph_nodes(model):
    """The recorded graph nodes of a Functional or a built Sequential model."""
    _, Sequential = _model_kinds()
    if isinstance(model, Sequential):
        model = model._built_functional()
    return model._nodes


def _format_shapes(tensors):
    shapes = [tensor.shape for tensor in tensors]
    text = str(shapes[0]) if len(shapes) == 1 else str(shapes)
    return html.escape(text)


def _activation_name(layer):
    activation = getattr(layer, 'activation', None)
    if activation is None:
        return None
    return getattr(activation, '__name__', None) or getattr(activation, 'name', None) or str(
        activation)


def _layer_label(layer, node, options):
    """An HTML-like Graphviz label: a table with the layer's name and class,
    then its activation and its shapes at ``node`` (its first call in this
    model; None: shapes unknown)."""
    class_name = type(layer).__name__
    title = (f'<b>{html.escape(layer.name)}</b> ({class_name})' if options['show_layer_names']
             else f'<b>{class_name}</b>')
    shape_cells = []
    if options['show_shapes']:
        if node is not None and node.input_tensors:
            shape_cells.append(f'Input shape: <b>{_format_shapes(node.input_tensors)}</b>')
        shape_cells.append('Output shape: <b>'
                           + (_format_shapes(node.outputs) if node is not None else '?')
                           + '</b>')
    width = max(1, len(shape_cells))
    rows = [f'<tr><td colspan="{width}" bgcolor="black"><font color="white">{title}</font>'
            '</td></tr>']
    activation = _activation_name(layer) if options['show_layer_activations'] else None
    if activation is not None:
        rows.append(f'<tr><td colspan="{width}">Activation: <b>{html.escape(activation)}</b>'
                    '</td></tr>')
    if shape_cells:
        rows.append('<tr>' + ''.join(f'<td>{cell}</td>' for cell in shape_cells) + '</tr>')
    return ('<<table border="0" cellborder="1" cellspacing="0" cellpadding="6">'
            + ''.join(rows) + '</table>>')


def _node_line(layer, node, options):
    return f'{id(layer)} [label={_layer_label(layer, node, options)}];\n'


def _layer_nodes(model):
    """id(layer) -> the layer's nodes in ``model``'s graph (its calls there: more
    than one for a shared layer). ``model.layers``: a Sequential's added layers,
    or every layer of a functional model, its InputLayers included."""
    nodes = _graph_nodes(model)
    return {id(layer): [node for node in layer._inbound_nodes if node in nodes]
            for layer in model.layers}


def _entry_layer(layer, input_index, expand_nested):
    """The box an edge into ``layer`` ends at: inside an expanded nested model,
    its InputLayer for that input (Functional) or its first layer (Sequential)."""
    Functional, Sequential = _model_kinds()
    while expand_nested and isinstance(layer, (Functional, Sequential)):
        if isinstance(layer, Sequential):
            layer = layer.layers[0]
        else:
            layer = layer.inputs[input_index].keras_history[0]
            input_index = 0
    return layer


def _exit_layer(layer, output_index, expand_nested):
    """The box an edge out of ``layer`` starts at: inside an expanded nested
    model, the layer that makes that output."""
    Functional, Sequential = _model_kinds()
    while expand_nested and isinstance(layer, (Functional, Sequential)):
        layer, _, output_index = layer.outputs[output_index].keras_history
    return layer


def _edges(model, layer_nodes, expand_nested):
    """(source, destination) layer pairs, in order, without repeats: consecutive
    layers of a Sequential, or each input of each node of a functional model."""
    _, Sequential = _model_kinds()
    pairs = []
    if isinstance(model, Sequential):
        for source, destination in zip(model.layers, model.layers[1:]):
            pairs.append((_exit_layer(source, 0, expand_nested),
                          _entry_layer(destination, 0, expand_nested)))
    else:
        for layer in model.layers:
            for node in layer_nodes[id(layer)]:
                for input_index, tensor in enumerate(node.input_tensors):
                    producer, _, output_index = tensor.keras_history
                    pairs.append((_exit_layer(producer, output_index, expand_nested),
                                  _entry_layer(layer, input_index, expand_nested)))
    unique = {(id(source), id(destination)): (source, destination) for source, destination in pairs}
    return list(unique.values())


def _model_body(model, options):
    """Node and edge lines of ``model`` (nested models as clusters when expanded)."""
    Functional, Sequential = _model_kinds()
    expand = options['expand_nested']
    layer_nodes = _layer_nodes(model)
    lines = []
    for layer in model.layers:
        if expand and isinstance(layer, (Functional, Sequential)):
            lines.append(f'subgraph cluster_{id(layer)} {{\n'
                         f'label="{html.escape(layer.name)}"; labeljust="l"; style=dashed; '
                         'fontname="Helvetica";\n'
                         + ''.join(_model_body(layer, options)) + '}\n')
        else:
            first_node = next(iter(layer_nodes[id(layer)]), None)
            lines.append(_node_line(layer, first_node, options))
    lines += [f'{id(source)} -> {id(destination)};\n'
              for source, destination in _edges(model, layer_nodes, expand)]
    return lines


def model_to_dot(model, show_shapes=False, show_layer_names=True, rankdir='TB', dpi=96,
                 expand_nested=False, show_layer_activations=False):
    """DOT text of ``model``'s layer graph.

    Args:
        model: a built Sequential or functional model (a subclassed model is
            drawn as one box).
        show_shapes: add each layer's input and output shapes.
        show_layer_names: title boxes "name (Class)" rather than "Class".
        rankdir: 'TB' (top to bottom) or 'LR' (left to right).
        dpi: resolution of the rendered image.
        expand_nested: draw models used as layers as clusters of their layers.
        show_layer_activations: add the activation of layers that have one.
    """
    if not getattr(model, 'built', False):
        raise ValueError(f"model_to_dot: model '{model.name}' has not been built yet; give "
                         "its first layer an input_shape, or call it on data first")
    if rankdir not in ('TB', 'LR', 'BT', 'RL'):
        raise ValueError(f"model_to_dot: rankdir must be 'TB', 'LR', 'BT' or 'RL', "
                         f"got {rankdir!r}")
    options = {'show_shapes': show_shapes, 'show_layer_names': show_layer_names,
               'expand_nested': expand_nested,
               'show_layer_activations': show_layer_activations}
    Functional, Sequential = _model_kinds()
    if isinstance(model, (Functional, Sequential)):
        body = _model_body(model, options)
    else:
        body = [_node_line(model, None, options)]
    return (f'digraph "{html.escape(model.name)}" {{\n'
            f'graph [rankdir={rankdir}, dpi={int(dpi)}, concentrate=true];\n'
            'node [shape=plaintext, fontname="Helvetica"];\n'
            + ''.join(body) + '}\n')


def plot_model(model, to_file='model.png', show_shapes=False, show_layer_names=True,
               rankdir='TB', dpi=96, expand_nested=False, show_layer_activations=False):
    """Draw ``model``'s layer graph to ``to_file`` with Graphviz's ``dot`` (the
    format follows the extension: png, svg, pdf, ...); see ``model_to_dot``
    for the arguments. Raises RuntimeError with install instructions when
    ``dot`` is missing."""
    text = model_to_dot(model, show_shapes=show_shapes, show_layer_names=show_layer_names,
                        rankdir=rankdir, dpi=dpi, expand_nested=expand_nested,
                        show_layer_activations=show_layer_activations)
    render_dot(text, to_file)
