"""``RandomBrightness``: add a random offset to each image (training only)."""
from ..core import get_array_module
from .base_image_preprocessing import RandomImageLayer, factor_range


class RandomBrightness(RandomImageLayer):
    """Args: factor: a number f in [0, 1] -> offsets drawn in [-f, f], or a
    pair (lower, upper) in [-1, 1]; the offset is that fraction of the width
    of value_range, added to every pixel of an image, the result clipped to
    value_range. value_range: (low, high), default (0, 255). seed,
    data_format: see ``ImagePreprocessingLayer``."""

    def __init__(self, factor, value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(data_format=data_format, seed=seed, **kwargs)
        self.factor = factor_range(factor, 'factor', f"RandomBrightness '{self.name}'")
        if not isinstance(value_range, (tuple, list)) or len(value_range) != 2:
            raise ValueError(f"RandomBrightness '{self.name}': value_range must be a pair "
                             f"(low, high), got {value_range!r}")
        self.value_range = sorted(value_range)

    def augment(self, images, rng):
        xp = get_array_module(images)
        low, high = self.value_range
        delta = rng.uniform(*self.factor, (len(images), 1, 1, 1)) * (high - low)
        return xp.clip(images + xp.asarray(delta, dtype=images.dtype), low, high)

    def get_config(self):
        return {**super().get_config(), 'factor': self.factor,
                'value_range': self.value_range}
