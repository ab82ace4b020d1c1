"""``keras.models`` -> :mod:`deepzero.models` and :mod:`deepzero.saving`."""
from ..models import Functional, Model, Sequential  # noqa: F401
from ..saving import load_model, save_model  # noqa: F401

__all__ = ['Model', 'Functional', 'Sequential', 'load_model', 'save_model']
