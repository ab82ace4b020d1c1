"""DeZero's ``dezero.cuda``: deepzero's GPU module (``deepzero.core.cuda``)
under DeZero's names. ``gpu_enable``: whether CuPy imported (DeZero's flag;
``is_available()`` also checks that a CUDA device is usable)."""
from ..core.cuda import as_cupy, as_numpy, cupy, get_array_module, is_available

__all__ = ['gpu_enable', 'cupy', 'get_array_module', 'as_numpy', 'as_cupy', 'is_available']

gpu_enable = cupy is not None
