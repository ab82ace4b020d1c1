"""``ModelCheckpoint``: save the model (or its weights) during training."""
import os

from .monitor_callback import MonitorCallback


class ModelCheckpoint(MonitorCallback):
    """Save at the end of every epoch (``save_freq='epoch'``) or every
    ``save_freq`` batches.

    ``filepath`` may hold ``str.format`` fields filled from the epoch number
    (1-based, as Keras), the batch (1-based, batch saves only) and the logs:
    'w.{epoch:02d}-{val_loss:.2f}.h5'. With ``save_best_only`` a save
    happens only when ``monitor`` improves (``mode`` min/max/auto, starting
    from ``initial_value_threshold``). Saving calls ``model.save(path)``, or
    ``model.save_weights(path)`` with ``save_weights_only``; missing folders
    are created.
    """

    rank_zero_only = True   # one writer per job

    def __init__(self, filepath, monitor='val_loss', verbose=0, save_best_only=False,
                 save_weights_only=False, mode='auto', save_freq='epoch',
                 initial_value_threshold=None):
        super().__init__(monitor, mode)
        if save_freq != 'epoch' and not (isinstance(save_freq, int) and save_freq > 0):
            raise ValueError(f"Unrecognized save_freq: {save_freq!r}; expected 'epoch' or a "
                             "positive integer")
        self.filepath = os.fspath(filepath)
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.save_freq = save_freq
        self.best = initial_value_threshold
        self._batches_since_save = 0
        self._current_epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == 'epoch':
            return
        self._batches_since_save += 1
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._save(self._current_epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == 'epoch':
            self._save(epoch, None, logs)

    def _save(self, epoch, batch, logs):
        logs = logs or {}
        filepath = self._format_path(epoch, batch, logs)
        if self.save_best_only:
            current = self._monitored_value(
                logs, "Can save best model only with {monitor} available, skipping.")
            if current is None:
                return
            if not self._is_improvement(current, self.best):
                if self.verbose > 0:
                    previous = '' if self.best is None else f' from {self.best:.5f}'
                    print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve{previous}")
                return
            if self.verbose > 0:
                previous = 'inf' if self.best is None else f'{self.best:.5f}'
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {previous} to "
                      f"{current:.5f}, saving model to {filepath}")
            self.best = current
        elif self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: saving model to {filepath}")
        folder = os.path.dirname(filepath)
        if folder:
            os.makedirs(folder, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(filepath)
        else:
            self.model.save(filepath)

    def _format_path(self, epoch, batch, logs):
        fields = dict(logs, epoch=epoch + 1)
        if batch is not None:
            fields['batch'] = batch + 1
        try:
            return self.filepath.format(**fields)
        except KeyError as e:
            raise KeyError(f"ModelCheckpoint: failed to format filepath {self.filepath!r}: "
                           f"no value for {e} (available: {sorted(fields)})") from None
