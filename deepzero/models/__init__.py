"""Models: ``Sequential``, functional ``Model(inputs, outputs)``, subclassed ``Model``."""
from .model import Model
from .functional import Functional
from .sequential import Sequential
from .layer_serialization import deserialize_layer, serialize_layer

__all__ = ['Model', 'Functional', 'Sequential', 'serialize_layer', 'deserialize_layer']
