"""``DirectoryIterator``: batches from ``directory/<class>/...images`` (what
``ImageDataGenerator.flow_from_directory`` returns)."""
import os
import warnings

import numpy as np

from ... import distributed
from .files_iterator import FilesIterator, find_unreadable, warn_unreadable


def is_hidden(name):
    """Hidden entries ('.ipynb_checkpoints', '.git', ...) are never classes or
    class content: a tool made them, not the person who sorted the images."""
    return name.startswith('.')


def list_class_folders(directory):
    """The class names of ``directory``: its visible sub-folders, sorted."""
    return [name for name in sorted(os.listdir(directory))
            if not is_hidden(name) and os.path.isdir(os.path.join(directory, name))]


def list_class_files(class_dir, extensions, follow_links, top, class_folders, visited):
    """Image files under ``class_dir`` (recursively, hidden folders left out),
    as paths relative to it: folders in sorted order, then file names sorted;
    extensions case-insensitive.

    With ``follow_links``, each real folder is listed once, under the class
    whose folder really holds it: a linked folder is not entered when its real
    path lies inside one of ``class_folders`` (their real paths: its images
    are listed there), or contains ``top`` (the directory's real path: a
    loop), or was entered already (``visited``, real paths, updated in place).
    """
    suffixes = tuple('.' + e for e in extensions)
    found = []
    for root, folders, files in os.walk(class_dir, followlinks=follow_links):
        kept = []
        for name in sorted(folders):
            path = os.path.join(root, name)
            real = os.path.realpath(path)
            if is_hidden(name) or real in visited or (os.path.islink(path) and (
                    _inside(top, real) or any(_inside(real, folder) for folder in class_folders))):
                continue
            visited.add(real)
            kept.append(name)
        folders[:] = kept
        found.append((root, [name for name in files if name.lower().endswith(suffixes)]))
    return [os.path.relpath(os.path.join(root, name), class_dir)
            for root, files in sorted(found, key=lambda entry: entry[0])
            for name in sorted(files)]


def _inside(path, folder):
    """Whether real path ``path`` is ``folder`` or lies below it."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


class DirectoryIterator(FilesIterator):
    """Iterate over the images of ``directory``, one sub-folder per class.

    Classes are the sorted sub-folders (or ``classes``), so 'cats' -> 0,
    'dogs' -> 1; hidden folders ('.ipynb_checkpoints') are left out, as
    classes and inside them; files are found recursively (extensions png, jpg, jpeg, bmp,
    ppm, tif, tiff, any case); prints ``Found N images belonging to K classes.``

    Attributes: ``class_indices`` (name -> index), ``filenames`` (paths relative
    to ``directory``, grouped by class), ``filepaths``, ``classes`` (int32 label
    per file), ``labels`` (the same), ``samples``, ``num_classes``, ``image_shape``.

    ``class_mode``: 'categorical' (one-hot), 'binary' / 'sparse' (class index as
    ``dtype``; 'binary' needs exactly 2 classes), 'input' (the images again)
    or None (images only). ``follow_links``: enter linked folders, each real
    folder once (see ``list_class_files``). ``subset``
    with the generator's ``validation_split``: per class, the first
    ``int(split * n)`` files are 'validation', the rest 'training'.
    ``skip_unreadable``: see ``FilesIterator``. See ``Iterator`` for ``seed``,
    ``workers`` and ``max_queue_size``.
    """

    def __init__(self, directory, image_data_generator, target_size=(256, 256), color_mode='rgb',
                 classes=None, class_mode='categorical', batch_size=32, shuffle=True, seed=None,
                 data_format=None, save_to_dir=None, save_prefix='', save_format='png',
                 follow_links=False, subset=None, interpolation='nearest',
                 keep_aspect_ratio=False, dtype=None, skip_unreadable=False, workers=None,
                 max_queue_size=10, shard=False):
        self._set_processing_attrs(image_data_generator, target_size, color_mode, class_mode,
                                   data_format, save_to_dir, save_prefix, save_format,
                                   interpolation, keep_aspect_ratio, dtype, skip_unreadable)
        directory = os.fspath(directory)
        if not os.path.isdir(directory):
            raise FileNotFoundError(f'flow_from_directory: directory {directory!r} does not exist'
                                    if not os.path.exists(directory) else
                                    f'flow_from_directory: {directory!r} is not a directory')
        self.directory = directory
        if not classes:
            classes = list_class_folders(directory)
        if not classes:
            raise ValueError(f'flow_from_directory: {directory!r} has no class sub-folders; '
                             'expected directory/<class name>/<images>')
        self._check_binary_classes(classes, f'flow_from_directory({directory!r})')
        self.num_classes = len(classes)
        self.class_indices = {name: index for index, name in enumerate(classes)}

        split = self._validation_range(subset)
        self.subset = subset
        class_dirs = [os.path.join(directory, name) for name in classes]
        for class_dir in class_dirs:
            if not os.path.isdir(class_dir):
                raise FileNotFoundError(f'flow_from_directory: class folder {class_dir!r} '
                                        'does not exist')
        top = os.path.realpath(directory)
        class_folders = [os.path.realpath(path) for path in class_dirs]
        visited = {top, *class_folders}
        filenames, labels = [], []
        for name, class_dir in zip(classes, class_dirs):
            files = list_class_files(class_dir, self.white_list_formats, follow_links, top,
                                     class_folders, visited)
            if not files:
                warnings.warn(f'flow_from_directory: class {name!r} ({class_dir}) has no images',
                              stacklevel=3)
            if split is not None:
                files = files[int(split[0] * len(files)):int(split[1] * len(files))]
            filenames += [os.path.join(name, f) for f in files]
            labels += [self.class_indices[name]] * len(files)
        if any(f.lower().endswith('.tiff') for f in filenames):
            warnings.warn('Using ".tiff" files with multiple bands will cause distortion. '
                          'Please verify your output.', stacklevel=3)
        filepaths = [os.path.join(directory, f) for f in filenames]
        if skip_unreadable and filepaths:
            unreadable = find_unreadable(filepaths, workers or 1)
            if unreadable:
                warn_unreadable(unreadable)
                keep = [i for i, path in enumerate(filepaths) if path not in unreadable]
                filenames = [filenames[i] for i in keep]
                filepaths = [filepaths[i] for i in keep]
                labels = [labels[i] for i in keep]
        self.filenames = filenames
        self.filepaths = filepaths
        self.classes = np.asarray(labels, dtype=np.int32)
        self.sample_weight = None
        if distributed.is_rank_zero():   # once per job
            print(f'Found {len(filenames)} images belonging to {self.num_classes} classes.')
        if not filenames:
            raise ValueError(f'flow_from_directory: no images found under {directory!r} '
                             f'(accepted extensions: {", ".join(self.white_list_formats)})')
        super().__init__(len(filenames), batch_size, shuffle, seed, workers, max_queue_size,
                         shard)

    @property
    def labels(self):
        return self.classes
