"""Accuracy metrics: functions ``(y_true, y_pred) -> per-sample (N,)`` in
Keras order, and the Metric classes that average them over an epoch."""
from .. import functions as F
from .metric import MeanMetricWrapper


def binary_accuracy(y_true, y_pred, threshold=0.5):
    return F.binary_accuracy(y_pred, y_true, threshold=threshold, reduction='none')


def categorical_accuracy(y_true, y_pred):
    return F.categorical_accuracy(y_pred, y_true, reduction='none')


def sparse_categorical_accuracy(y_true, y_pred):
    return F.sparse_categorical_accuracy(y_pred, y_true, reduction='none')


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    return F.top_k_categorical_accuracy(y_pred, y_true, k=k, reduction='none')


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5):
    return F.sparse_top_k_categorical_accuracy(y_pred, y_true, k=k, reduction='none')


class BinaryAccuracy(MeanMetricWrapper):
    _direction = 'up'

    def __init__(self, name='binary_accuracy', dtype=None, threshold=0.5):
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)


class CategoricalAccuracy(MeanMetricWrapper):
    _direction = 'up'

    def __init__(self, name='categorical_accuracy', dtype=None):
        super().__init__(categorical_accuracy, name=name, dtype=dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    _direction = 'up'

    def __init__(self, name='sparse_categorical_accuracy', dtype=None):
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)


class TopKCategoricalAccuracy(MeanMetricWrapper):
    _direction = 'up'

    def __init__(self, k=5, name='top_k_categorical_accuracy', dtype=None):
        super().__init__(top_k_categorical_accuracy, name=name, dtype=dtype, k=k)


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    _direction = 'up'

    def __init__(self, k=5, name='sparse_top_k_categorical_accuracy', dtype=None):
        super().__init__(sparse_top_k_categorical_accuracy, name=name, dtype=dtype, k=k)
