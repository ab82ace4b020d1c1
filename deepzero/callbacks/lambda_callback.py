"""``LambdaCallback``: a callback made of plain functions."""
from .callback import Callback


class LambdaCallback(Callback):
    """Each argument is a function for that hook, e.g.
    ``LambdaCallback(on_epoch_end=lambda epoch, logs: print(logs['loss']))``.
    Keras's names: on_epoch_begin/end(epoch, logs), on_train_batch_begin/end
    and on_batch_begin/end(batch, logs), on_train_begin/end(logs), and the
    test/predict hooks; unknown names raise TypeError."""

    def __init__(self, **hooks):
        super().__init__()
        for name, function in hooks.items():
            if not name.startswith('on_') or not hasattr(Callback, name):
                raise TypeError(f"LambdaCallback: unknown hook {name!r}")
            setattr(self, name, function)
