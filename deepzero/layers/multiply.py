"""``Multiply``: element-wise product of a list of inputs."""
import operator

from .base_merge import Merge, reduce_pairwise


class Multiply(Merge):
    """``Multiply()([a, b, ...])`` = a * b * ..."""

    def merge(self, inputs):
        return reduce_pairwise(operator.mul, inputs)
