"""``Rescaling``: ``x * scale + offset`` (e.g. 1/255 for pixel values)."""
from .layer import Layer


class Rescaling(Layer):
    """Args: scale, offset (default 0.). Integer inputs become the layer's float dtype."""

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale, self.offset = scale, offset

    def call(self, inputs, training=None):
        return inputs * float(self.scale) + float(self.offset)

    def get_config(self):
        return {**super().get_config(), 'scale': self.scale, 'offset': self.offset}
