"""Metrics from confusion counts at thresholds: Precision, Recall, AUC.

A prediction counts as positive at threshold t when ``y_pred > t`` (strict,
as Keras). Labels are 0/1; everything is flattened (one binary problem, or
one column with ``class_id``). Counts are sample-weighted.
"""
import numpy as np

from ..core import cuda
from .metric import Metric


def _flat(y_true, y_pred, sample_weight, class_id=None):
    """Flattened labels (bool), predictions and weights (float64)."""
    y_true, y_pred = cuda.as_numpy(y_true), cuda.as_numpy(y_pred)
    if y_true.shape != y_pred.shape and y_true.size == y_pred.size:
        y_true = y_true.reshape(y_pred.shape)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true shape {y_true.shape} and y_pred shape {y_pred.shape} "
                         "do not match")
    if class_id is not None:
        y_true, y_pred = y_true[..., class_id], y_pred[..., class_id]
    weights = np.ones(y_pred.shape, np.float64)
    if sample_weight is not None:
        w = cuda.as_numpy(sample_weight).astype(np.float64)
        weights = weights * w.reshape(w.shape + (1,) * (y_pred.ndim - w.ndim))
    return y_true.reshape(-1) > 0.5, y_pred.reshape(-1), weights.reshape(-1)


def _counts_above(thresholds, labels, scores, weights):
    """(tp, fp, tn, fn) arrays, one entry per threshold (ascending)."""
    # number of thresholds strictly below each score = thresholds it passes
    passed = np.searchsorted(thresholds, scores, side='left')
    n = len(thresholds)

    def positives_per_threshold(mask):
        hist = np.bincount(passed[mask], weights=weights[mask], minlength=n + 1)
        return np.cumsum(hist[::-1])[::-1][1:]   # sum over samples passing threshold j

    tp = positives_per_threshold(labels)
    fp = positives_per_threshold(~labels)
    fn = weights[labels].sum() - tp
    tn = weights[~labels].sum() - fp
    return tp, fp, tn, fn


def _divide_no_nan(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.divide(a, b, out=np.zeros(np.broadcast(a, b).shape), where=b != 0)


class _ThresholdMetric(Metric):
    """Precision / Recall: confusion counts at one or several thresholds."""
    _direction = 'up'

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        if top_k is not None:
            raise NotImplementedError(f"{type(self).__name__}: top_k is not supported")
        self.init_thresholds = thresholds
        self.top_k = top_k
        self.class_id = class_id
        # compared in float32 like Keras (predictions are float32)
        self.thresholds = np.sort(np.atleast_1d(0.5 if thresholds is None else thresholds)
                                  ).astype(np.float32).astype(np.float64)
        self.reset_state()

    def reset_state(self):
        zeros = np.zeros(len(self.thresholds))
        self.true_positives, self.false_positives = zeros.copy(), zeros.copy()
        self.false_negatives = zeros.copy()

    def update_state(self, y_true, y_pred, sample_weight=None):
        labels, scores, weights = _flat(y_true, y_pred, sample_weight, self.class_id)
        tp, fp, _, fn = _counts_above(self.thresholds, labels, scores, weights)
        self.true_positives += tp
        self.false_positives += fp
        self.false_negatives += fn

    def _finish(self, values):
        return float(values[0]) if np.ndim(self.init_thresholds) == 0 else list(values)

    def get_config(self):
        return dict(super().get_config(), thresholds=self.init_thresholds, top_k=self.top_k,
                    class_id=self.class_id)


class Precision(_ThresholdMetric):
    """tp / (tp + fp) (0 when nothing is predicted positive)."""

    def __init__(self, thresholds=None, top_k=None, class_id=None, name='precision',
                 dtype=None):
        super().__init__(thresholds, top_k, class_id, name, dtype)

    def result(self):
        return self._finish(_divide_no_nan(self.true_positives,
                                           self.true_positives + self.false_positives))


class Recall(_ThresholdMetric):
    """tp / (tp + fn) (0 when there are no positives)."""

    def __init__(self, thresholds=None, top_k=None, class_id=None, name='recall',
                 dtype=None):
        super().__init__(thresholds, top_k, class_id, name, dtype)

    def result(self):
        return self._finish(_divide_no_nan(self.true_positives,
                                           self.true_positives + self.false_negatives))


class AUC(Metric):
    """Area under the ROC or PR curve from confusion counts at
    ``num_thresholds`` thresholds (Keras: evenly spaced in (0, 1) plus
    -1e-7 and 1 + 1e-7), summed with 'interpolation' (trapezoids; for PR
    the Davis & Goadrich interpolation), 'minoring' or 'majoring'."""
    _direction = 'up'

    def __init__(self, num_thresholds=200, curve='ROC', summation_method='interpolation',
                 name='auc', dtype=None, thresholds=None, multi_label=False, num_labels=None,
                 label_weights=None, from_logits=False):
        super().__init__(name=name, dtype=dtype)
        if multi_label or label_weights is not None:
            raise NotImplementedError("AUC: multi_label / label_weights are not supported")
        if curve.upper() not in ('ROC', 'PR'):
            raise ValueError(f"AUC: curve must be 'ROC' or 'PR', got {curve!r}")
        if summation_method not in ('interpolation', 'minoring', 'majoring'):
            raise ValueError("AUC: summation_method must be 'interpolation', 'minoring' or "
                             f"'majoring', got {summation_method!r}")
        self.curve = curve.upper()
        self.summation_method = summation_method
        self.multi_label = multi_label
        self.num_labels = num_labels
        self.label_weights = label_weights
        self.from_logits = from_logits
        epsilon = 1e-7
        if thresholds is not None:
            inner = sorted(thresholds)
            self.num_thresholds = len(inner) + 2
        else:
            if num_thresholds <= 1:
                raise ValueError("AUC: num_thresholds must be > 1, got "
                                 f"{num_thresholds}")
            self.num_thresholds = num_thresholds
            inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        self._given_thresholds = thresholds
        self.thresholds = np.array([0.0 - epsilon] + list(inner) + [1.0 + epsilon],
                                   np.float32).astype(np.float64)
        self.reset_state()

    def reset_state(self):
        n = len(self.thresholds)
        self.true_positives, self.false_positives = np.zeros(n), np.zeros(n)
        self.true_negatives, self.false_negatives = np.zeros(n), np.zeros(n)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = cuda.as_numpy(y_pred)
        if self.from_logits:
            y_pred = 1.0 / (1.0 + np.exp(-y_pred.astype(np.float64)))
        labels, scores, weights = _flat(y_true, y_pred, sample_weight)
        tp, fp, tn, fn = _counts_above(self.thresholds, labels,
                                       scores.astype(np.float64), weights)
        self.true_positives += tp
        self.false_positives += fp
        self.true_negatives += tn
        self.false_negatives += fn

    def _interpolate_pr_auc(self):
        tp, fp, fn = self.true_positives, self.false_positives, self.false_negatives
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        slope = _divide_no_nan(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - slope * p[1:]
        both = (p[:-1] > 0) & (p[1:] > 0)
        ratio = np.where(both, _divide_no_nan(p[:-1], np.maximum(p[1:], 0)), 1.0)
        return float(np.sum(_divide_no_nan(slope * (dtp + intercept * np.log(ratio)),
                                           np.maximum(tp[1:] + fn[1:], 0))))

    def result(self):
        if self.curve == 'PR' and self.summation_method == 'interpolation':
            return self._interpolate_pr_auc()
        tp, fp = self.true_positives, self.false_positives
        recall = _divide_no_nan(tp, tp + self.false_negatives)
        if self.curve == 'ROC':
            x, y = _divide_no_nan(fp, fp + self.true_negatives), recall
        else:
            x, y = recall, _divide_no_nan(tp, tp + fp)
        if self.summation_method == 'interpolation':
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == 'minoring':
            heights = np.minimum(y[:-1], y[1:])
        else:
            heights = np.maximum(y[:-1], y[1:])
        return float(np.sum((x[:-1] - x[1:]) * heights))

    def get_config(self):
        config = dict(super().get_config(), num_thresholds=self.num_thresholds,
                      curve=self.curve, summation_method=self.summation_method,
                      multi_label=self.multi_label, num_labels=self.num_labels,
                      label_weights=self.label_weights, from_logits=self.from_logits)
        if self._given_thresholds is not None:
            config['thresholds'] = list(self.thresholds[1:-1])
        return config
