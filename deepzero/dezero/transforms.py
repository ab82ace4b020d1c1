"""DeZero's per-sample transforms (``dezero.transforms``): PIL images in,
(C, H, W) NumPy arrays out, chained with ``Compose``.

PIL side: Convert, Resize, CenterCrop, RandomHorizontalFlip, ToArray.
Array side: ToPIL, Normalize, Flatten, AsType (= ToFloat), ToInt.

Sizes are (width, height) as PIL takes them; an int means a square.
"""
import numpy as np
from PIL import Image

from ..functions.conv_utils import pair

__all__ = ['Compose', 'Convert', 'Resize', 'CenterCrop', 'RandomHorizontalFlip', 'ToArray',
           'ToPIL', 'Normalize', 'Flatten', 'AsType', 'ToFloat', 'ToInt']


class Compose:
    """Apply ``transforms`` in order (none: the sample unchanged)."""

    def __init__(self, transforms=()):
        self.transforms = list(transforms)

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img


# --- PIL images -----------------------------------------------------------------

class Convert:
    """``img.convert(mode)``; mode 'BGR' gives an RGB-mode image with the red
    and blue bands swapped (the channel order Caffe-trained VGG16 expects)."""

    def __init__(self, mode='RGB'):
        self.mode = mode

    def __call__(self, img):
        if self.mode != 'BGR':
            return img.convert(self.mode)
        r, g, b = img.convert('RGB').split()
        return Image.merge('RGB', (b, g, r))


class Resize:
    """Resize to ``size`` (width, height), or (size, size) for an int, with
    PIL resampling ``mode`` (bilinear by default)."""

    def __init__(self, size, mode=Image.BILINEAR):
        self.size = pair(size, 'size', 'Resize')
        self.mode = mode

    def __call__(self, img):
        return img.resize(self.size, self.mode)


class CenterCrop:
    """Crop the central ``size`` (width, height) region; the odd pixel of an
    uneven margin is cut on the right/bottom."""

    def __init__(self, size):
        self.size = pair(size, 'size', 'CenterCrop')

    def __call__(self, img):
        width, height = img.size
        out_w, out_h = self.size
        left, top = (width - out_w) // 2, (height - out_h) // 2
        return img.crop((left, top, left + out_w, top + out_h))


class RandomHorizontalFlip:
    """Mirror left-right with probability ``p`` (a PIL image, or a (C, H, W)
    array). Draws from NumPy's global generator, as DeZero's data code does.
    (DeZero ships this class as an empty stub.)"""

    def __init__(self, p=0.5):
        self.p = p

    def __call__(self, img):
        if np.random.rand() >= self.p:
            return img
        if isinstance(img, Image.Image):
            return img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        return img[..., ::-1]


class ToArray:
    """PIL image -> (C, H, W) array of ``dtype`` (a grayscale image gives
    C = 1); arrays pass through unchanged."""

    def __init__(self, dtype=np.float32):
        self.dtype = dtype

    def __call__(self, img):
        if isinstance(img, np.ndarray):
            return img
        if not isinstance(img, Image.Image):
            raise TypeError(f"ToArray: expected a PIL image or a NumPy array, got "
                            f"{type(img).__name__}")
        array = np.asarray(img)
        array = array[np.newaxis] if array.ndim == 2 else array.transpose(2, 0, 1)
        return array.astype(self.dtype)


# --- NumPy arrays ---------------------------------------------------------------

class ToPIL:
    """(C, H, W) array -> PIL image (C = 1 gives a grayscale image)."""

    def __call__(self, array):
        if array.ndim == 3 and array.shape[0] == 1:
            return Image.fromarray(array[0])
        return Image.fromarray(array.transpose(1, 2, 0))


class Normalize:
    """``(array - mean) / std``. ``mean`` and ``std`` are scalars, or one
    value per channel (axis 0), cast to the array's dtype."""

    def __init__(self, mean=0, std=1):
        self.mean = mean
        self.std = std

    def __call__(self, array):
        return (array - self._per_channel(self.mean, array)) / self._per_channel(self.std, array)

    @staticmethod
    def _per_channel(value, array):
        if np.isscalar(value):
            return value
        shape = (len(value),) + (1,) * (array.ndim - 1)
        return np.asarray(value, dtype=array.dtype).reshape(shape)


class Flatten:
    """The array as 1-d."""

    def __call__(self, array):
        return array.flatten()


class AsType:
    """``array.astype(dtype)``."""

    def __init__(self, dtype=np.float32):
        self.dtype = dtype

    def __call__(self, array):
        return array.astype(self.dtype)


ToFloat = AsType


class ToInt(AsType):
    """``array.astype(int)`` by default."""

    def __init__(self, dtype=int):
        super().__init__(dtype)
