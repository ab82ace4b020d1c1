"""deepzero's own threads: memory-bound passes and GEMMs split over the cores.

NumPy runs copies and ufunc loops (im2col, col2im, ReLU, pooling) on one
core. NumPy releases the GIL inside them, so a pass over a large batch split
in parts, one per core, runs in parallel on a small thread pool: about 2x on
2 cores for the copies of a conv net.

GEMMs are split the same way, each part on one BLAS thread. OpenBLAS's own
threads synchronise by spinning (sched_yield) many times per GEMM; on a
machine where another process wants a core, every sync can wait a scheduler
tick. Measured on a shared 2-core VM (OpenBLAS 0.3.31): a 32x6272 @ 6272x512
GEMM took ~120 ms on 2 OpenBLAS threads against ~2 ms on one, and the whole
W1 training step ran 2.3x faster with OPENBLAS_NUM_THREADS=1. A split pass
synchronises once, when the parts join.

So importing deepzero makes the importing thread's OpenBLAS calls
single-threaded (OpenBLAS 0.3.27+, as NumPy's wheels ship; other BLAS
libraries are left alone), and deepzero's ops split their large GEMMs here.
"""
import ctypes
import glob
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .array_module import get_array_module

# Below this many bytes a pass is too short to pay for the thread hand-off.
MIN_PARALLEL_BYTES = 1 << 20
# Below this many multiply-adds a GEMM runs in the calling thread.
MIN_PARALLEL_MACS = 1 << 20

THREADS = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else (
    os.cpu_count() or 1)

_executor = None
_executor_lock = threading.Lock()
_in_pass = threading.local()  # a pass started inside a pass runs serially


def _find_blas_threads_local():
    """OpenBLAS's ``openblas_set_num_threads_local(n)`` (0.3.27+: the thread
    count of BLAS calls made by the calling thread; returns the previous one)
    from the library NumPy's wheel ships, or None."""
    libs = os.path.join(os.path.dirname(np.__file__), os.pardir, 'numpy.libs')
    for path in glob.glob(os.path.join(libs, '*openblas*')):
        try:
            setter = ctypes.CDLL(path).openblas_set_num_threads_local
        except (OSError, AttributeError):
            continue
        setter.argtypes, setter.restype = [ctypes.c_int], ctypes.c_int
        return setter
    return None


_set_blas_threads_local = _find_blas_threads_local()
# The thread that imports deepzero (the main thread, as a rule) runs its BLAS
# calls on one thread too: GEMMs that don't go through ``matmul`` (the dense
# layers' backward, user code) would otherwise wake OpenBLAS's spinning
# threads, which then compete with this pool for the cores. Measured: a W1
# training step 1.35 s with it unset, 0.85 s with it (and with
# OPENBLAS_NUM_THREADS=1), on the 2-core VM shared with another job.
if _set_blas_threads_local is not None:
    _set_blas_threads_local(1)


def _start_worker():
    _in_pass.flag = True
    if _set_blas_threads_local is not None:
        _set_blas_threads_local(1)


def _get_executor():
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(THREADS - 1, thread_name_prefix='deepzero',
                                           initializer=_start_worker)
        return _executor


def _run_here(fn, *args):
    """``fn(*args)`` in this thread as one part of a pass: one BLAS thread, and
    passes nested in it run serially."""
    if getattr(_in_pass, 'flag', False):
        fn(*args)
        return
    previous = _set_blas_threads_local(1) if _set_blas_threads_local is not None else None
    _in_pass.flag = True
    try:
        fn(*args)
    finally:
        _in_pass.flag = False
        if previous is not None:
            _set_blas_threads_local(previous)


def over_batch(fn, *arrays, min_bytes=None):
    """Call ``fn(*parts)`` on matching slices of the leading axis of ``arrays``.

    ``fn`` writes its results into its parts (``out=``, slice assignment), and
    parts never overlap, so the slices run at once on the thread pool when the
    largest array has at least ``min_bytes`` (default MIN_PARALLEL_BYTES);
    else ``fn(*arrays)`` runs once, here. BLAS calls inside ``fn`` run on one
    thread each. All arrays must have the same leading length (0-d arrays and
    GPU arrays run whole). A pass started inside a part runs serially.
    """
    if not all(isinstance(a, np.ndarray) for a in arrays):
        fn(*arrays)
        return
    n = arrays[0].shape[0] if arrays[0].ndim else 1
    nbytes = max(a.nbytes for a in arrays)
    min_bytes = MIN_PARALLEL_BYTES if min_bytes is None else min_bytes
    parts = min(THREADS, n)
    if parts < 2 or nbytes < min_bytes or getattr(_in_pass, 'flag', False):
        _run_here(fn, *arrays)
        return
    bounds = [n * i // parts for i in range(parts + 1)]
    slices = [slice(a, b) for a, b in zip(bounds, bounds[1:])]
    executor = _get_executor()
    futures = [executor.submit(fn, *[a[s] for a in arrays]) for s in slices[1:]]
    try:
        _run_here(fn, *[a[slices[0]] for a in arrays])  # this thread does the first part
    finally:
        for future in futures:
            future.result()


def matmul(a, b, out):
    """``out[...] = a @ b`` (NumPy matmul broadcasting), split over the rows of
    ``a`` and ``out`` (axis -2), each part a single-threaded GEMM."""
    if not isinstance(out, np.ndarray):
        get_array_module(out).matmul(a, b, out=out)
        return

    def rows(a_part, out_part):
        np.matmul(np.moveaxis(a_part, 0, -2), b, out=np.moveaxis(out_part, 0, -2))
    macs = out.size * a.shape[-1]
    over_batch(rows, np.moveaxis(a, -2, 0), np.moveaxis(out, -2, 0),
               min_bytes=0 if macs >= MIN_PARALLEL_MACS else float('inf'))
