"""Models: ``Sequential``, functional ``Model(inputs, outputs)``, subclassed ``Model``,
and ``load_model`` / ``save_model`` (from ``saving``, which sits below the models:
importing this package registers the model classes that loading looks up)."""
from ..saving import load_model, save_model
from ..saving.serialization import register_layer_classes
from .model import Model
from .functional import Functional
from .sequential import Sequential

# Keras files name a functional model 'Functional' (Keras 3) or 'Model' (Keras 2).
register_layer_classes({'Functional': Functional, 'Sequential': Sequential,
                        'Model': Functional})

__all__ = ['Model', 'Functional', 'Sequential', 'load_model', 'save_model']
