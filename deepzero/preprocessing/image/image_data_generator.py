"""``ImageDataGenerator``: Keras's real-time image augmentation, on NumPy.

Per image: ``get_random_transform`` draws a parameter dict, ``apply_transform``
applies it (one affine resample, then channel shift, flips, brightness; the
flips are folded into the affine resample, which gives the same result), and
``standardize`` normalizes (``preprocessing_function``, ``rescale``,
samplewise center / std, featurewise center / std, ZCA), in Keras's order.

Shift convention (Keras documents it this way; keras-team/keras#17398 reports
that current Keras swaps the two ranges by mistake): ``width_shift_range``
moves the image horizontally and gives ``tx``; ``height_shift_range`` moves it
vertically and gives ``ty``. In a parameter dict, ``tx`` is a shift along x
(columns, pixels; positive moves the content left) and ``ty`` along y (rows;
positive moves it up), which is also what Keras's own ``apply_transform`` does
with these keys, so parameter dicts are interchangeable with Keras's.

Randomness never touches NumPy's global state: ``seed`` arguments take an int
or a ``numpy.random.Generator``; without one, draws come from the runtime's
'images' stream (``deepzero.utils.set_random_seed`` makes them repeatable).
"""
import math
import warnings

import numpy as np

from ...core import runtime
from .affine import FILL_MODES, ORDERS, transform_matrix, warp_affine
from .utils import _check_data_format

_STD_EPSILON = 1e-6


def _as_rng(seed):
    if seed is None:
        return runtime.generator('images')
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def _check_shift_range(name, value):
    """Keras accepts a float, an int or a 1-D sequence of numbers."""
    if isinstance(value, (list, tuple, np.ndarray)):
        values = np.asarray(value)
        if values.ndim != 1 or values.size == 0:
            raise ValueError(f'{name} must be a non-empty 1-D list of numbers, got {value!r}')
        return tuple(values.tolist())
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise ValueError(f'{name} must be a float, an int or a 1-D list of numbers, got {value!r}')
    return value


def _draw_shift(shift_range, size, rng):
    """One shift in pixels, with Keras's meaning of the range:
    float -> U(-r, r); int N -> one of 0..N-1 with a random sign; sequence -> one
    element with a random sign; if every value is below 1 it is a fraction of ``size``."""
    if isinstance(shift_range, tuple):
        shift = shift_range[rng.integers(len(shift_range))] * rng.choice((-1, 1))
    elif isinstance(shift_range, (int, np.integer)):
        shift = rng.integers(shift_range) * rng.choice((-1, 1))
    else:
        shift = rng.uniform(-shift_range, shift_range)
    if max(shift_range if isinstance(shift_range, tuple) else (shift_range,)) < 1:
        shift *= size
    return float(shift)


def _apply_channel_shift(x, intensity):
    """Add ``intensity`` to every channel, clipped to the image's min and max (in place)."""
    low, high = x.min(), x.max()
    x += intensity
    np.clip(x, low, high, out=x)


def _apply_brightness(x, factor):
    """Keras's brightness shift, in place: the image goes to 8 bits (truncated;
    an image outside 0..255 is min-max scaled onto it first), is multiplied by
    ``factor`` with PIL's ``ImageEnhance.Brightness`` rounding (truncation,
    clipped to 0..255), and comes back (scaled back if it was scaled)."""
    low, high = float(x.min()), float(x.max())
    rescaled = low < 0 or high > 255
    if rescaled:
        x -= low
        if high - low:
            x *= 255.0 / (high - low)
    np.floor(x, out=x)
    x *= factor
    np.floor(x, out=x)
    np.clip(x, 0, 255, out=x)
    if rescaled:
        x *= (high - low) / 255.0
        x += low


class ImageDataGenerator:
    """Generate batches of image data with real-time augmentation (Keras's arguments).

    Args:
        featurewise_center: subtract the per-channel mean learned by ``fit``.
        samplewise_center: subtract each image's own mean.
        featurewise_std_normalization: divide by the per-channel std from ``fit`` (+1e-6).
        samplewise_std_normalization: divide each image by its own std (+1e-6).
        zca_whitening, zca_epsilon (1e-6): ZCA whitening learned by ``fit``.
        rotation_range: degrees; theta ~ U(-r, r).
        width_shift_range: horizontal shift ``tx``: float < 1 fraction of the
            width, float >= 1 pixels, int N -> integer pixels in (-N, N), or a
            list of choices (fractions if all < 1).
        height_shift_range: the same, vertical (``ty``, fraction of the height).
        brightness_range: (low, high) brightness factor, 1.0 = unchanged.
        shear_range: degrees; shear ~ U(-r, r).
        zoom_range: float z -> [1 - z, 1 + z], or [low, high]; zx and zy drawn
            independently; below 1 zooms in.
        channel_shift_range: one intensity ~ U(-r, r) added to all channels.
        fill_mode: 'constant', 'nearest' (default), 'reflect' or 'wrap'
            (SciPy's meanings); cval: the value for 'constant'.
        horizontal_flip, vertical_flip: flip with probability 0.5.
        rescale: factor applied in ``standardize`` after ``preprocessing_function``.
        preprocessing_function: function of one rank-3 image returning the same
            shape, run first in ``standardize``. It may run in several worker
            threads at once.
        data_format: 'channels_last' (default) or 'channels_first'.
        validation_split: fraction in (0, 1) held out for ``subset='validation'``.
        interpolation_order: 0 (nearest), 1 (bilinear, default) or a spline order
            2-5 (SciPy's, as Keras; needs scipy).
        dtype: dtype of the produced batches (default 'float32').
    """

    def __init__(self, featurewise_center=False, samplewise_center=False,
                 featurewise_std_normalization=False, samplewise_std_normalization=False,
                 zca_whitening=False, zca_epsilon=1e-6, rotation_range=0,
                 width_shift_range=0.0, height_shift_range=0.0, brightness_range=None,
                 shear_range=0.0, zoom_range=0.0, channel_shift_range=0.0, fill_mode='nearest',
                 cval=0.0, horizontal_flip=False, vertical_flip=False, rescale=None,
                 preprocessing_function=None, data_format=None, validation_split=0.0,
                 interpolation_order=1, dtype=None):
        self.featurewise_center = featurewise_center
        self.samplewise_center = samplewise_center
        self.featurewise_std_normalization = featurewise_std_normalization
        self.samplewise_std_normalization = samplewise_std_normalization
        self.zca_whitening = zca_whitening
        self.zca_epsilon = zca_epsilon
        self.rotation_range = rotation_range
        self.width_shift_range = _check_shift_range('width_shift_range', width_shift_range)
        self.height_shift_range = _check_shift_range('height_shift_range', height_shift_range)
        self.shear_range = shear_range
        self.channel_shift_range = channel_shift_range
        self.cval = cval
        self.horizontal_flip = horizontal_flip
        self.vertical_flip = vertical_flip
        self.rescale = rescale
        self.preprocessing_function = preprocessing_function
        self.dtype = np.dtype('float32' if dtype is None else dtype).name
        self.data_format = _check_data_format(data_format)
        self.channel_axis, self.row_axis, self.col_axis = (
            (3, 1, 2) if self.data_format == 'channels_last' else (1, 2, 3))

        if fill_mode not in FILL_MODES:
            raise ValueError(f'fill_mode must be one of {FILL_MODES}, got {fill_mode!r}')
        self.fill_mode = fill_mode
        if interpolation_order not in ORDERS:
            raise ValueError(f'interpolation_order must be one of {ORDERS} '
                             f'(0 nearest, 1 bilinear, 2-5 splines), '
                             f'got {interpolation_order!r}')
        self.interpolation_order = interpolation_order
        if validation_split and not 0 < validation_split < 1:
            raise ValueError('validation_split must be strictly between 0 and 1, '
                             f'got {validation_split}')
        self._validation_split = validation_split

        if isinstance(zoom_range, (int, float)) and not isinstance(zoom_range, bool):
            self.zoom_range = [1 - zoom_range, 1 + zoom_range]
        elif isinstance(zoom_range, (list, tuple)) and len(zoom_range) == 2:
            self.zoom_range = [zoom_range[0], zoom_range[1]]
        else:
            raise ValueError('zoom_range must be a float or a [lower, upper] pair, '
                             f'got {zoom_range!r}')
        if brightness_range is not None and (not isinstance(brightness_range, (list, tuple))
                                             or len(brightness_range) != 2):
            raise ValueError('brightness_range must be a tuple or list of two floats, '
                             f'got {brightness_range!r}')
        self.brightness_range = brightness_range

        self.mean = None
        self.std = None
        self.zca_whitening_matrix = None
        self._reconcile_normalization_flags()

    def _reconcile_normalization_flags(self):
        """Keras's implied settings, with its warnings."""
        if self.zca_whitening:
            if not self.featurewise_center:
                self.featurewise_center = True
                warnings.warn('This ImageDataGenerator specifies `zca_whitening`, which '
                              'overrides setting of `featurewise_center`.')
            if self.featurewise_std_normalization:
                self.featurewise_std_normalization = False
                warnings.warn('This ImageDataGenerator specifies `zca_whitening` which '
                              'overrides setting of `featurewise_std_normalization`.')
        if self.featurewise_std_normalization and not self.featurewise_center:
            self.featurewise_center = True
            warnings.warn('This ImageDataGenerator specifies `featurewise_std_normalization`, '
                          'which overrides setting of `featurewise_center`.')
        if self.samplewise_std_normalization and not self.samplewise_center:
            self.samplewise_center = True
            warnings.warn('This ImageDataGenerator specifies `samplewise_std_normalization`, '
                          'which overrides setting of `samplewise_center`.')

    # ----------------------------------------------------------------- flows
    def flow(self, x, y=None, batch_size=32, shuffle=True, sample_weight=None, seed=None,
             save_to_dir=None, save_prefix='', save_format='png', ignore_class_split=False,
             subset=None, workers=None, max_queue_size=10, shard=False):
        """Batches from arrays: a :class:`NumpyArrayIterator` (see ``Iterator`` for
        ``workers``, ``max_queue_size`` and ``shard``)."""
        from .numpy_array_iterator import NumpyArrayIterator
        return NumpyArrayIterator(
            x, y, self, batch_size=batch_size, shuffle=shuffle, sample_weight=sample_weight,
            seed=seed, data_format=self.data_format, save_to_dir=save_to_dir,
            save_prefix=save_prefix, save_format=save_format,
            ignore_class_split=ignore_class_split, subset=subset, dtype=self.dtype,
            workers=workers, max_queue_size=max_queue_size, shard=shard)

    def flow_from_directory(self, directory, target_size=(256, 256), color_mode='rgb',
                            classes=None, class_mode='categorical', batch_size=32, shuffle=True,
                            seed=None, save_to_dir=None, save_prefix='', save_format='png',
                            follow_links=False, subset=None, interpolation='nearest',
                            keep_aspect_ratio=False, skip_unreadable=False, workers=None,
                            max_queue_size=10, shard=False):
        """Batches from ``directory/<class>/...images``: a :class:`DirectoryIterator`."""
        from .directory_iterator import DirectoryIterator
        return DirectoryIterator(
            directory, self, target_size=target_size, color_mode=color_mode, classes=classes,
            class_mode=class_mode, data_format=self.data_format, batch_size=batch_size,
            shuffle=shuffle, seed=seed, save_to_dir=save_to_dir, save_prefix=save_prefix,
            save_format=save_format, follow_links=follow_links, subset=subset,
            interpolation=interpolation, keep_aspect_ratio=keep_aspect_ratio, dtype=self.dtype,
            skip_unreadable=skip_unreadable, workers=workers, max_queue_size=max_queue_size,
            shard=shard)

    def flow_from_dataframe(self, dataframe, directory=None, x_col='filename', y_col='class',
                            weight_col=None, target_size=(256, 256), color_mode='rgb',
                            classes=None, class_mode='categorical', batch_size=32, shuffle=True,
                            seed=None, save_to_dir=None, save_prefix='', save_format='png',
                            subset=None, interpolation='nearest', validate_filenames=True,
                            keep_aspect_ratio=False, skip_unreadable=False, workers=None,
                            max_queue_size=10, shard=False):
        """Batches from a pandas DataFrame of file names: a :class:`DataFrameIterator`."""
        from .dataframe_iterator import DataFrameIterator
        return DataFrameIterator(
            dataframe, directory, self, x_col=x_col, y_col=y_col, weight_col=weight_col,
            target_size=target_size, color_mode=color_mode, classes=classes,
            class_mode=class_mode, data_format=self.data_format, batch_size=batch_size,
            shuffle=shuffle, seed=seed, save_to_dir=save_to_dir, save_prefix=save_prefix,
            save_format=save_format, subset=subset, interpolation=interpolation,
            validate_filenames=validate_filenames, keep_aspect_ratio=keep_aspect_ratio,
            dtype=self.dtype, skip_unreadable=skip_unreadable, workers=workers,
            max_queue_size=max_queue_size, shard=shard)

    # ------------------------------------------------------ the transforms
    def get_random_transform(self, img_shape, seed=None):
        """Draw the parameters of one random transform of an image of ``img_shape``.

        Draw order: theta, tx, ty, shear, (zx, zy), horizontal flip, vertical
        flip, channel shift, brightness (a flip is drawn even when disabled).

        Args:
            img_shape: shape of one image (rank 3, in ``data_format``).
            seed: None (the runtime's 'images' stream), an int, or a
                ``numpy.random.Generator`` to draw from.
        Returns:
            dict with 'theta' (degrees), 'tx', 'ty' (pixels along x / y),
            'shear' (degrees), 'zx', 'zy', 'flip_horizontal', 'flip_vertical',
            'channel_shift_intensity' (None if off), 'brightness' (None if off).
        """
        rng = _as_rng(seed)
        height, width = img_shape[self.row_axis - 1], img_shape[self.col_axis - 1]
        theta = rng.uniform(-self.rotation_range, self.rotation_range) if self.rotation_range else 0
        tx = _draw_shift(self.width_shift_range, width, rng) if self.width_shift_range else 0
        ty = _draw_shift(self.height_shift_range, height, rng) if self.height_shift_range else 0
        shear = rng.uniform(-self.shear_range, self.shear_range) if self.shear_range else 0
        if self.zoom_range[0] == 1 and self.zoom_range[1] == 1:
            zx, zy = 1, 1
        else:
            zx, zy = rng.uniform(self.zoom_range[0], self.zoom_range[1], 2).tolist()
        flip_horizontal = bool(rng.random() < 0.5) and bool(self.horizontal_flip)
        flip_vertical = bool(rng.random() < 0.5) and bool(self.vertical_flip)
        channel_shift_intensity = None
        if self.channel_shift_range != 0:
            channel_shift_intensity = rng.uniform(-self.channel_shift_range,
                                                  self.channel_shift_range)
        brightness = None
        if self.brightness_range is not None:
            brightness = rng.uniform(self.brightness_range[0], self.brightness_range[1])
        return {'theta': theta, 'tx': tx, 'ty': ty, 'shear': shear, 'zx': zx, 'zy': zy,
                'flip_horizontal': flip_horizontal, 'flip_vertical': flip_vertical,
                'channel_shift_intensity': channel_shift_intensity, 'brightness': brightness}

    def apply_transform(self, x, transform_parameters, out=None):
        """Apply a parameter dict (keys as returned by ``get_random_transform``;
        missing keys mean no change) to one image ``x`` of rank 3.

        ``tx`` / ``ty`` are pixel shifts along x (columns) / y (rows); positive
        moves the content left / up. Returns a new array (float: ``x``'s dtype,
        otherwise this generator's ``dtype``), or writes into ``out``.
        """
        x = np.asarray(x)
        if x.ndim != 3:
            raise ValueError(f'apply_transform: expected one image of rank 3, got shape {x.shape}')
        if out is None:
            dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else self.dtype
            out = np.empty(x.shape, dtype=dtype)
        p = transform_parameters
        theta, tx, ty = p.get('theta', 0), p.get('tx', 0), p.get('ty', 0)
        shear, zx, zy = p.get('shear', 0), p.get('zx', 1), p.get('zy', 1)
        flip_h, flip_v = bool(p.get('flip_horizontal', False)), bool(p.get('flip_vertical', False))
        row_axis, col_axis = self.row_axis - 1, self.col_axis - 1
        if theta == 0 and tx == 0 and ty == 0 and shear == 0 and zx == 1 and zy == 1:
            # No resample needed: flips are exact index reversals.
            view = np.flip(x, col_axis) if flip_h else x
            out[...] = np.flip(view, row_axis) if flip_v else view
        else:
            matrix = transform_matrix(x.shape[row_axis], x.shape[col_axis], theta, tx, ty,
                                      shear, zx, zy, flip_h, flip_v)
            warp_affine(x, matrix, channel_axis=self.channel_axis - 1,
                        order=self.interpolation_order, fill_mode=self.fill_mode,
                        cval=self.cval, out=out)
        if p.get('channel_shift_intensity') is not None:
            _apply_channel_shift(out, p['channel_shift_intensity'])
        if p.get('brightness') is not None:
            _apply_brightness(out, p['brightness'])
        return out

    def random_transform(self, x, seed=None):
        """``apply_transform(x, get_random_transform(x.shape, seed))``."""
        return self.apply_transform(x, self.get_random_transform(np.shape(x), seed))

    def standardize(self, x):
        """Normalize one image (rank 3) or a batch (rank 4, each image on its own),
        in place for float arrays: ``preprocessing_function``, ``rescale``,
        samplewise center, samplewise std, featurewise center, featurewise std,
        ZCA. Returns the result (integer input comes back as ``dtype``)."""
        x = np.asarray(x)
        if x.ndim not in (3, 4):
            raise ValueError(f'standardize: expected an image (rank 3) or a batch (rank 4), '
                             f'got shape {x.shape}')
        if not np.issubdtype(x.dtype, np.floating):
            x = x.astype(self.dtype)
        if self.preprocessing_function:
            if x.ndim == 3:
                x = np.asarray(self.preprocessing_function(x))
            else:
                for i in range(len(x)):
                    x[i] = self.preprocessing_function(x[i])
        if self.rescale:
            x *= self.rescale
        image_axes = tuple(range(x.ndim - 3, x.ndim))
        if self.samplewise_center:
            x -= np.mean(x, axis=image_axes, keepdims=True)
        if self.samplewise_std_normalization:
            x /= np.std(x, axis=image_axes, keepdims=True) + _STD_EPSILON
        if self.featurewise_center:
            if self.mean is None:
                warnings.warn('This ImageDataGenerator specifies `featurewise_center`, but it '
                              "hasn't been fit on any training data. Fit it first by calling "
                              '`.fit(numpy_data)`.')
            else:
                x -= self.mean
        if self.featurewise_std_normalization:
            if self.std is None:
                warnings.warn('This ImageDataGenerator specifies `featurewise_std_normalization`, '
                              "but it hasn't been fit on any training data. Fit it first by "
                              'calling `.fit(numpy_data)`.')
            else:
                x /= self.std + _STD_EPSILON
        if self.zca_whitening:
            if self.zca_whitening_matrix is None:
                warnings.warn('This ImageDataGenerator specifies `zca_whitening`, but it '
                              "hasn't been fit on any training data. Fit it first by calling "
                              '`.fit(numpy_data)`.')
            else:
                flat = x.reshape(-1, math.prod(x.shape[-3:]))
                x = (flat @ self.zca_whitening_matrix).reshape(x.shape)
        return x

    def fit(self, x, augment=False, rounds=1, seed=None):
        """Learn the statistics that featurewise normalization and ZCA need.

        Args:
            x: sample images, rank 4 (1, 3 or 4 channels). ``rescale`` is applied
                to a copy first.
            augment: also fit on ``rounds`` randomly transformed copies.
            seed: int or Generator for the augmentation draws.
        Sets ``mean`` and ``std`` (shape (1, 1, C) or (C, 1, 1)) and
        ``zca_whitening_matrix`` ((h*w*c, h*w*c)).
        """
        x = np.array(x, dtype=self.dtype)  # a copy
        if x.ndim != 4:
            raise ValueError(f'.fit() expects input of rank 4, got an array of shape {x.shape}')
        if x.shape[self.channel_axis] not in (1, 3, 4):
            warnings.warn(f'Expected input to be images with 1, 3 or 4 channels on axis '
                          f'{self.channel_axis} ({self.data_format}); got shape {x.shape}.')
        if self.rescale:
            x *= self.rescale
        if augment:
            rng = _as_rng(seed)
            augmented = np.empty((rounds * len(x),) + x.shape[1:], dtype=self.dtype)
            for r in range(rounds):
                for i in range(len(x)):
                    self.apply_transform(x[i], self.get_random_transform(x[i].shape, rng),
                                         out=augmented[r * len(x) + i])
            x = augmented
        stats_axes = (0, self.row_axis, self.col_axis)
        broadcast_shape = [1, 1, 1]
        broadcast_shape[self.channel_axis - 1] = x.shape[self.channel_axis]
        if self.featurewise_center:
            self.mean = np.mean(x, axis=stats_axes).reshape(broadcast_shape)
            x -= self.mean
        if self.featurewise_std_normalization:
            self.std = np.std(x, axis=stats_axes).reshape(broadcast_shape)
            x /= self.std + _STD_EPSILON
        if self.zca_whitening:
            flat = x.reshape(len(x), -1).astype(np.float64)
            u, s, _ = np.linalg.svd(flat.T, full_matrices=False)
            s_inv = np.sqrt(len(x)) / (s + self.zca_epsilon)
            self.zca_whitening_matrix = ((u * s_inv) @ u.T).astype(self.dtype)
