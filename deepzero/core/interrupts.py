"""Ctrl-C that waits for the end of a step that must not be cut in half.

Python turns SIGINT into KeyboardInterrupt at the next bytecode the main
thread runs. If that bytecode belongs to a destructor (h5py frees its objects
in ``__dealloc__`` and weakref callbacks while a file is written), Python
prints "Exception ignored" and carries on: the interrupt is lost and training
continues. And an interrupt in the middle of an optimizer update leaves some
weights stepped and others not.

``defer_interrupts()`` makes such a step a critical section: SIGINT arriving
inside it is recorded, and delivered to the handler that was in place before
(by default: KeyboardInterrupt is raised) as soon as the block has ended.
"""
import contextlib
import signal
import threading


@contextlib.contextmanager
def defer_interrupts():
    """Hold back SIGINT (Ctrl-C) until the ``with`` block ends, then deliver it.

    Only the main thread receives signals, so elsewhere this does nothing. It
    also does nothing when SIGINT is ignored or its handler was not set from
    Python. Nested blocks deliver to the enclosing one, which delivers at its
    own end. The previous handler is restored in every case.
    """
    previous = signal.getsignal(signal.SIGINT)
    if (threading.current_thread() is not threading.main_thread()
            or previous in (signal.SIG_IGN, None)):
        yield
        return
    held_frames = []

    def hold(signum, frame):
        held_frames.append(frame)

    signal.signal(signal.SIGINT, hold)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if held_frames:
            _deliver(previous, held_frames[0])


def _deliver(handler, frame):
    if handler == signal.SIG_DFL:   # the default action: end the process
        signal.raise_signal(signal.SIGINT)
    else:
        handler(signal.SIGINT, frame)
