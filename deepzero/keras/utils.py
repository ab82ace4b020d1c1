"""``keras.utils`` -> :mod:`deepzero.utils` (model pictures, seeding)."""
from ..utils import model_to_dot, plot_model, set_random_seed  # noqa: F401

__all__ = ['plot_model', 'model_to_dot', 'set_random_seed']
