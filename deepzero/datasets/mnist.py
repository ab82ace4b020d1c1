"""``keras.datasets.mnist``: 28x28 grayscale handwritten digits."""
import numpy as np

from .keras_cache import TF_KERAS_DATASETS, cached_path

URL = TF_KERAS_DATASETS + 'mnist.npz'


def load_data(path='mnist.npz'):
    """((x_train, y_train), (x_test, y_test)) from Keras's cached ``mnist.npz``:
    uint8 images (60000, 28, 28) / (10000, 28, 28) and uint8 labels 0-9.
    ``path``: the file name in the cache."""
    with np.load(cached_path([path], URL, 'mnist.load_data'), allow_pickle=False) as f:
        return (f['x_train'], f['y_train']), (f['x_test'], f['y_test'])
