"""The ReLU mask: where its gradient is 1."""
from ...core import get_array_module, parallel, workspace


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
