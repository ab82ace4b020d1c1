"""``Dense``: ``activation(x @ kernel + bias)`` on the last axis."""
from .. import activations, functions as F, initializers, regularizers
from .arg_utils import check_no_constraint
from .layer import InputSpec, Layer


class Dense(Layer):
    """Fully connected layer.

    Args:
        units: output size (last axis).
        activation: name or callable; default None (linear).
        use_bias: add a bias vector (default True).
        kernel_initializer: default 'glorot_uniform'; bias_initializer: 'zeros'.
        kernel_regularizer, bias_regularizer, activity_regularizer: penalties.

    Input (..., in) -> output (..., units); kernel (in, units), bias (units,).
    """

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer='glorot_uniform',
                 bias_initializer='zeros', kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 quantization_config=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        if not isinstance(units, int) or units < 1:
            raise ValueError(f"Dense '{self.name}': units must be a positive int, got {units!r}")
        if quantization_config is not None:
            raise ValueError(f"Dense '{self.name}': quantization is not supported")
        check_no_constraint(self, kernel_constraint=kernel_constraint,
                            bias_constraint=bias_constraint)
        self.units = units
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.input_spec = InputSpec(min_ndim=2)

    def build(self, input_shape):
        in_features = input_shape[-1]
        if in_features is None:
            raise ValueError(f"Dense '{self.name}': the last dimension of the input must be "
                             f"known; input shape {input_shape}")
        self.kernel = self.add_weight('kernel', (in_features, self.units),
                                      self.kernel_initializer,
                                      regularizer=self.kernel_regularizer)
        self.bias = (self.add_weight('bias', (self.units,), self.bias_initializer,
                                     regularizer=self.bias_regularizer)
                     if self.use_bias else None)
        self.input_spec = InputSpec(min_ndim=2, axes={-1: in_features})

    def call(self, inputs, training=None):
        return self.activation(F.linear(inputs, self.kernel, self.bias))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        return {**super().get_config(), 'units': self.units,
                'activation': activations.serialize(self.activation), 'use_bias': self.use_bias,
                'kernel_initializer': initializers.serialize(self.kernel_initializer),
                'bias_initializer': initializers.serialize(self.bias_initializer),
                'kernel_regularizer': regularizers.serialize(self.kernel_regularizer),
                'bias_regularizer': regularizers.serialize(self.bias_regularizer),
                'kernel_constraint': None, 'bias_constraint': None,
                'quantization_config': None}
