"""``keras.utils`` -> :mod:`deepzero.utils` (model pictures)."""
from ..utils import model_to_dot, plot_model  # noqa: F401

__all__ = ['plot_model', 'model_to_dot']
