"""Data preprocessing: ``deepzero.preprocessing.image`` (Keras's image
utilities, ``ImageDataGenerator`` and its iterators,
``image_dataset_from_directory``)."""
from . import image
from .image import image_dataset_from_directory

__all__ = ['image', 'image_dataset_from_directory']
