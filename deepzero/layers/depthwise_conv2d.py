"""``DepthwiseConv2D``: each input channel convolved with its own filters."""
from .. import functions as F, initializers, regularizers
from .arg_utils import check_no_constraint, spatial_axes
from .base_conv import BaseConv


class DepthwiseConv2D(BaseConv):
    """Depthwise 2-d convolution (MobileNet's 3x3 stage).

    Args:
        kernel_size, strides, padding, data_format, dilation_rate: as Conv2D.
        depth_multiplier: output channels per input channel (default 1).

    depthwise_kernel (kh, kw, in_channels, depth_multiplier),
    bias (in_channels * depth_multiplier,).
    """

    def __init__(self, kernel_size, strides=(1, 1), padding='valid', depth_multiplier=1,
                 data_format=None, dilation_rate=(1, 1), activation=None, use_bias=True,
                 depthwise_initializer='glorot_uniform', bias_initializer='zeros',
                 depthwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(None, kernel_size, strides, padding, data_format, dilation_rate,
                         activation, use_bias, bias_initializer, bias_regularizer,
                         activity_regularizer, bias_constraint, **kwargs)
        if not isinstance(depth_multiplier, int) or depth_multiplier < 1:
            raise ValueError(f"DepthwiseConv2D '{self.name}': depth_multiplier must be a "
                             f"positive int, got {depth_multiplier!r}")
        check_no_constraint(self, depthwise_constraint=depthwise_constraint)
        self.depth_multiplier = depth_multiplier
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)

    def build(self, input_shape):
        channels = self.input_channels(input_shape)
        self.depthwise_kernel = self.add_weight(
            'depthwise_kernel', self.kernel_size + (channels, self.depth_multiplier),
            self.depthwise_initializer, regularizer=self.depthwise_regularizer)
        self.add_bias(channels * self.depth_multiplier)

    def output_channels(self, input_shape):
        channels = input_shape[spatial_axes(self.data_format)[2]]
        return None if channels is None else channels * self.depth_multiplier

    def call(self, inputs, training=None):
        y = F.depthwise_conv2d(inputs, self.depthwise_kernel, self.bias, strides=self.strides,
                               padding=self.padding, dilation_rate=self.dilation_rate,
                               data_format=self.data_format)
        return self.activation(y)

    def get_config(self):
        return {**super().get_config(), 'depth_multiplier': self.depth_multiplier,
                **self.window_config(), **self.activation_and_bias_config(),
                **self.weights_config('depthwise')}
