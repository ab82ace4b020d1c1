"""``keras.datasets`` -> :mod:`deepzero.datasets` (Keras's cached files, no downloads)."""
from ...datasets import (boston_housing, cifar10, cifar100, fashion_mnist, imdb,  # noqa: F401
                         mnist, reuters)

__all__ = ['mnist', 'fashion_mnist', 'cifar10', 'cifar100', 'imdb', 'reuters', 'boston_housing']
