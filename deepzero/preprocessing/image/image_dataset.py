"""``image_dataset_from_directory``: Keras 3's image dataset (the second
edition's chapter 8), read by the image iterators' machinery.

    train = image_dataset_from_directory('cats_vs_dogs_small/train',
                                         image_size=(180, 180), batch_size=32)
    train.class_names             # ['cats', 'dogs']
    for images, labels in train:  # one pass: (32, 180, 180, 3) float32, (32,) int32
        ...
    model.fit(train, epochs=30, validation_data=validation)

What is Keras's: the arguments and their meanings, the class order (sorted
sub-folders), the file order (sorted paths; with ``shuffle`` the list is
shuffled once by ``np.random.RandomState(seed)`` as Keras does, so
``file_paths`` and the ``validation_split`` subsets are Keras's own for the
same seed), the accepted extensions (bmp, gif, jpeg, jpg, png), the resize
numerics (Keras 3's torch backend: ``kernels.image.resize``), the label
dtypes ('int' int32 (n,), 'binary' float32 (n, 1), 'categorical' float32
(n, K)), and the printed "Found N files belonging to K classes." (rank 0's
alone in data-parallel training).

What is deepzero's: the result is an ``ImageDataset``, not a
``tf.data.Dataset`` (see its docstring for what it offers); the per-pass
reshuffle is a full permutation (``Iterator``'s, seeded), not tf.data's
buffer of ``8 * batch_size``; files are listed by ``list_class_files``, so
hidden folders inside a class folder are skipped (Keras would read them).

Sharding (``shard=True``, data-parallel training on MPI, see
``deepzero.distributed``): what ``dataset.shard(hvd.size(), hvd.rank())``
does in a Horovod + tf.data script. The seed (given or drawn) is rank 0's,
broadcast before the files are shuffled, so every rank lists, splits and
orders the files alike; the batches are then ``Iterator``'s sharded ones:
each rank reads its part of every global batch of ``batch_size * size()``
files, the ranks' parts of a pass are disjoint and hold every file once,
and ``len(dataset)``, ceil(n / (batch_size * size())), is the same on every
rank (a short last global batch repeats a file where a rank would get
none). ``file_paths`` is still the whole list.
"""
import numbers
import os

import numpy as np

from ... import distributed
from ...core import Variable, runtime
from ...kernels import image as image_kernels
from .directory_iterator import list_class_files, list_class_folders
from .files_iterator import FilesIterator
from .utils import img_to_array, load_img

ALLOWED_FORMATS = ('bmp', 'gif', 'jpeg', 'jpg', 'png')
LABEL_MODES = ('int', 'categorical', 'binary', None)
_CHANNELS = {'grayscale': 1, 'rgb': 3, 'rgba': 4}


class _FileBatches(FilesIterator):
    """The batches of one dataset: files decoded by ``load_img``, resized by
    Keras 3's rule, labels as Keras makes them; order, seeding and
    background prefetch are ``Iterator``'s."""

    def __init__(self, filepaths, labels, label_mode, num_classes, image_size, color_mode,
                 interpolation, crop_to_aspect_ratio, pad_to_aspect_ratio, data_format,
                 batch_size, shuffle, seed, shard):
        self._set_processing_attrs(None, image_size, color_mode, 'sparse', data_format, None,
                                   '', 'png', 'nearest', False, 'float32', False)
        self.resize_interpolation = interpolation
        self.crop_to_aspect_ratio = crop_to_aspect_ratio
        self.pad_to_aspect_ratio = pad_to_aspect_ratio
        self.filepaths = filepaths
        self.classes = labels
        self.label_mode = label_mode
        self.num_classes = num_classes
        self.sample_weight = None
        super().__init__(len(filepaths), batch_size, shuffle, seed, shard=shard)

    def _load(self, path):
        image = img_to_array(load_img(path, color_mode=self.color_mode))
        image = image_kernels.resize(image[np.newaxis], self.target_size,
                                     self.resize_interpolation,
                                     crop_to_aspect_ratio=self.crop_to_aspect_ratio,
                                     pad_to_aspect_ratio=self.pad_to_aspect_ratio)[0]
        return image.transpose(2, 0, 1) if self.data_format == 'channels_first' else image

    def _labels_for(self, batch_x, index_array):
        if self.label_mode is None:
            return None
        labels = np.asarray(self.classes)[index_array]
        if self.label_mode == 'int':
            return labels.astype(np.int32)
        if self.label_mode == 'binary':
            return labels.astype(np.float32)[:, np.newaxis]
        return np.eye(self.num_classes, dtype=np.float32)[labels]


class ImageDataset:
    """Batches of ``(images, labels)`` (or images alone with
    ``label_mode=None``) as NumPy arrays, images float32.

    Offers what Keras programs use of a ``tf.data.Dataset`` here:
    ``for batch in ds`` (one pass; each new ``iter`` starts a new pass,
    reshuffled when ``shuffle``), ``len(ds)`` (batches per pass),
    ``ds.take(n)``, ``ds.map(fn)`` (``fn(images, labels)`` on each element;
    Variables it returns become arrays), ``ds.prefetch(n)`` (batches kept in
    flight; ``-1``, tf.data's AUTOTUNE, keeps the current depth),
    ``class_names``, ``file_paths``; and ``fit`` / ``evaluate`` / ``predict``
    take it like any dataset. Not offered: ``batch``, ``unbatch``, ``shuffle``,
    ``repeat``, ``cache``, ``filter``, ``zip``, ``shard`` (made sharded
    instead: ``image_dataset_from_directory(..., shard=True)``),
    ``element_spec`` and the rest of tf.data. ``take``/``map`` return views that share the file
    reader (and so its pass counter) with the dataset they came from.
    Batches are decoded in background threads (the ``Iterator`` prefetch);
    ``close()`` stops them.
    """

    def __init__(self, batches, class_names, file_paths, batched, transforms=(), limit=None):
        self._batches = batches
        self.class_names = class_names
        self.file_paths = file_paths
        self._batched = batched
        self._transforms = tuple(transforms)
        self._limit = limit

    def __len__(self):
        size = len(self._batches)
        return size if self._limit is None else min(size, self._limit)

    def __iter__(self):
        batches = self._batches
        if batches.batch_index != 0:  # a pass left unfinished: start a new one
            batches.on_epoch_end()
        for _ in range(len(self)):
            element = next(batches)
            if not self._batched:
                element = (tuple(part[0] for part in element) if isinstance(element, tuple)
                           else element[0])
            for transform in self._transforms:
                element = _as_arrays(transform(*element) if isinstance(element, tuple)
                                     else transform(element))
            yield element

    def _view(self, transforms=None, limit=None):
        return ImageDataset(self._batches, self.class_names, self.file_paths, self._batched,
                            self._transforms + tuple(transforms or ()),
                            self._limit if limit is None else limit)

    def take(self, count):
        """The first ``count`` elements of each pass (-1: all)."""
        if count < 0:
            return self._view()
        return self._view(limit=count if self._limit is None else min(count, self._limit))

    def map(self, fn):
        """Apply ``fn`` to every element (``fn(images, labels)`` for pairs)."""
        return self._view(transforms=(fn,))

    def prefetch(self, buffer_size):
        """Keep ``buffer_size`` batches in flight (``-1``: leave it as is)."""
        if buffer_size > 0:
            self._batches.max_queue_size = int(buffer_size)
        return self

    def close(self):
        self._batches.close()

    def __repr__(self):
        return (f'<ImageDataset: {len(self)} batches of {self._batches.image_shape}, '
                f'classes {self.class_names}>')


def _as_arrays(element):
    if isinstance(element, Variable):
        return element.data
    if isinstance(element, (tuple, list)):
        return tuple(_as_arrays(part) for part in element)
    return element


def _list_files(directory, labels, class_names, follow_links):
    """(file paths, int labels or None, class names) in Keras's order."""
    top = os.path.realpath(directory)
    if isinstance(labels, str):  # 'inferred'
        folders = list_class_folders(directory)
        if class_names is not None:
            if not set(class_names) <= set(folders):
                raise ValueError(f'image_dataset_from_directory: class_names {class_names} do '
                                 f'not all name sub-folders of {directory!r}: {folders}')
            folders = list(class_names)
        class_dirs = [os.path.join(directory, name) for name in folders]
        class_folders = [os.path.realpath(path) for path in class_dirs]
        visited = {top, *class_folders}
        paths, label_list = [], []
        for index, (name, class_dir) in enumerate(zip(folders, class_dirs)):
            files = list_class_files(class_dir, ALLOWED_FORMATS, follow_links, top,
                                     class_folders, visited)
            paths += [os.path.join(directory, name, f) for f in files]
            label_list += [index] * len(files)
        return paths, np.asarray(label_list, dtype=np.int32), folders
    if class_names is not None:
        raise ValueError("image_dataset_from_directory: class_names needs labels='inferred'")
    files = list_class_files(directory, ALLOWED_FORMATS, follow_links, top, [], {top})
    paths = [os.path.join(directory, f) for f in files]
    if labels is None:
        return paths, None, None
    if len(labels) != len(paths):
        raise ValueError(f'image_dataset_from_directory: labels has {len(labels)} labels but '
                         f'{directory!r} holds {len(paths)} image files (one label per file, '
                         f'in sorted path order)')
    return paths, labels.astype(np.int32), [str(label) for label in sorted(set(labels.tolist()))]


def _explicit_labels(labels, label_mode):
    """``labels`` (a list, tuple or array of ints) as a 1-D int array; else a
    ValueError. Keras documents integer labels (float ones it passes on
    unconverted, to fail in one-hot encoding), so anything else is refused
    here, as are negative labels. The classes are the distinct labels; with
    'categorical' and 'binary', which encode a label as a class index, every
    label must be below their count. 'int' passes labels on as Keras does
    (labels [7, 3]: classes ['3', '7'], labels 7 and 3)."""
    array = np.asarray(labels)
    if array.size == 0:
        return array.reshape(0).astype(np.int64)
    if array.ndim != 1 or array.dtype.kind not in 'iu':
        raise ValueError(f'image_dataset_from_directory: labels must be a flat list/tuple of '
                         f'integer labels, one per image file; got {array.dtype} labels of '
                         f'shape {array.shape}')
    classes = np.unique(array)
    if classes[0] < 0:
        raise ValueError(f'image_dataset_from_directory: labels must be non-negative ints, '
                         f'got {classes[0]}')
    if label_mode != 'int' and classes[-1] >= len(classes):
        raise ValueError(f'image_dataset_from_directory: with label_mode={label_mode!r}, labels '
                         f'must be class indices, from 0 to the class count - 1 (the classes '
                         f'are the {len(classes)} distinct labels {classes.tolist()}), '
                         f'got {classes[-1]}')
    return array


def _split(paths, labels, validation_split, subset):
    """Keras's split: the LAST int(split * n) files are the validation subset.
    A subset left with no file is a ValueError saying so."""
    if not validation_split:
        return paths, labels
    count = int(validation_split * len(paths))
    if subset == 'training':
        keep = slice(0, len(paths) - count)
    else:
        keep = slice(len(paths) - count, len(paths))
    if paths and keep.start == keep.stop:
        raise ValueError(f'image_dataset_from_directory: validation_split={validation_split} '
                         f'leaves no file for {subset}: int({validation_split} * {len(paths)} '
                         f'files) = {count} for validation')
    if distributed.is_rank_zero():   # once per job
        print(f'Using {keep.stop - keep.start} files for {subset}.')
    return paths[keep], None if labels is None else labels[keep]


def _checked_image_size(image_size):
    """(height, width) of positive ints from an int or a pair; else ValueError."""
    if isinstance(image_size, numbers.Integral):
        image_size = (image_size, image_size)
    if (not isinstance(image_size, (list, tuple)) or len(image_size) != 2
            or not all(isinstance(side, numbers.Integral) and not isinstance(side, bool)
                       and side > 0 for side in image_size)):
        raise ValueError(f'image_dataset_from_directory: image_size must be a tuple of 2 '
                         f'positive ints (height, width) or one int, got {image_size!r}')
    return tuple(int(side) for side in image_size)


def image_dataset_from_directory(directory, labels='inferred', label_mode='int',
                                 class_names=None, color_mode='rgb', batch_size=32,
                                 image_size=(256, 256), shuffle=True, seed=None,
                                 validation_split=None, subset=None, interpolation='bilinear',
                                 follow_links=False, crop_to_aspect_ratio=False,
                                 pad_to_aspect_ratio=False, data_format=None, verbose=True,
                                 shard=False):
    """An ``ImageDataset`` of the images under ``directory`` (Keras 3's function).

    Args:
        directory: with ``labels='inferred'``, one sub-folder per class
            (``directory/<class>/<images>``, searched recursively).
        labels: 'inferred' (from the sub-folders, sorted), None (no labels:
            every image under ``directory``), or a list/tuple of int labels,
            one per file in sorted path order, non-negative; the classes are
            the distinct labels, and with 'categorical' or 'binary' every
            label must be below their count.
        label_mode: 'int' (int32 (n,)), 'categorical' (one-hot float32),
            'binary' (float32 (n, 1); exactly 2 classes) or None (images only).
        class_names: with 'inferred', the sub-folders to use, in this order.
        color_mode: 'rgb' (3 channels), 'rgba' (4) or 'grayscale' (1).
        batch_size: images per batch, an int >= 1 (default 32); None yields
            single images.
        image_size: (height, width), positive ints, every image is resized to
            (default 256x256; an int n means (n, n)).
        shuffle: shuffle the files (once, Keras's way) and every pass.
        seed: int for the shuffles; required with validation_split and shuffle.
        validation_split: fraction in (0, 1) held out (the last
            int(split * n) files); with subset 'training', 'validation' or
            'both' (a [training, validation] list). A split that leaves a
            subset no file is a ValueError.
        interpolation: 'bilinear' (default), 'nearest' or 'bicubic'.
        follow_links: enter linked sub-folders.
        crop_to_aspect_ratio / pad_to_aspect_ratio: keep the aspect ratio by
            cropping the centre / padding with zeros before resizing.
        data_format: 'channels_last' (default) or 'channels_first'.
        verbose: print how many files and classes were found (on rank 0
            alone in data-parallel training).
        shard: give this rank its part of every pass (see the module
            docstring); with ``subset='both'`` the training dataset alone
            (as ``fit`` leaves validation data whole). False (default): every
            file on every rank. With True, every rank calls this at the same
            point (it broadcasts the seed).
    """
    directory = os.fspath(directory)
    # a bool or TypeError; True joins the world first, so that rank 0 alone prints
    distributed.shard_count_and_index(shard, 'image_dataset_from_directory')
    if not os.path.isdir(directory):
        raise FileNotFoundError(f'image_dataset_from_directory: {directory!r} is not a folder')
    if not (isinstance(labels, (list, tuple, np.ndarray)) or labels in ('inferred', None)):
        raise ValueError("image_dataset_from_directory: labels must be 'inferred', None or a "
                         f"list of ints, got {labels!r}")
    if label_mode not in LABEL_MODES:
        raise ValueError(f'image_dataset_from_directory: label_mode must be one of '
                         f'{LABEL_MODES}, got {label_mode!r}')
    if labels is None or label_mode is None:  # Keras: then every file, no classes
        labels = label_mode = None
    elif not isinstance(labels, str):  # not 'inferred'
        labels = _explicit_labels(labels, label_mode)
    if batch_size is not None and (isinstance(batch_size, bool)
                                   or not isinstance(batch_size, numbers.Integral)
                                   or batch_size < 1):
        raise ValueError(f'image_dataset_from_directory: batch_size must be an int >= 1 or '
                         f'None (single images), got {batch_size!r}')
    image_size = _checked_image_size(image_size)
    if color_mode not in _CHANNELS:
        raise ValueError(f'image_dataset_from_directory: color_mode must be one of '
                         f'{tuple(_CHANNELS)}, got {color_mode!r}')
    if interpolation not in image_kernels.RESIZE_INTERPOLATIONS:
        raise ValueError(f'image_dataset_from_directory: interpolation must be one of '
                         f'{image_kernels.RESIZE_INTERPOLATIONS} (what Keras offers on the '
                         f'torch backend), got {interpolation!r}')
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ValueError('image_dataset_from_directory: only one of crop_to_aspect_ratio and '
                         'pad_to_aspect_ratio can be True')
    if validation_split and not 0 < validation_split < 1:
        raise ValueError(f'image_dataset_from_directory: validation_split must be between 0 '
                         f'and 1, got {validation_split}')
    if bool(validation_split) != bool(subset):
        raise ValueError('image_dataset_from_directory: subset needs validation_split, and '
                         'inversely')
    if subset not in ('training', 'validation', 'both', None):
        raise ValueError(f'image_dataset_from_directory: subset must be "training", '
                         f'"validation" or "both", got {subset!r}')
    if validation_split and shuffle and seed is None:
        raise ValueError('image_dataset_from_directory: with validation_split and shuffle, '
                         'give a seed, so that the training and validation subsets do not '
                         'overlap')
    if seed is None:
        seed = int(runtime.generator('images').integers(1_000_000))
    if shard:   # one list, split and order of the files on every rank: rank 0's
        seed = distributed.broadcast(np.int64(seed), 0).item()

    paths, int_labels, names = _list_files(directory, labels, class_names, follow_links)
    if verbose and distributed.is_rank_zero():   # once per job
        print(f'Found {len(paths)} files.' if int_labels is None else
              f'Found {len(paths)} files belonging to {len(names)} classes.')
    if label_mode == 'binary' and len(names) != 2:
        raise ValueError(f'image_dataset_from_directory: label_mode="binary" needs exactly 2 '
                         f'classes, got {len(names)}: {names}')
    if shuffle:  # Keras's one-off shuffle of the list: the same order for the same seed
        np.random.RandomState(seed).shuffle(paths)
        if int_labels is not None:
            np.random.RandomState(seed).shuffle(int_labels)

    def dataset(subset_name, reshuffle, sharded):
        subset_paths, subset_labels = _split(paths, int_labels, validation_split, subset_name)
        if not subset_paths:
            raise ValueError(f'image_dataset_from_directory: no images found in {directory!r}'
                             f'{f" for {subset_name}" if subset_name else ""} (accepted '
                             f'extensions: {", ".join(ALLOWED_FORMATS)})')
        batches = _FileBatches(subset_paths, subset_labels, label_mode,
                               len(names) if names else 0, image_size, color_mode,
                               interpolation, crop_to_aspect_ratio, pad_to_aspect_ratio,
                               data_format, 1 if batch_size is None else batch_size,
                               reshuffle, seed, sharded)
        return ImageDataset(batches, names, subset_paths, batch_size is not None)

    if subset == 'both':
        return [dataset('training', shuffle, shard), dataset('validation', False, False)]
    return dataset(subset, shuffle, shard)
