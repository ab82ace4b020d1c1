"""``keras.datasets.cifar100``: 32x32 colour images of 100 classes (20 coarse)."""
import numpy as np

from .cifar import CifarFiles

URL = 'https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz'


def load_data(label_mode='fine'):
    """((x_train, y_train), (x_test, y_test)): uint8 images (n, 32, 32, 3)
    (channels_last), labels (n, 1) as stored (int64). ``label_mode``:
    'fine' (100 classes) or 'coarse' (20 superclasses)."""
    if label_mode not in ('fine', 'coarse'):
        raise ValueError(f"cifar100.load_data: label_mode must be 'fine' or 'coarse', "
                         f"got {label_mode!r}")
    with CifarFiles('cifar-100-python', 'cifar-100-python-target', URL,
                    'cifar100.load_data') as files:
        x_train, y_train = files.load_batch('train', f'{label_mode}_labels')
        x_test, y_test = files.load_batch('test', f'{label_mode}_labels')
    y_train = np.reshape(y_train, (len(y_train), 1))
    y_test = np.reshape(y_test, (len(y_test), 1))
    return (x_train.transpose(0, 2, 3, 1), y_train), (x_test.transpose(0, 2, 3, 1), y_test)
