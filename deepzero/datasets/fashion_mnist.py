"""``keras.datasets.fashion_mnist``: 28x28 grayscale pictures of clothes."""
import gzip
import os

import numpy as np

from .keras_cache import TF_KERAS_DATASETS, cached_path

FILES = ('train-labels-idx1-ubyte.gz', 'train-images-idx3-ubyte.gz',
         't10k-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz')


def _read(name, offset):
    path = cached_path([os.path.join('fashion-mnist', name)], TF_KERAS_DATASETS + name,
                       'fashion_mnist.load_data')
    with gzip.open(path, 'rb') as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


def load_data():
    """((x_train, y_train), (x_test, y_test)) from Keras's cached IDX files in
    ``datasets/fashion-mnist/``: uint8 images (60000, 28, 28) / (10000, 28, 28),
    uint8 labels 0-9."""
    y_train = _read(FILES[0], 8)
    x_train = _read(FILES[1], 16).reshape(len(y_train), 28, 28)
    y_test = _read(FILES[2], 8)
    x_test = _read(FILES[3], 16).reshape(len(y_test), 28, 28)
    return (x_train, y_train), (x_test, y_test)
