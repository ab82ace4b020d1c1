"""``LeakyReLU``: x for x >= 0, negative_slope * x below."""
import warnings

from .. import functions as F
from .layer import Layer


class LeakyReLU(Layer):
    """Args: negative_slope, default 0.3 (Keras 3; ``alpha=`` is the Keras 2
    spelling, accepted with a warning)."""
    built_at_init = True

    def __init__(self, negative_slope=0.3, **kwargs):
        if 'alpha' in kwargs:
            warnings.warn("LeakyReLU: argument `alpha` is deprecated; use `negative_slope`",
                          DeprecationWarning, stacklevel=2)
            negative_slope = kwargs.pop('alpha')
        super().__init__(**kwargs)
        if negative_slope is None or negative_slope < 0:
            raise ValueError(f"LeakyReLU '{self.name}': negative_slope must be >= 0, "
                             f"got {negative_slope}")
        self.negative_slope = float(negative_slope)

    def call(self, inputs, training=None):
        return F.leaky_relu(inputs, negative_slope=self.negative_slope)

    def get_config(self):
        return {**super().get_config(), 'negative_slope': self.negative_slope}
