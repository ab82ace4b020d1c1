"""``keras.config`` (Keras 3's settings) -> :mod:`deepzero.models.backend`."""
from ..models.backend import (epsilon, floatx, image_data_format, set_epsilon,  # noqa: F401
                              set_image_data_format)

__all__ = ['epsilon', 'floatx', 'image_data_format', 'set_epsilon', 'set_image_data_format']
