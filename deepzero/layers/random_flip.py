"""``RandomFlip``: mirror each image with probability 1/2 (training only)."""
from ..core import get_array_module
from .base_image_preprocessing import RandomImageLayer

MODES = ('horizontal', 'vertical', 'horizontal_and_vertical')


class RandomFlip(RandomImageLayer):
    """Args: mode: 'horizontal' (left-right), 'vertical' (up-down) or
    'horizontal_and_vertical' (default). As in Keras 3, one draw per image
    decides: with 'horizontal_and_vertical' an image is flipped both ways or
    not at all. seed, data_format: see ``ImagePreprocessingLayer``."""

    def __init__(self, mode='horizontal_and_vertical', seed=None, data_format=None, **kwargs):
        super().__init__(data_format=data_format, seed=seed, **kwargs)
        if mode not in MODES:
            raise ValueError(f"RandomFlip '{self.name}': mode must be one of {MODES}, "
                             f"got {mode!r}")
        self.mode = mode

    def augment(self, images, rng):
        xp = get_array_module(images)
        flip = xp.asarray(rng.uniform(size=len(images)) <= 0.5)[:, None, None, None]
        out = images
        if self.mode in ('horizontal', 'horizontal_and_vertical'):
            out = xp.where(flip, out[:, :, ::-1], out)
        if self.mode in ('vertical', 'horizontal_and_vertical'):
            out = xp.where(flip, out[:, ::-1], out)
        return out

    def get_config(self):
        return {**super().get_config(), 'mode': self.mode}
