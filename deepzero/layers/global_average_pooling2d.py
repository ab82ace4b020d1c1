"""``GlobalAveragePooling2D``: the mean over height and width."""
from .. import functions as F
from .base_global_pooling import BaseGlobalPooling2D


class GlobalAveragePooling2D(BaseGlobalPooling2D):
    """(N, H, W, C) -> (N, C), or (N, 1, 1, C) with keepdims=True."""
    pool_function = staticmethod(F.global_average_pool2d)
