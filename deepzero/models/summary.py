"""``print_summary``: Keras 3's model summary as plain text.

Keras renders the table with the ``rich`` library; this module reproduces
that rendering without it: the same column widths (rich shrinks the
requested widths evenly to fit the line), the same word wrapping with an
ellipsis for words too long for their cell, the same box characters.
"""
import math
import re
import shutil

from ..layers.node import flatten

_SEQUENTIAL_LAYOUT = (88, (0.45, 0.80, 1.0), ['Layer (type)', 'Output Shape', 'Param #'],
                      ['left', 'left', 'right'])
_GRAPH_LAYOUT = (108, (0.3, 0.56, 0.74, 1.0),
                 ['Layer (type)', 'Output Shape', 'Param #', 'Connected to'],
                 ['left', 'left', 'right', 'left'])


def print_summary(model, line_length=None, positions=None, print_fn=None, expand_nested=False,
                  show_trainable=False, layer_range=None):
    """Print ``model``'s summary; ``print_fn`` (default print) gets the whole
    text at once, as in Keras 3."""
    text = summary_text(model, line_length, positions, expand_nested, show_trainable,
                        layer_range)
    if print_fn is None:
        print(text, end='')
    else:
        print_fn(text)


def summary_text(model, line_length=None, positions=None, expand_nested=False,
                 show_trainable=False, layer_range=None):
    from .functional import Functional
    graph_nodes = model._nodes if isinstance(model, Functional) else None
    sequential_like = graph_nodes is None or _is_sequential_like(model)
    default_length, default_positions, header, alignment = (
        _SEQUENTIAL_LAYOUT if sequential_like else _GRAPH_LAYOUT)
    header, alignment = list(header), list(alignment)
    positions = list(positions or default_positions)
    if show_trainable:
        default_length += 12
        positions = [p * 0.90 for p in positions] + [1.0]
        header.append('Trainable')
        alignment.append('center')
    default_length = min(default_length, shutil.get_terminal_size().columns - 4)
    line_length = line_length or default_length
    requested, current = [], 0
    for position in positions:
        width = int(position * line_length) - current
        if width < 4:
            raise ValueError("Insufficient console width to print summary.")
        requested.append(width)
        current += width
    widths = _fit_widths([w + 2 for w in requested], line_length - (len(requested) + 1))

    rows = []
    for layer in _layers_in_range(model.layers, layer_range):
        rows += _layer_rows(layer, graph_nodes if not sequential_like else None,
                            expand_nested, show_trainable, 0)

    lines = [f'Model: "{model.name}"', _rule('┏', '┳', '┓', '━', widths),
             *_cells_to_lines(header, widths, alignment, '┃'),
             _rule('┡', '╇', '┩', '━', widths)]
    for i, row in enumerate(rows):
        if i:
            lines.append(_rule('├', '┼', '┤', '─', widths))
        lines += _cells_to_lines(row, widths, alignment, '│')
    lines.append(_rule('└', '┴', '┘', '─', widths))

    trainable, non_trainable = model.trainable_weights, model.non_trainable_weights
    totals = [('Trainable params', trainable), ('Non-trainable params', non_trainable)]
    optimizer = getattr(model, 'optimizer', None)
    optimizer_vars = (list(getattr(optimizer, 'variables', []))
                      if optimizer is not None and getattr(optimizer, 'built', False) else [])
    all_weights = trainable + non_trainable + optimizer_vars
    lines.append(f' Total params: {_count(all_weights):,} ({_memory(all_weights)})')
    lines += [f' {label}: {_count(ws):,} ({_memory(ws)})' for label, ws in totals]
    if optimizer_vars:
        lines.append(f' Optimizer params: {_count(optimizer_vars):,} '
                     f'({_memory(optimizer_vars)})')
    return '\n'.join(lines) + '\n'


def _is_sequential_like(model):
    """Keras's test: one node per depth, each with one input, no shared layer."""
    for nodes in model._nodes_by_depth.values():
        if len(nodes) > 1 or (len(nodes) == 1 and len(nodes[0].input_tensors) > 1):
            return False
    for layer in model.layers:
        if sum(node in model._nodes for node in layer._inbound_nodes) > 1:
            return False
    return True


def _layers_in_range(layers, layer_range):
    """Layers from the first whose name matches layer_range[0] (a regex) to
    the last matching layer_range[1]."""
    if layer_range is None:
        return layers
    if len(layer_range) != 2:
        raise ValueError(f"layer_range must be a list of 2 names, got {layer_range!r}")
    start = [i for i, layer in enumerate(layers) if re.match(layer_range[0], layer.name)]
    end = [i for i, layer in enumerate(layers) if re.match(layer_range[1], layer.name)]
    if not start or not end:
        raise ValueError(f"layer_range {layer_range!r} matches no layer names")
    return layers[start[0]:end[-1] + 1]


def _layer_rows(layer, graph_nodes, expand_nested, show_trainable, level):
    prefix = '   ' * level + '└ ' if level else ''
    if not layer.built:
        params = '0 (unbuilt)'
    else:
        params = f'{layer.count_params():,}'
    row = [f'{prefix}{layer.name} ({type(layer).__name__})', _output_shape(layer), params]
    if graph_nodes is not None:
        row.append(_connections(layer, graph_nodes))
    if show_trainable:
        row.append(('Y' if layer.trainable else 'N') if layer.weights else '-')
    rows = [row]
    if expand_nested and getattr(layer, 'layers', None):
        for sub in layer.layers:
            rows += _layer_rows(sub, graph_nodes, expand_nested, show_trainable, level + 1)
    return rows


def _output_shape(layer):
    if layer._inbound_nodes:
        shapes = [t.shape for t in layer._inbound_nodes[-1].outputs]
    elif layer._build_input_shape is not None:
        shapes = flatten(layer.compute_output_shape(layer._build_input_shape))
    else:
        return '?'
    texts = ['(' + ', '.join(str(d) for d in shape) + ')' for shape in shapes]
    return texts[0] if len(texts) == 1 else '[' + ', '.join(texts) + ']'


def _connections(layer, graph_nodes):
    links = [f'{t.keras_history[0].name}[{t.keras_history[1]}][{t.keras_history[2]}]'
             for node in layer._inbound_nodes if node in graph_nodes
             for t in node.input_tensors]
    return ', '.join(links) or '-'


def _count(weights):
    return int(sum(math.prod(getattr(w, 'data', w).shape) for w in weights))


def _memory(weights):
    """Bytes of the (distinct) weights, in Keras's units: '13.17 MB'."""
    unique = {id(w): getattr(w, 'data', w) for w in weights}.values()
    size = float(sum(a.nbytes for a in unique))   # host or device arrays
    for unit in ('B', 'KB', 'MB', 'GB', 'TB'):
        if size / 1024 < 1:
            return f'{size:.2f} {unit}'
        size /= 1024
    return f'{size:.2f} PB'


# --- the table, as rich draws it ------------------------------------------------
def _fit_widths(widths, available):
    """Shrink column widths evenly until they fit (rich's ratio_reduce)."""
    excess = sum(widths) - available
    if excess <= 0:
        return widths
    result, remaining, columns_left = [], excess, len(widths)
    for width in widths:
        cut = min(width, round(remaining / columns_left))
        result.append(width - cut)
        remaining -= cut
        columns_left -= 1
    return result


def _rule(left, middle, right, line, widths):
    return left + middle.join(line * w for w in widths) + right


def _wrap(text, width):
    """Split at spaces to fit ``width``; a word longer than the width gets its
    own line, cut with an ellipsis."""
    lines, current = [], ''
    for word in re.findall(r'\s*\S+\s*', text) or ['']:
        if current and len(current) + len(word.rstrip()) > width:
            lines.append(current)
            current = word
        else:
            current += word
    lines.append(current)
    return [line.rstrip() if len(line.rstrip()) <= width else line[:width - 1] + '…'
            for line in lines]


def _cells_to_lines(cells, widths, alignment, border):
    wrapped = [_wrap(text, w - 2) for text, w in zip(cells, widths)]
    height = max(len(lines) for lines in wrapped)
    out = []
    for i in range(height):
        parts = []
        for lines, width, align in zip(wrapped, widths, alignment):
            text = lines[i] if i < len(lines) else ''
            if align == 'right':
                text = text.rjust(width - 2)
            elif align == 'center':
                text = text.center(width - 2)
            else:
                text = text.ljust(width - 2)
            parts.append(f' {text} ')
        out.append(border + border.join(parts) + border)
    return out
