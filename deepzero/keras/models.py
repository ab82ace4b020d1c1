"""``keras.models`` -> :mod:`deepzero.models`."""
from ..models import Functional, Model, Sequential, load_model, save_model  # noqa: F401

__all__ = ['Model', 'Functional', 'Sequential', 'load_model', 'save_model']
