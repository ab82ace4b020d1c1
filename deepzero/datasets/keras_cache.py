"""Finding and reading the files Keras's dataset loaders cache.

Keras keeps them in ``<Keras's cache folder>/datasets``
(``runtime.keras_cache_dir``), under the names its ``get_file`` uses. Downloading is not
possible here, so ``cached_path`` only looks; the error it raises says what
to fetch and where to put it.
"""
import io
import math
import os
import pickle
import zipfile

import numpy as np

from ..core import runtime

TF_KERAS_DATASETS = 'https://storage.googleapis.com/tensorflow/tf-keras-datasets/'
# What np.load may rebuild from a pickled array (imdb's and reuters' ragged
# sequences are object arrays); anything else in a file is refused.
_ALLOWED_PICKLE_GLOBALS = frozenset({('numpy', 'ndarray'), ('numpy', 'dtype'),
                                     ('numpy.core.multiarray', '_reconstruct'),
                                     ('numpy._core.multiarray', '_reconstruct')})


def datasets_dir():
    """Keras's dataset cache, ``<Keras's cache folder>/datasets``."""
    return runtime.keras_cache_dir('datasets')


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


_HEADER_READERS = {1: np.lib.format.read_array_header_1_0,
                   2: np.lib.format.read_array_header_2_0}
# The most bytes a header may take: NumPy's own limit (max_header_size) and
# the magic string and length field before it.
_HEADER_BYTES = 10_000 + 12


def _read_npy(buffer, where):
    """The array of one .npy member, its bytes in ``buffer`` (a bytearray,
    which a numeric array then shares). The header is read once: an object
    dtype is a pickle (read by ``RestrictedUnpickler``); a numeric array must
    find all its bytes in the member, so a header claiming more is refused
    before anything is allocated. ``where`` names the file and member."""
    header = io.BytesIO(bytes(buffer[:_HEADER_BYTES]))
    try:
        version = np.lib.format.read_magic(header)
        if version[0] not in _HEADER_READERS:
            raise ValueError(f'.npy format version {version} is not supported')
        shape, fortran_order, dtype = _HEADER_READERS[version[0]](header)
    except ValueError as e:
        raise ValueError(f'{where}: not a valid .npy header ({e})') from None
    offset = header.tell()
    if dtype.hasobject:  # pickled (imdb's and reuters' ragged sequences)
        return RestrictedUnpickler(io.BytesIO(buffer[offset:])).load()
    count = math.prod(shape)
    claimed, held = count * dtype.itemsize, len(buffer) - offset
    if claimed > held:
        raise ValueError(f'{where} is truncated: its header claims a {dtype} array of shape '
                         f'{shape} ({claimed} bytes) but the member holds {held} bytes of data')
    array = np.frombuffer(buffer, dtype=dtype, count=count, offset=offset)
    return array.reshape(shape[::-1]).T if fortran_order else array.reshape(shape)


def load_npz(path):
    """{name: array} of an .npz file; object arrays through ``RestrictedUnpickler``.

    Raises:
        ValueError: a member's header is invalid or claims more data than
            the member holds (the message names the file and the member).
    """
    arrays = {}
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if info.filename.endswith('.npy'):
                with archive.open(info) as raw:
                    buffer = bytearray(raw.read())
                arrays[info.filename[:-4]] = _read_npy(buffer,
                                                       f'{path}, member {info.filename!r}')
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
