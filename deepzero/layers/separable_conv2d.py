"""``SeparableConv2D``: a depthwise convolution followed by a 1x1 pointwise one."""
from .. import functions as F, initializers, regularizers
from .arg_utils import check_no_constraint
from .base_conv import BaseConv


class SeparableConv2D(BaseConv):
    """Depthwise-separable 2-d convolution (Xception's building block).

    Args:
        filters: output channels of the pointwise step; depth_multiplier:
            channels per input channel after the depthwise step (default 1);
        other arguments as Conv2D.

    depthwise_kernel (kh, kw, in, depth_multiplier),
    pointwise_kernel (1, 1, in * depth_multiplier, filters), bias (filters,).
    """

    def __init__(self, filters, kernel_size, strides=(1, 1), padding='valid', data_format=None,
                 dilation_rate=(1, 1), depth_multiplier=1, activation=None, use_bias=True,
                 depthwise_initializer='glorot_uniform', pointwise_initializer='glorot_uniform',
                 bias_initializer='zeros', depthwise_regularizer=None,
                 pointwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, pointwise_constraint=None, bias_constraint=None,
                 **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate,
                         activation, use_bias, bias_initializer, bias_regularizer,
                         activity_regularizer, bias_constraint, **kwargs)
        if not isinstance(depth_multiplier, int) or depth_multiplier < 1:
            raise ValueError(f"SeparableConv2D '{self.name}': depth_multiplier must be a "
                             f"positive int, got {depth_multiplier!r}")
        check_no_constraint(self, depthwise_constraint=depthwise_constraint,
                            pointwise_constraint=pointwise_constraint)
        self.depth_multiplier = depth_multiplier
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)
        self.pointwise_regularizer = regularizers.get(pointwise_regularizer)

    def build(self, input_shape):
        channels = self.input_channels(input_shape)
        self.depthwise_kernel = self.add_weight(
            'depthwise_kernel', self.kernel_size + (channels, self.depth_multiplier),
            self.depthwise_initializer, regularizer=self.depthwise_regularizer)
        self.pointwise_kernel = self.add_weight(
            'pointwise_kernel', (1, 1, channels * self.depth_multiplier, self.filters),
            self.pointwise_initializer, regularizer=self.pointwise_regularizer)
        self.add_bias(self.filters)

    def call(self, inputs, training=None):
        y = F.separable_conv2d(inputs, self.depthwise_kernel, self.pointwise_kernel, self.bias,
                               strides=self.strides, padding=self.padding,
                               dilation_rate=self.dilation_rate, data_format=self.data_format)
        return self.activation(y)

    def get_config(self):
        return {**super().get_config(), 'depth_multiplier': self.depth_multiplier,
                'filters': self.filters, **self.window_config(),
                **self.activation_and_bias_config(),
                **self.weights_config('depthwise', 'pointwise')}
