"""``RandomZoom``: zoom each image in or out by a random factor (training only)."""
import numpy as np

from .base_image_preprocessing import factor_range
from .base_random_affine import RandomAffineLayer


class RandomZoom(RandomAffineLayer):
    """Args: height_factor: f -> the zoom of the height drawn in
    [1 - f, 1 + f] (a pair (lower, upper) -> [1 + lower, 1 + upper]); values in
    (-1, 1]; a positive draw zooms OUT (Keras's convention: 0.2 shows up to
    20% more of the scene), a negative one zooms in. width_factor: the same
    for the width; None (default) zooms both axes by the same draw, keeping
    the aspect ratio. Zoom about the image centre. See ``RandomAffineLayer``
    for the other arguments."""

    def __init__(self, height_factor, width_factor=None, fill_mode='reflect',
                 interpolation='bilinear', seed=None, fill_value=0.0, data_format=None,
                 **kwargs):
        super().__init__(fill_mode=fill_mode, interpolation=interpolation, seed=seed,
                         fill_value=fill_value, data_format=data_format, **kwargs)
        where = f"RandomZoom '{self.name}'"
        self.height_factor, self.width_factor = height_factor, width_factor
        self.height_range = factor_range(height_factor, 'height_factor', where,
                                         low_inclusive=False)
        self.width_range = (None if width_factor is None else
                            factor_range(width_factor, 'width_factor', where,
                                         low_inclusive=False))

    def matrices(self, n, height, width, rng):
        zoom_y = rng.uniform(1.0 + self.height_range[0], 1.0 + self.height_range[1], n)
        zoom_x = (zoom_y if self.width_range is None else
                  rng.uniform(1.0 + self.width_range[0], 1.0 + self.width_range[1], n))
        zeros = np.zeros(n)
        return np.stack([zoom_x, zeros, (width - 1) / 2.0 * (1.0 - zoom_x),
                         zeros, zoom_y, (height - 1) / 2.0 * (1.0 - zoom_y)], axis=1)

    def get_config(self):
        return {**super().get_config(), 'height_factor': self.height_factor,
                'width_factor': self.width_factor}
