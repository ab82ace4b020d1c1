"""``DataFrameIterator``: batches from a pandas DataFrame of image file names
(what ``ImageDataGenerator.flow_from_dataframe`` returns). pandas is only
needed by the caller, who passes the frame in; it is never imported here."""
import os
import warnings

import numpy as np

from ... import distributed
from .files_iterator import FilesIterator, find_unreadable, warn_unreadable


class DataFrameIterator(FilesIterator):
    """Iterate over the files named in ``dataframe[x_col]``.

    Args (beyond ``DirectoryIterator``'s):
        directory: folder the names are relative to (None: they are paths).
        x_col: column of file names. y_col: column of labels (a list of
            columns for 'multi_output').
        weight_col: column of sample weights, or None.
        class_mode: 'categorical' (labels are strings, or lists of strings for
            multi-label), 'binary' (exactly 2 classes), 'sparse', 'raw' (the
            y_col values as they are), 'multi_output' (one array per y_col),
            'input' or None.
        classes: class names to keep (default: all labels, sorted).
        validate_filenames: drop rows whose file is missing or has another
            extension, with a warning.
    Prints ``Found N validated image filenames belonging to K classes.`` (or
    ``... filenames.`` when the mode has no classes; ``non-validated`` when not
    validated). ``subset`` takes the first / last rows of the frame.
    """
    allowed_class_modes = ('binary', 'categorical', 'input', 'multi_output', 'raw', 'sparse',
                           None)

    def __init__(self, dataframe, directory=None, image_data_generator=None, x_col='filename',
                 y_col='class', weight_col=None, target_size=(256, 256), color_mode='rgb',
                 classes=None, class_mode='categorical', batch_size=32, shuffle=True, seed=None,
                 data_format=None, save_to_dir=None, save_prefix='', save_format='png',
                 subset=None, interpolation='nearest', keep_aspect_ratio=False, dtype=None,
                 validate_filenames=True, skip_unreadable=False, workers=None,
                 max_queue_size=10, shard=False):
        self._set_processing_attrs(image_data_generator, target_size, color_mode, class_mode,
                                   data_format, save_to_dir, save_prefix, save_format,
                                   interpolation, keep_aspect_ratio, dtype, skip_unreadable)
        self.directory = None if directory is None else os.fspath(directory)
        self.x_col, self.y_col, self.weight_col = x_col, y_col, weight_col
        frame = dataframe.copy()
        if x_col not in frame.columns:
            raise KeyError(f'flow_from_dataframe: x_col {x_col!r} is not a column of the frame')
        y_cols = list(y_col) if class_mode == 'multi_output' else [y_col]
        if class_mode not in ('input', None):
            for column in y_cols:
                if column not in frame.columns:
                    raise KeyError(f'flow_from_dataframe: y_col {column!r} is not a column')
        if class_mode in ('binary', 'categorical', 'sparse'):
            frame = self._keep_classes(frame, classes)
        split = self._validation_range(subset)
        if split is not None:
            frame = frame.iloc[int(split[0] * len(frame)):int(split[1] * len(frame))]
        paths = [self._path(name) for name in frame[x_col]]
        if validate_filenames:
            valid = [isinstance(p, str) and os.path.isfile(p)
                     and p.lower().endswith(tuple('.' + e for e in self.white_list_formats))
                     for p in paths]
            if not all(valid):
                warnings.warn(f'Found {valid.count(False)} invalid image filename(s) in '
                              f'x_col="{x_col}". These filename(s) will be ignored.',
                              stacklevel=3)
                frame = frame[np.asarray(valid)]
                paths = [p for p, ok in zip(paths, valid) if ok]
        if skip_unreadable and paths:
            unreadable = find_unreadable(paths, workers or 1)
            if unreadable:
                warn_unreadable(unreadable)
                keep = np.asarray([p not in unreadable for p in paths])
                frame = frame[keep]
                paths = [p for p in paths if p not in unreadable]
        self.filenames = [str(name) for name in frame[x_col]]
        self.filepaths = paths
        self._set_labels(frame, classes, y_cols)
        self.sample_weight = (None if weight_col is None
                              else np.asarray(frame[weight_col].values, dtype=self.dtype))
        validated = 'validated' if validate_filenames else 'non-validated'
        if distributed.is_rank_zero():   # once per job
            classes_found = (f' belonging to {len(self.class_indices)} classes'
                             if class_mode in ('binary', 'categorical', 'sparse') else '')
            print(f'Found {len(paths)} {validated} image filenames{classes_found}.')
        super().__init__(len(paths), batch_size, shuffle, seed, workers, max_queue_size,
                         shard)

    def _path(self, name):
        return name if self.directory is None else os.path.join(self.directory, str(name))

    def _keep_classes(self, frame, classes):
        """Rows whose label (or every label, for lists) is one of ``classes``."""
        if not classes:
            return frame
        wanted = set(classes)

        def keep(label):
            labels = label if isinstance(label, (list, tuple)) else [label]
            return all(str(item) in wanted for item in labels)
        return frame[frame[self.y_col].map(keep)]

    def _set_labels(self, frame, classes, y_cols):
        self.class_indices = {}
        self.classes = None
        self.labels = None
        mode = self.class_mode
        if mode == 'raw':
            self.labels = frame[self.y_col].values
        elif mode == 'multi_output':
            self.labels = [frame[column].values for column in y_cols]
        elif mode in ('binary', 'categorical', 'sparse'):
            values = list(frame[self.y_col])
            if not classes:
                flat = set()
                for label in values:
                    flat.update(map(str, label) if isinstance(label, (list, tuple))
                                else [str(label)])
                classes = sorted(flat)
            self._check_binary_classes(classes, 'flow_from_dataframe')
            self.class_indices = {name: index for index, name in enumerate(classes)}
            self.classes = [[self.class_indices[str(item)] for item in label]
                            if isinstance(label, (list, tuple))
                            else self.class_indices[str(label)] for label in values]
            if all(isinstance(c, int) for c in self.classes):
                self.classes = np.asarray(self.classes, dtype=np.int32)
            self.labels = self.classes
        self.num_classes = len(self.class_indices)
