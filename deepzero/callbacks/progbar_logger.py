"""``ProgbarLogger``: the callback that prints the progress bar (``progbar``)
during fit / evaluate / predict."""
import sys

from .callback import Callback
from .progbar import Progbar


class ProgbarLogger(Callback):
    """Prints 'Epoch i/n' and a progress bar per epoch during fit (values
    from the logs: running means of loss and metrics, validation results at
    epoch end) and a bar during evaluate / predict when called on their own."""

    rank_zero_only = True   # one writer per job

    def __init__(self, stream=None):
        super().__init__()
        self.stream = stream
        self._bar = None
        self._in_fit = False

    @property
    def verbose(self):
        return self.params.get('verbose', 1) if self.params else 1

    def _new_bar(self, steps):
        self._bar = Progbar(steps, verbose=self.verbose, stream=self.stream)

    def on_train_begin(self, logs=None):
        self._in_fit = True

    def on_train_end(self, logs=None):
        self._in_fit = False

    def on_epoch_begin(self, epoch, logs=None):
        stream = self.stream or sys.stdout
        if self.verbose and self.params.get('epochs', 1) > 0:
            stream.write(f"Epoch {epoch + 1}/{self.params['epochs']}\n")
            stream.flush()
        self._new_bar(self.params.get('steps'))
        self._seen = 0

    def on_train_batch_end(self, batch, logs=None):
        self._seen = batch + 1
        if self.params.get('steps') is None or self._seen < self.params['steps']:
            self._bar.update(self._seen, list((logs or {}).items()))

    def on_epoch_end(self, epoch, logs=None):
        self._bar.update(self._seen, list((logs or {}).items()), finalize=True)

    def on_test_begin(self, logs=None):
        if not self._in_fit:
            self._new_bar(self.params.get('steps'))
            self._seen = 0

    def on_test_batch_end(self, batch, logs=None):
        if not self._in_fit:
            self._seen = batch + 1
            self._bar.update(self._seen, list((logs or {}).items()), finalize=False)

    def on_test_end(self, logs=None):
        if not self._in_fit:
            self._bar.update(self._seen, list((logs or {}).items()), finalize=True)

    on_predict_begin = on_test_begin

    def on_predict_batch_end(self, batch, logs=None):
        if not self._in_fit:
            self._seen = batch + 1
            self._bar.update(self._seen, finalize=False)

    def on_predict_end(self, logs=None):
        if not self._in_fit:
            self._bar.update(self._seen, finalize=True)
