"""Fast feature extraction with an on-disk cache (section 5.3.1 of the book).

``extract_features(model, iterator)`` runs a frozen conv base once over every
batch of a data iterator (``flow_from_directory`` / ``flow``) with
``predict``'s progress bar, and returns ``(features, labels)``. With
``cache_dir`` the result is stored as ``<cache_dir>/<key>.npz`` and a later
call with the same key loads it instead of running the model.

The key is the SHA-256 of everything the features depend on:

- the model: its layers in order (classes and configs, names aside: automatic
  names such as 'input_layer_3' differ between two builds of one model) and
  every weight (shape, dtype and bytes);
- the images: the files' paths, sizes and modification times (or, for
  ``flow(x)``, the bytes of ``x``);
- how they are read: target size, colour mode, interpolation, aspect
  handling, data format, dtype, class mode and class indices, batch size,
  order (shuffle, seed) and number of steps;
- the ImageDataGenerator's preprocessing: ``rescale``, centring and
  normalisation flags and statistics, ZCA, and ``preprocessing_function``
  (by module, name and code).

Augmenting iterators are refused: their features differ at every pass, and a
cache would freeze one random draw. Files are written atomically (a complete
file or none) as plain ``.npz`` arrays, loaded with ``allow_pickle=False``.
"""
import hashlib
import json
import os
import warnings
import zipfile

import numpy as np

from ..core import cuda
from ..core.files import atomic_write

# ImageDataGenerator settings that draw random transforms, with their "off" values.
AUGMENTATION_OFF = {'rotation_range': 0, 'width_shift_range': 0.0, 'height_shift_range': 0.0,
                    'shear_range': 0.0, 'channel_shift_range': 0.0, 'horizontal_flip': False,
                    'vertical_flip': False, 'brightness_range': None, 'zoom_range': [1.0, 1.0]}
# Iterator attributes that decide which images are read and how.
READING_ATTRIBUTES = ('target_size', 'color_mode', 'interpolation', 'keep_aspect_ratio',
                      'data_format', 'dtype', 'class_mode', 'class_indices', 'batch_size',
                      'shuffle', 'seed', 'subset')
# ImageDataGenerator attributes that change the pixel values without randomness.
PREPROCESSING_ATTRIBUTES = ('rescale', 'preprocessing_function', 'samplewise_center',
                            'samplewise_std_normalization', 'featurewise_center',
                            'featurewise_std_normalization', 'mean', 'std', 'zca_whitening',
                            'zca_whitening_matrix', 'dtype', 'data_format')


def extract_features(model, iterator, steps=None, cache_dir=None, verbose='auto'):
    """Run ``model`` over ``steps`` batches of ``iterator`` from the start of a pass.

    Args:
        model: a model with one output (e.g. a conv base with
            ``include_top=False``).
        iterator: a Keras-style data iterator (``flow_from_directory``,
            ``flow``, ``flow_from_dataframe``) yielding ``x`` or ``(x, y)``.
        steps: batches to run (default ``len(iterator)``: each sample once).
        cache_dir: folder of cached features; None computes without a cache.
        verbose: ``predict``'s progress bar (0, 1, 2 or 'auto'); with a cache
            hit, one line saying where the features came from.

    Returns:
        ``(features, labels)``: the stacked model outputs and the stacked
        ``y`` of the batches (None when the iterator yields no labels).
    """
    steps = len(iterator) if steps is None else steps
    path = None
    if cache_dir is not None:
        path = os.path.join(os.fspath(cache_dir), feature_key(model, iterator, steps) + '.npz')
        cached = _load(path)
        if cached is not None:
            if verbose:
                print(f'features of {len(cached[0])} samples loaded from {path}')
            return cached
    features, labels = _predict_with_labels(model, iterator, steps, verbose)
    if path is not None:
        _save(path, features, labels)
    return features, labels


def feature_key(model, iterator, steps):
    """Hex SHA-256 naming the features of ``model`` on ``steps`` batches of
    ``iterator`` (see the module docstring for what it covers)."""
    generator = getattr(iterator, 'image_data_generator', None)
    if generator is not None:
        augmenting = augmentation_settings(generator)
        if augmenting:
            raise ValueError(f"extract_features: the iterator augments its images "
                             f"({', '.join(augmenting)}), so its features change at every "
                             "pass and cannot be cached; use an ImageDataGenerator without "
                             "augmentation (e.g. only rescale) or cache_dir=None")
    digest = hashlib.sha256()
    _update_model(digest, model)
    _update_images(digest, iterator)
    description = {
        'steps': steps,
        'reading': {name: _describe(getattr(iterator, name)) for name in READING_ATTRIBUTES
                    if hasattr(iterator, name)},
        'preprocessing': {name: _describe(getattr(generator, name))
                          for name in PREPROCESSING_ATTRIBUTES if hasattr(generator, name)},
    }
    digest.update(json.dumps(description, sort_keys=True).encode())
    return digest.hexdigest()


def augmentation_settings(generator):
    """Names of the random-transform settings of ``generator`` that are on."""
    return [name for name, off in AUGMENTATION_OFF.items()
            if hasattr(generator, name) and _is_on(getattr(generator, name), off)]


def _is_on(value, off):
    if value is None or off is None:
        return value is not off
    return not np.array_equal(np.asarray(value, dtype=float), np.asarray(off, dtype=float))


def _predict_with_labels(model, iterator, steps, verbose):
    """``model.predict`` over the batches, keeping each batch's ``y``."""
    labels = []
    if hasattr(iterator, 'reset'):
        iterator.reset()   # start at the first batch of the pass: each sample once

    def images():
        for _ in range(steps):
            batch = next(iterator)
            x, y = batch if isinstance(batch, (tuple, list)) else (batch, None)
            labels.append(y)
            yield x

    features = model.predict(images(), steps=steps, verbose=verbose)
    if isinstance(features, list):
        raise ValueError(f"extract_features: the model has {len(features)} outputs; "
                         "it needs a model with one output (e.g. a conv base)")
    if any(y is None for y in labels):
        return features, None
    return features, np.concatenate(labels)


def _update_model(digest, model):
    layers = [(type(layer).__name__, _config(layer)) for layer in getattr(model, 'layers', [])]
    digest.update(json.dumps([type(model).__name__, layers], sort_keys=True).encode())
    for weight in model.weights:
        data = np.ascontiguousarray(cuda.as_numpy(weight))
        digest.update(f'{data.shape}|{data.dtype}|'.encode())
        digest.update(data.tobytes())


def _config(layer):
    """The layer's config without its name, as JSON-able values."""
    try:
        config = dict(layer.get_config())
    except NotImplementedError:
        return None
    config.pop('name', None)
    return json.loads(json.dumps(config, default=repr))


def _update_images(digest, iterator):
    filepaths = getattr(iterator, 'filepaths', None)
    if filepaths is not None:
        for path in filepaths:
            stat = os.stat(path)
            digest.update(f'{os.path.abspath(path)}|{stat.st_size}|{stat.st_mtime_ns}\n'
                          .encode())
        return
    x = getattr(iterator, 'x', None)
    if x is None:
        raise TypeError(f"extract_features: cannot name the images of a "
                        f"{type(iterator).__name__} for the cache (it has neither "
                        "`filepaths` nor `x`); pass cache_dir=None")
    for array in (x if isinstance(x, (list, tuple)) else [x]):
        digest.update(_describe_array(np.asarray(array)).encode())


def _describe(value):
    """A JSON-able description of a setting; arrays and functions by content."""
    if isinstance(value, np.ndarray):
        return _describe_array(value)
    if callable(value):
        code = getattr(value, '__code__', None)
        body = '' if code is None else hashlib.sha256(
            code.co_code + repr(code.co_consts).encode()).hexdigest()
        return f'{getattr(value, "__module__", "")}.{getattr(value, "__qualname__", value)}' \
               f'|{body}'
    if isinstance(value, (tuple, list)):
        return [_describe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _describe(v) for k, v in value.items()}
    if isinstance(value, (np.generic, float, int, str, bool)) or value is None:
        return value.item() if isinstance(value, np.generic) else value
    return repr(value)


def _describe_array(array):
    data = np.ascontiguousarray(array)
    return f'{data.shape}|{data.dtype}|{hashlib.sha256(data.tobytes()).hexdigest()}'


def _save(path, features, labels):
    arrays = {'features': features}
    if labels is not None:
        arrays['labels'] = labels
    with atomic_write(path) as tmp_path, open(tmp_path, 'wb') as f:
        np.savez(f, **arrays)


def _load(path):
    """(features, labels) from a cache file, or None when absent or unreadable."""
    if not os.path.isfile(path):
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            return data['features'], (data['labels'] if 'labels' in data.files else None)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        warnings.warn(f"extract_features: ignoring the unreadable cache file {path} "
                      f"({error}); computing the features again")
        return None
