"""ReLU: forward, the mask of where its gradient is 1, and the masked
gradient. Conv nets run ReLU on their largest activations: each pass runs on
every core, into an array from the workspace pool."""
from ...core import get_array_module, parallel, workspace


def relu(x, max_value=None):
    """max(x, 0), capped at ``max_value`` when given."""
    xp = get_array_module(x)
    y = workspace.empty(x.shape, x.dtype, xp)
    if max_value is None:
        parallel.over_batch(lambda x, y: xp.maximum(x, 0, out=y), x, y)
    else:
        cap = x.dtype.type(max_value)
        parallel.over_batch(lambda x, y: xp.clip(x, 0, cap, out=y), x, y)
    return y


def relu_passing(y, max_value, out):
    """Where ReLU's gradient is 1, from its output y: ``0 < y < max_value``
    (flat above the cap, as torch's relu6), into the bool array ``out``."""
    xp = get_array_module(y)
    xp.greater(y, 0, out=out)
    if max_value is not None:
        out &= y < max_value


def relu_mask(y, max_value=None):
    """Where ReLU's gradient is 1, from its output y (see ``relu_passing``):
    a pooled bool array shaped like y, computed on every core."""
    passing = workspace.empty(y.shape, bool, get_array_module(y))
    parallel.over_batch(lambda y, passing: relu_passing(y, max_value, passing), y, passing)
    return passing


def relu_grad(gy, passing):
    """gy * passing, ``passing`` the bool mask of ``relu_mask`` (a bool times
    gy costs about a copy: no float mask is built)."""
    xp = get_array_module(gy)
    gx = workspace.empty(gy.shape, gy.dtype, xp)
    parallel.over_batch(lambda gy, passing, gx: xp.multiply(gy, passing, out=gx),
                        gy, passing, gx)
    return gx
