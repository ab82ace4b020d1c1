"""``Add``: element-wise sum of a list of inputs (ResNet's shortcut join)."""
import operator

from .base_merge import Merge, reduce_pairwise


class Add(Merge):
    """``Add()([a, b, ...])`` = a + b + ..."""

    def merge(self, inputs):
        return reduce_pairwise(operator.add, inputs)
