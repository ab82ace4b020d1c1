"""``ReduceLROnPlateau``: lower the learning rate when a metric stops improving."""
from .monitor_callback import MonitorCallback


class ReduceLROnPlateau(MonitorCallback):
    """After ``patience`` epochs without an improvement of at least
    ``min_delta``, multiply the optimizer's learning rate by ``factor`` (not
    below ``min_lr``), then wait ``cooldown`` epochs before counting again.
    Adds 'learning_rate' to the epoch logs, as Keras 3 does."""

    def __init__(self, monitor='val_loss', factor=0.1, patience=10, verbose=0, mode='auto',
                 min_delta=1e-4, cooldown=0, min_lr=0.0, **kwargs):
        if 'epsilon' in kwargs:  # Keras 2.0.x name of min_delta
            min_delta = kwargs.pop('epsilon')
        if kwargs:
            raise TypeError(f"ReduceLROnPlateau: unrecognized arguments {sorted(kwargs)}")
        super().__init__(monitor, mode, min_delta)
        if factor >= 1.0:
            raise ValueError("ReduceLROnPlateau does not support a factor >= 1.0. "
                             f"Received factor={factor}")
        self.factor = factor
        self.patience = patience
        self.verbose = verbose
        self.cooldown = cooldown
        self.min_lr = min_lr
        self.wait = 0
        self.cooldown_counter = 0
        self.best = None

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.cooldown_counter = 0
        self.best = None

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs['learning_rate'] = self.model.optimizer.learning_rate
        current = self._monitored_value(
            logs, "Learning rate reduction is conditioned on metric `{monitor}` which is not "
                  "available. Available metrics are: {available}.")
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best = current
            self.wait = 0
        elif self.cooldown_counter == 0:
            self.wait += 1
            if self.wait >= self.patience and self._reduce(epoch):
                self.cooldown_counter = self.cooldown
                self.wait = 0

    def _reduce(self, epoch):
        optimizer = self.model.optimizer
        old_lr = optimizer.learning_rate
        if old_lr <= self.min_lr:
            return False
        new_lr = max(old_lr * self.factor, self.min_lr)
        optimizer.learning_rate = new_lr
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to "
                  f"{new_lr}.")
        return True
