"""``deepzero.cuda``: the GPU through CuPy, as DeZero's ``dezero.cuda``.

    import deepzero
    deepzero.cuda.is_available()     # CuPy installed and a CUDA GPU usable
    x = deepzero.Variable(a).to_gpu()
    deepzero.cuda.as_numpy(x)        # back on the host

The engine's module, core/cuda.py, has the details.
"""
from .core import cuda as _engine_cuda
from .core.cuda import *  # noqa: F401,F403

__all__ = _engine_cuda.__all__
