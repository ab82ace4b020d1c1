"""Data preprocessing: ``deepzero.preprocessing.image`` (Keras's image
utilities, ``ImageDataGenerator`` and its iterators)."""
from . import image

__all__ = ['image']
