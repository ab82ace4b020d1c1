"""``CallbackList``: calls one hook on every callback, in order."""
from .callback import Callback


class CallbackList(Callback):
    """Wraps a list of callbacks; ``set_model``/``set_params`` and every hook
    are forwarded to each of them. All callbacks share one ``logs`` dict, so
    a callback may add entries for later ones (ReduceLROnPlateau and
    LearningRateScheduler add 'learning_rate', which History then records).
    The trainer puts History last for that reason."""

    def __init__(self, callbacks=None, model=None, **params):
        super().__init__()
        self.callbacks = list(callbacks or [])
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be Callback instances, got "
                                f"{type(cb).__name__}")
        if model is not None:
            self.set_model(model)
        if params:
            self.set_params(params)

    def set_model(self, model):
        super().set_model(model)
        for cb in self.callbacks:
            cb.set_model(model)

    def set_params(self, params):
        super().set_params(params)
        for cb in self.callbacks:
            cb.set_params(params)

    def __iter__(self):
        return iter(self.callbacks)

    def _call(self, hook, *args, logs=None):
        logs = {} if logs is None else logs
        for cb in self.callbacks:
            getattr(cb, hook)(*args, logs)

    def on_train_begin(self, logs=None): self._call('on_train_begin', logs=logs)
    def on_train_end(self, logs=None): self._call('on_train_end', logs=logs)
    def on_epoch_begin(self, epoch, logs=None): self._call('on_epoch_begin', epoch, logs=logs)
    def on_epoch_end(self, epoch, logs=None): self._call('on_epoch_end', epoch, logs=logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._call('on_train_batch_begin', batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        self._call('on_train_batch_end', batch, logs=logs)

    def on_test_begin(self, logs=None): self._call('on_test_begin', logs=logs)
    def on_test_end(self, logs=None): self._call('on_test_end', logs=logs)

    def on_test_batch_begin(self, batch, logs=None):
        self._call('on_test_batch_begin', batch, logs=logs)

    def on_test_batch_end(self, batch, logs=None):
        self._call('on_test_batch_end', batch, logs=logs)

    def on_predict_begin(self, logs=None): self._call('on_predict_begin', logs=logs)
    def on_predict_end(self, logs=None): self._call('on_predict_end', logs=logs)

    def on_predict_batch_begin(self, batch, logs=None):
        self._call('on_predict_batch_begin', batch, logs=logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._call('on_predict_batch_end', batch, logs=logs)
