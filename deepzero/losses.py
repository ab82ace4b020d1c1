"""Keras-named losses: functions ``loss(y_true, y_pred) -> per-sample (N,)``
and ``Loss`` classes whose call reduces them.

Keras argument order here (``y_true`` first); the ops underneath
(``deepzero.functions``) take ``(y_pred, y_true)``. A ``Loss`` object's
``__call__(y_true, y_pred, sample_weight=None)`` multiplies the per-sample
losses by the sample weights and reduces with ``reduction``:
``'sum_over_batch_size'`` (default: sum(w * l) / N, as Keras), ``'sum'`` or
``'none'``. The result is a Variable, so it can be backpropagated.

``get(name_or_object)`` resolves what ``compile(loss=...)`` receives.
"""
import numpy as np

from . import functions as F
from .core import Variable, as_array, as_variable, get_array_module

__all__ = ['Loss', 'MeanSquaredError', 'MeanAbsoluteError', 'Hinge', 'BinaryCrossentropy',
           'CategoricalCrossentropy', 'SparseCategoricalCrossentropy', 'mean_squared_error',
           'mean_absolute_error', 'mse', 'MSE', 'mae', 'MAE', 'hinge', 'binary_crossentropy',
           'categorical_crossentropy', 'sparse_categorical_crossentropy', 'get', 'serialize',
           'deserialize']

REDUCTIONS = ('sum_over_batch_size', 'sum', 'none', None)


# --- functions (Keras order: y_true, y_pred) ----------------------------------------------
def mean_squared_error(y_true, y_pred):
    return F.mean_squared_error(y_pred, y_true, reduction='none')


def mean_absolute_error(y_true, y_pred):
    return F.mean_absolute_error(y_pred, y_true, reduction='none')


def hinge(y_true, y_pred):
    return F.hinge(y_pred, y_true, reduction='none')


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Per-sample binary crossentropy; ``label_smoothing`` pulls targets
    towards 0.5: t * (1 - s) + 0.5 * s. (Only axis=-1 is supported.)"""
    _check_last_axis('binary_crossentropy', axis)
    if label_smoothing:
        y_true = _labels(y_true, y_pred) * (1.0 - label_smoothing) + 0.5 * label_smoothing
    return F.binary_crossentropy(y_pred, y_true, from_logits=from_logits, reduction='none')


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Per-sample crossentropy against one-hot / soft targets; smoothing
    spreads ``label_smoothing`` over the classes: t * (1 - s) + s / C."""
    if label_smoothing:
        classes = y_pred.shape[axis]
        y_true = (_labels(y_true, y_pred) * (1.0 - label_smoothing)
                  + label_smoothing / classes)
    return F.categorical_crossentropy(y_pred, y_true, from_logits=from_logits, axis=axis,
                                      reduction='none')


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None,
                                    axis=-1):
    """Per-sample crossentropy with integer labels (N,) or (N, 1)."""
    if ignore_class is not None:
        raise NotImplementedError("sparse_categorical_crossentropy: ignore_class is not "
                                  "supported")
    return F.sparse_categorical_crossentropy(y_pred, y_true, from_logits=from_logits,
                                             axis=axis, reduction='none')


def _labels(y_true, y_pred):
    """Labels as an array of the prediction's dtype; a target Variable that
    requires a gradient stays a Variable, so smoothing keeps its graph (the
    loss op reads it in the prediction's dtype)."""
    if isinstance(y_true, Variable) and y_true.requires_grad:
        return y_true
    labels = y_true.data if isinstance(y_true, Variable) else as_array(y_true)
    return labels.astype(as_variable(y_pred).dtype, copy=False)


def _check_last_axis(name, axis):
    if axis != -1:
        raise NotImplementedError(f"{name}: only axis=-1 is supported, got axis={axis}")


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error


# --- classes ---------------------------------------------------------------------------
class Loss:
    """Base class: ``call(y_true, y_pred)`` gives per-sample losses (N,);
    ``__call__`` weights and reduces them."""

    def __init__(self, name=None, reduction='sum_over_batch_size', dtype=None):
        if reduction not in REDUCTIONS:
            raise ValueError(f"Invalid value for argument `reduction`. Expected one of "
                             f"{REDUCTIONS}. Received: reduction={reduction!r}")
        self.name = name or type(self).__name__
        self.reduction = reduction
        self.dtype = dtype

    def call(self, y_true, y_pred):
        raise NotImplementedError(f"{type(self).__name__}.call")

    def __call__(self, y_true, y_pred, sample_weight=None):
        losses = self.call(y_true, y_pred)
        return reduce_weighted(losses, sample_weight, self.reduction)

    def get_config(self):
        return {'name': self.name, 'reduction': self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def reduce_weighted(losses, sample_weight, reduction='sum_over_batch_size'):
    """Multiply per-sample ``losses`` (a Variable (N,)) by ``sample_weight``
    (N,) and reduce: 'sum_over_batch_size' -> sum / N, 'sum', or 'none'."""
    if sample_weight is not None:
        if isinstance(sample_weight, Variable):
            sample_weight = sample_weight.data
        # on the losses' device (a host array is copied over)
        weights = get_array_module(losses).asarray(sample_weight)
        weights = weights.astype(losses.dtype, copy=False).reshape(len(weights), *(
            (1,) * (losses.ndim - 1)))
        if len(weights) != len(losses):
            raise ValueError(f"sample_weight has {len(weights)} entries but the batch has "
                             f"{len(losses)} samples")
        losses = losses * weights
    if reduction in ('none', None):
        return losses
    total = F.sum(losses)
    return total if reduction == 'sum' else total / losses.size


class LossFunctionWrapper(Loss):
    """A ``Loss`` around a function ``fn(y_true, y_pred, **kwargs) -> (N,)``."""

    def __init__(self, fn, name=None, reduction='sum_over_batch_size', dtype=None, **kwargs):
        super().__init__(name=name or getattr(fn, '__name__', None), reduction=reduction,
                         dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self):
        return dict(super().get_config(), **self._fn_kwargs)

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class MeanSquaredError(LossFunctionWrapper):
    def __init__(self, reduction='sum_over_batch_size', name='mean_squared_error', dtype=None):
        super().__init__(mean_squared_error, name=name, reduction=reduction, dtype=dtype)


class MeanAbsoluteError(LossFunctionWrapper):
    def __init__(self, reduction='sum_over_batch_size', name='mean_absolute_error',
                 dtype=None):
        super().__init__(mean_absolute_error, name=name, reduction=reduction, dtype=dtype)


class Hinge(LossFunctionWrapper):
    def __init__(self, reduction='sum_over_batch_size', name='hinge', dtype=None):
        super().__init__(hinge, name=name, reduction=reduction, dtype=dtype)


class BinaryCrossentropy(LossFunctionWrapper):
    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction='sum_over_batch_size', name='binary_crossentropy', dtype=None):
        super().__init__(binary_crossentropy, name=name, reduction=reduction, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)


class CategoricalCrossentropy(LossFunctionWrapper):
    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction='sum_over_batch_size', name='categorical_crossentropy',
                 dtype=None):
        super().__init__(categorical_crossentropy, name=name, reduction=reduction,
                         dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)


class SparseCategoricalCrossentropy(LossFunctionWrapper):
    def __init__(self, from_logits=False, ignore_class=None,
                 reduction='sum_over_batch_size', name='sparse_categorical_crossentropy',
                 dtype=None):
        super().__init__(sparse_categorical_crossentropy, name=name, reduction=reduction,
                         dtype=dtype, from_logits=from_logits, ignore_class=ignore_class)


LOSS_CLASSES = {cls.__name__: cls for cls in (
    MeanSquaredError, MeanAbsoluteError, Hinge, BinaryCrossentropy, CategoricalCrossentropy,
    SparseCategoricalCrossentropy)}
LOSS_FUNCTIONS = {
    'mean_squared_error': mean_squared_error, 'mse': mean_squared_error,
    'MSE': mean_squared_error,
    'mean_absolute_error': mean_absolute_error, 'mae': mean_absolute_error,
    'MAE': mean_absolute_error,
    'hinge': hinge, 'binary_crossentropy': binary_crossentropy,
    'categorical_crossentropy': categorical_crossentropy,
    'sparse_categorical_crossentropy': sparse_categorical_crossentropy,
}


def serialize(loss):
    if isinstance(loss, Loss):
        return {'module': 'keras.losses', 'class_name': type(loss).__name__,
                'config': loss.get_config(), 'registered_name': None}
    return getattr(loss, '__name__', str(loss))


def deserialize(config, custom_objects=None):
    if isinstance(config, str):
        return get(config)
    classes = dict(LOSS_CLASSES, **(custom_objects or {}))
    name = config.get('class_name')
    if name not in classes:
        raise ValueError(f"Unknown loss {name!r}; known: {sorted(LOSS_CLASSES)}")
    return classes[name].from_config(config.get('config', {}))


def get(identifier):
    """A loss function or Loss object from a name ('binary_crossentropy',
    'mse', 'BinaryCrossentropy', ...), an object, or a config dict."""
    if identifier is None or isinstance(identifier, Loss) or (
            callable(identifier) and not isinstance(identifier, type)):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        if identifier in LOSS_FUNCTIONS:
            return LOSS_FUNCTIONS[identifier]
        if identifier in LOSS_CLASSES:
            return LOSS_CLASSES[identifier]()
        raise ValueError(f"Unknown loss: {identifier!r}. Valid names: "
                         f"{sorted(set(LOSS_FUNCTIONS) | set(LOSS_CLASSES))}")
    raise ValueError(f"Could not interpret loss identifier: {identifier!r}")
