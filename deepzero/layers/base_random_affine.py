"""``RandomAffineLayer``: the geometric augmentations (``RandomRotation``,
``RandomZoom``, ``RandomTranslation``): one random inverse map per image,
resampled by ``kernels.image.affine_resample`` with Keras's fill modes."""
from ..kernels import image as image_kernels
from .base_image_preprocessing import RandomImageLayer


class RandomAffineLayer(RandomImageLayer):
    """Args (Keras's): fill_mode 'reflect' (default), 'wrap', 'constant' or
    'nearest': how points outside the image are filled, per interpolation
    tap; interpolation 'bilinear' (default) or 'nearest'; fill_value for
    'constant' (0.); seed; data_format. Subclasses give
    ``matrices(n, height, width, rng)``: (n, 6) rows ``a0 a1 a2 b0 b1 b2``."""

    def __init__(self, fill_mode='reflect', interpolation='bilinear', seed=None, fill_value=0.0,
                 data_format=None, **kwargs):
        super().__init__(data_format=data_format, seed=seed, **kwargs)
        if fill_mode not in image_kernels.FILL_MODES:
            raise ValueError(f"{type(self).__name__} '{self.name}': fill_mode must be one of "
                             f"{image_kernels.FILL_MODES}, got {fill_mode!r}")
        if interpolation not in image_kernels.AFFINE_INTERPOLATIONS:
            raise ValueError(f"{type(self).__name__} '{self.name}': interpolation must be one "
                             f"of {image_kernels.AFFINE_INTERPOLATIONS}, got {interpolation!r}")
        self.fill_mode, self.interpolation = fill_mode, interpolation
        self.fill_value = fill_value

    def augment(self, images, rng):
        n, height, width = images.shape[:3]
        return image_kernels.affine_resample(images, self.matrices(n, height, width, rng),
                                             self.interpolation, self.fill_mode,
                                             float(self.fill_value))

    def matrices(self, n, height, width, rng):
        raise NotImplementedError(f"{type(self).__name__}.matrices")

    def get_config(self):
        return {**super().get_config(), 'fill_mode': self.fill_mode,
                'interpolation': self.interpolation, 'fill_value': self.fill_value}
