"""Datasets: Keras's ``keras.datasets`` loaders and the helper behind the
``deepzero datasets`` command.

- ``mnist``, ``fashion_mnist``, ``cifar10``, ``cifar100``, ``imdb``,
  ``reuters``, ``boston_housing``: ``load_data()`` with Keras's arguments,
  return shapes and dtypes, read from the files Keras caches
  (``runtime.keras_cache_dir('datasets')``: ``$KERAS_HOME/datasets`` or
  ``~/.keras/datasets`` by Keras's rule). Nothing is downloaded: a missing file raises ``FileNotFoundError`` naming the file,
  its URL and where to put it (see ``keras_cache``).
- ``make_cats_dogs_small`` (``cats_dogs``): the book's small cats-vs-dogs split.

Only NumPy and the standard library are used here, so the Keras face
(``deepzero.keras.datasets``) re-exports these modules.
"""
from . import boston_housing, cifar10, cifar100, fashion_mnist, imdb, mnist, reuters
from .cats_dogs import make_cats_dogs_small

__all__ = ['mnist', 'fashion_mnist', 'cifar10', 'cifar100', 'imdb', 'reuters', 'boston_housing',
           'make_cats_dogs_small']
