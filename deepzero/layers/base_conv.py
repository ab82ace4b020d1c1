"""``BaseConv``: what every 2-d convolution layer shares.

Window arguments (kernel_size, strides, padding, data_format,
dilation_rate), the activation, the optional bias, the output-shape rule and
the channel check. Subclasses create their kernels in ``build`` and apply
their op in ``call``.
"""
from .. import activations, initializers, regularizers
from .arg_utils import (check_no_constraint, conv_output_length, normalize_data_format,
                        normalize_padding, normalize_tuple, spatial_axes)
from .layer import InputSpec, Layer


class BaseConv(Layer):
    """Shared 2-d convolution arguments; ``filters`` may be None for
    DepthwiseConv2D, whose output channels follow from depth_multiplier."""

    def __init__(self, filters, kernel_size, strides=(1, 1), padding='valid', data_format=None,
                 dilation_rate=(1, 1), activation=None, use_bias=True, bias_initializer='zeros',
                 bias_regularizer=None, activity_regularizer=None, bias_constraint=None,
                 **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        where = f"{type(self).__name__} '{self.name}'"
        if filters is not None and (not isinstance(filters, int) or filters < 1):
            raise ValueError(f"{where}: filters must be a positive int, got {filters!r}")
        self.filters = filters
        self.kernel_size = normalize_tuple(kernel_size, 2, 'kernel_size', where)
        self.strides = normalize_tuple(strides, 2, 'strides', where)
        self.padding = normalize_padding(padding, where)
        self.data_format = normalize_data_format(data_format, where)
        self.dilation_rate = normalize_tuple(dilation_rate, 2, 'dilation_rate', where)
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.bias_initializer = initializers.get(bias_initializer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        check_no_constraint(self, bias_constraint=bias_constraint)
        self.input_spec = InputSpec(ndim=4)

    def input_channels(self, input_shape):
        """Channels of the input; sets the input spec so later calls are checked."""
        channel_axis = spatial_axes(self.data_format)[2]
        channels = input_shape[channel_axis]
        if channels is None:
            raise ValueError(f"{type(self).__name__} '{self.name}': the channel dimension of "
                             f"the input must be known; input shape {input_shape}")
        self.input_spec = InputSpec(ndim=4, axes={-1 if channel_axis == 3 else 1: channels})
        return channels

    def add_bias(self, size):
        self.bias = (self.add_weight('bias', (size,), self.bias_initializer,
                                     regularizer=self.bias_regularizer)
                     if self.use_bias else None)

    def output_channels(self, input_shape):
        return self.filters

    def compute_output_shape(self, input_shape):
        h_axis, w_axis, c_axis = spatial_axes(self.data_format)
        shape = list(input_shape)
        shape[h_axis], shape[w_axis] = (
            self.spatial_output_length(input_shape[axis], i)
            for i, axis in enumerate((h_axis, w_axis)))
        shape[c_axis] = self.output_channels(input_shape)
        return tuple(shape)

    def spatial_output_length(self, length, i):
        return conv_output_length(length, self.kernel_size[i], self.padding, self.strides[i],
                                  self.dilation_rate[i])

    def window_config(self):
        """kernel_size, strides, padding, data_format, dilation_rate (Keras order)."""
        return {'kernel_size': self.kernel_size, 'strides': self.strides,
                'padding': self.padding, 'data_format': self.data_format,
                'dilation_rate': self.dilation_rate}

    def activation_and_bias_config(self):
        return {'activation': activations.serialize(self.activation), 'use_bias': self.use_bias}

    def weights_config(self, *kernels):
        """The config entries of the ``kernels`` (attribute prefixes: 'kernel',
        'depthwise', 'pointwise') and of the bias, in Keras's order: the
        initializers, the regularizers and the activity regularizer, the
        constraints (None: constraints are refused in ``__init__``)."""
        names = (*kernels, 'bias')

        def entries(kind, serialize):
            return {f'{name}_{kind}': serialize(getattr(self, f'{name}_{kind}')) for name in names}

        return {**entries('initializer', initializers.serialize),
                **entries('regularizer', regularizers.serialize),
                'activity_regularizer': regularizers.serialize(self.activity_regularizer),
                **{f'{name}_constraint': None for name in names}}
