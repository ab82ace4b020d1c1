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

So deepzero runs OpenBLAS on one thread (the ``blas`` setting of
core/runtime.py, applied when the first pass starts, not at import) and
splits its large GEMMs here. The number of threads comes from the ``threads``
setting, read at every pass.
"""
import sys
import threading
import types
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import runtime
from .array_module import get_array_module

# Below this many bytes a pass is too short to pay for the thread hand-off.
MIN_PARALLEL_BYTES = 1 << 20
# Below this many multiply-adds a GEMM runs in the calling thread.
MIN_PARALLEL_MACS = 1 << 20

_executor = None
_executor_workers = 0
_executor_lock = threading.Lock()
_in_pass = threading.local()  # a pass started inside a pass runs serially


class _Module(types.ModuleType):
    @property
    def THREADS(self):
        """The ``threads`` setting; setting it sets the setting (it was a
        constant, which callers read and tests patch)."""
        return runtime.get('threads')

    @THREADS.setter
    def THREADS(self, value):
        runtime.configure(threads=value)


sys.modules[__name__].__class__ = _Module


def _start_worker():
    _in_pass.flag = True


def _get_executor(workers):
    """A pool of at least ``workers`` threads. It grows when the ``threads``
    setting does; a replaced pool's idle threads end when it is collected."""
    global _executor, _executor_workers
    with _executor_lock:
        if _executor is None or _executor_workers < workers:
            _executor = ThreadPoolExecutor(workers, thread_name_prefix='deepzero',
                                           initializer=_start_worker)
            _executor_workers = workers
        return _executor


def _enter_pass():
    """Start a pass in this thread: apply the BLAS policy, mark the thread as
    in a pass, and under ``blas='keep'`` run OpenBLAS on one thread until
    ``_leave_pass``. Returns what ``_leave_pass`` restores."""
    runtime.apply_blas_policy()
    _in_pass.flag = True
    return runtime.set_blas_threads(1) if runtime.get('blas') == 'keep' else None


def _leave_pass(previous_blas_threads):
    _in_pass.flag = False
    if previous_blas_threads is not None:
        runtime.set_blas_threads(previous_blas_threads)


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
    if getattr(_in_pass, 'flag', False):
        fn(*arrays)
        return
    n = arrays[0].shape[0] if arrays[0].ndim else 1
    nbytes = max(a.nbytes for a in arrays)
    min_bytes = MIN_PARALLEL_BYTES if min_bytes is None else min_bytes
    parts = min(runtime.get('threads'), n)
    previous_blas_threads = _enter_pass()
    try:
        if parts < 2 or nbytes < min_bytes:
            fn(*arrays)
            return
        bounds = [n * i // parts for i in range(parts + 1)]
        slices = [slice(a, b) for a, b in zip(bounds, bounds[1:])]
        executor = _get_executor(parts - 1)
        futures = [executor.submit(fn, *[a[s] for a in arrays]) for s in slices[1:]]
        try:
            fn(*[a[slices[0]] for a in arrays])  # this thread does the first part
        finally:
            for future in futures:
                future.result()
    finally:
        _leave_pass(previous_blas_threads)


def matmul(a, b, out):
    """``out[...] = a @ b`` (NumPy matmul broadcasting), split over the rows of
    ``a`` and ``out`` (axis -2), each part a single-threaded GEMM."""
    if not isinstance(out, np.ndarray):
        get_array_module(out).matmul(a, b, out=out)
        return

    macs = out.size * a.shape[-1]
    if macs < MIN_PARALLEL_MACS and runtime.get('blas') == 'single':
        # not split, and OpenBLAS runs on one thread anyway: the GEMM without a
        # pass around it (whose set-up costs more than a tiny GEMM)
        runtime.apply_blas_policy()
        np.matmul(a, b, out=out)
        return
    if a.ndim == out.ndim == 2:  # rows are axis 0 already: no moveaxis views
        def rows(a_part, out_part):
            np.matmul(a_part, b, out=out_part)
    else:
        def rows(a_part, out_part):
            np.matmul(np.moveaxis(a_part, 0, -2), b, out=np.moveaxis(out_part, 0, -2))
        a, out = np.moveaxis(a, -2, 0), np.moveaxis(out, -2, 0)
    over_batch(rows, a, out, min_bytes=0 if macs >= MIN_PARALLEL_MACS else float('inf'))
