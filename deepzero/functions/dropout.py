"""Inverted dropout: zero a random fraction of units while training."""
import numbers

import numpy as np

from ..core import Function, as_variable, config, get_array_module, runtime
from ..core.cuda import cupy, device_of

__all__ = ['DropoutFunction', 'dropout']


class DropoutFunction(Function):
    """Multiply ``x`` by a random mask of 0 and ``1 / (1 - rate)``.

    Scaling the kept units while training ("inverted" dropout) keeps the
    expected activation unchanged, so inference needs no rescaling.
    ``rng``: a ``np.random.Generator`` (the mask is drawn on the host and
    copied to x's device) or a ``cupy.random.RandomState`` (drawn on the GPU).
    """

    def __init__(self, rate, rng):
        self.rate = rate
        self.rng = rng

    def forward(self, x):
        xp = get_array_module(x)
        # float32 uniforms are plenty to resolve any rate, and half the work
        # and memory of float64 ones.
        if isinstance(self.rng, np.random.Generator):  # a host generator: copied to x's device
            uniform = xp.asarray(self.rng.random(x.shape, dtype=np.float32))
        else:  # a cupy.random.RandomState: drawn on the GPU
            uniform = self.rng.random_sample(x.shape, dtype=np.float32)
        scale = x.dtype.type(1.0 / (1.0 - self.rate))
        self.mask = xp.multiply(uniform >= self.rate, scale, dtype=x.dtype)
        return x * self.mask

    def backward(self, gy):
        return gy * self.mask


def dropout(x, rate=0.5, seed=None):
    """Inverted dropout; the identity when ``config.train`` is False.

    Args:
        x: Variable or array of any shape.
        rate: fraction of units to drop, in [0, 1).
        seed: None (the runtime's 'dropout' stream, shared by every unseeded
            call: consecutive calls get different masks, and
            ``deepzero.utils.set_random_seed`` makes them repeatable), an int (a fresh
            generator seeded with it, so the same seed gives the same mask),
            or a ``np.random.Generator`` (drawn from, advancing its state).
            For CuPy data the mask is drawn on the GPU: from
            ``runtime.device_generator('dropout')`` (seeded from the same root
            seed) or a ``cupy.random.RandomState(seed)``; the same seed gives
            other masks there than on the CPU (another generator). A
            ``np.random.Generator`` draws on the host and the mask is copied.

    Returns:
        Variable of x's shape and dtype: kept units scaled by 1 / (1 - rate).
    """
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"dropout: rate must be in [0, 1), got {rate}")
    if not config.train or rate == 0.0:
        return as_variable(x)
    return DropoutFunction(rate, _generator(seed, device_of(x)))(x)


def _generator(seed, device):
    """The generator of the mask: NumPy's for 'cpu' data, cuRAND's for 'gpu'."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is not None and not isinstance(seed, numbers.Integral):
        raise TypeError(f"dropout: seed must be None, an int or a np.random.Generator, "
                        f"got {type(seed).__name__}")
    if device == 'gpu':
        return (runtime.device_generator('dropout') if seed is None
                else cupy.random.RandomState(int(seed)))
    return runtime.generator('dropout') if seed is None else np.random.default_rng(int(seed))
