"""``CSVLogger``: one CSV row per epoch (epoch, then the logs in sorted order)."""
import csv
import os

from .callback import Callback


class CSVLogger(Callback):
    """Write 'epoch' and each logged value to ``filename``; ``append=True``
    continues an existing file (no second header). Rows are flushed at each
    epoch so the file is readable while training runs."""

    rank_zero_only = True   # one writer per job

    def __init__(self, filename, separator=',', append=False):
        super().__init__()
        self.filename = os.fspath(filename)
        self.sep = separator
        self.append = append
        self._file = None
        self._writer = None
        self._keys = None

    def on_train_begin(self, logs=None):
        has_rows = self.append and os.path.exists(self.filename) and \
            os.path.getsize(self.filename) > 0
        self._file = open(self.filename, 'a' if self.append else 'w', newline='')
        self._header_written = has_rows
        self._keys = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self._keys is None:
            self._keys = sorted(logs)
            self._writer = csv.DictWriter(self._file, fieldnames=['epoch'] + self._keys,
                                          delimiter=self.sep)
            if not self._header_written:
                self._writer.writeheader()
        row = {'epoch': epoch}
        row.update({k: logs.get(k, 'NA') for k in self._keys})
        self._writer.writerow(row)
        self._file.flush()

    def on_train_end(self, logs=None):
        if self._file is not None:
            self._file.close()
            self._file = None
