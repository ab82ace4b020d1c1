"""``AveragePooling2D``: the mean of each window."""
from .. import functions as F
from .base_pooling import BasePooling2D


class AveragePooling2D(BasePooling2D):
    """Average pooling; with 'same' padding the windows at the border average
    only the real (unpadded) values, as in Keras."""
    pool_function = staticmethod(F.avg_pool2d)
