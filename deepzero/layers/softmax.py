"""``Softmax``: normalized exponentials along an axis."""
from .. import functions as F
from .layer import Layer


class Softmax(Layer):
    """Args: axis, default -1."""
    built_at_init = True

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, inputs, training=None):
        return F.softmax(inputs, axis=self.axis)

    def get_config(self):
        return {**super().get_config(), 'axis': self.axis}
