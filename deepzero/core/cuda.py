"""The GPU as a device, through CuPy (DeZero's ``dezero.cuda``; re-exported as
``deepzero.cuda``).

deepzero has two devices: 'cpu' (NumPy arrays) and 'gpu' (CuPy arrays, on
CuPy's current CUDA device). An op runs where its inputs are: every op asks
``get_array_module`` for its array calls and ``kernels.for_arrays`` for its
kernels. Moving data is explicit: ``Variable.to_gpu()`` / ``to_cpu()``,
``as_cupy`` / ``as_numpy``; an op given inputs on both devices raises a
TypeError naming them (Python scalars and 0-d NumPy constants go anywhere).

CuPy is the optional extra ``pip install 'deepzero[gpu]'``; without it, or
without a usable CUDA device, everything here still imports and
``is_available()`` is False.
"""
import functools

import numpy as np

from .array_module import as_array, cupy, get_array_module

__all__ = ['cupy', 'is_available', 'unavailable_reason', 'require_gpu', 'get_array_module',
           'as_numpy', 'as_cupy', 'device_of', 'GPU_ARRAY_TYPES', 'DEVICES']

DEVICES = ('cpu', 'gpu')
# Array types that live in GPU memory: what ``device_of`` calls 'gpu'.
GPU_ARRAY_TYPES = () if cupy is None else (cupy.ndarray,)


@functools.cache
def unavailable_reason():
    """Why deepzero cannot use a GPU here ('CuPy is not installed ...', 'no
    CUDA GPU ...'), or None when it can. Probed once, then cached."""
    if cupy is None:
        return "CuPy is not installed (pip install 'deepzero[gpu]')"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:  # no driver, a driver too old for this CuPy, ...: CUDA's own error
        return f"no CUDA GPU is usable ({type(e).__name__}: {e})"
    return None if count > 0 else "no CUDA GPU is visible (CUDA reports 0 devices)"


def is_available():
    """Whether CuPy is installed and at least one CUDA device is usable
    (probed once; never raises)."""
    return unavailable_reason() is None


def require_gpu(what):
    """Raise a RuntimeError saying why ``what`` cannot use a GPU here."""
    reason = unavailable_reason()
    if reason is not None:
        raise RuntimeError(f"{what}: no GPU to use: {reason}")


def device_of(x):
    """'gpu' for a CuPy array (or a Variable holding one), else 'cpu' (NumPy
    arrays and scalars, Python numbers, a Variable without data)."""
    if isinstance(x, Variable):
        x = x.data
    return 'gpu' if isinstance(x, GPU_ARRAY_TYPES) else 'cpu'


def as_numpy(x):
    """``x`` as a NumPy array: CuPy arrays are copied to the host (which waits
    for the GPU), NumPy arrays come back as they are, Variables give their data,
    scalars and lists become arrays (``np.asarray``)."""
    if isinstance(x, Variable):
        x = x.data
    if isinstance(x, GPU_ARRAY_TYPES):
        return x.get()
    return np.asarray(x)


def as_cupy(x):
    """``x`` as a CuPy array on the current device: NumPy arrays, scalars and
    lists are copied there (Python floats as float32, as ``as_array`` reads them), CuPy arrays come back as they are, Variables give
    their data. RuntimeError, saying why, where CuPy or a GPU is missing."""
    require_gpu('as_cupy')
    if isinstance(x, Variable):
        x = x.data
    # scalars and lists as deepzero reads them (Python floats as float32)
    return cupy.asarray(x if isinstance(x, GPU_ARRAY_TYPES) else as_array(x))


from .variable import Variable  # noqa: E402  (variable.py imports this module)
