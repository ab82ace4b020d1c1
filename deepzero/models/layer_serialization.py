"""Layers <-> Keras 3 layer dicts ({module, class_name, config,
registered_name, build_config}), for model configs.

Lives beside the models because a layer dict may hold a model (a conv base
inside a Sequential), so the class lookup must know both.
"""
from ..layers import LAYER_CLASSES, InputLayer

_MODEL_MODULES = {'Functional': 'keras.src.models.functional',
                  'Sequential': 'keras.src.models.sequential'}


def serialize_layer(layer):
    """Keras 3's dict for one layer (nested models included)."""
    class_name = type(layer).__name__
    if class_name in _MODEL_MODULES:
        entry = {'module': _MODEL_MODULES[class_name], 'class_name': class_name,
                 'config': layer.get_config(), 'registered_name': class_name,
                 'build_config': {'input_shape': None}}
        return entry
    known = LAYER_CLASSES.get(class_name) is type(layer)
    entry = {'module': 'keras.layers' if known else type(layer).__module__,
             'class_name': class_name, 'config': layer.get_config(),
             'registered_name': None if known else class_name}
    build_config = layer.get_build_config()
    if build_config is not None and not isinstance(layer, InputLayer):
        entry['build_config'] = build_config
    return entry


def layer_classes():
    """Class name -> class for every layer and model deepzero can rebuild."""
    from .functional import Functional
    from .sequential import Sequential
    return {**LAYER_CLASSES, 'Functional': Functional, 'Sequential': Sequential,
            'Model': Functional}


def deserialize_layer(layer_data, custom_objects=None):
    """A layer (or model) from its dict; ``custom_objects`` maps extra class
    names to classes. Weights are created when the dict has a build_config.
    A config the class refuses is a ValueError naming the layer."""
    class_name = layer_data['class_name']
    cls = (custom_objects or {}).get(class_name) or layer_classes().get(class_name)
    if cls is None:
        raise ValueError(f"Unknown layer class {class_name!r}; pass it in "
                         f"custom_objects={{{class_name!r}: ...}}")
    config = layer_data.get('config', {})
    is_model = class_name in ('Functional', 'Sequential', 'Model')
    try:
        layer = cls.from_config(config, custom_objects) if is_model else cls.from_config(config)
    except (TypeError, ValueError) as e:
        # Name the layer: a constructor's message may only name the class or argument.
        name = config.get('name') if isinstance(config, dict) else None
        raise ValueError(f"layer {name!r} ({class_name}): {e}") from e
    if not is_model:
        layer.build_from_config(layer_data.get('build_config'))
    return layer
