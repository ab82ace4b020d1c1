"""``Dropout``: zero a random fraction of inputs while training."""
from .. import functions as F
from ..core import using_config
from .layer import Layer


class Dropout(Layer):
    """Args: rate in [0, 1): fraction dropped; survivors are scaled by
    1 / (1 - rate) so the expected sum is unchanged (inverted dropout).
    seed: int for repeatable masks. Identity at inference."""
    built_at_init = True

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= rate < 1:
            raise ValueError(f"Dropout '{self.name}': rate must be in [0, 1), got {rate!r}")
        if noise_shape is not None:
            raise ValueError(f"Dropout '{self.name}': noise_shape is not supported")
        self.rate, self.seed = rate, seed

    def call(self, inputs, training=None):
        if not training or self.rate == 0:
            return inputs
        with using_config('train', True):  # F.dropout reads the global switch
            return F.dropout(inputs, rate=self.rate, seed=self.seed)

    def get_config(self):
        return {**super().get_config(), 'rate': self.rate, 'seed': self.seed,
                'noise_shape': None}
