"""``Metric``: a value accumulated over batches (an epoch), Keras 3 style:
``update_state(y_true, y_pred, sample_weight=None)``, ``result()``,
``reset_state()``.

Metrics read arrays (predictions' ``.data``), never build a graph, and keep
their running sums as Python floats (float64), so a long epoch does not lose
precision; ``result()`` returns a Python float. ``Mean`` given device (CuPy)
values keeps its sums as float64 device scalars instead, so a training step
does not wait for the GPU; its ``result()`` is then a 0-d device array, read
(``float()``) only where a number is needed.
"""
import numpy as np

from ..core import Variable, get_array_module
from ..core.array_module import ARRAY_TYPES
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
        xp = get_array_module(values)
        if sample_weight is None:
            self._add(values.sum(dtype=np.float64), values.size)
            return
        weights = xp.asarray(as_array(sample_weight))  # a scalar weight: a tiny async copy
        weights = xp.broadcast_to(weights.reshape(_weight_shape(weights, values)), values.shape)
        self._add((values * weights).sum(dtype=np.float64), weights.sum(dtype=np.float64))

    def _add(self, total, count):
        """Host sums as Python floats; device sums (0-d arrays) stay there."""
        if get_array_module(total) is np:
            self.total += float(total)
            self.count += float(count)
        else:
            self.total = self.total + total
            self.count = self.count + count

    def result(self):
        if get_array_module(self.count) is not np:  # no test on the device value: no wait
            xp = get_array_module(self.count)
            return xp.where(self.count != 0, self.total / self.count, 0.0)
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
    """The data of a Variable, an array as it is (on its device), anything
    else as a NumPy array."""
    if isinstance(x, Variable):
        return x.data
    return x if isinstance(x, ARRAY_TYPES) else np.asarray(x)


def _weight_shape(sample_weight, values):
    """Per-sample weights (N,) line up with the batch axis of ``values``."""
    weights = as_array(sample_weight)
    if weights.ndim == 1 and values.ndim > 1:
        return (len(weights),) + (1,) * (values.ndim - 1)
    return weights.shape
