"""``RandomContrast``: scale each image's deviation from its mean (training only)."""
from ..core import get_array_module
from .base_image_preprocessing import RandomImageLayer, factor_range


class RandomContrast(RandomImageLayer):
    """Args: factor: a number f in [0, 1] or a pair (lower, upper) in [0, 1];
    each image's contrast factor is drawn in [1 - lower, 1 + upper]
    (Keras 3 reads a single number f as (0, f), so the draw is in [1, 1 + f]),
    and every channel becomes ``(x - mean) * factor + mean`` with the
    channel's mean over the image, clipped to value_range. value_range:
    (low, high) of the pixel values, default (0, 255). seed, data_format: see
    ``ImagePreprocessingLayer``."""

    def __init__(self, factor, value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(data_format=data_format, seed=seed, **kwargs)
        self.factor = factor_range(factor, 'factor', f"RandomContrast '{self.name}'", low=0.0)
        self.value_range = value_range

    def augment(self, images, rng):
        xp = get_array_module(images)
        factor = xp.asarray(rng.uniform(1.0 - self.factor[0], 1.0 + self.factor[1],
                                        (len(images), 1, 1, 1)), dtype=images.dtype)
        mean = images.mean(axis=(1, 2), keepdims=True)
        return xp.clip((images - mean) * factor + mean, self.value_range[0],
                       self.value_range[1]).astype(images.dtype)

    def get_config(self):
        return {**super().get_config(), 'factor': self.factor,
                'value_range': self.value_range}
