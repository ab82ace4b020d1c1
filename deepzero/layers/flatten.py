"""``Flatten``: (N, d1, d2, ...) -> (N, d1 * d2 * ...)."""
import math

from .. import functions as F
from .arg_utils import normalize_data_format
from .layer import InputSpec, Layer


class Flatten(Layer):
    """Flatten all axes but the batch axis. With data_format
    'channels_first' the channels are moved last first, so the order of the
    flattened features matches a channels_last model (Keras's rule)."""

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format, f"Flatten '{self.name}'")
        self.input_spec = InputSpec(min_ndim=1)

    def call(self, inputs, training=None):
        if self.data_format == 'channels_first' and inputs.ndim > 2:
            inputs = F.transpose(inputs, (0,) + tuple(range(2, inputs.ndim)) + (1,))
        return F.flatten(inputs)

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        size = None if any(d is None for d in rest) else math.prod(rest)
        return (input_shape[0], size)

    def get_config(self):
        return {**super().get_config(), 'data_format': self.data_format}
