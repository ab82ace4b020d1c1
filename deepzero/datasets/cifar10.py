"""``keras.datasets.cifar10``: 32x32 colour images of 10 classes."""
import numpy as np

from .cifar import CifarFiles

URL = 'https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz'


def load_data():
    """((x_train, y_train), (x_test, y_test)): uint8 images (n, 32, 32, 3)
    (channels_last, deepzero's layout), uint8 labels (n, 1); 50,000 training
    images from data_batch_1..5, 10,000 test images."""
    with CifarFiles('cifar-10-batches-py', 'cifar-10-batches-py-target', URL,
                    'cifar10.load_data') as files:
        parts = [files.load_batch(f'data_batch_{i}') for i in range(1, 6)]
        x_test, y_test = files.load_batch('test_batch')
    x_train = np.concatenate([data for data, _ in parts]).astype(np.uint8)
    y_train = np.concatenate([np.asarray(labels) for _, labels in parts]).astype(np.uint8)
    y_train = y_train.reshape(len(y_train), 1)
    y_test = np.asarray(y_test).astype(y_train.dtype).reshape(len(y_test), 1)
    return ((x_train.transpose(0, 2, 3, 1), y_train),
            (x_test.astype(x_train.dtype).transpose(0, 2, 3, 1), y_test))
