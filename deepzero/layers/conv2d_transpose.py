"""``Conv2DTranspose``: the gradient of a convolution used as a layer (upsampling)."""
from .. import functions as F, initializers, regularizers
from .arg_utils import check_no_constraint, deconv_output_length, normalize_tuple
from .base_conv import BaseConv


class Conv2DTranspose(BaseConv):
    """Transposed 2-d convolution.

    Args:
        filters, kernel_size, strides, padding, data_format, dilation_rate:
            as Conv2D; output_padding: None or int/2 ints, extra rows/columns
            on the bottom/right of the output (each < its stride).

    kernel (kh, kw, filters, in_channels) (Keras's layout), bias (filters,).
    """

    def __init__(self, filters, kernel_size, strides=(1, 1), padding='valid',
                 output_padding=None, data_format=None, dilation_rate=(1, 1), activation=None,
                 use_bias=True, kernel_initializer='glorot_uniform', bias_initializer='zeros',
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate,
                         activation, use_bias, bias_initializer, bias_regularizer,
                         activity_regularizer, bias_constraint, **kwargs)
        check_no_constraint(self, kernel_constraint=kernel_constraint)
        if output_padding is not None:
            output_padding = normalize_tuple(output_padding, 2, 'output_padding',
                                             f"Conv2DTranspose '{self.name}'", allow_zero=True)
            if any(p >= s for p, s in zip(output_padding, self.strides)):
                raise ValueError(f"Conv2DTranspose '{self.name}': output_padding "
                                 f"{output_padding} must be smaller than strides {self.strides}")
        self.output_padding = output_padding
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)

    def build(self, input_shape):
        channels = self.input_channels(input_shape)
        self.kernel = self.add_weight('kernel', self.kernel_size + (self.filters, channels),
                                      self.kernel_initializer,
                                      regularizer=self.kernel_regularizer)
        self.add_bias(self.filters)

    def spatial_output_length(self, length, i):
        return deconv_output_length(
            length, self.kernel_size[i], self.padding, self.strides[i],
            None if self.output_padding is None else self.output_padding[i],
            self.dilation_rate[i])

    def call(self, inputs, training=None):
        y = F.conv2d_transpose(inputs, self.kernel, self.bias, strides=self.strides,
                               padding=self.padding, output_padding=self.output_padding,
                               dilation_rate=self.dilation_rate, data_format=self.data_format)
        return self.activation(y)

    def get_config(self):
        window = self.window_config()
        return {**super().get_config(), 'filters': self.filters,
                'kernel_size': window['kernel_size'], 'strides': window['strides'],
                'padding': window['padding'], 'output_padding': self.output_padding,
                'data_format': window['data_format'], 'dilation_rate': window['dilation_rate'],
                **self.activation_and_bias_config(), **self.weights_config('kernel')}
