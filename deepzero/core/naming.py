"""Keras's default object names: 'dense', 'dense_1', ... ('rm_sprop' for
RMSprop), one counter per name shared by every kind of object, as in Keras.

``reset_names()`` restarts the counters, as ``keras.backend.clear_session()``
does, so that two builds of a model get the same names.
"""
import re

_name_counts = {}


def to_snake_case(name):
    """Keras's rule: 'Conv2D' -> 'conv2d', 'BatchNormalization' ->
    'batch_normalization', 'ReLU' -> 're_lu', 'RMSprop' -> 'rm_sprop'."""
    name = re.sub(r'\W+', '', name)
    name = re.sub(r'(.)([A-Z][a-z]+)', r'\1_\2', name)
    return re.sub(r'([a-z])([A-Z])', r'\1_\2', name).lower()


def unique_name(prefix):
    """``prefix`` the first time, then ``prefix_1``, ``prefix_2``, ... (per process)."""
    count = _name_counts.get(prefix, 0)
    _name_counts[prefix] = count + 1
    return prefix if count == 0 else f'{prefix}_{count}'


def auto_name(class_name):
    """The default name of an object of class ``class_name``: 'Dense' -> 'dense',
    then 'dense_1', ..."""
    return unique_name(to_snake_case(class_name))


def reset_names():
    """Restart every name counter (``keras.backend.clear_session`` for names)."""
    _name_counts.clear()
