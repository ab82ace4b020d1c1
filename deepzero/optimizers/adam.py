"""Adam: momentum and RMS scaling with bias correction."""
import numpy as np

from ..kernels.gpu import optimizers as device_updates
from .optimizer import Optimizer


class Adam(Optimizer):
    """Keras 3 update at step t = iterations + 1 (bias correction folded into
    the step size, epsilon outside the root):

        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g**2
        v_hat = max(v_hat, v); use v_hat for v              (amsgrad)
        alpha = learning_rate * sqrt(1 - beta_2**t) / (1 - beta_1**t)
        w -= alpha * m / (sqrt(v) + epsilon)

    Slots: momentum and velocity interleaved per variable, then velocity_hat.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.amsgrad = amsgrad

    def build_slots(self, variables):
        self._momentums, self._velocities = self.add_slots(variables,
                                                           ['momentum', 'velocity'])
        self._velocity_hats = (self.add_slots(variables, ['velocity_hat'])[0]
                               if self.amsgrad else [])

    def update_moments(self, gradient, m, v):
        """Update the first and second moments ``m`` and ``v`` in place."""
        cast = m.dtype.type
        m *= cast(self.beta_1)
        m += cast(1.0 - self.beta_1) * gradient
        v *= cast(self.beta_2)
        v += cast(1.0 - self.beta_2) * np.square(gradient)

    def update_step(self, gradient, variable, learning_rate, index):
        cast = variable.dtype.type
        t = cast(self.iterations + 1)
        alpha = (learning_rate * np.sqrt(cast(1.0) - cast(self.beta_2) ** t)
                 / (cast(1.0) - cast(self.beta_1) ** t))
        self.run_update(self._update, (alpha,), gradient, variable,
                        self._momentums[index], self._velocities[index],
                        self._velocity_hats[index] if self.amsgrad else None)

    def update_on_device(self, update, scalars, gradient, variable, m, v, v_hat):
        device_updates.adam_update(gradient, variable, m, v, v_hat, alpha=scalars[0],
                                   beta_1=self.beta_1, beta_2=self.beta_2,
                                   epsilon=self.epsilon)

    def _update(self, alpha, gradient, variable, m, v, v_hat):
        """The update of one piece (``v_hat`` None without amsgrad)."""
        self.update_moments(gradient, m, v)
        if v_hat is not None:
            np.maximum(v_hat, v, out=v_hat)
            v = v_hat
        denominator = np.sqrt(v)
        denominator += variable.dtype.type(self.epsilon)
        step = m * alpha
        step /= denominator
        variable -= step

    def get_config(self):
        return dict(super().get_config(), beta_1=self.beta_1, beta_2=self.beta_2,
                    epsilon=self.epsilon, amsgrad=self.amsgrad)
