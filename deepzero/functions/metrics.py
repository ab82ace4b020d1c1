"""Accuracy metrics with Keras semantics (not differentiable).

Each takes ``(y_pred, y_true, ..., reduction='mean')`` (arrays or
Variables) and returns a float32 array: per-sample scores of shape (N,)
with ``reduction='none'`` (the mean over any non-batch positions, e.g. over
the units of a multi-output binary classifier), their mean (0-d) with
``'mean'``, their sum with ``'sum'``.
"""
import numpy as np

from ..core import get_array_module
from .losses import REDUCTIONS, class_indices, match_label_shape, plain_array

__all__ = ['binary_accuracy', 'categorical_accuracy', 'sparse_categorical_accuracy',
           'top_k_categorical_accuracy', 'sparse_top_k_categorical_accuracy']


def binary_accuracy(y_pred, y_true, threshold=0.5, reduction='mean'):
    """How often ``y_pred > threshold`` equals the 0/1 label (a strict '>'
    as in Keras: a prediction equal to the threshold counts as 0)."""
    name = 'binary_accuracy'
    y_pred = plain_array(y_pred)
    labels = match_label_shape(name, y_pred.shape, plain_array(y_true))
    return _reduce(name, (y_pred > threshold) == labels, reduction)


def categorical_accuracy(y_pred, y_true, reduction='mean'):
    """How often the argmax of ``y_pred`` (last axis) is the argmax of the
    one-hot ``y_true``; ties go to the first index."""
    name = 'categorical_accuracy'
    y_pred = plain_array(y_pred)
    labels = match_label_shape(name, y_pred.shape, plain_array(y_true))
    return _reduce(name, y_pred.argmax(axis=-1) == labels.argmax(axis=-1), reduction)


def sparse_categorical_accuracy(y_pred, y_true, reduction='mean'):
    """How often the argmax of ``y_pred`` (last axis) equals the integer
    label; labels (N,) or (N, 1). Ties go to the first index."""
    name = 'sparse_categorical_accuracy'
    y_pred, classes = _scores_and_classes(name, y_pred, y_true)
    return _reduce(name, y_pred.argmax(axis=-1) == classes, reduction)


def top_k_categorical_accuracy(y_pred, y_true, k=5, reduction='mean'):
    """How often the class of the one-hot ``y_true`` is among the ``k``
    highest scores of ``y_pred``."""
    name = 'top_k_categorical_accuracy'
    y_pred = plain_array(y_pred)
    labels = match_label_shape(name, y_pred.shape, plain_array(y_true))
    return _reduce(name, _in_top_k(y_pred, labels.argmax(axis=-1), k), reduction)


def sparse_top_k_categorical_accuracy(y_pred, y_true, k=5, reduction='mean'):
    """How often the integer label is among the ``k`` highest scores of
    ``y_pred``; labels (N,) or (N, 1)."""
    name = 'sparse_top_k_categorical_accuracy'
    y_pred, classes = _scores_and_classes(name, y_pred, y_true)
    return _reduce(name, _in_top_k(y_pred, classes, k), reduction)


def _scores_and_classes(name, y_pred, y_true):
    """y_pred as an array with classes on the last axis, and the integer labels."""
    y_pred = plain_array(y_pred)
    if y_pred.ndim < 2:
        raise ValueError(f"{name}: y_pred needs a batch axis and a class axis, got "
                         f"shape {y_pred.shape}")
    return y_pred, class_indices(name, y_pred.shape, y_pred.ndim - 1, plain_array(y_true))


def _in_top_k(scores, classes, k):
    """Whether the score of ``classes`` is among the ``k`` largest along the
    last axis. Ties count in its favour, as Keras's ``in_top_k`` does: it is
    in when fewer than k scores are strictly larger."""
    xp = get_array_module(scores)
    target = xp.take_along_axis(scores, classes[..., None], axis=-1)
    return (scores > target).sum(axis=-1) < k


def _reduce(name, matches, reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"{name}: reduction must be one of {REDUCTIONS}, "
                         f"got {reduction!r}")
    if matches.ndim == 0:
        raise ValueError(f"{name}: inputs need a batch axis")
    per_sample = matches.reshape(len(matches), -1).mean(axis=1, dtype=np.float32)
    if reduction == 'none':
        return per_sample
    reduce = per_sample.sum if reduction == 'sum' else per_sample.mean
    return reduce(keepdims=True).reshape(())  # a 0-d array, not a NumPy scalar
