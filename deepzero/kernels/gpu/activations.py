"""ReLU on the device: forward, the mask of where its gradient is 1, and the
masked gradient; one elementwise CuPy kernel each (array-API code)."""
from ...core import get_array_module


def relu(x, max_value=None):
    """max(x, 0), capped at ``max_value`` when given."""
    xp = get_array_module(x)
    if max_value is None:
        return xp.maximum(x, 0)
    return xp.clip(x, 0, x.dtype.type(max_value))


def relu_mask(y, max_value=None):
    """Where ReLU's gradient is 1, from its output y: ``0 < y < max_value``
    (flat above the cap, as torch's relu6), a bool array shaped like y."""
    passing = y > 0
    if max_value is not None:
        passing &= y < max_value
    return passing


def relu_grad(gy, passing):
    """gy * passing, ``passing`` the bool mask of ``relu_mask``."""
    return gy * passing
