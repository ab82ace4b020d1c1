"""Small helpers shared by the op tests: inputs that stay clear of kinks, and
the float32-in, float32-out check every op must pass."""
import numpy as np

from deepzero import Variable


def away_from(rng, shape, kinks=(0.0,), margin=0.1, scale=2.0):
    """Random float64 values in [-scale, scale] at least ``margin`` from every
    kink, so central differences never straddle one."""
    x = rng.uniform(-scale, scale, size=shape)
    for k in kinks:
        near = np.abs(x - k) < margin
        x[near] = k + np.where(x[near] >= k, margin, -margin) * 2
    return x


def check_float32(fn, *arrays):
    """``fn`` maps float32 inputs to a float32 output and float32 gradients."""
    xs = [Variable(np.asarray(a, dtype=np.float32)) for a in arrays]
    y = fn(*xs)
    assert y.dtype == np.float32, f"output dtype {y.dtype}"
    y.backward()
    for i, x in enumerate(xs):
        assert x.grad is not None, f"input {i} got no gradient"
        assert x.grad.dtype == np.float32, f"input {i} grad dtype {x.grad.dtype}"
