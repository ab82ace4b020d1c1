"""Losses with Keras semantics: ``loss(y_pred, y_true, ..., reduction='mean')``.

Each loss op computes the per-sample loss, shape (N,): the mean over the
non-batch axes of an elementwise loss (MSE, MAE, binary crossentropy,
hinge), or the mean over the non-batch axes of a crossentropy summed over
the class axis. ``reduction`` then picks what the caller gets:

- ``'none'``: the per-sample losses, (N,);
- ``'mean'`` (default, Keras's "sum_over_batch_size"): their mean, 0-d;
- ``'sum'``: their sum, 0-d.

Targets (``y_true``) may be int or float arrays or Variables, read in
``y_pred``'s dtype. A target Variable that requires a gradient gets one (in
its own dtype), as in DeZero and PyTorch, so a loss written with its arguments
the other way round still trains both; every other target is a constant. The
class indices of ``sparse_categorical_crossentropy`` have no gradient: a
target Variable there that requires one is refused. As in Keras, a target
whose shape differs from ``y_pred``'s only by a trailing axis of size 1
(labels (N,) against predictions (N, 1)) is reshaped to match.

Probabilities are clipped to [1e-7, 1 - 1e-7] (Keras's ``epsilon()``) before
the log, so the loss is finite and a confidently wrong prediction inside
that range still has a gradient.
"""
import numpy as np

from ..core import Function, Variable, as_variable, get_array_module
from ..core.array_module import ARRAY_TYPES
from ..core.operators import broadcast_to, cast, exp, log, reshape, sum, sum_to
from .activations import sigmoid

__all__ = ['MeanSquaredErrorFunction', 'mean_squared_error',
           'MeanAbsoluteErrorFunction', 'mean_absolute_error',
           'BinaryCrossentropyFunction', 'BinaryCrossentropyFromLogits', 'binary_crossentropy',
           'CategoricalCrossentropyFunction', 'categorical_crossentropy',
           'sparse_categorical_crossentropy',
           'HingeFunction', 'hinge',
           'SumSquaredErrorOverBatch', 'sum_squared_error_over_batch']

EPSILON = 1e-7  # Keras's backend.epsilon(): the probability clipping margin
REDUCTIONS = ('mean', 'sum', 'none')


# --- the elementwise losses ---------------------------------------------------------
class ElementwiseLoss(Function):
    """Base of losses that average an elementwise loss over each sample.

    Inputs: y_pred (N, ...) and y_true of the same shape. Subclasses give
    ``elementwise(y_pred, y_true)`` on arrays, and its derivatives in each
    argument, ``grad_pred(y_pred, y_true)`` and ``grad_true(y_pred, y_true)``,
    on Variables (or a constant array where the derivative is piecewise
    constant). Backward asks only for the ones its inputs need.
    """

    def forward(self, y_pred, y_true):
        return _per_sample_mean(self.elementwise(y_pred, y_true))

    def backward(self, g_per_sample):
        y_pred, y_true = self.inputs
        need_pred, need_true = self.needs_input_grad
        g = _per_sample_mean_grad(g_per_sample, y_pred.shape)
        return (g * self.grad_pred(y_pred, y_true) if need_pred else None,
                g * self.grad_true(y_pred, y_true) if need_true else None)


class MeanSquaredErrorFunction(ElementwiseLoss):
    """(y - t)^2."""

    def elementwise(self, y, t):
        diff = y - t
        return diff * diff

    def grad_pred(self, y, t):
        return 2.0 * (y - t)

    def grad_true(self, y, t):
        return 2.0 * (t - y)


class MeanAbsoluteErrorFunction(ElementwiseLoss):
    """|y - t|; its derivative sign(y - t) is 0 where y == t."""

    def elementwise(self, y, t):
        return get_array_module(y).abs(y - t)

    def grad_pred(self, y, t):
        return get_array_module(y.data).sign(y.data - t.data)

    def grad_true(self, y, t):
        return -self.grad_pred(y, t)


class BinaryCrossentropyFunction(ElementwiseLoss):
    """-(t log p + (1 - t) log(1 - p)) with p = clip(y, eps, 1 - eps)."""

    def elementwise(self, y, t):
        xp = get_array_module(y)
        p = xp.clip(y, EPSILON, 1.0 - EPSILON)
        return -(t * xp.log(p) + (1.0 - t) * xp.log(1.0 - p))

    def grad_pred(self, y, t):
        p, inside = _clip_variable(y, EPSILON, 1.0 - EPSILON)
        return (p - t) / (p * (1.0 - p)) * inside

    def grad_true(self, y, t):
        p, _ = _clip_variable(y, EPSILON, 1.0 - EPSILON)
        return log(1.0 - p) - log(p)


class BinaryCrossentropyFromLogits(ElementwiseLoss):
    """Binary crossentropy of sigmoid(z), in the overflow-free form
    max(z, 0) - z t + log(1 + exp(-|z|)); its derivatives are sigmoid(z) - t
    in z and -z in t."""

    def elementwise(self, z, t):
        xp = get_array_module(z)
        return xp.maximum(z, 0.0) - z * t + xp.log1p(xp.exp(-xp.abs(z)))

    def grad_pred(self, z, t):
        return sigmoid(z) - t

    def grad_true(self, z, t):
        return -z


class HingeFunction(ElementwiseLoss):
    """max(1 - t y, 0) with labels t in {-1, 1}."""

    def elementwise(self, y, t):
        return get_array_module(y).maximum(1.0 - t * y, 0.0)

    def grad_pred(self, y, t):
        return -(t * self._active(y, t))

    def grad_true(self, y, t):
        return -(y * self._active(y, t))

    @staticmethod
    def _active(y, t):
        """1 where the margin is not met (the loss is 1 - t y), else 0."""
        return (1.0 - t.data * y.data > 0.0).astype(y.dtype)


# --- crossentropy over a class axis ---------------------------------------------------
class CategoricalCrossentropyFunction(Function):
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
        need_pred, need_true = self.needs_input_grad
        axis = self.axis
        class_sum_shape = y.shape[:axis % y.ndim] + (1,) + y.shape[axis % y.ndim + 1:]
        g = broadcast_to(_per_sample_mean_grad(g_per_sample, class_sum_shape), y.shape)
        g_pred = g_true = None
        if self.from_logits:
            # the max is a constant shift: softmax does not depend on it
            shifted = y - y.data.max(axis=axis, keepdims=True)
            e = exp(shifted)
            e_sum = sum(e, axis, keepdims=True)
            if need_pred:
                g_pred = g * (e / e_sum * sum(t, axis, keepdims=True) - t)
            if need_true:  # d/dt of -t log p is -log p, log p = shifted - log(e_sum)
                g_true = g * (log(e_sum) - shifted)
            return g_pred, g_true
        total = sum(y, axis, keepdims=True)
        p = y / total
        p_clipped, inside = _clip_variable(p, EPSILON, 1.0 - EPSILON)
        if need_pred:
            g_p = g * (-t / p_clipped) * inside
            # through the normalisation p = y / total
            g_pred = (g_p - sum(g_p * p, axis, keepdims=True)) / total
        if need_true:
            g_true = -g * log(p_clipped)
        return g_pred, g_true


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
    """y_pred as a Variable with a batch axis; y_true in its shape and dtype:
    a Variable keeping y_true's graph when y_true requires a gradient, else a
    constant array."""
    y_pred = as_variable(y_pred)
    if y_pred.ndim == 0:
        raise ValueError(f"{name}: y_pred needs a batch axis, got a 0-d array")
    if y_pred.dtype.kind != 'f':
        raise TypeError(f"{name}: y_pred must be floating point, got {y_pred.dtype}")
    if not _requires_grad(y_true):
        labels = match_label_shape(name, y_pred.shape, plain_array(y_true))
        return y_pred, labels.astype(y_pred.dtype, copy=False)
    return y_pred, match_label_shape(name, y_pred.shape, cast(y_true, y_pred.dtype))


def _requires_grad(x):
    return isinstance(x, Variable) and x.requires_grad


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
    return _elementwise_loss('mean_squared_error', MeanSquaredErrorFunction(), y_pred, y_true,
                             reduction)


def mean_absolute_error(y_pred, y_true, reduction='mean'):
    """Mean of |y_pred - y_true| over the non-batch elements of each sample."""
    return _elementwise_loss('mean_absolute_error', MeanAbsoluteErrorFunction(), y_pred, y_true,
                             reduction)


def binary_crossentropy(y_pred, y_true, from_logits=False, reduction='mean'):
    """Binary crossentropy averaged over each sample's elements.

    Args:
        y_pred: probabilities in [0, 1] (clipped to [1e-7, 1 - 1e-7]), or
            logits when ``from_logits=True`` (computed stably, finite for any z).
        y_true: targets in [0, 1], same shape (or (N,) against (N, 1)).
    """
    function = BinaryCrossentropyFromLogits() if from_logits else BinaryCrossentropyFunction()
    return _elementwise_loss('binary_crossentropy', function, y_pred, y_true, reduction)


def hinge(y_pred, y_true, reduction='mean'):
    """Mean of max(1 - t y, 0); labels in {0, 1} are first mapped to {-1, 1}
    (only when every label is 0 or 1, as Keras does)."""
    name = 'hinge'
    _check_reduction(name, reduction)
    y_pred, labels = _prepare(name, y_pred, y_true)
    values = plain_array(labels)
    if ((values == 0) | (values == 1)).all():
        labels = 2.0 * labels - 1.0
    return _reduce(HingeFunction()(y_pred, labels), reduction)


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
    return _reduce(CategoricalCrossentropyFunction(from_logits, axis)(y_pred, labels),
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
    if _requires_grad(y_true):
        raise TypeError(f"{name}: y_true holds class indices, which have no gradient, "
                        "but it is a Variable that requires one; pass an array or a "
                        "Variable with requires_grad=False, or use "
                        "categorical_crossentropy for targets that learn")
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


class SumSquaredErrorOverBatch(Function):
    """sum((x0 - x1)^2) / len(x0) as one op: the squared error summed over
    every element, divided by the batch size, 0-d (DeZero's
    ``mean_squared_error``; ``mean_squared_error`` here divides by the element
    count). One op, not four, because DeZero's RNN examples call it at every
    time step. The values, and the gradients bit for bit, are those of the
    four ops ``sum(diff * diff) / len(diff)``; both inputs get gradients."""

    def forward(self, x0, x1):
        diff = x0 - x1
        return (diff * diff).sum() / len(diff)

    def backward(self, gy):
        x0, x1 = self.inputs
        need0, need1 = self.needs_input_grad
        diff = x0 - x1                     # an op: higher-order gradients go through it
        g = broadcast_to(gy / len(diff), diff.shape) * diff
        g = g + g                          # the two factors' shares, as the ops summed them
        return (sum_to(g, x0.shape) if need0 else None,
                sum_to(-g, x1.shape) if need1 else None)


def sum_squared_error_over_batch(x0, x1):
    """sum((x0 - x1)^2) / len(x0), 0-d: x0 and x1 of one shape (N, ...)."""
    return SumSquaredErrorOverBatch()(x0, x1)
