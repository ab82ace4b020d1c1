"""Metrics with Keras names: classes (BinaryAccuracy, AUC, ...) and
per-sample functions (binary_accuracy, ...).

``get(identifier)`` turns what ``compile(metrics=[...])`` receives into a
Metric object (the trainer resolves 'accuracy'/'acc' itself, since that
depends on the loss and output shape).
"""
from .. import losses
from .accuracy_metrics import (BinaryAccuracy, CategoricalAccuracy,
                               SparseCategoricalAccuracy, SparseTopKCategoricalAccuracy,
                               TopKCategoricalAccuracy, binary_accuracy, categorical_accuracy,
                               sparse_categorical_accuracy, sparse_top_k_categorical_accuracy,
                               top_k_categorical_accuracy)
from .confusion_metrics import AUC, Precision, Recall
from .metric import Mean, MeanMetricWrapper, Metric


class MeanSquaredError(MeanMetricWrapper):
    _direction = 'down'

    def __init__(self, name='mean_squared_error', dtype=None):
        super().__init__(losses.mean_squared_error, name=name, dtype=dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    _direction = 'down'

    def __init__(self, name='mean_absolute_error', dtype=None):
        super().__init__(losses.mean_absolute_error, name=name, dtype=dtype)


METRIC_CLASSES = {cls.__name__: cls for cls in (
    BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy, TopKCategoricalAccuracy,
    SparseTopKCategoricalAccuracy, AUC, Precision, Recall, Mean, MeanSquaredError,
    MeanAbsoluteError)}
# snake_case class names that Keras also accepts ('auc', 'precision', 'recall')
METRIC_CLASSES.update({'auc': AUC, 'precision': Precision, 'recall': Recall})

# functions usable as metrics (averaged by MeanMetricWrapper), with their direction
METRIC_FUNCTIONS = {
    'binary_accuracy': (binary_accuracy, 'up'),
    'categorical_accuracy': (categorical_accuracy, 'up'),
    'sparse_categorical_accuracy': (sparse_categorical_accuracy, 'up'),
    'top_k_categorical_accuracy': (top_k_categorical_accuracy, 'up'),
    'sparse_top_k_categorical_accuracy': (sparse_top_k_categorical_accuracy, 'up'),
}
METRIC_FUNCTIONS.update({name: (fn, 'down') for name, fn in losses.LOSS_FUNCTIONS.items()})


def get(identifier):
    """A Metric from a Metric, a name ('binary_accuracy', 'mae', 'AUC',
    'precision', ...) or a function ``fn(y_true, y_pred) -> (N,)`` (wrapped in
    a MeanMetricWrapper named after it)."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        if identifier in METRIC_FUNCTIONS:
            fn, direction = METRIC_FUNCTIONS[identifier]
            metric = MeanMetricWrapper(fn, name=identifier)
            metric._direction = direction
            return metric
        if identifier in METRIC_CLASSES:
            return METRIC_CLASSES[identifier]()
        raise ValueError(f"Unknown metric: {identifier!r}. Valid names: 'accuracy', 'acc', "
                         f"{sorted(set(METRIC_FUNCTIONS) | set(METRIC_CLASSES))}")
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier):
        return MeanMetricWrapper(identifier)
    raise ValueError(f"Could not interpret metric identifier: {identifier!r}")


__all__ = ['Metric', 'Mean', 'MeanMetricWrapper', 'BinaryAccuracy', 'CategoricalAccuracy',
           'SparseCategoricalAccuracy', 'TopKCategoricalAccuracy',
           'SparseTopKCategoricalAccuracy', 'AUC', 'Precision', 'Recall', 'MeanSquaredError',
           'MeanAbsoluteError', 'binary_accuracy', 'categorical_accuracy',
           'sparse_categorical_accuracy', 'top_k_categorical_accuracy',
           'sparse_top_k_categorical_accuracy', 'get']
