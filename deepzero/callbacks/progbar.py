"""The Keras 2 progress bar, which ``ProgbarLogger`` drives during fit /
evaluate / predict (and the weight downloads show):

    Epoch 3/30
    100/100 [======>.......................] - ETA: 4s - loss: 0.6123 - acc: 0.6650
    100/100 [==============================] - 12s 118ms/step - loss: 0.5912 - acc: 0.6840 - val_loss: 0.5790 - val_acc: 0.6980

On a terminal the line is rewritten in place (``\\r``); when stdout is not a
terminal (logs, notebooks' captured output) a line is printed only every
~10% of the epoch and at its end. ``verbose=2`` prints one line per epoch.
Values print as ``%.4f``, or ``%.4e`` when smaller than 1e-3 in magnitude.
"""
import sys
import time


class Progbar:
    """A progress bar for ``target`` steps (None when unknown).

    ``update(current, values)`` shows ``values`` (a list of (name, value),
    already the running means to display) at step ``current``; the line is
    finished (newline) when ``current >= target`` or with ``finalize=True``.
    """

    def __init__(self, target, width=30, verbose=1, interval=0.05, unit_name='step',
                 stream=None):
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        self.stream = stream or sys.stdout
        self.dynamic = hasattr(self.stream, 'isatty') and self.stream.isatty()
        self._start = time.time()
        self._last_update = 0.0
        self._last_printed_fraction = 0.0
        self._previous_width = 0

    def update(self, current, values=None, finalize=None):
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        values = values or []
        now = time.time()
        if self.verbose == 1:
            if not finalize and not self._due(current, now):
                return
            line = self._bar(current) + self._timing(current, now, finalize) \
                + _format_values(values)
            self._write(line, finalize)
        elif self.verbose == 2 and finalize:
            count = f'{current}/{self.target}' if self.target else f'{current}'
            elapsed = now - self._start
            per_step = _format_per_step(elapsed / current if current else 0, self.unit_name)
            self.stream.write(f'{count} - {elapsed:.0f}s -{per_step}'
                              f'{_format_values(values)}\n')
            self.stream.flush()
        self._last_update = now

    def _due(self, current, now):
        """In-place updates at most every ``interval`` s; otherwise only every 10%."""
        if self.dynamic:
            return now - self._last_update >= self.interval
        if not self.target:
            return False
        fraction = current / self.target
        if fraction - self._last_printed_fraction >= 0.1:
            self._last_printed_fraction = fraction
            return True
        return False

    def _bar(self, current):
        if not self.target:
            return f'{current:7d}/Unknown'
        digits = len(str(self.target))
        done = int(self.width * min(current / self.target, 1.0))
        bar = ''
        if done > 0:
            bar = '=' * (done - 1) + ('>' if current < self.target else '=')
        return f'{current:{digits}d}/{self.target} [{bar}{"." * (self.width - done)}]'

    def _timing(self, current, now, finalize):
        elapsed = now - self._start
        per_step = elapsed / current if current else 0.0
        if finalize:
            return f' - {elapsed:.0f}s{_format_per_step(per_step, self.unit_name)}'
        if self.target:
            return f' - ETA: {_format_eta(per_step * (self.target - current))}'
        return f'{_format_per_step(per_step, self.unit_name)}'

    def _write(self, line, finalize):
        if self.dynamic:
            padding = ' ' * max(self._previous_width - len(line), 0)
            self.stream.write('\r' + line + padding)
            self._previous_width = len(line)
            if finalize:
                self.stream.write('\n')
        else:
            self.stream.write(line + '\n')
        self.stream.flush()


def _format_values(values):
    parts = []
    for name, value in values:
        value = float(value)
        parts.append(f' - {name}: {value:.4f}' if abs(value) > 1e-3 or value == 0
                     else f' - {name}: {value:.4e}')
    return ''.join(parts)


def _format_eta(seconds):
    seconds = int(seconds)
    if seconds > 3600:
        return f'{seconds // 3600}:{(seconds % 3600) // 60:02d}:{seconds % 60:02d}'
    if seconds > 60:
        return f'{seconds // 60}:{seconds % 60:02d}'
    return f'{seconds}s'


def _format_per_step(seconds, unit_name):
    if seconds >= 1 or seconds == 0:
        return f' {seconds:.0f}s/{unit_name}'
    if seconds >= 1e-3:
        return f' {seconds * 1e3:.0f}ms/{unit_name}'
    return f' {seconds * 1e6:.0f}us/{unit_name}'
