"""Checking a model config read from a file before anything is built from it.

A config from a file may hold anything JSON can. ``check_model_config``
walks it first and raises a ValueError naming the field
(``model_config.config.layers[2].config.batch_shape``) for what the builders
would trip over: missing keys, wrong types, unknown classes, shapes that are
not lists of sizes, nesting too deep, inbound nodes that name unknown layers
or form a cycle. What a layer's own constructor checks (units > 0, a known
activation) is left to it; the loaders add the file and the layer to those
errors.
"""
# How much of a value from a file an error message quotes.
QUOTE_LIMIT = 200
# JSON nesting depth a config may have; a real one (a functional model nested
# in a Sequential) is about 15 deep.
MAX_CONFIG_DEPTH = 100
_MODEL_CLASSES = ('Sequential', 'Functional', 'Model')
# Config keys that hold a shape: a list of sizes (ints >= 0, or None).
_SHAPE_KEYS = ('batch_shape', 'batch_input_shape', 'input_shape', 'build_input_shape')


def quote(value, limit=QUOTE_LIMIT):
    """``repr(value)`` cut to ``limit`` characters: errors about a file quote
    what it holds, which may be huge."""
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more characters)"


def check_model_config(config, resolve_class, root='config'):
    """Raise ValueError naming the field if ``config`` (a model's
    ``{"class_name", "config"}`` entry) cannot be a model config.

    Args:
        resolve_class: ``resolve_class(class_name, where)`` raises a ValueError
            starting with ``where`` if no layer class is known by that name.
        root: the config's name in its file, where field paths start.
    """
    _check_depth(config, root)
    if not isinstance(config, dict) or 'class_name' not in config:
        raise ValueError(f"{root}: not a Keras model config: expected a dict with "
                         f"'class_name' and 'config', got {quote(config)}")
    _check_entry(config, root, resolve_class)


def _check_depth(value, root):
    """Refuse JSON nested more than MAX_CONFIG_DEPTH levels (the builders
    recurse into it), naming where; iterative, so any depth is safe here."""
    stack = [(value, 1, (None, root))]  # a path is kept as (parent path, key)
    while stack:
        value, depth, path = stack.pop()
        if depth > MAX_CONFIG_DEPTH:
            raise ValueError(f"{_path_text(path)}: nested more than {MAX_CONFIG_DEPTH} "
                             "levels deep; a model config is far shallower")
        if isinstance(value, dict):
            stack.extend((item, depth + 1, (path, f'.{key}')) for key, item in value.items())
        elif isinstance(value, (list, tuple)):
            stack.extend((item, depth + 1, (path, f'[{i}]')) for i, item in enumerate(value))


def _path_text(path):
    keys = []
    while path is not None:
        path, key = path
        keys.append(key)
    return ''.join(reversed(keys))


def _check_entry(entry, path, resolve_class):
    """One layer entry ``{"class_name", "config", ...}`` (a model's included)."""
    if not isinstance(entry, dict):
        raise ValueError(f"{path}: expected a layer entry (a dict with 'class_name' and "
                         f"'config'), got {quote(entry)}")
    class_name, config = entry.get('class_name'), entry.get('config')
    path = _described(path, _entry_name(entry), class_name)
    if not isinstance(class_name, str):
        raise ValueError(f"{path}.class_name: expected a class name string, got "
                         f"{quote(class_name)}")
    resolve_class(class_name, f"{path}.class_name: ")
    if class_name == 'Sequential' and isinstance(config, (list, tuple)):  # Keras 2.0-2.2.2
        config = {'layers': config}
    if not isinstance(config, dict):
        raise ValueError(f"{path}.config: expected the {class_name} layer's arguments "
                         f"as a dict, got {quote(config)}")
    if 'name' in config and not isinstance(config['name'], str):
        raise ValueError(f"{path}.config.name: expected a string, got {quote(config['name'])}")
    for key in _SHAPE_KEYS:
        if config.get(key) is not None:
            _check_shape(config[key], f"{path}.config.{key}")
    build_config = entry.get('build_config')
    if build_config is not None:
        if not isinstance(build_config, dict):
            raise ValueError(f"{path}.build_config: expected a dict, got {quote(build_config)}")
        if build_config.get('input_shape') is not None:
            _check_shape(build_config['input_shape'], f"{path}.build_config.input_shape")
    if class_name in _MODEL_CLASSES:
        _check_model_layers(class_name, config, f"{path}.config", resolve_class)


def _entry_name(entry):
    """The layer name of a layer entry (Keras 2 also puts it beside the config)."""
    config = entry.get('config')
    return entry.get('name', config.get('name') if isinstance(config, dict) else None)


def _described(path, name, class_name=None):
    """``path`` followed by the name of the layer (or model) found there."""
    if not isinstance(name, str):
        return path
    kind = 'model' if class_name in _MODEL_CLASSES else 'layer'
    return f"{path} ({kind} {name!r})"


def _check_shape(shape, path):
    """A list of sizes (ints >= 0 or None), or a list of such lists (a
    layer with several inputs)."""
    if isinstance(shape, (list, tuple)) and shape and all(
            isinstance(s, (list, tuple)) for s in shape):
        for i, item in enumerate(shape):
            _check_shape(item, f"{path}[{i}]")
        return
    if not isinstance(shape, (list, tuple)) or not all(
            d is None or (type(d) is int and d >= 0) for d in shape):
        raise ValueError(f"{path}: expected a shape, a list of sizes (ints >= 0 or "
                         f"null), got {quote(shape)}")


def _check_model_layers(class_name, config, path, resolve_class):
    layers = config.get('layers')
    if not isinstance(layers, (list, tuple)):
        raise ValueError(f"{path}.layers: expected a list of layer entries, got "
                         f"{quote(layers)}")
    for i, entry in enumerate(layers):
        _check_entry(entry, f"{path}.layers[{i}]", resolve_class)
    if class_name != 'Sequential':
        _check_graph(config, layers, path)


def _check_graph(config, layers, path):
    """Every inbound node and model input/output names a layer of the
    model, and the layers do not feed each other in a cycle."""
    names = [_entry_name(entry) for entry in layers]
    known = set(names)
    inputs_of = {}
    for i, (name, entry) in enumerate(zip(names, layers)):
        where = _described(f"{path}.layers[{i}]", name, entry['class_name']) + '.inbound_nodes'
        nodes = entry.get('inbound_nodes', [])
        if not isinstance(nodes, (list, tuple)):
            raise ValueError(f"{where}: expected a list of nodes, got {quote(nodes)}")
        refs = [ref for node in nodes for ref in _node_refs(node, where)]
        inputs_of[name] = [_ref_name(ref, where, known) for ref in refs]
    for key in ('input_layers', 'output_layers'):
        refs = config.get(key)
        if not isinstance(refs, (list, tuple)) or not refs:
            raise ValueError(f"{path}.{key}: expected a list of [layer name, node index, "
                             f"tensor index], got {quote(refs)}")
        for ref in refs if isinstance(refs[0], (list, tuple)) else [refs]:
            _ref_name(ref, f"{path}.{key}", known)
    cycle = _find_cycle(inputs_of)
    if cycle:
        raise ValueError(f"{path}.layers: the inbound_nodes form a cycle: "
                         f"{' -> '.join(map(repr, cycle))}")


def _node_refs(node, where):
    """The tensor references ``[layer name, node index, tensor index]`` of
    one node: Keras 3's ``{"args": [...], "kwargs": {...}}`` (references sit
    in ``__keras_tensor__`` entries) or Keras 2's list of references."""
    if isinstance(node, (list, tuple)):
        return node
    if not isinstance(node, dict):
        raise ValueError(f"{where}: expected a node (a dict or a list), got {quote(node)}")
    if (not isinstance(node.get('args', []), (list, tuple))
            or not isinstance(node.get('kwargs', {}), dict)):
        raise ValueError(f"{where}: a node's args must be a list and its kwargs a dict, "
                         f"got {quote(node)}")
    refs, stack = [], [node.get('args', [])]
    while stack:
        item = stack.pop()
        if isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, dict) and item.get('class_name') == '__keras_tensor__':
            tensor = item.get('config')
            refs.append(tensor.get('keras_history') if isinstance(tensor, dict) else None)
    return refs


def _ref_name(ref, where, known):
    if not (isinstance(ref, (list, tuple)) and len(ref) >= 3 and isinstance(ref[0], str)
            and all(type(i) is int and i >= 0 for i in ref[1:3])):
        raise ValueError(f"{where}: expected a tensor reference [layer name, node index, "
                         f"tensor index], got {quote(ref)}")
    if ref[0] not in known:
        raise ValueError(f"{where}: names layer {ref[0]!r}, which is not in the model")
    return ref[0]


def _find_cycle(inputs_of):
    """A list of layer names that feed each other in a circle, or None."""
    state = {}  # name -> 'open' while on the current path, 'done' after
    for start in inputs_of:
        if start in state:
            continue
        path, stack = [], [(start, iter(inputs_of[start]))]
        state[start] = 'open'
        path.append(start)
        while stack:
            name, parents = stack[-1]
            parent = next(parents, None)
            if parent is None:
                stack.pop()
                path.pop()
                state[name] = 'done'
            elif state.get(parent) == 'open':
                return path[path.index(parent):] + [parent]
            elif parent not in state:
                state[parent] = 'open'
                path.append(parent)
                stack.append((parent, iter(inputs_of.get(parent, []))))
    return None
