"""Losses with Keras semantics: ``loss(y_pred, y_true, ..., reduction='mean')``.

Each loss op computes the per-sample loss, shape (N,): the mean over the
non-batch axes of an elementwise loss (MSE, MAE, binary crossentropy,
hinge), or the mean over the non-batch axes of a crossentropy summed over
the class axis. ``reduction`` then picks what the caller gets:

- ``'none'``: the per-sample losses, (N,);
- ``'mean'`` (default, Keras's "sum_over_batch_size"): their mean, 0-d;
- ``'sum'``: their sum, 0-d.

Labels (``y_true``) may be int or float arrays or Variables; they are read as
constants of ``y_pred``'s dtype and never get a gradient. As in Keras, a
label array whose shape differs from ``y_pred``'s only by a trailing axis of
size 1 (labels (N,) against predictions (N, 1)) is reshaped to match.

Probabilities are clipped to [1e-7, 1 - 1e-7] (Keras's ``epsilon()``) before
the log, so the loss is finite and a confidently wrong prediction inside
that range still has a gradient.
"""
import numpy as np

from ..core import Function, Variable, as_variable, get_array_module
from ..core.array_module import ARRAY_TYPES
from ..core.operators import broadcast_to, exp, reshape, sum
from .activations import sigmoid

__all__ = ['MeanSquaredError', 'mean_squared_error',
           'MeanAbsoluteError', 'mean_absolute_error',
           'BinaryCrossentropy', 'BinaryCrossentropyFromLogits', 'binary_crossentropy',
           'CategoricalCrossentropy', 'categorical_crossentropy',
           'sparse_categorical_crossentropy',
           'Hinge', 'hinge']

EPSILON = 1e-7  # Keras's backend.epsilon(): the probability clipping margin
REDUCTIONS = ('mean', 'sum', 'none')


# --- the elementwise losses ---------------------------------------------------------
class ElementwiseLoss(Function):
    """Base of losses that average an elementwise loss over each sample.

    Inputs: y_pred (N, ...) and y_true of the same shape (a constant).
    Subclasses give ``elementwise(y_pred, y_true)`` on arrays and
    ``elementwise_grad(y_pred, y_true)``, its derivative in y_pred, on
    Variables (or a constant array where the derivative is piecewise constant).
    """

    def forward(self, y_pred, y_true):
        return _per_sample_mean(self.elementwise(y_pred, y_true))

    def backward(self, g_per_sample):
        y_pred, y_true = self.inputs
        g = _per_sample_mean_grad(g_per_sample, y_pred.shape)
        return g * self.elementwise_grad(y_pred, y_true), None


class MeanSquaredError(ElementwiseLoss):
    """(y - t)^2."""

    def elementwise(self, y, t):
        diff = y - t
        return diff * diff

    def elementwise_grad(self, y, t):
        return 2.0 * (y - t)


class MeanAbsoluteError(ElementwiseLoss):
    """|y - t|; its derivative sign(y - t) is 0 where y == t."""

    def elementwise(self, y, t):
        return get_array_module(y).abs(y - t)

    def elementwise_grad(self, y, t):
        return get_array_module(y.data).sign(y.data - t.data)


class BinaryCrossentropy(ElementwiseLoss):
    """-(t log p + (1 - t) log(1 - p)) with p = clip(y, eps, 1 - eps)."""

    def elementwise(self, y, t):
        xp = get_array_module(y)
        p = xp.clip(y, EPSILON, 1.0 - EPSILON)
        return -(t * xp.log(p) + (1.0 - t) * xp.log(1.0 - p))

    def elementwise_grad(self, y, t):
        p, inside = _clip_variable(y, EPSILON, 1.0 - EPSILON)
        return (p - t) / (p * (1.0 - p)) * inside


class BinaryCrossentropyFromLogits(ElementwiseLoss):
    """Binary crossentropy of sigmoid(z), in the overflow-free form
    max(z, 0) - z t + log(1 + exp(-|z|)); its derivative is sigmoid(z) - t."""

    def elementwise(self, z, t):
        xp = get_array_module(z)
        return xp.maximum(z, 0.0) - z * t + xp.log1p(xp.exp(-xp.abs(z)))

    def elementwise_grad(self, z, t):
        return sigmoid(z) - t


class Hinge(ElementwiseLoss):
    """max(1 - t y, 0) with labels t in {-1, 1}."""

    def elementwise(self, y, t):
        return get_array_module(y).maximum(1.0 - t * y, 0.0)

    def elementwise_grad(self, y, t):
        active = (1.0 - t.data * y.data > 0.0)
        return -(t.data * active)


# --- crossentropy over a class axis ---------------------------------------------------
class CategoricalCrossentropy(Function):
    """-sum_c t_c log p_c over the class ``axis``, then the mean over any
    other non-batch axes.

    From probabilities (``from_logits=False``), y is first normalised to sum
    to 1 along the axis and clipped to [eps, 1 - eps], as Keras does. From
    logits, log p is the shift-stable log-softmax of y.
    """

    def __init__(self, from_logits, axis):
        self.from_logits = from_logits
        self.axis = axis

    def forward(self, y, t):
        xp = get_array_module(y)
        if self.from_logits:
            shifted = y - y.max(axis=self.axis, keepdims=True)
            log_p = shifted - xp.log(xp.exp(shifted).sum(axis=self.axis, keepdims=True))
        else:
            p = y / y.sum(axis=self.axis, keepdims=True)
            log_p = xp.log(xp.clip(p, EPSILON, 1.0 - EPSILON))
        return _per_sample_mean(-(t * log_p).sum(axis=self.axis, keepdims=True))

    def backward(self, g_per_sample):
        y, t = self.inputs
        axis = self.axis
        class_sum_shape = y.shape[:axis % y.ndim] + (1,) + y.shape[axis % y.ndim + 1:]
        g = broadcast_to(_per_sample_mean_grad(g_per_sample, class_sum_shape), y.shape)
        if self.from_logits:
            # the max is a constant shift: softmax does not depend on it
            e = exp(y - y.data.max(axis=axis, keepdims=True))
            softmax = e / sum(e, axis, keepdims=True)
            return g * (softmax * sum(t, axis, keepdims=True) - t), None
        total = sum(y, axis, keepdims=True)
        p = y / total
        p_clipped, inside = _clip_variable(p, EPSILON, 1.0 - EPSILON)
        g_p = g * (-t / p_clipped) * inside
        # through the normalisation p = y / total
        return (g_p - sum(g_p * p, axis, keepdims=True)) / total, None


# --- shared helpers ----------------------------------------------------------------------
def _per_sample_mean(values):
    """(N, ...) array -> (N,): each sample's mean over its non-batch axes."""
    return values.reshape(len(values), -1).mean(axis=1)


def _per_sample_mean_grad(g, shape):
    """The adjoint of ``_per_sample_mean``: spread each sample's gradient
    evenly over its ``shape[1:]`` elements."""
    count = int(np.prod(shape[1:]))
    g = reshape(g, (shape[0],) + (1,) * (len(shape) - 1))
    return broadcast_to(g, shape) / count


def _clip_variable(x, low, high):
    """clip(x, low, high) as a Variable whose derivative is 1 inside the range
    and 0 outside, and that 0/1 mask as an array."""
    xp = get_array_module(x.data)
    inside = ((x.data >= low) & (x.data <= high)).astype(x.dtype)
    outside_values = xp.clip(x.data, low, high) * (1.0 - inside)
    return x * inside + outside_values, inside


def match_label_shape(name, pred_shape, labels):
    """Return ``labels`` reshaped to ``pred_shape``; allowed when the shapes
    are equal or differ only by a trailing axis of size 1 (as in Keras).

    Raises ValueError naming ``name`` and both shapes otherwise.
    """
    pred_shape, label_shape = tuple(pred_shape), labels.shape
    if label_shape == pred_shape:
        return labels
    longer, shorter = sorted((pred_shape, label_shape), key=len, reverse=True)
    if len(longer) == len(shorter) + 1 and longer[-1] == 1 and longer[:-1] == shorter:
        return labels.reshape(pred_shape)
    raise ValueError(f"{name}: y_pred shape {pred_shape} and y_true shape {label_shape} "
                     "do not match")


def _prepare(name, y_pred, y_true):
    """y_pred as a Variable with a batch axis; y_true as a constant array of
    its shape and dtype."""
    y_pred = as_variable(y_pred)
    if y_pred.ndim == 0:
        raise ValueError(f"{name}: y_pred needs a batch axis, got a 0-d array")
    if y_pred.dtype.kind != 'f':
        raise TypeError(f"{name}: y_pred must be floating point, got {y_pred.dtype}")
    labels = match_label_shape(name, y_pred.shape, plain_array(y_true))
    return y_pred, labels.astype(y_pred.dtype, copy=False)


def plain_array(x):
    """The data of a Variable (labels never take part in the graph); arrays
    as they are; lists as arrays."""
    x = x.data if isinstance(x, Variable) else x
    return x if isinstance(x, ARRAY_TYPES) else np.asarray(x)


def _reduce(per_sample, reduction):
    if reduction == 'none':
        return per_sample
    total = sum(per_sample)
    return total if reduction == 'sum' else total / len(per_sample)


def _check_reduction(name, reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"{name}: reduction must be one of {REDUCTIONS}, "
                         f"got {reduction!r}")


def _elementwise_loss(name, function, y_pred, y_true, reduction):
    _check_reduction(name, reduction)
    y_pred, labels = _prepare(name, y_pred, y_true)
    return _reduce(function(y_pred, labels), reduction)


def _class_axis(name, ndim, axis):
    if ndim < 2 or not -ndim <= axis < ndim or axis % ndim == 0:
        raise ValueError(f"{name}: axis {axis} is not a class axis of y_pred with "
                         f"{ndim} dims (axis 0 is the batch axis)")
    return axis % ndim


# --- the public functions ------------------------------------------------------------
def mean_squared_error(y_pred, y_true, reduction='mean'):
    """Mean of (y_pred - y_true)^2 over all non-batch elements of each sample
    (an element mean, not a sum divided by the batch size)."""
    return _elementwise_loss('mean_squared_error', MeanSquaredError(), y_pred, y_true,
                             reduction)


def mean_absolute_error(y_pred, y_true, reduction='mean'):
    """Mean of |y_pred - y_true| over the non-batch elements of each sample."""
    return _elementwise_loss('mean_absolute_error', MeanAbsoluteError(), y_pred, y_true,
                             reduction)


def binary_crossentropy(y_pred, y_true, from_logits=False, reduction='mean'):
    """Binary crossentropy averaged over each sample's elements.

    Args:
        y_pred: probabilities in [0, 1] (clipped to [1e-7, 1 - 1e-7]), or
            logits when ``from_logits=True`` (computed stably, finite for any z).
        y_true: targets in [0, 1], same shape (or (N,) against (N, 1)).
    """
    function = BinaryCrossentropyFromLogits() if from_logits else BinaryCrossentropy()
    return _elementwise_loss('binary_crossentropy', function, y_pred, y_true, reduction)


def hinge(y_pred, y_true, reduction='mean'):
    """Mean of max(1 - t y, 0); labels in {0, 1} are first mapped to {-1, 1}
    (only when every label is 0 or 1, as Keras does)."""
    name = 'hinge'
    _check_reduction(name, reduction)
    y_pred, labels = _prepare(name, y_pred, y_true)
    if ((labels == 0) | (labels == 1)).all():
        labels = 2.0 * labels - 1.0
    return _reduce(Hinge()(y_pred, labels), reduction)


def categorical_crossentropy(y_pred, y_true, from_logits=False, axis=-1, reduction='mean'):
    """Crossentropy against target distributions (e.g. one-hot) along ``axis``.

    Args:
        y_pred: (N, ..., C, ...) probabilities (normalised along ``axis``,
            then clipped to [1e-7, 1 - 1e-7]) or logits (``from_logits=True``).
        y_true: same shape as y_pred.
        axis: the class axis (not 0, the batch axis).
    """
    name = 'categorical_crossentropy'
    _check_reduction(name, reduction)
    y_pred, labels = _prepare(name, y_pred, y_true)
    axis = _class_axis(name, y_pred.ndim, axis)
    return _reduce(CategoricalCrossentropy(from_logits, axis)(y_pred, labels),
                   reduction)


def sparse_categorical_crossentropy(y_pred, y_true, from_logits=False, axis=-1,
                                    reduction='mean'):
    """Categorical crossentropy with integer class labels.

    Args:
        y_pred: (N, C) (or (N, ..., C, ...) with ``axis``) probabilities or logits.
        y_true: integer labels in [0, C), shape y_pred's without the class
            axis, e.g. (N,), or with that axis of size 1, e.g. (N, 1). Float
            arrays holding whole numbers are accepted.
    """
    name = 'sparse_categorical_crossentropy'
    _check_reduction(name, reduction)
    y_pred = as_variable(y_pred)
    axis = _class_axis(name, y_pred.ndim, axis)
    classes = class_indices(name, y_pred.shape, axis, plain_array(y_true))
    xp = get_array_module(classes)
    one_hot = xp.moveaxis(classes[..., None] == xp.arange(y_pred.shape[axis]), -1, axis)
    return categorical_crossentropy(y_pred, one_hot.astype(y_pred.dtype),
                                    from_logits, axis, reduction)


def class_indices(name, pred_shape, axis, labels):
    """Integer class ``labels`` for predictions of ``pred_shape`` with the
    classes along ``axis``, as an int64 array of ``pred_shape`` without that
    axis (a size-1 label axis in its place is dropped).

    Raises ValueError naming ``name`` on a shape mismatch or labels that are
    not whole numbers in [0, classes).
    """
    classes = pred_shape[axis]
    expected = pred_shape[:axis] + pred_shape[axis + 1:]
    if labels.ndim == len(pred_shape) and labels.shape[axis] == 1:
        labels = labels.reshape(expected)
    if labels.shape != expected:
        raise ValueError(f"{name}: y_true shape {labels.shape} does not match y_pred shape "
                         f"{pred_shape} without its class axis {axis} ({expected})")
    xp = get_array_module(labels)
    indices = labels.astype(np.int64)
    if labels.size and (xp.any(indices != labels) or indices.min() < 0
                        or indices.max() >= classes):
        raise ValueError(f"{name}: labels must be whole numbers in [0, {classes}), got "
                         f"values from {labels.min()} to {labels.max()}")
    return indices
