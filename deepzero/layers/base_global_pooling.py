"""``BaseGlobalPooling2D``: reduce the two spatial axes to one value per channel."""
from .arg_utils import normalize_data_format, spatial_axes
from .layer import InputSpec, Layer


class BaseGlobalPooling2D(Layer):
    """Args: data_format; keepdims (default False): keep the spatial axes as
    size 1, (N, 1, 1, C) instead of (N, C). Subclasses set ``pool_function``."""
    built_at_init = True
    pool_function = None

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format, f"{type(self).__name__} "
                                                 f"'{self.name}'")
        self.keepdims = keepdims
        self.input_spec = InputSpec(ndim=4)

    def call(self, inputs, training=None):
        return type(self).pool_function(inputs, keepdims=self.keepdims,
                                        data_format=self.data_format)

    def compute_output_shape(self, input_shape):
        h_axis, w_axis, c_axis = spatial_axes(self.data_format)
        if self.keepdims:
            shape = list(input_shape)
            shape[h_axis] = shape[w_axis] = 1
            return tuple(shape)
        return (input_shape[0], input_shape[c_axis])

    def get_config(self):
        return {**super().get_config(), 'data_format': self.data_format,
                'keepdims': self.keepdims}
