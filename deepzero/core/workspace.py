"""A pool of large scratch and result arrays, reused from one step to the next.

Why: on many machines (VMs with free-page reporting in particular) memory that
the process frees goes back to the host, and touching fresh memory again costs
~0.25-0.7 s per GB in page faults: as much as the convolutions themselves.
Training repeats the same shapes every step, so the ops of the hot path
(conv, pooling, activations, large elementwise arithmetic) ask this pool for
their scratch buffers, outputs and gradients instead of allocating them.
glibc cannot be told to keep such blocks: arrays over 32 MB are mmapped and
unmapped on free, and mallopt caps the mmap threshold at 32 MiB.

How a buffer becomes free again: the pool holds one reference to each array;
when nothing else refers to it (no Variable, no view, no saved state of a
graph that is still alive), ``sys.getrefcount`` sees only the pool's reference
and the array is handed out again. So reuse is never unsafe: an array the
caller still holds is never given out twice. Views count too: a view (also a
strided one) keeps a reference to the array it looks into.

That test needs a reference count that counts every reference, as CPython's
with the GIL does. Where it may not (another implementation such as PyPy, or
a free-threaded build, which splits counts between threads and defers some),
the pool hands out fresh arrays only (``REFCOUNT_REUSE`` is False).

The budget is the ``pool_bytes`` setting of core/runtime.py
(``DEEPZERO_POOL_BYTES``), read when an array is added.
"""
import math
import sys
import sysconfig
import threading

import numpy as np

from . import runtime

# Arrays smaller than this come from the allocator (glibc keeps small blocks).
MIN_POOLED_BYTES = 1 << 20
# ``scratch`` hands out a free buffer up to this many times larger than asked.
SCRATCH_SLACK = 4
# `sys.getrefcount(pool_list[i])`: the pool's list + getrefcount's argument.
_FREE_REFCOUNT = 2


def refcounts_are_exact():
    """Whether ``sys.getrefcount`` counts every reference: CPython built with
    the GIL."""
    return (sys.implementation.name == 'cpython' and hasattr(sys, 'getrefcount')
            and not sysconfig.get_config_var('Py_GIL_DISABLED'))


REFCOUNT_REUSE = refcounts_are_exact()


class Workspace:
    """Arrays keyed by (shape, dtype) (``empty``), and 1-d scratch buffers
    keyed by dtype that serve any shape they hold (``scratch``), at most
    ``max_bytes`` held in all (default: the ``pool_bytes`` setting, followed
    as it changes).

    When a new array would exceed the budget, free arrays of other shapes are
    dropped first (oldest first); if it still does not fit, the array is
    allocated outside the pool.
    """

    def __init__(self, max_bytes=None):
        self._max_bytes = max_bytes
        self.held_bytes = 0
        self._buffers = {}  # (shape, dtype) -> list of arrays, insertion-ordered
        self._lock = threading.Lock()

    @property
    def max_bytes(self):
        return runtime.get('pool_bytes') if self._max_bytes is None else self._max_bytes

    @max_bytes.setter
    def max_bytes(self, value):
        self._max_bytes = value

    def empty(self, shape, dtype):
        """An uninitialised C-contiguous NumPy array (reused when one is free)."""
        shape, dtype = tuple(shape), np.dtype(dtype)
        nbytes = math.prod(shape) * dtype.itemsize
        if nbytes < MIN_POOLED_BYTES or not REFCOUNT_REUSE:
            return np.empty(shape, dtype)
        key = (shape, dtype)
        with self._lock:
            same = self._buffers.setdefault(key, [])
            for i in range(len(same)):
                if sys.getrefcount(same[i]) == _FREE_REFCOUNT:
                    return same[i]
            return self._new(shape, dtype, key, keep=key)

    def scratch(self, shape, dtype):
        """An uninitialised C-contiguous NumPy array of ``shape``: a view of
        the smallest free pooled scratch buffer of ``dtype`` that holds it and
        is at most SCRATCH_SLACK times its size, else of a new one.

        For short-lived buffers whose size changes from one call to the next
        (per-layer chunk buffers, padded copies): one buffer serves every
        layer in turn, where ``empty`` would keep one per shape."""
        shape, dtype = tuple(shape), np.dtype(dtype)
        count = math.prod(shape)
        if count * dtype.itemsize < MIN_POOLED_BYTES or not REFCOUNT_REUSE:
            return np.empty(shape, dtype)
        key = ('scratch', dtype)
        with self._lock:
            buffers = self._buffers.setdefault(key, [])
            best = None
            for i in range(len(buffers)):
                size = len(buffers[i])
                if (count <= size <= SCRATCH_SLACK * count and
                        (best is None or size < len(buffers[best])) and
                        sys.getrefcount(buffers[i]) == _FREE_REFCOUNT):
                    best = i
            if best is not None:
                return buffers[best][:count].reshape(shape)
            # a free buffer of the wrong size may go to make room
            return self._new((count,), dtype, key, keep=None).reshape(shape)

    def zeros(self, shape, dtype):
        array = self.empty(shape, dtype)
        array.fill(0)
        return array

    def full(self, shape, value, dtype):
        array = self.empty(shape, dtype)
        array.fill(value)
        return array

    def clear(self):
        """Forget every pooled array (arrays still in use stay valid)."""
        with self._lock:
            self._buffers.clear()
            self.held_bytes = 0

    def _new(self, shape, dtype, key, keep):
        """A new array, held under ``key`` if it fits the budget once free
        arrays of keys other than ``keep`` are dropped. Under the lock."""
        nbytes = math.prod(shape) * dtype.itemsize
        if self.held_bytes + nbytes > self.max_bytes:
            self._evict(nbytes, keep)
        array = np.empty(shape, dtype)
        if self.held_bytes + nbytes <= self.max_bytes:
            self._buffers.setdefault(key, []).append(array)
            self.held_bytes += nbytes
        return array

    def _evict(self, nbytes, keep):
        for key in list(self._buffers):
            if key == keep:
                continue
            arrays = self._buffers[key]
            for i in reversed(range(len(arrays))):
                if sys.getrefcount(arrays[i]) == _FREE_REFCOUNT:
                    self.held_bytes -= arrays.pop(i).nbytes
            if not arrays:
                del self._buffers[key]
            if self.held_bytes + nbytes <= self.max_bytes:
                return



workspace = Workspace()


def empty(shape, dtype, xp=np):
    """Scratch/result array: from the pool for NumPy, plain for CuPy
    (CuPy has its own memory pool)."""
    return workspace.empty(shape, dtype) if xp is np else xp.empty(shape, dtype)


def scratch(shape, dtype, xp=np):
    """Short-lived scratch array (see ``Workspace.scratch``): from the pool
    for NumPy, plain for CuPy."""
    return workspace.scratch(shape, dtype) if xp is np else xp.empty(shape, dtype)


def zeros(shape, dtype, xp=np):
    return workspace.zeros(shape, dtype) if xp is np else xp.zeros(shape, dtype)


def full(shape, value, dtype, xp=np):
    return workspace.full(shape, value, dtype) if xp is np else xp.full(shape, value, dtype)
