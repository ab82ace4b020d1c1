"""``Dropout``: zero a random fraction of inputs while training."""
import numbers

import numpy as np

from .. import functions as F
from ..core import using_config
from .layer import Layer


class Dropout(Layer):
    """Args: rate in [0, 1): fraction dropped; survivors are scaled by
    1 / (1 - rate) so the expected sum is unchanged (inverted dropout).
    seed: int for a repeatable sequence of masks: the layer owns a generator
    seeded once, so each training call draws a new mask and two layers with
    the same seed draw the same masks (Keras 3's SeedGenerator). None: the
    process's shared dropout randomness. Identity at inference."""
    built_at_init = True

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= rate < 1:
            raise ValueError(f"Dropout '{self.name}': rate must be in [0, 1), got {rate!r}")
        if noise_shape is not None:
            raise ValueError(f"Dropout '{self.name}': noise_shape is not supported")
        if seed is not None and (isinstance(seed, bool)
                                 or not isinstance(seed, numbers.Integral)):
            raise ValueError(f"Dropout '{self.name}': seed must be an integer or None, "
                             f"got {seed!r}")
        self.rate, self.seed = rate, seed
        # numpy takes non-negative seeds; Keras any int, so negatives wrap to 64 bits
        self._rng = None if seed is None else np.random.default_rng(int(seed) % 2**64)

    def call(self, inputs, training=None):
        if not training or self.rate == 0:
            return inputs
        with using_config('train', True):  # F.dropout reads the global switch
            return F.dropout(inputs, rate=self.rate, seed=self._rng)

    def get_config(self):
        return {**super().get_config(), 'rate': self.rate, 'seed': self.seed,
                'noise_shape': None}
