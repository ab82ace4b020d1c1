"""Finding and reading the files Keras's dataset loaders cache.

Keras keeps them in ``$KERAS_HOME/datasets`` (``KERAS_HOME`` unset:
``~/.keras/datasets``, or ``/tmp/.keras/datasets`` when the home folder is
not writable), under the names its ``get_file`` uses. Downloading is not
possible here, so ``cached_path`` only looks; the error it raises says what
to fetch and where to put it.
"""
import io
import os
import pickle
import zipfile

import numpy as np

TF_KERAS_DATASETS = 'https://storage.googleapis.com/tensorflow/tf-keras-datasets/'
# What np.load may rebuild from a pickled array (imdb's and reuters' ragged
# sequences are object arrays); anything else in a file is refused.
_ALLOWED_PICKLE_GLOBALS = frozenset({('numpy', 'ndarray'), ('numpy', 'dtype'),
                                     ('numpy.core.multiarray', '_reconstruct'),
                                     ('numpy._core.multiarray', '_reconstruct')})


def keras_home():
    """Keras's home folder, by Keras's rule."""
    if 'KERAS_HOME' in os.environ:
        return os.environ['KERAS_HOME']
    base = os.path.expanduser('~')
    return os.path.join(base if os.access(base, os.W_OK) else '/tmp', '.keras')


def datasets_dir():
    return os.path.join(os.path.expanduser(keras_home()), 'datasets')


def cached_path(names, origin, what):
    """The first of ``names`` (paths relative to ``datasets_dir()``) that
    exists; else FileNotFoundError naming the file, ``origin`` and the folder.
    ``what`` names the data set in the message."""
    folder = datasets_dir()
    for name in names:
        path = os.path.join(folder, name)
        if os.path.exists(path):
            return path
    raise FileNotFoundError(
        f"{what}: the file {names[0]!r} is not in Keras's dataset cache {folder}. "
        f"deepzero does not download; fetch {origin} and save it as "
        f"{os.path.join(folder, names[0])} (or set KERAS_HOME to the folder that holds "
        "datasets/)")


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that rebuilds NumPy arrays and nothing else."""

    def find_class(self, module, name):
        if (module, name) in _ALLOWED_PICKLE_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f'refusing to load {module}.{name} from a dataset file '
                                     '(only NumPy arrays are expected)')


def _read_npy(stream):
    try:
        return np.lib.format.read_array(stream, allow_pickle=False)
    except ValueError:  # an object array: pickled
        stream.seek(0)
        version = np.lib.format.read_magic(stream)
        if version[0] == 1:
            np.lib.format.read_array_header_1_0(stream)
        else:
            np.lib.format.read_array_header_2_0(stream)
        return RestrictedUnpickler(stream).load()


def load_npz(path):
    """{name: array} of an .npz file; object arrays through ``RestrictedUnpickler``."""
    arrays = {}
    with zipfile.ZipFile(path) as archive:
        for member in archive.namelist():
            if member.endswith('.npy'):
                with archive.open(member) as raw:
                    arrays[member[:-4]] = _read_npy(io.BytesIO(raw.read()))
    return arrays


def prepare_sequences(xs, labels, maxlen, start_char, index_from):
    """Keras's first steps for imdb and reuters: shift the word indices by
    ``index_from``, prepend ``start_char``, drop the sequences of ``maxlen``
    words or more. Returns (list of lists, labels array)."""
    if start_char is not None:
        xs = [[start_char] + [w + index_from for w in x] for x in xs]
    elif index_from:
        xs = [[w + index_from for w in x] for x in xs]
    else:
        xs = [list(x) for x in xs]
    labels = np.asarray(labels)
    if maxlen:
        keep = [i for i, x in enumerate(xs) if len(x) < maxlen]
        xs, labels = [xs[i] for i in keep], labels[keep]
    return xs, labels


def limit_words(xs, num_words, skip_top, oov_char):
    """Words outside [skip_top, num_words) become ``oov_char`` (None: they
    are dropped); num_words None: the largest index in ``xs``."""
    if not num_words:
        num_words = max(max(x) for x in xs)
    if oov_char is not None:
        return [[w if skip_top <= w < num_words else oov_char for w in x] for x in xs]
    return [[w for w in x if skip_top <= w < num_words] for x in xs]
