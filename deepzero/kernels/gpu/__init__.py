"""The kernel set for CuPy arrays (NVIDIA GPUs): the functions of
``kernels/cpu/__init__.py``, with the same signatures and return
conventions, written for the device. Images are channels_last inside; each
kernel takes and returns its arrays in the op's ``data_format``.

No threads and no workspace pool here: CuPy runs each pass on the whole
device and its memory pool recycles the arrays. Convolutions are im2col +
cuBLAS GEMM (CuPy 14 has no cuDNN), direct only: Winograd's algorithms stay
CPU-only. Everything but ``optimizers.py`` is array-API code
(``get_array_module``), so it runs on NumPy arrays as well (the tests do,
where no GPU is). The package imports without CuPy; only the optimizer
kernels need it, when called.

    conv.py         conv2d (+ bias, ReLU, fused max pool), its transpose, kernel and bias gradients
    pooling.py      max and average pooling and their adjoints
    layout.py       channels_first <-> channels_last, padding
    activations.py  ReLU, its mask and its gradient
    batch_norm.py   batch normalisation: batch statistics, the multiply-add, the gradient
    optimizers.py   the optimizers' updates as fused CuPy elementwise kernels
"""
from .activations import relu, relu_grad, relu_mask
from .batch_norm import batch_norm, batch_norm_grad, batch_norm_stats
from .conv import bias_grad, conv2d, conv2d_kernel_grad, conv2d_max_pool, conv2d_transpose
from .pooling import avg_pool2d, avg_pool2d_grad, max_pool2d, max_pool2d_gather, max_pool2d_grad

__all__ = ['relu', 'relu_grad', 'relu_mask', 'conv2d', 'conv2d_max_pool', 'conv2d_transpose',
           'conv2d_kernel_grad', 'bias_grad', 'max_pool2d', 'max_pool2d_grad',
           'max_pool2d_gather', 'avg_pool2d', 'avg_pool2d_grad', 'batch_norm',
           'batch_norm_stats', 'batch_norm_grad']
