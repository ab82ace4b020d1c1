"""Adagrad: per-coordinate rates shrinking with the sum of squared gradients."""
import numpy as np

from ..kernels.gpu import optimizers as device_updates
from .optimizer import Optimizer


class Adagrad(Optimizer):
    """Keras 3 update (accumulator starts at ``initial_accumulator_value``):

        acc += g**2
        w -= learning_rate * g / sqrt(acc + epsilon)
    """

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
                 **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.initial_accumulator_value = initial_accumulator_value
        self.epsilon = epsilon

    def build_slots(self, variables):
        self._accumulators = self.add_slots(variables, ['accumulator'],
                                            self.initial_accumulator_value)[0]

    def update_step(self, gradient, variable, learning_rate, index):
        self.run_update(self._update, (learning_rate,), gradient, variable,
                        self._accumulators[index])

    def update_on_device(self, update, scalars, gradient, variable, acc):
        device_updates.adagrad_update(gradient, variable, acc, learning_rate=scalars[0],
                                      epsilon=self.epsilon)

    def _update(self, learning_rate, gradient, variable, acc):
        """The update of one piece."""
        acc += np.square(gradient)
        denominator = acc + variable.dtype.type(self.epsilon)
        np.sqrt(denominator, out=denominator)
        step = gradient * learning_rate
        step /= denominator
        variable -= step

    def get_config(self):
        return dict(super().get_config(),
                    initial_accumulator_value=self.initial_accumulator_value,
                    epsilon=self.epsilon)
