"""Accuracy metrics: Keras semantics, float32 per-sample scores or their mean."""
import numpy as np
import pytest

import deepzero.functions as F
from deepzero import Variable


@pytest.fixture(scope='module')
def keras():
    return pytest.importorskip('keras')


@pytest.mark.filterwarnings('ignore::DeprecationWarning')  # inside keras's torch backend
def test_matches_keras_metrics(rng, keras):
    to_numpy = keras.ops.convert_to_numpy
    scores = rng.uniform(0, 1, (64, 7)).astype(np.float32)
    scores[:4] = 0.5  # ties: first index for argmax, in-favour for top-k
    classes = rng.integers(0, 7, 64)
    one_hot = np.eye(7, dtype=np.float32)[classes]
    binary = rng.integers(0, 2, (64, 1)).astype(np.float32)
    cases = [
        (F.binary_accuracy, (scores[:, :1], binary), {},
         keras.metrics.binary_accuracy(binary, scores[:, :1])[:, 0]),
        (F.binary_accuracy, (scores[:, :1], binary), dict(threshold=0.3),
         keras.metrics.binary_accuracy(binary, scores[:, :1], threshold=0.3)[:, 0]),
        (F.categorical_accuracy, (scores, one_hot), {},
         keras.metrics.categorical_accuracy(one_hot, scores)),
        (F.sparse_categorical_accuracy, (scores, classes), {},
         keras.metrics.sparse_categorical_accuracy(classes, scores)),
        (F.sparse_categorical_accuracy, (scores, classes[:, None]), {},
         keras.metrics.sparse_categorical_accuracy(classes[:, None], scores)),
        (F.top_k_categorical_accuracy, (scores, one_hot), dict(k=3),
         keras.metrics.top_k_categorical_accuracy(one_hot, scores, k=3)),
        (F.sparse_top_k_categorical_accuracy, (scores, classes), {},
         keras.metrics.sparse_top_k_categorical_accuracy(classes, scores)),
    ]
    for metric, args, kwargs, expected in cases:
        expected = to_numpy(expected)
        per_sample = metric(*args, reduction='none', **kwargs)
        assert per_sample.dtype == np.float32 and per_sample.shape == (64,)
        np.testing.assert_array_equal(per_sample, expected, err_msg=metric.__name__)
        mean = metric(*args, **kwargs)
        assert isinstance(mean, np.ndarray) and mean.shape == () and mean.dtype == np.float32
        np.testing.assert_allclose(mean, expected.mean(), rtol=1e-6, err_msg=metric.__name__)


def test_binary_accuracy_threshold_is_strict_and_labels_may_be_rank_one():
    y_pred = Variable(np.array([[0.5], [0.5], [0.51], [0.2]], np.float32))
    labels = np.array([0, 1, 1, 0])
    np.testing.assert_array_equal(F.binary_accuracy(y_pred, labels, reduction='none'),
                                  [1, 0, 1, 1])
    assert F.binary_accuracy(y_pred, labels) == np.float32(0.75)
    assert F.binary_accuracy(y_pred, labels, reduction='sum') == np.float32(3)


def test_multi_unit_binary_accuracy_averages_per_sample():
    y_pred = np.array([[0.9, 0.1, 0.8], [0.2, 0.7, 0.6]], np.float32)
    labels = np.array([[1, 1, 1], [0, 1, 1]])
    np.testing.assert_allclose(F.binary_accuracy(y_pred, labels, reduction='none'),
                               [2 / 3, 1.0])


def test_ties_in_argmax_and_top_k():
    y_pred = np.array([[0.4, 0.4, 0.2], [0.4, 0.4, 0.2]], np.float32)
    labels = np.array([0, 1])
    np.testing.assert_array_equal(
        F.sparse_categorical_accuracy(y_pred, labels, reduction='none'), [1, 0])
    np.testing.assert_array_equal(
        F.sparse_top_k_categorical_accuracy(y_pred, labels, k=1, reduction='none'), [1, 1])
    np.testing.assert_array_equal(
        F.top_k_categorical_accuracy(y_pred, np.eye(3)[[2, 1]], k=2, reduction='none'),
        [0, 1])


def test_bad_inputs_name_the_metric_and_shapes():
    with pytest.raises(ValueError, match=r"categorical_accuracy: y_pred shape \(4, 3\) and "
                                         r"y_true shape \(4, 2\) do not match"):
        F.categorical_accuracy(np.zeros((4, 3)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"sparse_categorical_accuracy: y_true shape \(3,\)"):
        F.sparse_categorical_accuracy(np.zeros((4, 3)), np.zeros(3))
    with pytest.raises(ValueError, match=r"binary_accuracy: reduction must be one of"):
        F.binary_accuracy(np.zeros((4, 1)), np.zeros((4, 1)), reduction='avg')
