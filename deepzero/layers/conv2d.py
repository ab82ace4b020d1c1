"""``Conv2D``: 2-d convolution (cross-correlation), optionally grouped."""
from .. import activations, functions as F, initializers, regularizers
from .arg_utils import check_no_constraint
from .base_conv import BaseConv
from .layer import penalty_scope
from .max_pooling2d import MaxPooling2D
from .node import KerasTensor


class Conv2D(BaseConv):
    """2-d convolution layer.

    Args:
        filters: output channels. kernel_size, strides, dilation_rate: int or
            2 ints. padding: 'valid' (default) or 'same'. data_format:
            'channels_last' (default, (N, H, W, C)) or 'channels_first'.
        groups: split input channels into groups convolved separately.
        activation, use_bias, initializers, regularizers: as in Dense.

    kernel (kh, kw, in_channels // groups, filters), bias (filters,).
    """

    def __init__(self, filters, kernel_size, strides=(1, 1), padding='valid', data_format=None,
                 dilation_rate=(1, 1), groups=1, activation=None, use_bias=True,
                 kernel_initializer='glorot_uniform', bias_initializer='zeros',
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate,
                         activation, use_bias, bias_initializer, bias_regularizer,
                         activity_regularizer, bias_constraint, **kwargs)
        if not isinstance(groups, int) or groups < 1 or filters % groups:
            raise ValueError(f"Conv2D '{self.name}': groups must be a positive int dividing "
                             f"filters ({filters}), got {groups!r}")
        check_no_constraint(self, kernel_constraint=kernel_constraint)
        self.groups = groups
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)

    def build(self, input_shape):
        channels = self.input_channels(input_shape)
        if channels % self.groups:
            raise ValueError(f"Conv2D '{self.name}': input channels ({channels}) must be "
                             f"divisible by groups ({self.groups}); input shape {input_shape}")
        self.kernel = self.add_weight(
            'kernel', self.kernel_size + (channels // self.groups, self.filters),
            self.kernel_initializer, regularizer=self.kernel_regularizer)
        self.add_bias(self.filters)

    def call(self, inputs):
        return self._convolve(inputs)

    def can_call_pooled(self, pool):
        """Whether ``call_pooled(x, pool)`` is exactly ``pool(self(x))``: this
        is a plain Conv2D (a subclass may change ``call``) whose activation
        commutes with max and keeps each window's winner (linear or relu),
        with no activity regularizer (it would read the full-size output,
        which the fused op never writes); ``pool`` is a plain MaxPooling2D,
        'valid', with strides equal to its pool size; both have the same
        data format and dtype. Re-checked at each call: layers can change."""
        return (type(self) is Conv2D and type(pool) is MaxPooling2D
                and self.activation in (activations.relu, activations.linear)
                and self.activity_regularizer is None
                and pool.padding == 'valid' and pool.strides == pool.pool_size
                and pool.data_format == self.data_format and pool.dtype == self.dtype)

    def call_pooled(self, inputs, pool):
        """``pool(self(inputs))`` as one op, ``F.conv2d(..., pool_size=pool.pool_size)``:
        each piece of the conv output is max-pooled while it is in cache, and
        the full-size output is never written. A fused call beside the plain
        one (as PyTorch's ConvReLU2d beside Conv2d); models use it where this
        layer's output goes only to ``pool`` (models/layer_fusion.py).

        inputs: concrete, (N, H, W, C) or channels_first (N, C, H, W).
        Returns the pooled output, with the values and gradients of the two
        calls; each layer's ``losses`` are those of its own call (the pool's
        activity penalty is taken on the pooled output). ValueError unless
        ``can_call_pooled(pool)``.
        """
        if isinstance(inputs, KerasTensor):
            raise TypeError(f"Conv2D '{self.name}': call_pooled runs on concrete inputs, "
                            "got a symbolic tensor; call the two layers (a model runs "
                            "them as one op)")
        if not self.can_call_pooled(pool):
            raise ValueError(
                f"Conv2D '{self.name}': call_pooled({pool!r}) would not equal "
                "pool(conv(x)); it needs a plain Conv2D with a linear or relu activation "
                "and no activity regularizer, and a plain MaxPooling2D with padding "
                "'valid' and strides equal to pool_size, in the same data_format and dtype")
        def convolve_and_pool(x):
            outputs = self._convolve(x, pool.pool_size)
            pool._record_losses(outputs)
            return outputs
        with penalty_scope(pool):   # the pool's penalties start afresh as if it were called
            return self._call_eager(inputs, None, {}, call=convolve_and_pool)

    def _convolve(self, inputs, pool_size=None):
        # A plain ReLU runs inside the conv op, in the pass that adds the bias;
        # so does the max pool of call_pooled.
        fused_relu = self.activation is activations.relu
        y = F.conv2d(inputs, self.kernel, self.bias, strides=self.strides, padding=self.padding,
                     dilation_rate=self.dilation_rate, groups=self.groups,
                     data_format=self.data_format, activation='relu' if fused_relu else None,
                     pool_size=pool_size)
        return y if fused_relu else self.activation(y)

    def get_config(self):
        return {**super().get_config(), 'filters': self.filters, **self.window_config(),
                'groups': self.groups, **self.activation_and_bias_config(),
                **self.weights_config('kernel')}
