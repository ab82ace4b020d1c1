"""``Resizing``: resize images to a fixed (height, width)."""
from ..kernels import image as image_kernels
from .base_image_preprocessing import ImagePreprocessingLayer


class Resizing(ImagePreprocessingLayer):
    """Args (Keras 3's): height, width of the output; interpolation
    'bilinear' (default), 'nearest' or 'bicubic' (what Keras's torch backend
    offers); crop_to_aspect_ratio: crop the largest centred window of the
    target aspect ratio first; pad_to_aspect_ratio: pad both sides with
    fill_value to it first; fill_mode: only 'constant'; antialias: filter
    when shrinking (default False); data_format. Numerics: see
    ``kernels.image.resize``. Output float32."""

    def __init__(self, height, width, interpolation='bilinear', crop_to_aspect_ratio=False,
                 pad_to_aspect_ratio=False, fill_mode='constant', fill_value=0.0,
                 antialias=False, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        where = f"Resizing '{self.name}'"
        if interpolation not in image_kernels.RESIZE_INTERPOLATIONS:
            raise ValueError(f"{where}: interpolation must be one of "
                             f"{image_kernels.RESIZE_INTERPOLATIONS}, got {interpolation!r}")
        if crop_to_aspect_ratio and pad_to_aspect_ratio:
            raise ValueError(f"{where}: only one of crop_to_aspect_ratio and "
                             "pad_to_aspect_ratio can be True")
        if fill_mode != 'constant':
            raise ValueError(f"{where}: fill_mode must be 'constant', got {fill_mode!r}")
        self.height, self.width = int(height), int(width)
        self.interpolation = interpolation
        self.crop_to_aspect_ratio = crop_to_aspect_ratio
        self.pad_to_aspect_ratio = pad_to_aspect_ratio
        self.fill_mode, self.fill_value = fill_mode, fill_value
        self.antialias = antialias

    def transform(self, images, training):
        return image_kernels.resize(images, (self.height, self.width), self.interpolation,
                                    self.antialias, self.crop_to_aspect_ratio,
                                    self.pad_to_aspect_ratio, float(self.fill_value))

    def output_hw(self, height, width):
        return self.height, self.width

    def get_config(self):
        return {**super().get_config(), 'height': self.height, 'width': self.width,
                'interpolation': self.interpolation,
                'crop_to_aspect_ratio': self.crop_to_aspect_ratio,
                'pad_to_aspect_ratio': self.pad_to_aspect_ratio, 'fill_mode': self.fill_mode,
                'fill_value': self.fill_value, 'antialias': self.antialias}
