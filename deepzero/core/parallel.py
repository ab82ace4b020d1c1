"""Memory-bound array passes split over the cores.

BLAS runs every GEMM on all cores, but NumPy runs copies and ufunc loops
(im2col, col2im, ReLU, pooling) on one. NumPy releases the GIL inside them,
so a pass over a large batch split in parts, one per core, runs in parallel on
a small thread pool: about 2x on 2 cores for the copies of a conv net.
"""
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

# Below this many bytes a pass is too short to pay for the thread hand-off.
MIN_PARALLEL_BYTES = 1 << 20

THREADS = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else (
    os.cpu_count() or 1)

_executor = None
_executor_lock = threading.Lock()
_in_worker = threading.local()  # a pass started inside a worker runs serially


def _mark_worker():
    _in_worker.flag = True


def _get_executor():
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(THREADS - 1, thread_name_prefix='deepzero',
                                           initializer=_mark_worker)
        return _executor


def over_batch(fn, *arrays):
    """Call ``fn(*parts)`` on matching slices of the leading axis of ``arrays``.

    ``fn`` writes its results into its parts (``out=``, slice assignment), and
    parts never overlap, so the slices run at once on the thread pool when the
    arrays are large; else ``fn(*arrays)`` runs once, here. All arrays must
    have the same leading length (0-d arrays and GPU arrays run whole).
    """
    if not all(isinstance(a, np.ndarray) for a in arrays):
        fn(*arrays)
        return
    n = arrays[0].shape[0] if arrays[0].ndim else 1
    nbytes = max(a.nbytes for a in arrays)
    parts = min(THREADS, n)
    if parts < 2 or nbytes < MIN_PARALLEL_BYTES or getattr(_in_worker, 'flag', False):
        fn(*arrays)
        return
    bounds = [n * i // parts for i in range(parts + 1)]
    slices = [slice(a, b) for a, b in zip(bounds, bounds[1:])]
    executor = _get_executor()
    futures = [executor.submit(fn, *[a[s] for a in arrays]) for s in slices[1:]]
    try:
        fn(*[a[slices[0]] for a in arrays])  # this thread does the first part
    finally:
        for future in futures:
            future.result()
