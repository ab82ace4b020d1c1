"""``NumpyArrayIterator``: batches of augmented images from in-memory arrays
(what ``ImageDataGenerator.flow`` returns)."""
import warnings

import numpy as np

from .iterator import Iterator, save_batch_images
from .utils import _check_data_format


class NumpyArrayIterator(Iterator):
    """Iterate over ``x`` (rank 4) with labels ``y``, augmented by an
    ``ImageDataGenerator``.

    ``x`` may be a tuple ``(images, extra)`` where ``extra`` is an array or a list
    of arrays of the same length, passed through untouched. Batches are
    ``x_batch``, ``(x_batch, y_batch)`` or ``(x_batch, y_batch, weights)``; with
    extras, ``x_batch`` is the list ``[images, *extras]``. ``subset`` takes the
    first ``int(len(x) * validation_split)`` samples for 'validation' and the rest
    for 'training'. See ``Iterator`` for ``seed``, ``workers``, ``max_queue_size``.
    """

    def __init__(self, x, y, image_data_generator, batch_size=32, shuffle=False,
                 sample_weight=None, seed=None, data_format=None, save_to_dir=None,
                 save_prefix='', save_format='png', subset=None, ignore_class_split=False,
                 dtype=None, workers=None, max_queue_size=10,
                 shard=False):
        self.dtype = np.dtype('float32' if dtype is None else dtype).name
        self.data_format = _check_data_format(data_format)
        x_misc = []
        if isinstance(x, (tuple, list)):
            extras = x[1] if isinstance(x[1], list) else [x[1]]
            x_misc = [np.asarray(extra) for extra in extras]
            x = x[0]
            for extra in x_misc:
                if len(extra) != len(x):
                    raise ValueError('All of the arrays in `x` should have the same length. '
                                     f'Found a pair with: len(x[0]) = {len(x)}, '
                                     f'len(x[?]) = {len(extra)}')
        if y is not None and len(x) != len(y):
            raise ValueError('`x` (images tensor) and `y` (labels) should have the same length. '
                             f'Found: x.shape = {np.shape(x)}, y.shape = {np.shape(y)}')
        if sample_weight is not None and len(x) != len(sample_weight):
            raise ValueError('`x` (images tensor) and `sample_weight` should have the same '
                             f'length. Found: x.shape = {np.shape(x)}, '
                             f'sample_weight.shape = {np.shape(sample_weight)}')
        if subset is not None:
            x, y, sample_weight, x_misc = self._split(
                subset, x, y, sample_weight, x_misc, image_data_generator, ignore_class_split)
        self.x = np.asarray(x, dtype=self.dtype)
        if self.x.ndim != 4:
            raise ValueError('Input data in `NumpyArrayIterator` should have rank 4. '
                             f'You passed an array with shape {self.x.shape}')
        channel_axis = 3 if self.data_format == 'channels_last' else 1
        if self.x.shape[channel_axis] not in (1, 3, 4):
            warnings.warn(f'NumpyArrayIterator expects 1, 3 or 4 channels on axis {channel_axis} '
                          f'({self.data_format}); got an array of shape {self.x.shape}.')
        self.x_misc = x_misc
        self.y = None if y is None else np.asarray(y)
        self.sample_weight = None if sample_weight is None else np.asarray(sample_weight)
        self.image_data_generator = image_data_generator
        self.save_to_dir = save_to_dir
        self.save_prefix = save_prefix
        self.save_format = save_format
        super().__init__(len(self.x), batch_size, shuffle, seed, workers, max_queue_size,
                         shard)

    @staticmethod
    def _split(subset, x, y, sample_weight, x_misc, generator, ignore_class_split):
        if subset not in ('training', 'validation'):
            raise ValueError(f'Invalid subset name: {subset!r}; expected "training" or '
                             '"validation".')
        split = generator._validation_split if generator is not None else 0
        if not split:
            raise ValueError('subset needs an ImageDataGenerator with validation_split set')
        split_index = int(len(x) * split)
        if (y is not None and not ignore_class_split
                and not np.array_equal(np.unique(y[:split_index]), np.unique(y[split_index:]))):
            raise ValueError('Training and validation subsets have different number of classes '
                             'after the split. If your numpy arrays are sorted by the label, '
                             'you might want to shuffle them.')
        part = slice(None, split_index) if subset == 'validation' else slice(split_index, None)
        return (x[part], None if y is None else y[part],
                None if sample_weight is None else sample_weight[part],
                [extra[part] for extra in x_misc])

    def _get_batches_of_transformed_samples(self, index_array, rng):
        batch_x = np.empty((len(index_array),) + self.x.shape[1:], dtype=self.dtype)
        generator = self.image_data_generator
        for slot, sample in zip(batch_x, index_array):
            image = self.x[sample]
            if generator is None:
                slot[...] = image
            else:
                generator.apply_transform(image, generator.get_random_transform(image.shape, rng),
                                          out=slot)
        if generator is not None:
            batch_x = generator.standardize(batch_x)
        if self.save_to_dir:
            save_batch_images(batch_x, index_array, self.data_format, self.save_to_dir,
                              self.save_prefix, self.save_format, rng, 10**4)
        inputs = [batch_x] + [extra[index_array] for extra in self.x_misc] if self.x_misc \
            else batch_x
        if self.y is None:
            return inputs
        if self.sample_weight is None:
            return inputs, self.y[index_array]
        return inputs, self.y[index_array], self.sample_weight[index_array]
