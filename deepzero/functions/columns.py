"""im2col and its adjoint as ops: the windows of a channels_first image
(N, C, H, W) laid out as columns, DeZero's teaching ops (``dezero.functions``
``im2col``/``col2im``; PyTorch's ``unfold``/``fold``). The array work is
``kernels.windows.im2col_nchw``/``col2im_nchw`` (NumPy or CuPy).

Columns are (N, C, KH, KW, OH, OW), or (N*OH*OW, C*KH*KW) with
``to_matrix``. ``kernel_size``, ``strides`` and ``padding`` are ints or
(h, w) pairs; padding is zeros on both sides of each axis.
"""
from ..core import Function
from ..kernels.geometry import WindowGeometry
from ..kernels.windows import col2im_nchw, im2col_nchw
from .conv_utils import pair

__all__ = ['ImageToColumns', 'image_to_columns', 'ColumnsToImage', 'columns_to_image']


def window_geometry(op, in_hw, kernel_size, strides, padding):
    """The windows of an (H, W) input; ValueError naming ``op`` and the bad argument."""
    return WindowGeometry(op, tuple(in_hw), pair(kernel_size, 'kernel_size', op),
                          pair(strides, 'strides', op), (1, 1), padding)


class ImageToColumns(Function):
    """x (N, C, H, W) -> its windows as columns; the adjoint is ``ColumnsToImage``."""

    def __init__(self, kernel_size, strides, padding, to_matrix):
        self.kernel_size, self.strides, self.padding = kernel_size, strides, padding
        self.to_matrix = to_matrix

    def forward(self, x):
        self.input_shape = x.shape
        geometry = window_geometry('image_to_columns', x.shape[2:], self.kernel_size,
                                   self.strides, self.padding)
        return im2col_nchw(x, geometry, self.to_matrix)

    def backward(self, gy):
        return columns_to_image(gy, self.input_shape, self.kernel_size, self.strides,
                                self.padding, self.to_matrix)


class ColumnsToImage(Function):
    """Columns -> an (N, C, H, W) image of ``image_shape``, overlapping cells
    summed; the adjoint of ``ImageToColumns``."""

    def __init__(self, image_shape, kernel_size, strides, padding, to_matrix):
        self.image_shape = tuple(image_shape)
        self.kernel_size, self.strides, self.padding = kernel_size, strides, padding
        self.to_matrix = to_matrix

    def forward(self, columns):
        geometry = window_geometry('columns_to_image', self.image_shape[2:], self.kernel_size,
                                   self.strides, self.padding)
        return col2im_nchw(columns, self.image_shape, geometry, self.to_matrix)

    def backward(self, gx):
        return image_to_columns(gx, self.kernel_size, self.strides, self.padding,
                                self.to_matrix)


def image_to_columns(x, kernel_size, strides=1, padding=0, to_matrix=True):
    """The windows of x (N, C, H, W) as columns, differentiably: (N, C, KH, KW,
    OH, OW), or (N*OH*OW, C*KH*KW) with ``to_matrix`` (row n*OH*OW + i*OW + j
    holds window (i, j) of image n, channel-major). Padding reads 0."""
    return ImageToColumns(kernel_size, strides, padding, to_matrix)(x)


def columns_to_image(x, image_shape, kernel_size, strides=1, padding=0, to_matrix=True):
    """The adjoint of ``image_to_columns``: columns back to an ``image_shape``
    (N, C, H, W) image, each cell the sum of the column entries that read it."""
    return ColumnsToImage(image_shape, kernel_size, strides, padding, to_matrix)(x)
