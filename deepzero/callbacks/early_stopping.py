"""``EarlyStopping``: stop training when a monitored quantity stops improving."""
from .monitor_callback import MonitorCallback


class EarlyStopping(MonitorCallback):
    """Keras 3 semantics: after ``patience`` epochs without an improvement of
    at least ``min_delta``, set ``model.stop_training``. ``baseline``: keep
    counting until the value also beats it. ``restore_best_weights``: at the
    end of training put back the weights of the best epoch (none when no
    epoch had a usable value: a NaN epoch is never the best).
    ``start_from_epoch``: ignore the first epochs (warm-up)."""

    def __init__(self, monitor='val_loss', min_delta=0, patience=0, verbose=0, mode='auto',
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__(monitor, mode, min_delta)
        self.patience = patience
        self.verbose = verbose
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        current = self._monitored_value(
            logs, "Early stopping conditioned on metric `{monitor}` which is not available. "
                  "Available metrics are: {available}")
        if current is None:
            return
        if epoch < self.start_from_epoch:
            return
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print("Restoring model weights from the end of the best epoch: "
                      f"{self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)
