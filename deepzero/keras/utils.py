"""``keras.utils`` -> :mod:`deepzero.utils` (model pictures, seeding) and
``image_dataset_from_directory`` (:mod:`deepzero.preprocessing.image`)."""
from ..preprocessing import image_dataset_from_directory  # noqa: F401
from ..utils import model_to_dot, plot_model, set_random_seed  # noqa: F401

__all__ = ['plot_model', 'model_to_dot', 'set_random_seed', 'image_dataset_from_directory']
