"""``MaxPooling2D``: the largest value of each window."""
from .. import functions as F
from .base_pooling import BasePooling2D


class MaxPooling2D(BasePooling2D):
    """Max pooling; default 2x2 windows with stride 2, 'valid' padding."""
    pool_function = staticmethod(F.max_pool2d)
