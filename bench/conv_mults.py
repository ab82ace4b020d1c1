"""The multiplications that deepzero's convolutions do in each workload, by the
algorithm its ``conv_algorithm`` setting picks for each layer.

A direct (im2col) 3x3 conv does 9 * C_in * C_out multiply-adds per output cell;
Winograd's F(m x m, 3 x 3) does (m + 2)^2 * C_in * C_out per tile of m x m
cells (tiles cover the output, the last row and column of tiles cut at its
edge). Only the GEMMs' multiply-adds are counted, 2 FLOPs each, as in
bench/run.py's GFLOP table; the transforms (additions and small constant
factors) are not. Dense layers are counted as GEMMs too.

    workload_gflop('W2_vgg_fwd')                      # what 'auto' multiplies
    workload_gflop('W2_vgg_fwd', algorithm='direct')  # bench/run.py's GFLOP
"""
import math

import numpy as np

from deepzero.kernels.cpu import winograd
from deepzero.kernels.geometry import ConvSpec, WindowGeometry

# (H = W of the input, C_in, C_out, padding) of each 3x3 stride-1 conv
BOOK_CONVNET = [(150, 3, 32, 'valid'), (74, 32, 64, 'valid'), (36, 64, 128, 'valid'),
                (17, 128, 128, 'valid')]
VGG16 = [(150, 3, 64), (150, 64, 64), (75, 64, 128), (75, 128, 128), (37, 128, 256),
         (37, 256, 256), (37, 256, 256), (18, 256, 512), (18, 512, 512), (18, 512, 512),
         (9, 512, 512), (9, 512, 512), (9, 512, 512)]
VGG16 = [(hw, c_in, c_out, 'same') for hw, c_in, c_out in VGG16]


def tile_size(in_hw, c_in, c_out, padding, algorithm=None):
    """The Winograd tile size deepzero picks for this float32 conv (0: direct),
    and its output size."""
    geometry = WindowGeometry('conv2d', (in_hw, in_hw), (3, 3), (1, 1), (1, 1), padding)
    spec = ConvSpec(geometry, 1, 'channels_last', c_in, algorithm)
    return winograd.tile_size(spec, np.float32, c_out), geometry.out_hw


def conv_gflop(batch, in_hw, c_in, c_out, padding, algorithm=None):
    """GFLOP of one 3x3 stride-1 conv's forward pass (float32)."""
    m, (oh, ow) = tile_size(in_hw, c_in, c_out, padding, algorithm)
    if not m:
        return 2 * 9 * c_in * c_out * oh * ow * batch / 1e9
    return 2 * (m + 2) ** 2 * c_in * c_out * math.ceil(oh / m) * math.ceil(ow / m) * batch / 1e9


def training_gflop(batch, in_hw, c_in, c_out, padding, input_gradient, algorithm=None):
    """GFLOP of one conv's forward, kernel gradient (the same tiles or
    windows) and, with ``input_gradient``, input gradient: a GEMM as large
    as the forward's (+ col2im) on the direct path, or by Winograd the conv of
    the output gradient, padded by 2 - pad, with the flipped kernel (as
    deepzero's kernels/cpu/conv.py runs it)."""
    forward = conv_gflop(batch, in_hw, c_in, c_out, padding, algorithm)
    total = 2 * forward
    if input_gradient:
        out_hw = in_hw + (2 if padding == 'same' else 0) - 2
        pad = 1 if padding == 'same' else 2
        if tile_size(out_hw, c_out, c_in, pad, algorithm)[0]:
            total += conv_gflop(batch, out_hw, c_out, c_in, pad, algorithm)
        else:
            total += forward
    return total


def dense_gflop(batch, sizes, train):
    """GFLOP of dense layers (in, out) pairs: forward, and with ``train`` the
    kernel gradients and the input gradients."""
    return sum(2 * batch * n_in * n_out for n_in, n_out in sizes) * (3 if train else 1) / 1e9


def workload_gflop(name, algorithm=None):
    """The multiplications (GFLOP) of one call of workload ``name`` (see
    bench/workloads_deepzero.py), the convs by ``algorithm`` (None: the
    ``conv_algorithm`` runtime setting)."""
    if name == 'W1_infer':
        return (sum(conv_gflop(32, *layer, algorithm) for layer in BOOK_CONVNET) +
                dense_gflop(32, [(6272, 512), (512, 1)], False))
    if name == 'W1_train':
        return (sum(training_gflop(32, *layer, number > 0, algorithm)
                    for number, layer in enumerate(BOOK_CONVNET)) +
                dense_gflop(32, [(6272, 512), (512, 1)], True))
    if name == 'W2_vgg_fwd':
        return sum(conv_gflop(20, *layer, algorithm) for layer in VGG16)
    if name == 'W3_finetune':
        frozen, block5 = VGG16[:-3], VGG16[-3:]
        return (sum(conv_gflop(20, *layer, algorithm) for layer in frozen) +
                sum(training_gflop(20, *layer, number > 0, algorithm)
                    for number, layer in enumerate(block5)) +
                dense_gflop(20, [(8192, 256), (256, 1)], True))
    raise ValueError(f'unknown workload {name!r}')
