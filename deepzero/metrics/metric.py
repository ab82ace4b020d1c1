"""``Metric``: a value accumulated over batches (an epoch), Keras 3 style:
``update_state(y_true, y_pred, sample_weight=None)``, ``result()``,
``reset_state()``.

Metrics read arrays (predictions' ``.data``), never build a graph, and keep
their running sums as Python floats (float64), so a long epoch does not lose
precision; ``result()`` returns a Python float.
"""
import numpy as np

from ..core import Variable
from ..core.naming import to_snake_case


class Metric:
    """Base class. ``_direction`` is 'up' when larger is better, 'down' when
    smaller is; callbacks with ``mode='auto'`` read it."""
    _direction = None

    def __init__(self, name=None, dtype=None):
        self.name = name or to_snake_case(type(self).__name__)
        self.dtype = dtype or 'float32'

    def update_state(self, y_true, y_pred, sample_weight=None):
        raise NotImplementedError(f"{type(self).__name__}.update_state")

    def result(self):
        raise NotImplementedError(f"{type(self).__name__}.result")

    def reset_state(self):
        raise NotImplementedError(f"{type(self).__name__}.reset_state")

    def __call__(self, y_true, y_pred, sample_weight=None):
        self.update_state(y_true, y_pred, sample_weight)
        return self.result()

    def get_config(self):
        return {'name': self.name, 'dtype': self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f'<{type(self).__name__} name={self.name!r}>'


class Mean(Metric):
    """Weighted mean of the values given: sum(w * v) / sum(w)."""

    def __init__(self, name='mean', dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.reset_state()

    def reset_state(self):
        self.total = 0.0
        self.count = 0.0

    def update_state(self, values, sample_weight=None):
        values = as_array(values)
        if sample_weight is None:
            self.total += float(values.sum(dtype=np.float64))
            self.count += values.size
            return
        weights = np.broadcast_to(
            as_array(sample_weight).reshape(_weight_shape(sample_weight, values)), values.shape)
        self.total += float((values * weights).sum(dtype=np.float64))
        self.count += float(weights.sum(dtype=np.float64))

    def result(self):
        return self.total / self.count if self.count else 0.0


class MeanMetricWrapper(Mean):
    """The mean over all samples seen of ``fn(y_true, y_pred, **kwargs)``
    (per-sample values)."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(name=name or getattr(fn, '__name__', 'mean'), dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs

    def update_state(self, y_true, y_pred, sample_weight=None):
        values = self._fn(y_true, y_pred, **self._fn_kwargs)
        super().update_state(values, sample_weight)

    def get_config(self):
        return dict(super().get_config(), **self._fn_kwargs)


def as_array(x):
    """The data of a Variable, or ``x`` as a NumPy array."""
    return x.data if isinstance(x, Variable) else np.asarray(x)


def _weight_shape(sample_weight, values):
    """Per-sample weights (N,) line up with the batch axis of ``values``."""
    weights = as_array(sample_weight)
    if weights.ndim == 1 and values.ndim > 1:
        return (len(weights),) + (1,) * (values.ndim - 1)
    return weights.shape
