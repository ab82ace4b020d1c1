"""NumPy or CuPy: op code asks ``get_array_module(x)`` instead of naming NumPy,
so the same op runs on the GPU when its data is a CuPy array."""
import numbers

import numpy as np

try:  # optional extra: pip install deepzero[gpu]
    import cupy
except ImportError:  # pragma: no cover - depends on the machine
    cupy = None

ARRAY_TYPES = (np.ndarray,) if cupy is None else (np.ndarray, cupy.ndarray)


def get_array_module(*arrays):
    """Return ``cupy`` if any argument is a CuPy array (or a Variable holding
    one), else ``numpy``."""
    if cupy is None:
        return np
    for a in arrays:
        if not isinstance(a, ARRAY_TYPES):  # a Variable's array (an array's own
            a = getattr(a, 'data', a)       # .data is its buffer, CuPy's a pointer)
        if isinstance(a, cupy.ndarray):
            return cupy
    return np


def is_scalar(x):
    """Python numbers and NumPy scalars: these take the dtype of the array they
    meet (NumPy 2 would let an ``np.float64`` scalar promote float32 data)."""
    # Python's own number types first: they need no isinstance check against
    # the numbers.Number ABC, which goes through the ABC's subclass hooks
    return isinstance(x, (int, float, complex, np.generic)) or isinstance(x, numbers.Number)


def as_array(x, dtype=None):
    """Turn ``x`` into an array.

    Scalars become 0-d arrays of ``dtype`` (the dtype of the data they meet);
    without one, Python floats become float32, deepzero's default float.
    Arrays pass through unchanged, keeping their dtype.
    """
    if isinstance(x, ARRAY_TYPES):
        return x
    if is_scalar(x):
        if dtype is None:
            dtype = np.float32 if isinstance(x, (float, np.floating)) else None
        return np.asarray(x, dtype=dtype)
    arr = np.asarray(x)
    if arr.dtype == np.float64:  # lists of Python floats: float32 by default
        arr = arr.astype(np.float32)
    return arr
