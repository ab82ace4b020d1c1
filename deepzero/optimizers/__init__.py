"""Optimizers with Keras 3's names, arguments, update rules and state layout.

``get('rmsprop')`` / ``get(RMSprop(...))`` / ``get({'class_name': ..., 'config': ...})``
resolve what ``compile(optimizer=...)`` receives.
"""
from . import schedules
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam
from .adamw import AdamW
from .nadam import Nadam
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

ALL_OPTIMIZERS = {cls.__name__.lower(): cls
                  for cls in (SGD, RMSprop, Adam, AdamW, Adagrad, Adadelta, Nadam)}


def serialize(optimizer):
    """Keras 3 serialized form: {'module', 'class_name', 'config', 'registered_name'}."""
    return {'module': 'keras.optimizers', 'class_name': type(optimizer).__name__,
            'config': optimizer.get_config(), 'registered_name': None}


def deserialize(config, custom_objects=None):
    """Rebuild an optimizer from ``serialize``'s dict (or a Keras 2 style
    {'class_name', 'config'})."""
    name = config.get('class_name')
    custom_objects = custom_objects or {}
    cls = custom_objects.get(name) or ALL_OPTIMIZERS.get(str(name).lower())
    if cls is None:
        raise ValueError(f"Unknown optimizer {name!r}; known: "
                         f"{sorted(c.__name__ for c in ALL_OPTIMIZERS.values())}")
    return cls.from_config(config.get('config', {}), custom_objects)


def get(identifier):
    """An Optimizer from an instance, a name ('rmsprop', 'Adam', ...) or a config dict."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        cls = ALL_OPTIMIZERS.get(identifier.lower())
        if cls is None:
            raise ValueError(f"Unknown optimizer: {identifier!r}. Valid names: "
                             f"{sorted(ALL_OPTIMIZERS)}")
        return cls()
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}")


__all__ = ['Optimizer', 'SGD', 'RMSprop', 'Adam', 'AdamW', 'Adagrad', 'Adadelta', 'Nadam',
           'schedules', 'get', 'serialize', 'deserialize']
