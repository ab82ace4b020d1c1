"""``FilesIterator``: the part of ``DirectoryIterator`` and ``DataFrameIterator``
that turns a list of image files and their labels into batches (Keras's
``BatchFromFilesMixin``).

Unreadable files (empty, truncated, corrupt, not an image): by default the
batch that needs one raises ``UnreadableImageError`` naming the file (the
iterator has already moved past that batch, and later batches come in order).
With ``skip_unreadable=True`` every file is decoded once up front, and the
unreadable ones are left out with one warning that lists them and their count;
a file that breaks later is dropped from its batch with a warning.
"""
import concurrent.futures
import warnings

import numpy as np
from PIL import Image

from .iterator import Iterator, save_batch_images
from .utils import COLOR_MODES, PIL_INTERPOLATION, UnreadableImageError, _check_data_format
from .utils import load_img

_CHANNELS = {'rgb': 3, 'rgba': 4, 'grayscale': 1}


def _check_readable(path):
    """None if ``path`` decodes, else the reason. JPEGs decode at 1/8 scale
    (every byte is still read, so truncation shows)."""
    try:
        with open(path, 'rb') as f:
            if not f.read(1):
                return 'the file is empty (0 bytes)'
        with Image.open(path) as img:
            img.draft(img.mode, (1, 1))
            img.load()
        return None
    except Exception as e:  # any decoder failure means unreadable here
        return f'{type(e).__name__}: {e}'


def find_unreadable(paths, workers):
    """{path: reason} for the files among ``paths`` that cannot be decoded."""
    with concurrent.futures.ThreadPoolExecutor(max(1, workers)) as pool:
        reasons = list(pool.map(_check_readable, paths))
    return {path: reason for path, reason in zip(paths, reasons) if reason is not None}


def warn_unreadable(unreadable):
    listing = '\n'.join(f'  {path}: {reason}' for path, reason in unreadable.items())
    warnings.warn(f'skipped {len(unreadable)} unreadable image file(s):\n{listing}',
                  stacklevel=3)


class FilesIterator(Iterator):
    """Batches of augmented images loaded from ``filepaths``.

    Subclasses set ``filepaths`` (list of str), ``classes`` (int label per file,
    or a list of ints per file for multi-label 'categorical'), ``class_indices``,
    ``labels`` (for 'raw' / 'multi_output'), ``sample_weight`` (or None), then
    call ``Iterator.__init__``.
    """
    allowed_class_modes = ('categorical', 'binary', 'sparse', 'input', None)

    def _set_processing_attrs(self, image_data_generator, target_size, color_mode, class_mode,
                              data_format, save_to_dir, save_prefix, save_format, interpolation,
                              keep_aspect_ratio, dtype, skip_unreadable):
        if color_mode not in COLOR_MODES:
            raise ValueError(f'Invalid color mode: {color_mode!r}; expected one of {COLOR_MODES}')
        if class_mode not in self.allowed_class_modes:
            raise ValueError(f'Invalid class_mode: {class_mode!r}; expected one of: '
                             f'{self.allowed_class_modes}')
        if interpolation not in PIL_INTERPOLATION:
            raise ValueError(f'Invalid interpolation: {interpolation!r}; expected one of '
                             f'{tuple(PIL_INTERPOLATION)}')
        self.image_data_generator = image_data_generator
        self.target_size = tuple(target_size)
        self.color_mode = color_mode
        self.class_mode = class_mode
        self.data_format = _check_data_format(data_format)
        channels = _CHANNELS[color_mode]
        self.image_shape = (self.target_size + (channels,) if self.data_format == 'channels_last'
                            else (channels,) + self.target_size)
        self.save_to_dir = save_to_dir
        self.save_prefix = save_prefix
        self.save_format = save_format
        self.interpolation = interpolation
        self.keep_aspect_ratio = keep_aspect_ratio
        self.dtype = np.dtype('float32' if dtype is None else dtype).name
        self.skip_unreadable = skip_unreadable

    def _check_binary_classes(self, classes, source):
        """'binary' labels are 0 and 1: refuse any other number of classes
        (a third class would give labels of 2, and a negative loss)."""
        if self.class_mode == 'binary' and len(classes) != 2:
            raise ValueError(f'{source}: class_mode="binary" needs exactly 2 classes; '
                             f'found {len(classes)}: {list(classes)}')

    def _validation_range(self, subset):
        """(start, stop) fractions of each listing that ``subset`` keeps, or None."""
        if subset is None:
            return None
        split = (self.image_data_generator._validation_split
                 if self.image_data_generator is not None else 0)
        if not split:
            raise ValueError('subset needs an ImageDataGenerator with validation_split set')
        if subset == 'validation':
            return (0, split)
        if subset == 'training':
            return (split, 1)
        raise ValueError(f'Invalid subset name: {subset!r}; expected "training" or "validation"')

    def _load(self, path):
        """One file -> array in ``image_shape`` and ``dtype``."""
        img = load_img(path, color_mode=self.color_mode, target_size=self.target_size,
                       interpolation=self.interpolation, keep_aspect_ratio=self.keep_aspect_ratio)
        x = np.asarray(img, dtype=self.dtype)
        if x.ndim == 2:
            x = x[..., np.newaxis]
        return x.transpose(2, 0, 1) if self.data_format == 'channels_first' else x

    def _get_batches_of_transformed_samples(self, index_array, rng):
        generator = self.image_data_generator
        batch_x = np.empty((len(index_array),) + self.image_shape, dtype=self.dtype)
        kept = []
        for sample in index_array:
            slot = batch_x[len(kept)]
            try:
                x = self._load(self.filepaths[sample])
            except UnreadableImageError as e:
                if not self.skip_unreadable:
                    raise
                warn_unreadable({e.path: e.reason})
                continue
            if generator is None:
                slot[...] = x
            else:
                generator.apply_transform(x, generator.get_random_transform(x.shape, rng),
                                          out=slot)
            kept.append(sample)
        index_array = np.asarray(kept, dtype=np.intp)
        batch_x = batch_x[:len(kept)]
        if generator is not None:
            batch_x = generator.standardize(batch_x)
        if self.save_to_dir:
            save_batch_images(batch_x, index_array, self.data_format, self.save_to_dir,
                              self.save_prefix, self.save_format, rng, 10**7)
        batch_y = self._labels_for(batch_x, index_array)
        if batch_y is None:
            return batch_x
        if self.sample_weight is None:
            return batch_x, batch_y
        return batch_x, batch_y, self.sample_weight[index_array]

    def _labels_for(self, batch_x, index_array):
        mode = self.class_mode
        if mode == 'input':
            return batch_x.copy()
        if mode in ('binary', 'sparse'):
            return np.asarray([self.classes[i] for i in index_array], dtype=self.dtype)
        if mode == 'categorical':
            batch_y = np.zeros((len(index_array), len(self.class_indices)), dtype=self.dtype)
            for row, sample in enumerate(index_array):
                batch_y[row, self.classes[sample]] = 1.0
            return batch_y
        if mode == 'multi_output':
            return [np.asarray(output)[index_array] for output in self.labels]
        if mode == 'raw':
            return np.asarray(self.labels)[index_array]
        return None
