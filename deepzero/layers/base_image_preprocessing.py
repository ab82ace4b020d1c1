"""``ImagePreprocessingLayer``: what Keras 3's image preprocessing layers
(``Resizing``, ``CenterCrop``, ``RandomFlip``, ``RandomRotation``, ...) share.

- Input: one image (rank 3) or a batch (rank 4), ``data_format``
  'channels_last' (default) or 'channels_first'; integer input becomes the
  layer's float dtype; float32 stays float32.
- Randomness: ``seed`` (an int) gives the layer its own generator, seeded once,
  so each call draws new values and two layers with the same seed draw the
  same ones (Keras's SeedGenerator); ``seed=None`` draws from the runtime's
  'images' stream, which ``deepzero.utils.set_random_seed`` makes repeatable.
  The draws are deepzero's, not Keras's: same distributions, other numbers.
- Training: a random layer's ``call`` defaults to ``training=True`` as in
  Keras, so ``layer(images)`` augments, while ``predict``/``evaluate`` (and
  ``training=False``) pass the images through unchanged.
- Gradients: these layers transform data (they sit at a model's input, as in
  the book); no gradient flows back through a transform, and transforming a
  tensor that needs a gradient raises an error instead of silently cutting
  it. A random layer in inference returns its input itself, so gradients
  with respect to a model's input (saliency, Grad-CAM) pass through it.
"""
import numbers

import numpy as np

from ..core import Variable, runtime
from .arg_utils import normalize_data_format
from .layer import Layer


def factor_range(factor, name, layer_name, low=-1.0, high=1.0, low_inclusive=True):
    """Keras's reading of a factor: a number f -> (-|f|, |f|) (clipped below
    at ``low``), a pair -> sorted; every value within [low, high] (or
    (low, high] when not ``low_inclusive``)."""
    def check(value):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (
                (low <= value if low_inclusive else low < value) and value <= high):
            bound = '[' if low_inclusive else '('
            raise ValueError(f"{layer_name}: {name} must be a number or a pair of numbers "
                             f"in {bound}{low}, {high}], got {factor!r}")
    if isinstance(factor, (tuple, list)):
        if len(factor) != 2:
            raise ValueError(f"{layer_name}: {name} must be a number or a pair of numbers, "
                             f"got {factor!r}")
        for value in factor:
            check(value)
        lower, upper = sorted(float(v) for v in factor)
        return lower, upper
    check(factor)
    return max(-abs(float(factor)), low), abs(float(factor))


class ImagePreprocessingLayer(Layer):
    """Base class. Subclasses implement ``transform(images, training)`` on a
    channels-last float batch ``(N, H, W, C)`` (NumPy or CuPy) and, when
    the shape changes, ``output_hw(height, width)``."""
    built_at_init = True

    def __init__(self, data_format=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format, f"{type(self).__name__} "
                                                              f"'{self.name}'")
        if seed is not None and (isinstance(seed, bool)
                                 or not isinstance(seed, numbers.Integral)):
            raise ValueError(f"{type(self).__name__} '{self.name}': seed must be an integer "
                             f"or None, got {seed!r}")
        self.seed = seed
        # numpy takes non-negative seeds; Keras any int, so negatives wrap to 64 bits
        self._rng = None if seed is None else np.random.default_rng(int(seed) % 2**64)

    @property
    def rng(self):
        """The generator of this layer's random draws (see the module docstring)."""
        return self._rng if self._rng is not None else runtime.generator('images')

    def transform(self, images, training):
        raise NotImplementedError(f"{type(self).__name__}.transform")

    def is_identity(self, training):
        """Whether a call in this mode leaves float images as they are."""
        return False

    def output_hw(self, height, width):
        return height, width

    def call(self, inputs, training=None):
        if inputs.ndim not in (3, 4):
            raise ValueError(f"{type(self).__name__} '{self.name}': expected an image (rank 3) "
                             f"or a batch of images (rank 4), got shape {tuple(inputs.shape)}")
        if self.is_identity(training) and inputs.dtype.kind == 'f':
            return inputs
        if inputs.requires_grad:
            raise ValueError(f"{type(self).__name__} '{self.name}' passes no gradient to its "
                             "input: put it before the layers with weights (at the input, "
                             "as Keras's examples do)")
        images = inputs.data
        if images.dtype.kind != 'f':
            images = images.astype(self.dtype)
        batch = images if images.ndim == 4 else images[None]
        if self.data_format == 'channels_first':
            batch = batch.transpose(0, 2, 3, 1)
        out = self.transform(batch, training)
        if self.data_format == 'channels_first':
            out = out.transpose(0, 3, 1, 2)
        return Variable(out if images.ndim == 4 else out[0], requires_grad=False)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        rows = len(shape) - (3 if self.data_format == 'channels_last' else 2)
        height, width = self.output_hw(shape[rows], shape[rows + 1])
        shape[rows:rows + 2] = [height, width]
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), 'data_format': self.data_format}


class RandomImageLayer(ImagePreprocessingLayer):
    """A random augmentation: active only in training (``call`` defaults to
    training, as Keras's do); ``augment(images, rng)`` draws and applies it."""

    def call(self, inputs, training=True):
        return super().call(inputs, training)

    def is_identity(self, training):
        return not training

    def transform(self, images, training):
        if not training:  # integer images: cast, not augmented
            return images
        return self.augment(images, self.rng)

    def augment(self, images, rng):
        raise NotImplementedError(f"{type(self).__name__}.augment")

    def get_config(self):
        return {**super().get_config(), 'seed': self.seed}
