"""image_to_columns and columns_to_image (im2col and its adjoint, channels_first):
finite differences (float64), PyTorch's unfold and fold forward and backward,
float32 in and out, and errors naming the argument."""
import numpy as np
import pytest
import torch.nn.functional as TF

import deepzero.functions as F
from deepzero.utils import check_gradients
from op_checks import check_float32
from torch_oracle import compare_with_torch

# (x shape (N, C, H, W), kernel_size, strides, padding): overlapping, strided,
# padded, non-square windows, and windows that skip cells
CASES = [((2, 3, 5, 5), 3, 1, 0), ((1, 2, 6, 5), (2, 3), (2, 1), (1, 0)),
         ((2, 1, 4, 4), 2, 2, 1), ((1, 2, 7, 6), 2, 3, 0)]


def out_hw(x_shape, kernel_size, strides, padding):
    pairs = [v if isinstance(v, tuple) else (v, v) for v in (kernel_size, strides, padding)]
    return tuple((n + 2 * p - k) // s + 1 for n, k, s, p in zip(x_shape[2:], *pairs))


def torch_unfold(x, kernel_size, strides, padding, to_matrix):
    """unfold's (N, C*KH*KW, OH*OW) in DeZero's layouts."""
    cols = TF.unfold(x, kernel_size, padding=padding, stride=strides)
    if to_matrix:
        return cols.transpose(1, 2).reshape(-1, cols.shape[1])
    n, c = x.shape[:2]
    kh, kw = kernel_size if isinstance(kernel_size, tuple) else (kernel_size, kernel_size)
    return cols.reshape((n, c, kh, kw) + out_hw(x.shape, kernel_size, strides, padding))


def torch_fold(cols, x_shape, kernel_size, strides, padding, to_matrix):
    n, c = x_shape[:2]
    if to_matrix:
        cols = cols.reshape(n, -1, cols.shape[1]).transpose(1, 2)
    else:
        cols = cols.reshape(n, -1, cols.shape[-2] * cols.shape[-1])
    return TF.fold(cols, x_shape[2:], kernel_size, padding=padding, stride=strides)


def columns_shape(x_shape, kernel_size, strides, padding, to_matrix):
    n, c = x_shape[:2]
    kh, kw = kernel_size if isinstance(kernel_size, tuple) else (kernel_size, kernel_size)
    oh, ow = out_hw(x_shape, kernel_size, strides, padding)
    return (n * oh * ow, c * kh * kw) if to_matrix else (n, c, kh, kw, oh, ow)


@pytest.mark.parametrize('to_matrix', [True, False])
@pytest.mark.parametrize('x_shape, kernel_size, strides, padding', CASES)
def test_image_to_columns_gradients(rng, x_shape, kernel_size, strides, padding, to_matrix):
    check_gradients(lambda x: F.image_to_columns(x, kernel_size, strides, padding, to_matrix),
                    rng.standard_normal(x_shape))


@pytest.mark.parametrize('to_matrix', [True, False])
@pytest.mark.parametrize('x_shape, kernel_size, strides, padding', CASES)
def test_columns_to_image_gradients(rng, x_shape, kernel_size, strides, padding, to_matrix):
    cols = rng.standard_normal(columns_shape(x_shape, kernel_size, strides, padding, to_matrix))
    check_gradients(lambda c: F.columns_to_image(c, x_shape, kernel_size, strides, padding,
                                                 to_matrix), cols)


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('to_matrix', [True, False])
@pytest.mark.parametrize('x_shape, kernel_size, strides, padding', CASES)
def test_image_to_columns_matches_torch_unfold(rng, x_shape, kernel_size, strides, padding,
                                               to_matrix, dtype):
    compare_with_torch(
        lambda x: F.image_to_columns(x, kernel_size, strides, padding, to_matrix),
        lambda x: torch_unfold(x, kernel_size, strides, padding, to_matrix),
        rng.standard_normal(x_shape), dtype=dtype)


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('to_matrix', [True, False])
@pytest.mark.parametrize('x_shape, kernel_size, strides, padding', CASES)
def test_columns_to_image_matches_torch_fold(rng, x_shape, kernel_size, strides, padding,
                                             to_matrix, dtype):
    cols = rng.standard_normal(columns_shape(x_shape, kernel_size, strides, padding, to_matrix))
    compare_with_torch(
        lambda c: F.columns_to_image(c, x_shape, kernel_size, strides, padding, to_matrix),
        lambda c: torch_fold(c, x_shape, kernel_size, strides, padding, to_matrix),
        cols, dtype=dtype)


def test_float32_stays_float32(rng):
    check_float32(lambda x: F.image_to_columns(x, 2, 1, 1), rng.standard_normal((1, 2, 3, 3)))
    check_float32(lambda c: F.columns_to_image(c, (1, 2, 3, 3), 2, 1, 1),
                  rng.standard_normal((16, 8)))


@pytest.mark.parametrize('kwargs, name', [(dict(kernel_size=0), 'kernel_size'),
                                          (dict(kernel_size=2, strides=(1, -1)), 'strides'),
                                          (dict(kernel_size=2, padding=-1), 'padding')])
def test_bad_window_arguments_are_named(kwargs, name):
    with pytest.raises(ValueError, match=f'image_to_columns: {name}'):
        F.image_to_columns(np.zeros((1, 1, 4, 4), np.float32), **kwargs)
