"""``ReLU``: rectified linear unit with Keras's optional cap, slope and threshold."""
from .. import activations
from .layer import Layer


class ReLU(Layer):
    """f(x) = max_value for x >= max_value; x for threshold <= x < max_value;
    negative_slope * (x - threshold) otherwise. ``ReLU(6.)`` is MobileNet's relu6.

    Args: max_value (None: no cap), negative_slope (0.), threshold (0.).
    """
    built_at_init = True

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        if max_value is not None and max_value < 0:
            raise ValueError(f"ReLU '{self.name}': max_value must be >= 0, got {max_value}")
        if negative_slope is None or negative_slope < 0:
            raise ValueError(f"ReLU '{self.name}': negative_slope must be >= 0, "
                             f"got {negative_slope}")
        if threshold is None:
            raise ValueError(f"ReLU '{self.name}': threshold must be a number, got None")
        self.max_value = None if max_value is None else float(max_value)
        self.negative_slope = float(negative_slope)
        self.threshold = float(threshold)

    def call(self, inputs, training=None):
        return activations.relu(inputs, negative_slope=self.negative_slope,
                                max_value=self.max_value, threshold=self.threshold)

    def get_config(self):
        return {**super().get_config(), 'max_value': self.max_value,
                'negative_slope': self.negative_slope, 'threshold': self.threshold}
