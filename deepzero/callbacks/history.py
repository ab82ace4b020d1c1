"""``History``: records the epoch logs; ``fit`` returns it."""
from .callback import Callback


class History(Callback):
    """``history``: dict name -> list of per-epoch values (e.g. 'loss',
    'acc', 'val_loss', 'val_acc'); ``epoch``: the epoch indices (0-based).
    ``params`` and ``model`` are set by fit."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for name, value in (logs or {}).items():
            self.history.setdefault(name, []).append(value)
        self.model.history = self
