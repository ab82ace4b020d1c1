"""``Activation``: apply an activation function as a layer."""
from .. import activations
from .layer import Layer


class Activation(Layer):
    """Args: activation, a name ('relu', 'softmax', ...) or a callable."""
    built_at_init = True

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, inputs, training=None):
        return self.activation(inputs)

    def get_config(self):
        return {**super().get_config(),
                'activation': activations.serialize(self.activation)}
