"""Process-wide state, in one place: settings, the BLAS and OpenCV thread
counts, and the random generators.

Settings (docs/runtime.md has the table): each has a default, an environment
variable read the first time the setting is needed, and a Python form that
wins over both::

    from deepzero import runtime
    runtime.get('threads')
    runtime.configure(pool_bytes=2 << 30)          # for the rest of the process
    with runtime.settings(threads=1, blas='keep'):  # inside the block only
        ...

Settings are process-wide, not per thread: a ``settings`` block changes them
for every thread while it runs (the prefetch threads read them too).

Importing deepzero changes nothing in the process: the BLAS policy is applied
the first time deepzero splits a pass over its threads, OpenCV's thread count
the first time the image pipeline warps an image.

Randomness: every draw deepzero makes without an explicit seed (initializers,
shuffling, dropout, the image iterators and ``ImageDataGenerator``) comes from
one of the ``generator(stream)``s here, all derived from one root seed, so
``set_random_seed(seed)`` makes a run repeatable. Draws made on the GPU
(dropout masks of CuPy data) come from ``device_generator(stream)``, seeded
from the same root. NumPy's global random state
and Python's ``random`` are never used nor touched.
"""
import contextlib
import ctypes
import glob
import os
import tempfile
import threading

import numpy as np

from .array_module import cupy

__all__ = ['get', 'configure', 'settings', 'SETTINGS', 'CONV_ALGORITHMS', 'default_pool_bytes',
           'resolved_device', 'set_random_seed', 'generator', 'device_generator', 'STREAMS', 'set_blas_threads', 'apply_blas_policy',
           'limit_opencv_threads', 'keras_home', 'keras_cache_dir']


def _cpu_count():
    """The CPUs this process may run on (its affinity mask, not the machine's)."""
    if hasattr(os, 'sched_getaffinity'):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def default_pool_bytes():
    """A quarter of the physical memory, at most 4 GiB: room for the working
    sets of a few models (a benchmark alternating the book's convnet, training
    and inference, with VGG16's base needs ~2.5 GB; a smaller budget evicts
    buffers at every switch and faults them in again)."""
    try:
        physical = os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES')
    except (ValueError, OSError, AttributeError):  # not POSIX
        physical = 8 << 30
    return min(4 << 30, physical // 4)


def _int_at_least(minimum):
    def check(name, value):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
            raise ValueError(f"runtime setting {name!r} must be an int >= {minimum}, "
                             f"got {value!r}")
        return int(value)
    return check


def _positive_float(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"runtime setting {name!r} must be a number > 0, got {value!r}")
    return float(value)


def _one_of(*choices):
    def check(name, value):
        if value not in choices:
            raise ValueError(f"runtime setting {name!r} must be one of "
                             f"{', '.join(map(repr, choices))}; got {value!r}")
        return value
    return check


_BYTE_SUFFIXES = {'': 1, 'K': 1 << 10, 'M': 1 << 20, 'G': 1 << 30}


def _parse_bytes(text):
    """'1073741824', '512M', '4G' (powers of 1024; 'KiB'/'MiB'/'GiB' too)."""
    text = text.strip().upper().removesuffix('IB').removesuffix('B')
    suffix = text[-1:] if text[-1:] in _BYTE_SUFFIXES else ''
    return int(text[:len(text) - len(suffix)]) * _BYTE_SUFFIXES[suffix]


CONV_ALGORITHMS = ('auto', 'direct', 'winograd2', 'winograd3', 'winograd4')


class Setting:
    """One named setting: its environment variable, how to read the variable's
    text, how to check a value, and its default (a value or a function).
    docs/runtime.md has the table of what each does."""

    def __init__(self, env, parse, check, default):
        self.env, self.parse, self.check, self.default = env, parse, check, default


SETTINGS = {
    # threads deepzero's passes and GEMMs split over; also the prefetch budget
    'threads': Setting('DEEPZERO_THREADS', int, _int_at_least(1), _cpu_count),
    # the buffer pool's budget (core/workspace.py); 0 turns reuse off
    'pool_bytes': Setting('DEEPZERO_POOL_BYTES', _parse_bytes, _int_at_least(0),
                          default_pool_bytes),
    # 'single': OpenBLAS on one thread from the first split pass; 'keep': left alone
    'blas': Setting('DEEPZERO_BLAS', str, _one_of('single', 'keep'), 'single'),
    # the algorithm of 3x3 stride-1 convs: 'auto' (by layer), 'direct' (im2col), or
    # Winograd's F(mxm,3x3), m = 2, 3, 4, wherever it applies (kernels/cpu/winograd.py)
    'conv_algorithm': Setting('DEEPZERO_CONV_ALGORITHM', str, _one_of(*CONV_ALGORITHMS), 'auto'),
    # the image pipeline's resampler: 'opencv', 'numpy' or 'auto' (OpenCV when installed)
    'warp_backend': Setting('DEEPZERO_WARP_BACKEND', str, _one_of('auto', 'opencv', 'numpy'),
                            'auto'),
    # bytes per bucket of gradients that deepzero.distributed reduces with one MPI call
    'allreduce_bucket_bytes': Setting('DEEPZERO_ALLREDUCE_BUCKET_BYTES', _parse_bytes,
                                      _int_at_least(1), 25 << 20),
    # seconds between the tests by which deepzero.distributed's progress thread
    # lets MPI move the buckets in flight (MPI moves them only inside MPI calls)
    'allreduce_progress_seconds': Setting('DEEPZERO_ALLREDUCE_PROGRESS_SECONDS', float,
                                          _positive_float, 0.0005),
    # where models place their weights: 'auto' (the GPU when one is usable), 'cpu' or 'gpu'
    'device': Setting('DEEPZERO_DEVICE', lambda text: text.strip().lower(),
                      _one_of('auto', 'cpu', 'gpu'), 'auto'),
    # the axis order of images where a layer or function is given data_format=None
    # (Keras's image_data_format, keras.json's key)
    'image_data_format': Setting('DEEPZERO_IMAGE_DATA_FORMAT', str,
                                 _one_of('channels_last', 'channels_first'), 'channels_last'),
    # Keras's fuzz factor epsilon(): added to denominators by code that asks for it
    'epsilon': Setting('DEEPZERO_EPSILON', float, _positive_float, 1e-7),
}

_values = {}  # name -> current value, filled from the environment or default on first use
_lock = threading.RLock()


def _resolve(name):
    setting = SETTINGS[name]
    text = os.environ.get(setting.env)
    if text is None or not text.strip():
        default = setting.default
        return setting.check(name, default() if callable(default) else default)
    try:
        value = setting.parse(text)
    except ValueError:
        raise ValueError(f"environment variable {setting.env}={text!r} is not a valid "
                         f"value for the runtime setting {name!r}") from None
    try:
        return setting.check(name, value)
    except ValueError as e:
        raise ValueError(f"environment variable {setting.env}={text!r}: {e}") from None


def get(name):
    """The current value of setting ``name`` (see ``SETTINGS``)."""
    return _made_once(_values, name, SETTINGS, 'runtime setting', _resolve)


def _made_once(made, key, known, what, make):
    """``made[key]``, made by ``make(key)`` the first time it is asked for
    (under the lock, so two threads never make it twice); ``key`` must be
    one of ``known``."""
    try:
        return made[key]
    except KeyError:
        if key not in known:
            raise ValueError(f"unknown {what} {key!r}; known: {', '.join(known)}") from None
    with _lock:
        if key not in made:
            made[key] = make(key)
        return made[key]


def _checked(values):
    unknown = [name for name in values if name not in SETTINGS]
    if unknown:
        raise TypeError(f"unknown runtime setting {unknown[0]!r}; known: {', '.join(SETTINGS)}")
    return {name: SETTINGS[name].check(name, value) for name, value in values.items()}


def configure(**values):
    """Set settings for the rest of the process (over their environment
    variables). Returns the previous values of the settings given."""
    values = _checked(values)
    with _lock:
        previous = {name: get(name) for name in values}
        _values.update(values)
    return previous


@contextlib.contextmanager
def settings(**values):
    """Set settings inside a ``with`` block, for the whole process; the
    previous values come back when it ends (also on an exception)."""
    previous = configure(**values)
    try:
        yield
    finally:
        with _lock:
            _values.update(previous)


def resolved_device():
    """The device the ``device`` setting names, 'cpu' or 'gpu': 'auto' is
    'gpu' when CuPy and a CUDA GPU are usable (``cuda.is_available()``).
    Raises RuntimeError, saying why, for 'gpu' where no GPU is usable."""
    from . import cuda  # cuda.py imports the engine, which reads these settings
    device = get('device')
    if device == 'auto':
        return 'gpu' if cuda.is_available() else 'cpu'
    if device == 'gpu' and not cuda.is_available():
        raise RuntimeError(f"the runtime setting 'device' is 'gpu' (DEEPZERO_DEVICE or "
                           f"runtime.configure(device='gpu')) but no GPU is usable: "
                           f"{cuda.unavailable_reason()}")
    return device


# ---------------------------------------------------------------- Keras's folder
def keras_home():
    """Keras's home folder by Keras 3's rule (``keras.src.backend.config``):
    ``$KERAS_HOME`` when the variable is set (even empty), else ``~/.keras``,
    or ``/tmp/.keras`` when the home folder is not writable. Read at every
    call (Keras reads it once, at import), so a script or test may set it."""
    if 'KERAS_HOME' in os.environ:
        return os.environ['KERAS_HOME']
    base = os.path.expanduser('~')
    return os.path.join(base if os.access(base, os.W_OK) else _temp_root(), '.keras')


def keras_cache_dir(subdir):
    """The folder where Keras's ``get_file`` caches its ``subdir``
    ('datasets', 'models'): ``keras_home()``, or ``/tmp/.keras`` where that
    is not writable (``get_file``'s fallback: an empty ``KERAS_HOME`` lands
    there too). A home not made yet counts as Keras's own: importing Keras
    makes it."""
    home = os.path.expanduser(keras_home())
    if not home or (os.path.exists(home) and not os.access(home, os.W_OK)):
        home = os.path.join(_temp_root(), '.keras')
    return os.path.join(home, subdir)


def _temp_root():
    return '/tmp' if os.path.isdir('/tmp') else tempfile.gettempdir()


# ---------------------------------------------------------------- BLAS
def _find_blas_threads_local():
    """OpenBLAS's ``openblas_set_num_threads_local(n)`` (0.3.27+; returns the
    previous count) from the library NumPy's wheel ships, or None. In the
    pthreads builds NumPy ships, the count it sets is the whole process's."""
    libs = os.path.join(os.path.dirname(np.__file__), os.pardir, 'numpy.libs')
    for path in glob.glob(os.path.join(libs, '*openblas*')):
        try:
            setter = ctypes.CDLL(path).openblas_set_num_threads_local
        except (OSError, AttributeError):
            continue
        setter.argtypes, setter.restype = [ctypes.c_int], ctypes.c_int
        return setter
    return None


_blas_setter = _find_blas_threads_local()
_blas_found_threads = None  # OpenBLAS's count before 'single' was applied


def set_blas_threads(n):
    """Set OpenBLAS's thread count; returns the previous one, or None where
    NumPy's OpenBLAS cannot be reached (other BLAS libraries are left alone)."""
    return _blas_setter(n) if _blas_setter is not None else None


def apply_blas_policy():
    """Bring OpenBLAS's thread count in line with the ``blas`` setting: one
    thread under 'single' (the count found is kept), the count found back under
    'keep'. Cheap when nothing changes; called at the start of every split pass.

    Why one thread: OpenBLAS's threads synchronise by spinning many times per
    GEMM; on a machine where another process wants a core every sync can wait a
    scheduler tick. GEMMs that don't go through ``parallel.matmul`` (the dense
    layers' backward, user code) would also wake those spinning threads, which
    then compete with deepzero's pool for the cores. Measured on a shared 2-core
    VM: a W1 training step 1.35 s with OpenBLAS's default, 0.85 s with one thread.
    """
    global _blas_found_threads
    single = get('blas') == 'single'
    if single == (_blas_found_threads is not None) or _blas_setter is None:
        return
    with _lock:
        if single and _blas_found_threads is None:
            _blas_found_threads = set_blas_threads(1)
        elif not single and _blas_found_threads is not None:
            set_blas_threads(_blas_found_threads)
            _blas_found_threads = None


# ---------------------------------------------------------------- OpenCV
_opencv_limited = False


def limit_opencv_threads(cv2):
    """Run OpenCV's calls on the thread that makes them (``cv2.setNumThreads(1)``),
    once. The image pipeline calls this before its first OpenCV call: its
    prefetch threads already spread the images of a batch over the budget, and
    an OpenCV pool inside each of them would add threads beyond it."""
    global _opencv_limited
    if not _opencv_limited:
        cv2.setNumThreads(1)
        _opencv_limited = True


# ---------------------------------------------------------------- randomness
# Each stream's generator draws from its own child of the root seed, so the
# draws of one (the number of dropout masks, say) never shift another's.
STREAMS = ('initializers', 'shuffle', 'dropout', 'images')
_root_entropy = np.random.SeedSequence().entropy
_generators = {}
_device_generators = {}  # stream -> cupy.random.RandomState, made on first use


def set_random_seed(seed):
    """Make every draw deepzero makes without an explicit seed repeatable:
    weight initialisation, shuffling in ``fit``, dropout masks, and the image
    iterators' orders and augmentations. NumPy's global random state and
    Python's ``random`` are left untouched.

    Args:
        seed: a non-negative int.
    """
    global _root_entropy
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"set_random_seed: seed must be a non-negative int, got {seed!r}")
    with _lock:
        _root_entropy = int(seed)
        _generators.clear()
        _device_generators.clear()


def generator(stream):
    """The ``numpy.random.Generator`` of ``stream`` (one of ``STREAMS``)."""
    return _made_once(_generators, stream, STREAMS, 'random stream', _new_generator)


def device_generator(stream):
    """The GPU's generator of ``stream``: a ``cupy.random.RandomState``
    (cuRAND's default pseudo-random generator) that draws on the device, so a
    dropout mask never crosses the bus. Seeded from the same child of the root
    seed as ``generator(stream)``, so ``set_random_seed`` makes GPU runs
    repeatable too; its draws differ from the host generator's (another
    algorithm). RuntimeError where CuPy or a GPU is missing."""
    from . import cuda  # cuda.py imports the engine, which reads these settings
    cuda.require_gpu(f"runtime.device_generator({stream!r})")
    return _made_once(_device_generators, stream, STREAMS, 'random stream',
                      _new_device_generator)


def _stream_seed(stream):
    return np.random.SeedSequence(_root_entropy, spawn_key=(STREAMS.index(stream),))


def _new_generator(stream):
    return np.random.default_rng(_stream_seed(stream))


def _new_device_generator(stream):
    # RandomState takes one integer seed: 64 bits drawn from the stream's sequence
    return cupy.random.RandomState(int(_stream_seed(stream).generate_state(1, np.uint64)[0]))
