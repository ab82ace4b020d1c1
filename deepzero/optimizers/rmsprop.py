"""RMSprop: divide the gradient by a running root-mean-square of recent gradients."""
import numpy as np

from ..kernels.gpu import optimizers as device_updates
from .optimizer import Optimizer


class RMSprop(Optimizer):
    """Keras 3 update (epsilon INSIDE the square root, unlike Keras 2.0.8):

        v = rho * v + (1 - rho) * g**2
        a = rho * a + (1 - rho) * g                       (centered only)
        step = learning_rate * g / sqrt(v - a**2 + epsilon)   (centered)
        step = learning_rate * g / sqrt(v + epsilon)          (otherwise)
        m = momentum * m + step; w -= m                    (momentum > 0)
        w -= step                                          (otherwise)

    Slots, in Keras order: all velocities, then momentums, then average
    gradients.
    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
                 centered=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.rho = rho
        self.momentum = momentum
        self.epsilon = epsilon
        self.centered = centered

    def build_slots(self, variables):
        self._velocities = self.add_slots(variables, ['velocity'])[0]
        self._momentums = (self.add_slots(variables, ['momentum'])[0]
                           if self.momentum > 0 else [])
        self._average_gradients = (self.add_slots(variables, ['average_gradient'])[0]
                                   if self.centered else [])

    def update_step(self, gradient, variable, learning_rate, index):
        self.run_update(self._update, (learning_rate,), gradient, variable,
                        self._velocities[index],
                        self._momentums[index] if self.momentum > 0 else None,
                        self._average_gradients[index] if self.centered else None)

    def update_on_device(self, update, scalars, gradient, variable, v, m, a):
        device_updates.rmsprop_update(gradient, variable, v, m, a, learning_rate=scalars[0],
                                      rho=self.rho, momentum=self.momentum,
                                      epsilon=self.epsilon)

    def _update(self, learning_rate, gradient, variable, v, m, a):
        """The update of one piece: velocity ``v``, momentum ``m`` and average
        gradient ``a`` (None when off)."""
        cast = variable.dtype.type
        rho = cast(self.rho)
        # One scratch array serves every term (fewer temporaries, fewer passes).
        scratch = np.square(gradient)
        scratch *= cast(1.0 - self.rho)
        v *= rho
        v += scratch
        np.add(v, cast(self.epsilon), out=scratch)
        if a is not None:
            a *= rho
            a += cast(1.0 - self.rho) * gradient
            scratch -= np.square(a)
        np.sqrt(scratch, out=scratch)
        np.divide(gradient, scratch, out=scratch)
        scratch *= learning_rate
        if m is not None:
            m *= cast(self.momentum)
            m += scratch
            variable -= m
        else:
            variable -= scratch

    def get_config(self):
        return dict(super().get_config(), rho=self.rho, momentum=self.momentum,
                    epsilon=self.epsilon, centered=self.centered)
