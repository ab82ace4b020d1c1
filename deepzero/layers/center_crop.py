"""``CenterCrop``: the central (height, width) window of each image."""
from ..kernels import image as image_kernels
from .base_image_preprocessing import ImagePreprocessingLayer


class CenterCrop(ImagePreprocessingLayer):
    """Args: height, width of the output; data_format. An image at least as
    large as the target is cropped (offset ``(H - height) // 2``); a smaller
    one is resized like Keras's ``smart_resize`` (largest centred window of
    the target aspect ratio, bilinear)."""

    def __init__(self, height, width, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self.height, self.width = int(height), int(width)

    def transform(self, images, training):
        height, width = images.shape[1:3]
        if height >= self.height and width >= self.width:
            top, left = (height - self.height) // 2, (width - self.width) // 2
            return images[:, top:top + self.height, left:left + self.width]
        return image_kernels.resize(images, (self.height, self.width),
                                    crop_to_aspect_ratio=True)

    def output_hw(self, height, width):
        return self.height, self.width

    def get_config(self):
        return {**super().get_config(), 'height': self.height, 'width': self.width}
