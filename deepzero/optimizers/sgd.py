"""Stochastic gradient descent, optionally with (Nesterov) momentum."""
from ..kernels.gpu import optimizers as device_updates
from .optimizer import Optimizer


class SGD(Optimizer):
    """Keras 3 update, with ``m`` the momentum slot (zeros at first):

        m = momentum * m - learning_rate * g
        w += m                                   (plain)
        w += momentum * m - learning_rate * g    (nesterov)

    Without momentum: ``w -= learning_rate * g``.
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        if not isinstance(momentum, float) or momentum < 0 or momentum > 1:
            raise ValueError("`momentum` must be a float between [0, 1].")
        self.momentum = momentum
        self.nesterov = nesterov

    def build_slots(self, variables):
        self._momentums = self.add_slots(variables, ['momentum'])[0] if self.momentum else []

    def update_step(self, gradient, variable, learning_rate, index):
        self.run_update(self._update, (learning_rate,), gradient, variable,
                        self._momentums[index] if self.momentum else None)

    def update_on_device(self, update, scalars, gradient, variable, m):
        device_updates.sgd_update(gradient, variable, m, learning_rate=scalars[0],
                                  momentum=self.momentum, nesterov=self.nesterov)

    def _update(self, learning_rate, gradient, variable, m):
        """The update of one piece (``m`` None without momentum)."""
        if m is None:
            variable -= gradient * learning_rate
            return
        step = gradient * learning_rate
        m *= variable.dtype.type(self.momentum)
        m -= step
        if self.nesterov:
            variable += m * variable.dtype.type(self.momentum)
            variable -= step
        else:
            variable += m

    def get_config(self):
        return dict(super().get_config(), momentum=self.momentum, nesterov=self.nesterov)
