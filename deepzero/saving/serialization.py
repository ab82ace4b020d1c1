"""Objects <-> Keras 3 config dicts, and the class registry behind loading.

A saved object is ``{"module", "class_name", "config", "registered_name"}``
(Keras 3 form, as in ``.keras`` files) or ``{"class_name", "config"}``
(legacy form, as in the ``model_config`` of ``.h5`` files). Loading looks
``class_name`` up in ``custom_objects`` first, then in deepzero's classes;
it only ever calls ``from_config`` of a known class with JSON data. The
known classes are deepzero's layers, optimizers, losses and metrics, and the
models, which register themselves (saving sits below them). Nothing
from the file is executed: a ``Lambda`` layer (which stores Python code) is
refused, and an unknown class is an error that names it.
"""
import contextlib
import inspect
import warnings

from .. import losses, metrics, optimizers
from ..layers import LAYER_CLASSES, InputLayer
from ..layers.layer import weights_from_file
from .config_checks import QUOTE_LIMIT, check_model_config, quote

# The Keras release whose file layouts and config forms deepzero writes;
# readers (Keras included) use it to decide on conversions, so it names the
# format, not the library that wrote the file.
KERAS_VERSION = '3.15.1'
BACKEND = 'deepzero'

_KERAS_MODULES = {'layer': 'keras.layers', 'optimizer': 'keras.optimizers',
                  'loss': 'keras.losses', 'metric': 'keras.metrics'}


# --- the registry ---------------------------------------------------------------
# Classes known by name beyond the layers, optimizers, losses and metrics
# found below: the models register theirs (``register_layer_classes``), since
# saving sits below them (``Model.save`` calls it) and cannot import them.
_registered_layer_classes = {}
# The model classes Keras files name; ``deepzero.models`` registers them.
MODEL_CLASS_NAMES = ('Functional', 'Sequential', 'Model')


def register_layer_classes(classes):
    """Make ``{class name: class}`` (layers or models) loadable by name."""
    _registered_layer_classes.update(classes)


def _classes(kind):
    """``{Keras class name: deepzero class}`` for one kind of object: the
    table of the package that defines them."""
    if kind == 'layer':
        return {**LAYER_CLASSES, **_registered_layer_classes}
    if kind == 'optimizer':
        return {cls.__name__: cls for cls in optimizers.ALL_OPTIMIZERS.values()}
    if kind == 'loss':
        return losses.LOSS_CLASSES
    if kind == 'metric':
        return metrics.METRIC_CLASSES
    raise ValueError(f"unknown kind of object {kind!r}")


def keras_class_name(obj):
    """The class name Keras knows ``obj`` by (a functional model is a
    ``Functional``, as in Keras)."""
    return type(obj).__name__


def resolve_class(class_name, kind, custom_objects=None, where=''):
    """The class registered as ``class_name``; a clear error if there is none."""
    if custom_objects and class_name in custom_objects:
        return custom_objects[class_name]
    if class_name == 'Lambda':
        raise ValueError(f"{where}a Lambda layer stores Python code, and deepzero "
                         "never runs code from a file: rebuild that layer in code "
                         "(or replace it with a custom Layer subclass passed in "
                         "custom_objects)")
    classes = _classes(kind)
    if class_name in MODEL_CLASS_NAMES and class_name not in classes:
        raise ValueError(f"{where}the model classes are registered by deepzero.models, "
                         "which is not imported: load models with "
                         "deepzero.models.load_model (or deepzero.keras.models.load_model)")
    if class_name not in classes:
        raise ValueError(f"{where}unknown {kind} class {class_name!r}. If it is a "
                         f"custom class, pass it to load_model: "
                         f"custom_objects={{{class_name!r}: {class_name}}}")
    return classes[class_name]


# --- serialize / deserialize ------------------------------------------------------
def serialize(obj, kind, legacy=False):
    """Keras 3 dict of ``obj`` (strings, numbers and None pass through)."""
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    if isinstance(obj, (list, tuple)):
        return [serialize(item, kind, legacy) for item in obj]
    if isinstance(obj, dict):
        return {key: serialize(value, kind, legacy) for key, value in obj.items()}
    if not hasattr(obj, 'get_config'):
        if callable(obj) and hasattr(obj, '__name__'):
            return obj.__name__  # a loss or metric function, saved by name
        raise TypeError(f"cannot save {obj!r}: a {kind} must be a string, a "
                        "function or an object with get_config()")
    class_name = keras_class_name(obj)
    if legacy:
        return {'class_name': class_name, 'config': obj.get_config()}
    registered = 'Functional' if class_name == 'Functional' else None
    return {'module': _module_of(class_name, kind), 'class_name': class_name,
            'config': obj.get_config(), 'registered_name': registered}


def _module_of(class_name, kind):
    if class_name == 'Sequential':
        return 'keras'
    if class_name == 'Functional':
        return 'keras.src.models.functional'
    return _KERAS_MODULES[kind]


def deserialize(config, kind, custom_objects=None):
    """Inverse of ``serialize``: dicts become objects; strings stay strings
    (compile() resolves names such as 'binary_crossentropy' or 'acc') unless
    ``custom_objects`` maps them to a custom function."""
    if isinstance(config, str) and custom_objects and config in custom_objects:
        return custom_objects[config]  # a custom loss or metric function
    if config is None or isinstance(config, (str, int, float, bool)):
        return config
    if isinstance(config, list):
        return [deserialize(item, kind, custom_objects) for item in config]
    if isinstance(config, dict) and 'class_name' not in config:
        return {key: deserialize(value, kind, custom_objects)
                for key, value in config.items()}
    if config['class_name'] == 'function':  # Keras 3's form of a built-in function
        return deserialize(config['config'], kind, custom_objects)
    cls = resolve_class(config['class_name'], kind, custom_objects)
    return _from_config(cls, config.get('config', {}), custom_objects)


def _from_config(cls, config, custom_objects):
    if 'custom_objects' in inspect.signature(cls.from_config).parameters:
        return cls.from_config(config, custom_objects=custom_objects)
    return cls.from_config(config)


# --- layers inside a model config ---------------------------------------------------
# A layer entry ({module, class_name, config, registered_name, build_config})
# may hold a model (a conv base inside a Sequential); Keras names the module
# of the models it knows.
_MODEL_MODULES = {'Functional': 'keras.src.models.functional',
                  'Sequential': 'keras.src.models.sequential'}
_MODEL_CLASS_NAMES = ('Functional', 'Sequential', 'Model')


def serialize_layer(layer):
    """Keras 3's dict for one layer of a model config (nested models included)."""
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


def deserialize_layer(layer_data, custom_objects=None):
    """A layer (or model) from its dict; ``custom_objects`` maps extra class
    names to classes. Weights are created when the dict has a build_config.
    A config the class refuses is a ValueError naming the layer."""
    class_name = layer_data['class_name']
    cls = resolve_class(class_name, 'layer', custom_objects)
    config = layer_data.get('config', {})
    is_model = class_name in _MODEL_CLASS_NAMES
    try:
        layer = cls.from_config(config, custom_objects) if is_model else cls.from_config(config)
    except (TypeError, ValueError) as e:
        # Name the layer: a constructor's message may only name the class or argument.
        name = config.get('name') if isinstance(config, dict) else None
        raise ValueError(f"layer {name!r} ({class_name}): {e}") from e
    if not is_model:
        layer.build_from_config(layer_data.get('build_config'))
    return layer


# --- models -------------------------------------------------------------------------
_LAYER_ENTRY_KEYS_LEGACY = ('class_name', 'config', 'name', 'inbound_nodes')


def model_config(model, legacy=False):
    """The ``model_config`` of an .h5 file (``legacy=True``: layer entries
    carry only class_name/config/name/inbound_nodes, as Keras's legacy
    serializer writes them) or the ``config.json`` body of a .keras file."""
    config = serialize(model, 'layer', legacy=legacy)
    return _legacy_entries(config) if legacy else config


def _legacy_entries(entry):
    """Strip the Keras 3 extras (module, registered_name, build_config) from
    a layer entry and, recursively, from the entries of a model's layers."""
    entry = {key: value for key, value in entry.items() if key in _LAYER_ENTRY_KEYS_LEGACY}
    config = entry.get('config')
    if isinstance(config, dict) and isinstance(config.get('layers'), list):
        entry['config'] = dict(config, layers=[_legacy_entries(layer)
                                               for layer in config['layers']])
    return entry


def model_from_config(config, custom_objects=None, source='', root='config',
                      weight_shapes=None):
    """Rebuild a model (uncompiled, weights not loaded) from ``model_config``
    in either form (the models read Keras 2 forms too).

    Args:
        source: the file, for error messages; ``root``: the config's name in
            it ('config.json', 'model_config').
        weight_shapes: the shapes of the file's weight arrays, if its weights
            will be loaded next: weights are then created only in those
            shapes (a config the weights do not fit is refused before
            anything big is allocated) and without drawing initial values.

    Every problem with the config is a ValueError naming ``source`` and the
    field or the layer.
    """
    def resolve_layer_class(class_name, where):
        return resolve_class(class_name, 'layer', custom_objects, where)

    try:
        check_model_config(config, resolve_layer_class, root)
        cls = resolve_class(config['class_name'], 'layer', custom_objects)
        building = (contextlib.nullcontext() if weight_shapes is None
                    else weights_from_file(weight_shapes))
        with building:
            return _from_config(cls, config['config'], custom_objects)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as e:
        raise ValueError(f"{source}: {_cut(e)}") from e


def _cut(error, limit=20 * QUOTE_LIMIT):
    """An error's text, cut to ``limit`` characters (a layer's own error may
    quote a huge value from the file)."""
    text = str(error) if not isinstance(error, KeyError) else f"missing key {error}"
    return text if len(text) <= limit else f"{text[:limit]}... (cut)"


# --- compile state -----------------------------------------------------------------
def training_config(model):
    """The ``training_config`` of an .h5 file (None if not compiled): the
    compile arguments in legacy form plus ``optimizer_config``."""
    compile_config = get_compile_config(model, legacy=True)
    if compile_config is None:
        return None
    optimizer = compile_config.pop('optimizer')
    compile_config['optimizer_config'] = optimizer
    return compile_config


def get_compile_config(model, legacy=False):
    """Keras 3's ``compile_config`` (optimizer, loss, loss_weights, metrics,
    weighted_metrics, run_eagerly, steps_per_execution, jit_compile), or None
    if the model was never compiled. The loss and metrics are saved as the
    user passed them to compile() (names stay names: 'acc' stays 'acc')."""
    if not getattr(model, 'compiled', False) or model.optimizer is None:
        return None
    compiled_loss = getattr(model, 'compiled_loss', None)
    metrics = list(model.compiled_metrics.identifiers) or None
    return {'optimizer': serialize(model.optimizer, 'optimizer', legacy),
            'loss': serialize(model.loss, 'loss', legacy),
            'loss_weights': compiled_loss.loss_weights if compiled_loss else None,
            'metrics': serialize(metrics, 'metric', legacy),
            'weighted_metrics': None,
            'run_eagerly': False, 'steps_per_execution': 1, 'jit_compile': False}


def compile_from_config(model, compile_config, custom_objects=None, source='',
                        root='compile_config'):
    """``model.compile(...)`` from a Keras 3 ``compile_config`` or a legacy
    ``training_config`` (which names the optimizer ``optimizer_config``).

    A config without an optimizer gets compile()'s default, as in Keras (Keras
    itself writes such .keras files after an .h5 save of the same model).
    A config that cannot be one is a ValueError naming ``source`` and ``root``.
    """
    if not isinstance(compile_config, dict):
        raise ValueError(f"{source}: {root}: expected a dict of compile arguments, got "
                         f"{quote(compile_config)}")
    try:
        _compile(model, compile_config, custom_objects)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as e:
        raise ValueError(f"{source}: {root}: {_cut(e)}") from e


def _compile(model, compile_config, custom_objects):
    kwargs = dict(loss=deserialize(compile_config.get('loss'), 'loss', custom_objects),
                  metrics=deserialize(compile_config.get('metrics'), 'metric', custom_objects),
                  loss_weights=compile_config.get('loss_weights'))
    optimizer_config = compile_config.get('optimizer', compile_config.get('optimizer_config'))
    if optimizer_config is not None:
        kwargs['optimizer'] = deserialize(_upgrade_keras2_optimizer(optimizer_config),
                                          'optimizer', custom_objects)
    model.compile(**kwargs)


def _upgrade_keras2_optimizer(entry):
    """Keras 2 optimizer configs say ``lr`` and carry ``decay`` (a per-step
    learning-rate decay Keras 3 dropped; Keras 3 ignores it with a warning)."""
    if not isinstance(entry, dict) or not isinstance(entry.get('config'), dict):
        return entry
    config = dict(entry['config'])
    if 'lr' in config:
        config.setdefault('learning_rate', config.pop('lr'))
        config.pop('lr', None)
    decay = config.pop('decay', 0.0)
    if decay:
        warnings.warn(f"optimizer config: decay={decay} (Keras 2) is not supported "
                      "and is ignored; use a LearningRateSchedule", stacklevel=3)
    return dict(entry, config=config)
