"""``MonitorCallback``: the shared logic of callbacks that watch one logged
quantity (EarlyStopping, ModelCheckpoint, ReduceLROnPlateau): which
direction is better and what counts as an improvement."""
import math
import operator
import warnings

from .callback import Callback


class MonitorCallback(Callback):
    """``mode``: 'min', 'max' or 'auto'. With 'auto' (Keras 3), a name
    ending in 'loss' is minimised, a compiled metric follows its declared
    direction (accuracy, AUC, precision, recall: maximised; mse, mae:
    minimised), and names containing 'acc' are maximised (the Keras 2 rule,
    kept so 'acc' works before the metrics are built); otherwise ValueError.

    An improvement is ``current - min_delta`` better than the reference
    (min_delta is applied in the better direction); a NaN value is never
    one."""

    def __init__(self, monitor='val_loss', mode='auto', min_delta=0.0):
        super().__init__()
        if mode not in ('auto', 'min', 'max'):
            raise ValueError(f"{type(self).__name__}: mode must be 'auto', 'min' or 'max', "
                             f"got {mode!r}")
        self.monitor = monitor
        self.mode = mode
        self.min_delta = abs(min_delta)
        self.monitor_op = None

    def _set_monitor_op(self):
        if self.mode == 'min':
            self.monitor_op = operator.lt
        elif self.mode == 'max':
            self.monitor_op = operator.gt
        else:
            self.monitor_op = self._auto_monitor_op()
        if self.monitor_op is operator.lt:
            self.min_delta = -abs(self.min_delta)

    def _monitored_value(self, logs, missing_warning):
        """The value of ``monitor`` in ``logs``, or None after warning
        ``missing_warning`` (each callback's Keras wording, formatted with
        ``monitor`` and ``available``, the logged names) when it is not
        logged. The direction is settled here, at first use: by then the
        model's metrics are built."""
        if self.monitor_op is None:
            self._set_monitor_op()
        current = (logs or {}).get(self.monitor)
        if current is None:
            # stacklevel 3: the caller of the callback method that asked.
            warnings.warn(missing_warning.format(monitor=self.monitor,
                                                 available=','.join(logs or {})),
                          stacklevel=3)
        return current

    def _auto_monitor_op(self):
        name = self.monitor[4:] if self.monitor.startswith('val_') else self.monitor
        if name.endswith('loss'):
            return operator.lt
        for metric in getattr(self.model, 'metrics', None) or []:
            if metric.name == name and getattr(metric, '_direction', None):
                return operator.gt if metric._direction == 'up' else operator.lt
        if 'acc' in name:
            return operator.gt
        raise ValueError(
            f"{type(self).__name__} callback received monitor={self.monitor}, but it cannot "
            "automatically determine whether that metric should be maximized or minimized. "
            "Pass `mode='max'` in order to monitor based on the highest metric value, or "
            "pass `mode='min'` in order to use the lowest value.")

    def _is_improvement(self, value, reference):
        """Whether ``value`` beats ``reference`` (None: nothing yet). NaN is
        never better than anything (every comparison with it is false, so a
        NaN best could never be beaten), and a NaN reference is beaten by
        any number."""
        if math.isnan(value):
            return False
        if reference is None or math.isnan(reference):
            return True
        return self.monitor_op(value - self.min_delta, reference)
