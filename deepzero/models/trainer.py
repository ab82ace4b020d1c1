"""``Trainer``: the Keras training API -- compile, fit, evaluate, predict and
their per-batch and Keras 2 generator variants. ``Model`` inherits it.

A model needs only: ``self(x, training=...)`` returning a Variable (or a
list, one per output), ``trainable_weights`` (Parameters), ``losses``
(regularization penalties of the last call, 0-d Variables) and ``built``.

One training step (``train_on_batch`` and each step of ``fit``):

1. the batch becomes Variables with ``requires_grad=False`` (the first layer
   then skips its input gradient);
2. ``y_pred = model(x, training=True)``;
3. loss = compiled loss (per-sample losses, times sample weights, summed, /N)
   + sum(model.losses);
4. ``loss.backward()``, handing each finished gradient to the optimizer's
   ``gradient_ready_callback`` (a DistributedOptimizer starts reducing it
   across processes); the optimizer updates the weights recorded at
   compile time in place (Ctrl-C waits until all of them are updated);
   gradients are cleared;
5. the running means of the loss and metrics are updated (under
   ``no_grad``); logs hold these epoch-so-far values, as Keras reports them.

Evaluation and prediction run under ``no_grad()`` and ``test_mode()``.

Devices: the batches go to the device of the model's weights
(``_batch_device()``, the runtime's ``device`` setting when they were made)
through a ``DeviceFeeder`` (the identity on the CPU; on the GPU the next
batch's copy overlaps the current step). On the GPU the running loss and
metrics stay device scalars: the batch logs hold them, and they reach the
host only where something reads them as numbers (the progress bar, as often
as it draws a line; the epoch's logs, once per epoch). Predictions and the
values fit / evaluate / ``*_on_batch`` return are host (NumPy, Python) values.

``compile`` records which weights are trainable. Changing ``trainable``
afterwards takes effect at the next ``compile`` (as Keras documents): a
newly unfrozen weight is not updated until then (a newly frozen one gets no
gradient, so it stays put), and ``fit`` / ``evaluate`` warn once.
"""
import warnings

import numpy as np

from .. import distributed
from .. import optimizers as optimizers_module
from ..callbacks import CallbackList, History, ProgbarLogger
from ..core import Variable, cuda, get_array_module, no_grad, runtime, test_mode
from ..core.interrupts import defer_interrupts
from ..metrics import Mean
from .compile_utils import CompiledLoss, CompiledMetrics
from .device_feeder import DeviceFeeder
from .epoch_iterator import (EpochIterator, as_float32, is_batch_source,
                             split_validation)

# Keras 2 fit/fit_generator arguments about worker threads: accepted, not used
# (batches are produced in the training thread).
_IGNORED_LOADER_ARGS = ('max_queue_size', 'workers', 'use_multiprocessing')


class Trainer:
    """Mixin giving a model compile(), fit(), evaluate() and predict()."""
    compiled = False
    optimizer = None
    stop_training = False
    history = None

    # --- compile ----------------------------------------------------------------
    def compile(self, optimizer='rmsprop', loss=None, metrics=None, loss_weights=None,
                **kwargs):
        """Configure training.

        Args:
            optimizer: an Optimizer or a name ('rmsprop', 'adam', 'sgd', ...).
            loss: a name ('binary_crossentropy', 'mse', ...), a function
                ``fn(y_true, y_pred) -> (N,)``, a Loss object, or a list of
                these (one per output).
            metrics: list of names ('acc', 'accuracy', 'mae', 'AUC', ...),
                functions or Metric objects; history keys use the names as
                written ('acc' -> 'acc', 'val_acc').
            loss_weights: per-output weights of the total loss.
        Keras's other arguments (run_eagerly, jit_compile, steps_per_execution,
        weighted_metrics=None, ...) are accepted and have no effect here.
        """
        for name in ('weighted_metrics', 'sample_weight_mode'):
            if kwargs.get(name) is not None:
                raise NotImplementedError(f"compile(): {name} is not supported")
        known = {'run_eagerly', 'steps_per_execution', 'jit_compile', 'auto_scale_loss',
                 'weighted_metrics', 'sample_weight_mode'}
        unknown = set(kwargs) - known
        if unknown:
            raise TypeError(f"compile(): unrecognized arguments {sorted(unknown)}")
        self.optimizer = optimizers_module.get(optimizer)
        self.loss = loss
        self.compiled_loss = CompiledLoss(loss, loss_weights) if loss is not None else None
        self.compiled_metrics = CompiledMetrics(metrics)
        self._loss_tracker = Mean(name='loss')
        self._compiled_weights = (list(self.trainable_weights)
                                  if getattr(self, 'built', True) else None)
        self._warned_trainable_change = False
        self.compiled = True

    @property
    def metrics(self):
        """The loss tracker and the compiled metrics (Metric objects)."""
        if not self.compiled:
            return []
        return [self._loss_tracker] + list(self.compiled_metrics.metrics or [])

    @property
    def metrics_names(self):
        if not self.compiled:
            return []
        return ['loss'] + self.compiled_metrics.names

    def reset_metrics(self):
        if self.compiled:
            self._loss_tracker.reset_state()
            self.compiled_metrics.reset_state()

    # --- fit ----------------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose='auto', callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1, shard=False, **kwargs):
        """Train for ``epochs`` epochs; returns a History.

        ``x`` may be arrays (with ``y``), a Keras-style data iterator or a
        Python generator yielding ``(x, y)`` / ``(x, y, sample_weight)``: see
        ``epoch_iterator`` for how epochs are cut (``steps_per_epoch`` draws,
        default ``len(x)``). ``validation_data``: ``(x_val, y_val)``,
        ``(x_val, y_val, sample_weight)``, an iterator or a generator
        (``validation_steps`` batches, default its length).
        ``validation_split``: hold out the last fraction of array data.

        Data-parallel training on MPI (``deepzero.distributed``): ``shard=True``
        (not a Keras argument) gives each rank its part of every global batch
        of ``batch_size * size()`` samples of ``x`` (arrays or a Sequence;
        validation data is not sharded). With a DistributedOptimizer, the
        epoch's logs are averaged across the ranks before the callbacks see
        them (unless ``callbacks`` holds a MetricAverageCallback, which then
        does it where it stands). In a world of several processes, only rank 0
        draws the progress bar and runs the callbacks that write files
        (``rank_zero_only``: ModelCheckpoint, CSVLogger).
        """
        self._check_kwargs('fit', kwargs)
        self._assert_compiled('fit')
        if self.compiled_loss is None:
            raise ValueError("fit(): the model was compiled without a loss; pass "
                             "`loss=` to compile()")
        verbose = _resolve_verbose(verbose)
        if validation_split and validation_data is None:
            if is_batch_source(x):
                raise ValueError("validation_split is only supported for array inputs; pass "
                                 "validation_data for generators and data iterators")
            (x, y, sample_weight), validation_data = split_validation(
                x, y, sample_weight, validation_split)
        if distributed.is_distributed(self.optimizer):
            distributed.init()   # so that the callbacks below know this rank
        train = EpochIterator(x, y, sample_weight, batch_size, steps_per_epoch, shuffle,
                              class_weight, shard=shard)
        validation = self._validation_iterator(validation_data,
                                               validation_batch_size or batch_size,
                                               validation_steps)
        feeder = DeviceFeeder(self._batch_device())
        history = History()
        # every rank's callbacks see the ranks' mean, so that they decide alike
        # (EarlyStopping stops all ranks or none); Horovod leaves that to the callback
        average_logs = distributed.is_distributed(self.optimizer) and not any(
            isinstance(cb, distributed.MetricAverageCallback) for cb in callbacks or [])
        callbacks = self._callback_list(callbacks, verbose, epochs, train.steps, history)
        self._warn_if_trainable_changed()
        self.stop_training = False
        callbacks.on_train_begin()
        logs = {}
        for epoch in range(initial_epoch, epochs):
            self.reset_metrics()
            callbacks.on_epoch_begin(epoch)
            steps_done = 0
            for step, (xb, yb, wb) in feeder.feed(train):
                callbacks.on_train_batch_begin(step)
                logs = self._train_step(xb, yb, wb)
                callbacks.on_train_batch_end(step, logs)
                steps_done += 1
                if self.stop_training:
                    break
            if steps_done == 0:   # the input ran out of data
                break
            epoch_logs = _host_logs(logs)
            if validation is not None and (epoch + 1) % validation_freq == 0:
                val_logs = self._test_loop(validation, callbacks, feeder)
                epoch_logs.update({'val_' + k: v for k, v in val_logs.items()})
            if average_logs:
                distributed.average_logs(epoch_logs, 'fit')
            callbacks.on_epoch_end(epoch, epoch_logs)
            logs = epoch_logs
            if self.stop_training or train.exhausted:
                break
        callbacks.on_train_end(logs)
        return history

    def _validation_iterator(self, data, batch_size, steps):
        if data is None:
            return None
        if is_batch_source(data):
            return EpochIterator(data, steps_per_epoch=steps, name='validation_data')
        if isinstance(data, (tuple, list)) and len(data) in (2, 3):
            return EpochIterator(*data, batch_size=batch_size, steps_per_epoch=steps,
                                 name='validation_data')
        raise ValueError("validation_data must be (x_val, y_val), (x_val, y_val, "
                         "val_sample_weight), a data iterator or a generator; got "
                         f"{type(data).__name__}")

    # --- one step ---------------------------------------------------------------------
    def _train_step(self, x, y, sample_weight):
        weights = self._compiled_weights
        for w in weights or []:
            w.cleargrad()
        y_pred = _as_list(self(_as_input(x), training=True))
        if self._compiled_weights is None:   # the model was built by this first call
            weights = self._compiled_weights = list(self.trainable_weights)
        y_true = self._targets(y, len(y_pred))
        loss = self._total_loss(y_true, y_pred, sample_weight)
        # weights frozen since compile get no gradient; the trainable-state
        # warning already told the user, so they are left out quietly
        trainable = [w for w in weights if w.requires_grad]
        if trainable and loss.requires_grad:
            grad_ready = self.optimizer.gradient_ready_callback(trainable)
            try:
                self.optimizer.scale_loss(loss).backward(grad_ready=grad_ready)
                self.optimizer.build(weights)
                # Ctrl-C waits for the update to end: all weights step, or none
                with defer_interrupts():
                    self.optimizer.apply([w.grad for w in trainable], trainable)
            except BaseException:
                # a reduction started during backward must end, or the next step
                # finds it half done (GradientReducer.discard says how)
                if isinstance(grad_ready, distributed.GradientReducer):
                    grad_ready.discard()
                raise
            for w in trainable:
                w.cleargrad()
        with no_grad():
            self._update_metrics(loss, y_true, y_pred, sample_weight)
        return self._logs()

    def _test_step(self, x, y, sample_weight):
        with no_grad(), test_mode():
            y_pred = _as_list(self(_as_input(x), training=False))
            y_true = self._targets(y, len(y_pred))
            loss = self._total_loss(y_true, y_pred, sample_weight)
            self._update_metrics(loss, y_true, y_pred, sample_weight)
        return self._logs()

    def _total_loss(self, y_true, y_pred, sample_weight):
        loss = self.compiled_loss(y_true, y_pred, sample_weight)
        for penalty in self.losses or []:
            loss = loss + penalty
        return loss

    def _targets(self, y, outputs):
        if y is None:
            raise ValueError("Targets (y) are required to compute the loss: pass y, or a "
                             "generator yielding (x, y) batches")
        y = list(y) if isinstance(y, (list, tuple)) else [y]
        if len(y) != outputs:
            raise ValueError(f"The model has {outputs} outputs but {len(y)} target arrays "
                             "were given")
        return y

    def _update_metrics(self, loss, y_true, y_pred, sample_weight):
        batch_size = len(y_pred[0])
        # the loss's device scalar: a float only when the logs are read
        self._loss_tracker.update_state(loss.data, sample_weight=batch_size)
        self.compiled_metrics.update_state(y_true, [p.data for p in y_pred], sample_weight)

    def _logs(self):
        logs = {'loss': self._loss_tracker.result()}
        logs.update(self.compiled_metrics.results())
        return logs

    # --- evaluate / predict ---------------------------------------------------------------
    def evaluate(self, x=None, y=None, batch_size=None, verbose='auto', sample_weight=None,
                 steps=None, callbacks=None, return_dict=False, **kwargs):
        """Loss and metrics over the data: the loss alone when there are no
        metrics, else [loss, metric1, ...] (a dict with ``return_dict``)."""
        self._check_kwargs('evaluate', kwargs)
        self._assert_compiled('evaluate')
        if self.compiled_loss is None:
            raise ValueError("evaluate(): the model was compiled without a loss")
        self._warn_if_trainable_changed()
        data = EpochIterator(x, y, sample_weight, batch_size, steps)
        callbacks = self._callback_list(callbacks, _resolve_verbose(verbose), 1, data.steps)
        logs = self._test_loop(data, callbacks, DeviceFeeder(self._batch_device()))
        if return_dict:
            return logs
        values = [logs[name] for name in self.metrics_names]
        return values[0] if len(values) == 1 else values

    def _test_loop(self, data, callbacks, feeder):
        """The logs (host values) after running over ``data``, its batches
        moved by ``feeder``."""
        self.reset_metrics()
        callbacks.on_test_begin()
        logs = {}
        for step, (xb, yb, wb) in feeder.feed(data):
            callbacks.on_test_batch_begin(step)
            logs = self._test_step(xb, yb, wb)
            callbacks.on_test_batch_end(step, logs)
        logs = _host_logs(logs)
        callbacks.on_test_end(logs)
        return logs

    def predict(self, x, batch_size=None, verbose='auto', steps=None, callbacks=None,
                **kwargs):
        """Model outputs for all batches, concatenated along the batch axis
        (an array, or a list with several outputs). Generators/iterators:
        ``steps`` batches (default ``len(x)``); their ``y`` is ignored."""
        self._check_kwargs('predict', kwargs)
        data = EpochIterator(x, batch_size=batch_size, steps_per_epoch=steps)
        callbacks = self._callback_list(callbacks, _resolve_verbose(verbose), 1, data.steps)
        feeder = DeviceFeeder(self._batch_device())
        callbacks.on_predict_begin()
        batches = []
        for step, (xb, _, _) in feeder.feed(data):
            callbacks.on_predict_batch_begin(step)
            batches.append(self._predict_step(xb))
            callbacks.on_predict_batch_end(step, {'outputs': batches[-1]})
        callbacks.on_predict_end()
        # one copy to the host at the end, not one per batch
        if isinstance(batches[0], list):
            return [_concatenate_to_host(parts) for parts in zip(*batches)]
        return _concatenate_to_host(batches)

    # --- single batches -----------------------------------------------------------------
    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None,
                       return_dict=False, reset_metrics=True):
        """One training step on one batch; returns its loss (and metrics).
        With ``reset_metrics=False`` the metrics keep accumulating over calls."""
        self._assert_compiled('train_on_batch')
        if reset_metrics:
            self.reset_metrics()
        (_, batch), = EpochIterator(x, y, sample_weight, batch_size=num_rows(x),
                                    class_weight=class_weight)
        batch = DeviceFeeder(self._batch_device()).to_device(batch)
        return self._batch_result(self._train_step(*batch), return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False,
                      reset_metrics=True):
        """Loss (and metrics) of one batch, in inference mode."""
        self._assert_compiled('test_on_batch')
        if reset_metrics:
            self.reset_metrics()
        (_, batch), = EpochIterator(x, y, sample_weight, batch_size=num_rows(x))
        batch = DeviceFeeder(self._batch_device()).to_device(batch)
        return self._batch_result(self._test_step(*batch), return_dict)

    def predict_on_batch(self, x):
        """Outputs for one batch as NumPy arrays (no graph, inference mode)."""
        outputs = self._predict_step(
            DeviceFeeder(self._batch_device()).to_device(as_float32(x)))
        if isinstance(outputs, list):
            return [cuda.as_numpy(o) for o in outputs]
        return cuda.as_numpy(outputs)

    def _predict_step(self, x):
        """Outputs for one batch as arrays on the model's device."""
        with no_grad(), test_mode():
            y_pred = self(_as_input(x), training=False)
        if isinstance(y_pred, (list, tuple)):
            return [p.data for p in y_pred]
        return y_pred.data

    def _batch_result(self, logs, return_dict):
        logs = _host_logs(logs)
        if return_dict:
            return logs
        values = [logs[name] for name in self.metrics_names]
        return values[0] if len(values) == 1 else values

    # --- Keras 2 generator methods ------------------------------------------------------------
    def fit_generator(self, generator, steps_per_epoch=None, epochs=1, verbose=1,
                      callbacks=None, validation_data=None, validation_steps=None,
                      validation_freq=1, class_weight=None, max_queue_size=10, workers=1,
                      use_multiprocessing=False, shuffle=True, initial_epoch=0):
        """Deprecated: ``fit`` accepts generators."""
        _deprecated('fit_generator', 'fit')
        return self.fit(generator, steps_per_epoch=steps_per_epoch, epochs=epochs,
                        verbose=verbose, callbacks=callbacks, validation_data=validation_data,
                        validation_steps=validation_steps, validation_freq=validation_freq,
                        class_weight=class_weight, initial_epoch=initial_epoch)

    def evaluate_generator(self, generator, steps=None, callbacks=None, max_queue_size=10,
                           workers=1, use_multiprocessing=False, verbose=0):
        """Deprecated: ``evaluate`` accepts generators."""
        _deprecated('evaluate_generator', 'evaluate')
        return self.evaluate(generator, steps=steps, callbacks=callbacks, verbose=verbose)

    def predict_generator(self, generator, steps=None, callbacks=None, max_queue_size=10,
                          workers=1, use_multiprocessing=False, verbose=0):
        """Deprecated: ``predict`` accepts generators."""
        _deprecated('predict_generator', 'predict')
        return self.predict(generator, steps=steps, callbacks=callbacks, verbose=verbose)

    # --- helpers --------------------------------------------------------------------------
    def _batch_device(self):
        """'cpu' or 'gpu': where batches go, the device of the trainable
        weights (``Model`` asks all of its weights); without any,
        ``runtime.resolved_device()``."""
        weights = self.trainable_weights
        return weights[0].device if weights else runtime.resolved_device()

    def _assert_compiled(self, method):
        if not self.compiled:
            raise ValueError(f"You must call `compile()` before calling `{method}()`.")

    @staticmethod
    def _check_kwargs(method, kwargs):
        unknown = set(kwargs) - set(_IGNORED_LOADER_ARGS)
        if unknown:
            raise TypeError(f"{method}(): unrecognized arguments {sorted(unknown)}")

    def _callback_list(self, callbacks, verbose, epochs, steps, history=None):
        callbacks = list(callbacks or [])
        if not distributed.is_rank_zero():
            # one progress bar, one checkpoint writer, one log per job: rank 0's
            verbose = 0
            callbacks = [cb for cb in callbacks if not getattr(cb, 'rank_zero_only', False)]
        if verbose and not any(isinstance(cb, ProgbarLogger) for cb in callbacks):
            callbacks.insert(0, ProgbarLogger())
        if history is not None:
            callbacks.append(history)
        return CallbackList(callbacks, model=self, verbose=verbose, epochs=epochs, steps=steps)

    def _warn_if_trainable_changed(self):
        """Warn once per compile when `trainable` changed since compile()."""
        compiled = self._compiled_weights
        if compiled is None or self._warned_trainable_change:
            return
        current = list(self.trainable_weights)
        changed = {id(w) for w in compiled} ^ {id(w) for w in current}
        if not changed:
            return
        layers = sorted({_layer_of(w) for w in compiled + current if id(w) in changed})
        warnings.warn(
            "A layer's `trainable` state has changed since the model was compiled. This can "
            "result in unexpected behavior, as the compiled optimizer and loss functions may "
            "not track the correct variables. Please recompile your model (e.g. "
            "`model.compile(...)`) before calling `fit()` or `evaluate()` so the change takes "
            f"effect. Changed layers: {layers}", stacklevel=3)
        self._warned_trainable_change = True


def _as_list(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _as_input(x):
    """Batch arrays as constant Variables (no gradient is computed for them);
    host arrays stay on the host (the model's first layer moves them)."""
    if isinstance(x, (list, tuple)):
        return [_as_input(v) for v in x]
    if isinstance(x, Variable):
        return x
    return Variable(x if get_array_module(x) is not np else np.asarray(x), requires_grad=False)


def _host_logs(logs):
    """``logs`` with device scalars (running means on the GPU) turned into
    Python floats (the first waits for the GPU's queued work; host values
    are kept as they are)."""
    return {name: float(value) if cuda.device_of(value) == 'gpu' else value
            for name, value in logs.items()}


def _concatenate_to_host(parts):
    """The batches' outputs (arrays on one device) joined along the batch
    axis, as one NumPy array."""
    return cuda.as_numpy(get_array_module(parts[0]).concatenate(parts))


def num_rows(x):
    first = x[0] if isinstance(x, (list, tuple)) else x
    return max(len(first), 1)


def _layer_of(weight):
    path = getattr(weight, 'path', None)
    return path.rsplit('/', 1)[0] if path else str(weight.name)


def _resolve_verbose(verbose):
    if verbose == 'auto':
        return 1
    if verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 0, 1, 2 or 'auto', got {verbose!r}")
    return verbose


def _deprecated(old, new):
    warnings.warn(f"`Model.{old}` is deprecated and will be removed in a future version. "
                  f"Please use `Model.{new}`, which supports generators.",
                  DeprecationWarning, stacklevel=3)
