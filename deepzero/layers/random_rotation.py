"""``RandomRotation``: turn each image by a random angle (training only)."""
import numpy as np

from .base_image_preprocessing import factor_range
from .base_random_affine import RandomAffineLayer


class RandomRotation(RandomAffineLayer):
    """Args: factor: a fraction of a full turn, f -> angles drawn uniformly
    in [-f * 360, f * 360] degrees, or a pair (lower, upper) of fractions in
    [-1, 1]; positive turns counter-clockwise. Rotation about the image centre
    ``((w - 1) / 2, (h - 1) / 2)``. See ``RandomAffineLayer`` for fill_mode,
    interpolation, seed, fill_value, data_format."""

    def __init__(self, factor, fill_mode='reflect', interpolation='bilinear', seed=None,
                 fill_value=0.0, data_format=None, **kwargs):
        super().__init__(fill_mode=fill_mode, interpolation=interpolation, seed=seed,
                         fill_value=fill_value, data_format=data_format, **kwargs)
        self.factor = factor_range(factor, 'factor', f"RandomRotation '{self.name}'")

    def matrices(self, n, height, width, rng):
        angle = np.radians(rng.uniform(self.factor[0] * 360.0, self.factor[1] * 360.0, n))
        cos, sin = np.cos(angle), np.sin(angle)
        cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
        return np.stack([cos, -sin, cx - cx * cos + cy * sin,
                         sin, cos, cy - cx * sin - cy * cos], axis=1)

    def get_config(self):
        return {**super().get_config(), 'factor': self.factor}
