"""Run-time switches of the engine, one set per thread.

Data loading runs in background threads, so a ``no_grad()`` in the training
thread must not switch off backprop in a loader thread (and the other way
round): the switches live in a ``threading.local``.
"""
import contextlib
import threading


class _Config(threading.local):
    """``enable_backprop``: record the graph; ``train``: training-time behaviour
    (dropout active, batch norm on batch statistics)."""

    def __init__(self):
        self.enable_backprop = True
        self.train = True


config = _Config()


@contextlib.contextmanager
def using_config(name, value):
    """Set ``config.<name>`` to ``value`` inside a ``with`` block."""
    if not hasattr(config, name):
        raise AttributeError(f"using_config: unknown setting {name!r}; "
                             "known: 'enable_backprop', 'train'")
    old = getattr(config, name)
    setattr(config, name, value)
    try:
        yield
    finally:
        setattr(config, name, old)


def no_grad():
    """Run ops without recording the graph (inference, optimizer updates)."""
    return using_config('enable_backprop', False)


def test_mode():
    """Run ops in inference behaviour (dropout off, batch norm on moving stats)."""
    return using_config('train', False)
