"""``BasePooling2D``: window pooling shared by MaxPooling2D and AveragePooling2D."""
from .arg_utils import (conv_output_length, normalize_data_format, normalize_padding,
                        normalize_tuple, spatial_axes)
from .layer import InputSpec, Layer


class BasePooling2D(Layer):
    """Args: pool_size (int or 2 ints), strides (default pool_size),
    padding 'valid'/'same', data_format. Subclasses set ``pool_function``."""
    built_at_init = True
    pool_function = None

    def __init__(self, pool_size=(2, 2), strides=None, padding='valid', data_format=None,
                 **kwargs):
        super().__init__(**kwargs)
        where = f"{type(self).__name__} '{self.name}'"
        self.pool_size = normalize_tuple(pool_size, 2, 'pool_size', where)
        self.strides = (self.pool_size if strides is None
                        else normalize_tuple(strides, 2, 'strides', where))
        self.padding = normalize_padding(padding, where)
        self.data_format = normalize_data_format(data_format, where)
        self.input_spec = InputSpec(ndim=4)

    def call(self, inputs, training=None):
        return type(self).pool_function(inputs, pool_size=self.pool_size, strides=self.strides,
                                        padding=self.padding, data_format=self.data_format)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        for i, axis in enumerate(spatial_axes(self.data_format)[:2]):
            shape[axis] = conv_output_length(input_shape[axis], self.pool_size[i],
                                             self.padding, self.strides[i])
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), 'pool_size': self.pool_size, 'padding': self.padding,
                'strides': self.strides, 'data_format': self.data_format}
