"""``keras.datasets.boston_housing``: 13 features of Boston suburbs, median prices."""
import numpy as np

from .keras_cache import TF_KERAS_DATASETS, cached_path

URL = TF_KERAS_DATASETS + 'boston_housing.npz'


def load_data(path='boston_housing.npz', test_split=0.2, seed=113):
    """((x_train, y_train), (x_test, y_test)) from Keras's cached file: the
    rows shuffled by ``np.random.RandomState(seed)``, the last ``test_split``
    fraction for testing (Keras's split: 404 / 102 rows, float64)."""
    if not 0 <= test_split < 1:
        raise ValueError(f'boston_housing.load_data: test_split must be in [0, 1), '
                         f'got {test_split}')
    with np.load(cached_path([path], URL, 'boston_housing.load_data'),
                 allow_pickle=False) as f:
        x, y = f['x'], f['y']
    indices = np.arange(len(x))
    np.random.RandomState(seed).shuffle(indices)
    x, y = x[indices], y[indices]
    split = int(len(x) * (1 - test_split))
    return (np.array(x[:split]), np.array(y[:split])), (np.array(x[split:]), np.array(y[split:]))
