"""Nadam: Adam with Nesterov momentum (Dozat's momentum schedule)."""
import numpy as np

from ..kernels.gpu import optimizers as device_updates
from .adam import Adam


class Nadam(Adam):
    """Keras 3 update at step t = iterations + 1, with the momentum schedule
    u_t = beta_1 * (1 - 0.5 * 0.96**t) and a running product prod_t = prod u_1..u_t
    (one extra state variable, named 'variable' as in Keras):

        m, v updated as in Adam
        m_hat = u_{t+1} * m / (1 - prod_t * u_{t+1}) + (1 - u_t) * g / (1 - prod_t)
        v_hat = v / (1 - beta_2**t)
        w -= learning_rate * m_hat / (sqrt(v_hat) + epsilon)
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
                         amsgrad=False, **kwargs)

    def build_slots(self, variables):
        super().build_slots(variables)
        dtype = variables[0].data.dtype if variables else np.float32
        self._u_product = self._state_variable('variable', np.ones((), dtype), path='variable')
        self._u_product_step = -1   # the iteration whose u_t is folded in

    def _momentum_schedule(self, cast):
        """(u_t, u_{t+1}, prod_t) for the current step, advancing the product
        once per step (not once per variable)."""
        decay, beta_1 = cast(0.96), cast(self.beta_1)
        t = cast(self.iterations + 1)
        u_t = beta_1 * (cast(1.0) - cast(0.5) * decay ** t)
        u_next = beta_1 * (cast(1.0) - cast(0.5) * decay ** (t + cast(1.0)))
        if self._u_product_step != self.iterations:
            self._u_product.data *= u_t
            self._u_product_step = self.iterations
        return u_t, u_next, cast(self._u_product.data)

    def update_step(self, gradient, variable, learning_rate, index):
        cast = variable.dtype.type
        u_t, u_next, product = self._momentum_schedule(cast)
        t = cast(self.iterations + 1)
        factors = (u_next / (cast(1.0) - product * u_next),      # of m
                   (cast(1.0) - u_t) / (cast(1.0) - product),   # of the gradient
                   cast(1.0) - cast(self.beta_2) ** t)            # v's bias correction
        self.run_update(self._update_nadam, (learning_rate, factors), gradient, variable,
                        self._momentums[index], self._velocities[index])

    def update_on_device(self, update, scalars, gradient, variable, m, v):
        learning_rate, (m_factor, gradient_factor, v_correction) = scalars
        device_updates.nadam_update(gradient, variable, m, v, learning_rate=learning_rate,
                                    m_factor=m_factor, gradient_factor=gradient_factor,
                                    v_correction=v_correction, beta_1=self.beta_1,
                                    beta_2=self.beta_2, epsilon=self.epsilon)

    def _update_nadam(self, learning_rate, factors, gradient, variable, m, v):
        """The update of one piece."""
        m_factor, gradient_factor, v_correction = factors
        self.update_moments(gradient, m, v)
        m_hat = m * m_factor
        m_hat += gradient * gradient_factor
        denominator = np.sqrt(v / v_correction)
        denominator += variable.dtype.type(self.epsilon)
        m_hat *= learning_rate
        m_hat /= denominator
        variable -= m_hat

    def get_config(self):
        config = super().get_config()
        del config['amsgrad']
        return config
