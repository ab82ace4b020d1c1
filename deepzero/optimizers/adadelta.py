"""Adadelta: step sizes from running averages of squared gradients and updates."""
import numpy as np

from ..kernels.gpu import optimizers as device_updates
from .optimizer import Optimizer


class Adadelta(Optimizer):
    """Keras 3 update, with rms(x) = sqrt(x + epsilon):

        acc_g = rho * acc_g + (1 - rho) * g**2
        delta = -rms(acc_delta) * g / rms(acc_g)
        acc_delta = rho * acc_delta + (1 - rho) * delta**2
        w += learning_rate * delta

    Slots: accumulated_grad and accumulated_delta_var interleaved per variable.
    """

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.rho = rho
        self.epsilon = epsilon

    def build_slots(self, variables):
        self._accumulated_grads, self._accumulated_delta_vars = self.add_slots(
            variables, ['accumulated_grad', 'accumulated_delta_var'])

    def update_step(self, gradient, variable, learning_rate, index):
        self.run_update(self._update, (learning_rate,), gradient, variable,
                        self._accumulated_grads[index], self._accumulated_delta_vars[index])

    def update_on_device(self, update, scalars, gradient, variable, acc_g, acc_delta):
        device_updates.adadelta_update(gradient, variable, acc_g, acc_delta,
                                       learning_rate=scalars[0], rho=self.rho,
                                       epsilon=self.epsilon)

    def _update(self, learning_rate, gradient, variable, acc_g, acc_delta):
        """The update of one piece."""
        cast = variable.dtype.type
        rho, epsilon = cast(self.rho), cast(self.epsilon)
        acc_g *= rho
        acc_g += cast(1.0 - self.rho) * np.square(gradient)
        delta = np.sqrt(acc_delta + epsilon)
        delta *= gradient
        delta /= np.sqrt(acc_g + epsilon)
        np.negative(delta, out=delta)
        acc_delta *= rho
        acc_delta += cast(1.0 - self.rho) * np.square(delta)
        delta *= learning_rate
        variable += delta

    def get_config(self):
        return dict(super().get_config(), rho=self.rho, epsilon=self.epsilon)
