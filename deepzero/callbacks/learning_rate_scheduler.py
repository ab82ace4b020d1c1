"""``LearningRateScheduler``: set the learning rate at the start of each epoch."""
from .callback import Callback


class LearningRateScheduler(Callback):
    """``schedule(epoch, lr) -> new lr`` (or ``schedule(epoch)``, the Keras 2
    form) is called at each epoch start; 'learning_rate' is added to the
    epoch logs."""

    def __init__(self, schedule, verbose=0):
        super().__init__()
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        try:
            lr = self.schedule(epoch, optimizer.learning_rate)
        except TypeError:  # old-style schedule(epoch)
            lr = self.schedule(epoch)
        if not isinstance(lr, (float, int)) and getattr(lr, 'ndim', 1) != 0:
            raise ValueError(f'The output of the "schedule" function should be a float. '
                             f'Got: {lr}')
        optimizer.learning_rate = float(lr)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to "
                  f"{float(lr)}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs['learning_rate'] = self.model.optimizer.learning_rate
