"""``RandomTranslation``: shift each image by a random offset (training only)."""
import numpy as np

from .base_image_preprocessing import factor_range
from .base_random_affine import RandomAffineLayer


class RandomTranslation(RandomAffineLayer):
    """Args: height_factor: fraction of the height, f -> vertical shift drawn
    in [-f, f] * height pixels (a pair (lower, upper) in [-1, 1] -> [lower,
    upper] * height); positive moves the content down. width_factor: the
    same horizontally (positive: right). See ``RandomAffineLayer`` for the
    other arguments."""

    def __init__(self, height_factor, width_factor, fill_mode='reflect',
                 interpolation='bilinear', seed=None, fill_value=0.0, data_format=None,
                 **kwargs):
        super().__init__(fill_mode=fill_mode, interpolation=interpolation, seed=seed,
                         fill_value=fill_value, data_format=data_format, **kwargs)
        where = f"RandomTranslation '{self.name}'"
        self.height_factor, self.width_factor = height_factor, width_factor
        self.height_range = factor_range(height_factor, 'height_factor', where)
        self.width_range = factor_range(width_factor, 'width_factor', where)

    def matrices(self, n, height, width, rng):
        shift_y = rng.uniform(*self.height_range, n) * height
        shift_x = rng.uniform(*self.width_range, n) * width
        ones, zeros = np.ones(n), np.zeros(n)
        return np.stack([ones, zeros, -shift_x, zeros, ones, -shift_y], axis=1)

    def get_config(self):
        return {**super().get_config(), 'height_factor': self.height_factor,
                'width_factor': self.width_factor}
