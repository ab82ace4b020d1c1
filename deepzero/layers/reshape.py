"""``Reshape``: give each sample a new shape (one axis may be -1)."""
import math

from .. import functions as F
from .layer import Layer


class Reshape(Layer):
    """Args: target_shape, the per-sample shape (without the batch axis); one
    entry may be -1, inferred from the sample size."""
    built_at_init = True

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = tuple(int(d) for d in target_shape)
        if sum(d == -1 for d in self.target_shape) > 1 or any(
                d < -1 or d == 0 for d in self.target_shape):
            raise ValueError(f"Reshape '{self.name}': target_shape may hold positive sizes "
                             f"and at most one -1, got {target_shape!r}")

    def _resolved(self, sample_shape):
        """target_shape with -1 replaced; raises when sizes disagree."""
        if any(d is None for d in sample_shape):
            return tuple(None if d == -1 else d for d in self.target_shape)
        size = math.prod(sample_shape)
        known = math.prod(d for d in self.target_shape if d != -1)
        if (-1 in self.target_shape and size % known) or (
                -1 not in self.target_shape and size != known):
            raise ValueError(f"Layer '{self.name}' cannot reshape input of shape "
                             f"{(None,) + tuple(sample_shape)} ({size} values per sample) "
                             f"to {self.target_shape}")
        return tuple(size // known if d == -1 else d for d in self.target_shape)

    def call(self, inputs, training=None):
        return F.reshape(inputs, (inputs.shape[0],) + self._resolved(inputs.shape[1:]))

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + self._resolved(input_shape[1:])

    def get_config(self):
        return {**super().get_config(), 'target_shape': self.target_shape}
