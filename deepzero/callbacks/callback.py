"""``Callback``: hooks that ``fit`` / ``evaluate`` / ``predict`` call, with
Keras 3's names and arguments. ``logs`` is a dict of the current metric
values (running means within an epoch; epoch results at epoch end)."""


class Callback:
    """Base class: override any hook. ``self.model`` is the model being
    trained, ``self.params`` a dict with 'verbose', 'epochs' and 'steps'.
    ``rank_zero_only``: in data-parallel training on several processes
    (``deepzero.distributed``), ``fit`` runs the callback on rank 0 alone
    (True for those that write files or draw: ModelCheckpoint, CSVLogger,
    ProgbarLogger)."""

    rank_zero_only = False

    def __init__(self):
        self.params = None
        self._model = None

    def set_params(self, params):
        self.params = params

    def set_model(self, model):
        self._model = model

    @property
    def model(self):
        return self._model

    def on_train_begin(self, logs=None): pass
    def on_train_end(self, logs=None): pass
    def on_epoch_begin(self, epoch, logs=None): pass
    def on_epoch_end(self, epoch, logs=None): pass
    def on_train_batch_begin(self, batch, logs=None): self.on_batch_begin(batch, logs)
    def on_train_batch_end(self, batch, logs=None): self.on_batch_end(batch, logs)
    def on_batch_begin(self, batch, logs=None): pass  # Keras 2 names of the train-batch hooks
    def on_batch_end(self, batch, logs=None): pass
    def on_test_begin(self, logs=None): pass
    def on_test_end(self, logs=None): pass
    def on_test_batch_begin(self, batch, logs=None): pass
    def on_test_batch_end(self, batch, logs=None): pass
    def on_predict_begin(self, logs=None): pass
    def on_predict_end(self, logs=None): pass
    def on_predict_batch_begin(self, batch, logs=None): pass
    def on_predict_batch_end(self, batch, logs=None): pass
