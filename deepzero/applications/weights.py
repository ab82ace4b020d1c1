"""Finding pretrained files (``weights='imagenet'``, the ImageNet class index).

A file is named by a ``RemoteFile``: its file name, the URL Keras downloads
it from and its MD5 (None where Keras pins none, e.g. MobileNet). ``fetch``
looks for it, in this order:

1. Keras's cache, ``<Keras's cache folder>/models/<file>``
   (``runtime.keras_cache_dir``: ``$KERAS_HOME``, ``~/.keras`` or
   ``/tmp/.keras`` by Keras's rule), so files a Keras installation already downloaded are reused;
2. deepzero's cache, ``$DEEPZERO_HOME/models/<file>`` (default
   ``~/.deepzero/models``);

and downloads it into deepzero's cache otherwise, with a progress bar. A
cached file whose MD5 does not match is ignored (and replaced by a fresh
download, as Keras does). Downloads go to a temporary file that becomes the
cached file only once complete and MD5-checked, so an interrupted download
never leaves a truncated file behind. Without network access ``fetch``
raises ``WeightsUnavailableError`` naming the file, the URL and the folders
where a copy can be put by hand.
"""
import collections
import hashlib
import os
import sys
import urllib.error
import urllib.request

from ..callbacks.progbar import Progbar
from ..core import runtime
from ..core.files import atomic_write

RemoteFile = collections.namedtuple('RemoteFile', ['name', 'url', 'md5'])
RemoteFile.__doc__ = "A downloadable file: file ``name``, source ``url``, ``md5`` (hex or None)."

KERAS_APPLICATIONS_URL = 'https://storage.googleapis.com/tensorflow/keras-applications/'
DOWNLOAD_TIMEOUT_S = 30
CHUNK_BYTES = 1 << 16


class WeightsUnavailableError(OSError):
    """A pretrained file is neither cached nor downloadable (e.g. offline)."""


def keras_application_file(folder, name, md5):
    """A ``RemoteFile`` on Keras's storage: ``<KERAS_APPLICATIONS_URL><folder>/<name>``."""
    return RemoteFile(name, f'{KERAS_APPLICATIONS_URL}{folder}/{name}', md5)


def keras_application_files(folder, model_name, top_md5, notop_md5):
    """``(with the classifier, without)``: the pair of ImageNet weight files
    Keras publishes for ``model_name`` in ``folder``,
    ``<model_name>_weights_tf_dim_ordering_tf_kernels.h5`` and ``..._notop.h5``."""
    stem = f'{model_name}_weights_tf_dim_ordering_tf_kernels'
    return (keras_application_file(folder, f'{stem}.h5', top_md5),
            keras_application_file(folder, f'{stem}_notop.h5', notop_md5))


def keras_cache_dir():
    """Keras's cache of model files, ``<Keras's cache folder>/models``."""
    return runtime.keras_cache_dir('models')


def deepzero_cache_dir():
    """deepzero's download cache: ``$DEEPZERO_HOME/models`` or ``~/.deepzero/models``."""
    home = os.environ.get('DEEPZERO_HOME') or os.path.join(os.path.expanduser('~'),
                                                          '.deepzero')
    return os.path.join(home, 'models')


def fetch(remote, verbose=True):
    """The local path of ``remote`` (a ``RemoteFile``): a cached copy whose
    MD5 matches, else a fresh download into deepzero's cache.

    Raises:
        WeightsUnavailableError: not cached and the download failed.
        ValueError: the downloaded file's MD5 differs from ``remote.md5``.
    """
    stale = []
    for folder in (keras_cache_dir(), deepzero_cache_dir()):
        path = os.path.join(folder, remote.name)
        if os.path.isfile(path):
            if remote.md5 is None or file_md5(path) == remote.md5:
                return path
            stale.append(path)
    for path in stale:
        _say(verbose, f"A local file was found at {path}, but its MD5 differs from "
                      f"{remote.md5} (incomplete or outdated); downloading it again.")
    target = os.path.join(deepzero_cache_dir(), remote.name)
    _download(remote, target, stale, verbose)
    return target


def file_md5(path):
    """The MD5 hex digest of the file at ``path``, read in chunks."""
    digest = hashlib.md5()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(CHUNK_BYTES), b''):
            digest.update(chunk)
    return digest.hexdigest()


def _download(remote, target, stale, verbose):
    _say(verbose, f"Downloading data from {remote.url}")
    try:
        with atomic_write(target) as tmp_path:
            md5 = _copy_url(remote.url, tmp_path, verbose)
            if remote.md5 is not None and md5 != remote.md5:
                raise ValueError(f"Incomplete or corrupted download of {remote.name} "
                                 f"from {remote.url}: its MD5 is {md5}, expected "
                                 f"{remote.md5}")
    except (urllib.error.URLError, OSError) as e:
        raise WeightsUnavailableError(_unavailable_message(remote, e, stale)) from e


def _copy_url(url, path, verbose):
    """Stream ``url`` into ``path``; return the MD5 of the bytes written."""
    digest = hashlib.md5()
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response, \
            open(path, 'wb') as out:
        size = response.headers.get('Content-Length')
        bar = Progbar(int(size) if size else None, verbose=1 if verbose else 0)
        done = 0
        for chunk in iter(lambda: response.read(CHUNK_BYTES), b''):
            out.write(chunk)
            digest.update(chunk)
            done += len(chunk)
            bar.update(done, finalize=False)
        bar.update(done, finalize=True)
    return digest.hexdigest()


def _unavailable_message(remote, error, stale):
    folders = ' or '.join(os.path.join(d, '') for d in (deepzero_cache_dir(),
                                                        keras_cache_dir()))
    lines = [f"Could not get {remote.name}: it is not in the caches and downloading "
             f"{remote.url} failed ({error})."]
    if stale:
        lines.append(f"Cached copies with the wrong MD5 were ignored: {', '.join(stale)}.")
    lines.append(f"Download it on a machine with network access and put it in {folders}"
                 + (f" (MD5 {remote.md5})." if remote.md5 else "."))
    return ' '.join(lines)


def _say(verbose, message):
    if verbose:
        print(message, file=sys.stdout)
