"""``ZeroPadding2D``: rows and columns of zeros around an image batch."""
from .. import functions as F
from .arg_utils import normalize_data_format, normalize_tuple, spatial_axes
from .layer import InputSpec, Layer


class ZeroPadding2D(Layer):
    """Args:
        padding: int (same on all four sides), 2 ints (symmetric height,
            width), or ((top, bottom), (left, right)) -- e.g. MobileNet's
            ((0, 1), (0, 1)). Default (1, 1).
        data_format: 'channels_last' (default) or 'channels_first'.
    """

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(**kwargs)
        where = f"ZeroPadding2D '{self.name}'"
        if isinstance(padding, int):
            padding = ((padding, padding), (padding, padding))
        elif len(padding) == 2 and all(isinstance(p, int) for p in padding):
            padding = ((padding[0], padding[0]), (padding[1], padding[1]))
        elif len(padding) == 2:
            padding = tuple(normalize_tuple(p, 2, 'padding', where, allow_zero=True)
                            for p in padding)
        else:
            raise ValueError(f"{where}: padding must be an int, 2 ints or 2 pairs of ints, "
                             f"got {padding!r}")
        if any(p < 0 for pair in padding for p in pair):
            raise ValueError(f"{where}: padding must be >= 0, got {padding!r}")
        self.padding = padding
        self.data_format = normalize_data_format(data_format, where)
        self.input_spec = InputSpec(ndim=4)

    def pad_width(self):
        h_axis, w_axis, _ = spatial_axes(self.data_format)
        width = [(0, 0)] * 4
        width[h_axis], width[w_axis] = self.padding
        return tuple(width)

    def call(self, inputs, training=None):
        return F.pad(inputs, self.pad_width())

    def compute_output_shape(self, input_shape):
        return tuple(None if n is None else n + before + after
                     for n, (before, after) in zip(input_shape, self.pad_width()))

    def get_config(self):
        return {**super().get_config(), 'padding': self.padding,
                'data_format': self.data_format}
