"""The kernel set for NumPy arrays: large passes and GEMMs split over the
CPU's cores (core/parallel.py), large arrays from the workspace pool
(core/workspace.py). Images are channels_last inside; each kernel takes and
returns its arrays in the op's ``data_format``. Window views, gathers and
scatters are shared with the gpu set (``kernels/windows.py``).

    conv.py         conv2d (+ bias, ReLU, fused max pool), its transpose, kernel and bias gradients
    pooling.py      max and average pooling and their adjoints
    im2col.py       the chunked im2col pipeline and col2im
    layout.py       channels_first <-> channels_last, padding
    activations.py  ReLU, its mask and its gradient
    batch_norm.py   batch normalisation: batch statistics, the multiply-add, the gradient
"""
from .activations import relu, relu_grad, relu_mask
from .batch_norm import batch_norm, batch_norm_grad, batch_norm_stats
from .conv import bias_grad, conv2d, conv2d_kernel_grad, conv2d_max_pool, conv2d_transpose
from .pooling import avg_pool2d, avg_pool2d_grad, max_pool2d, max_pool2d_gather, max_pool2d_grad

__all__ = ['relu', 'relu_grad', 'relu_mask', 'conv2d', 'conv2d_max_pool', 'conv2d_transpose',
           'conv2d_kernel_grad', 'bias_grad', 'max_pool2d', 'max_pool2d_grad',
           'max_pool2d_gather', 'avg_pool2d', 'avg_pool2d_grad', 'batch_norm',
           'batch_norm_stats', 'batch_norm_grad']
