"""max_pool2d, avg_pool2d, global pools: finite differences (float64), second
order, PyTorch forward+backward, Keras padding regressions, dtypes, errors."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import deepzero.functions as F
from deepzero import Variable, no_grad
from deepzero.utils import check_gradients, check_second_order
from torch_oracle import compare_with_torch


def nchw(x):
    return x.permute(0, 3, 1, 2)


def nhwc(x):
    return x.permute(0, 2, 3, 1)


def distinct(rng, shape):
    """Values far apart, so finite differences never cross a max tie."""
    return rng.permutation(np.prod(shape)).reshape(shape) * 0.1 + rng.random(shape) * 0.01


POOL_CASES = [  # (x shape NHWC, pool_size, strides, padding)
    ((2, 6, 6, 3), 2, None, 'valid'),
    ((1, 7, 5, 2), 2, None, 'valid'),      # odd sizes: last row/col dropped
    ((1, 7, 5, 2), 3, 2, 'valid'),         # overlapping windows
    ((1, 7, 5, 2), 3, 2, 'same'),
    ((1, 5, 6, 2), (2, 3), (1, 2), 'same'),
    ((1, 6, 6, 2), 2, 3, 'valid'),         # stride > pool: cells in no window
]


@pytest.mark.parametrize('x_shape, pool, strides, padding', POOL_CASES)
@pytest.mark.parametrize('pool_fn', [F.max_pool2d, F.avg_pool2d])
def test_pool_gradients(rng, pool_fn, x_shape, pool, strides, padding):
    check_gradients(lambda x: pool_fn(x, pool, strides, padding), distinct(rng, x_shape))


@pytest.mark.parametrize('pool_fn', [F.max_pool2d, F.avg_pool2d])
@pytest.mark.parametrize('x_shape, pool, strides, padding', POOL_CASES[:4])
def test_pool_second_order(rng, pool_fn, x_shape, pool, strides, padding):
    check_second_order(lambda x: pool_fn(x, pool, strides, padding) ** 2,
                       distinct(rng, x_shape))


TORCH_CASES = [  # (x shape, pool, strides, torch padding (symmetric))
    ((2, 6, 6, 3), 2, 2, 0),
    ((1, 7, 5, 2), 3, 2, 0),
    ((1, 7, 5, 2), 3, 2, 1),
    ((1, 8, 8, 2), 3, 1, 1),
]


@pytest.mark.parametrize('x_shape, pool, strides, pad', TORCH_CASES)
@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_max_pool_matches_torch(rng, x_shape, pool, strides, pad, dtype):
    compare_with_torch(lambda x: F.max_pool2d(x, pool, strides, pad),
                       lambda x: nhwc(TF.max_pool2d(nchw(x), pool, strides, pad)),
                       distinct(rng, x_shape), dtype=dtype)


@pytest.mark.parametrize('x_shape, pool, strides, pad', TORCH_CASES)
@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_avg_pool_matches_torch(rng, x_shape, pool, strides, pad, dtype):
    compare_with_torch(lambda x: F.avg_pool2d(x, pool, strides, pad),
                       lambda x: nhwc(TF.avg_pool2d(nchw(x), pool, strides, pad,
                                                    count_include_pad=False)),
                       rng.standard_normal(x_shape), dtype=dtype)


def test_channels_first_matches_torch(rng):
    x = distinct(rng, (2, 3, 6, 7))
    compare_with_torch(lambda x: F.max_pool2d(x, 3, 2, 1, data_format='channels_first'),
                       lambda x: TF.max_pool2d(x, 3, 2, 1), x)
    compare_with_torch(lambda x: F.avg_pool2d(x, 2, data_format='channels_first'),
                       lambda x: TF.avg_pool2d(x, 2), x)
    check_second_order(lambda x: F.max_pool2d(x, 2, 1, 'same',
                                              data_format='channels_first') ** 2,
                       x[:1, :2, :4, :4])


def test_max_pool_ties_route_gradient_to_first_max():
    x = Variable(np.zeros((1, 2, 2, 1), np.float32))  # ReLU-style all-zero window
    F.max_pool2d(x).sum().backward()
    np.testing.assert_array_equal(x.grad.data[0, :, :, 0], [[1, 0], [0, 0]])
    t = torch.zeros((1, 1, 2, 2), requires_grad=True)
    TF.max_pool2d(t, 2).sum().backward()
    np.testing.assert_array_equal(t.grad.numpy()[0, 0], [[1, 0], [0, 0]])


def test_max_pool_padding_keeps_negatives():
    """DeZero padded with 0: an all-negative input came out as 0 at the border."""
    x = -np.arange(1, 26, dtype=np.float32).reshape(1, 5, 5, 1)
    y = F.max_pool2d(x, 3, 2, 'same')
    assert y.shape == (1, 3, 3, 1)
    np.testing.assert_array_equal(y.data[0, :, :, 0], [[-1, -2, -4], [-6, -7, -9],
                                                       [-16, -17, -19]])
    assert (F.max_pool2d(x, 2, 1, ((1, 1), (1, 1))).data < 0).all()


def test_default_stride_is_pool_size():
    x = np.arange(36, dtype=np.float32).reshape(1, 6, 6, 1)
    assert F.max_pool2d(x, 3).shape == (1, 2, 2, 1)
    assert F.avg_pool2d(x, (2, 3)).shape == (1, 3, 2, 1)


def test_avg_pool_same_excludes_padding():
    x = np.ones((1, 5, 5, 1), np.float32)
    np.testing.assert_array_equal(F.avg_pool2d(x, 3, 2, 'same').data, np.ones((1, 3, 3, 1)))


def test_same_padding_matches_keras(rng):
    keras = pytest.importorskip('keras')
    x = rng.standard_normal((2, 7, 6, 3)).astype(np.float32)
    for pool, strides in [(3, 2), (2, 2), (2, 1)]:
        expected = keras.ops.convert_to_numpy(keras.layers.MaxPooling2D(pool, strides, 'same')(x))
        np.testing.assert_allclose(F.max_pool2d(x, pool, strides, 'same').data, expected)
    # (Average 'same' is checked against TF's rule in the tests above: Keras's
    # torch backend counts the padded zeros, which TF and Keras-on-TF do not.)


@pytest.mark.parametrize('data_format', ['channels_last', 'channels_first'])
@pytest.mark.parametrize('keepdims', [False, True])
def test_global_pools(rng, data_format, keepdims):
    x = distinct(rng, (2, 4, 3, 5))
    axes = (1, 2) if data_format == 'channels_last' else (2, 3)
    for fn, ref in [(F.global_average_pool2d, np.mean), (F.global_max_pool2d, np.max)]:
        y = fn(x, keepdims=keepdims, data_format=data_format)
        np.testing.assert_allclose(y.data, ref(x, axis=axes, keepdims=keepdims))
        check_gradients(lambda x: fn(x, keepdims, data_format) ** 2, x)
    compare_with_torch(lambda x: F.global_max_pool2d(x, data_format=data_format),
                       lambda x: x.amax(dim=axes), x)
    compare_with_torch(lambda x: F.global_average_pool2d(x, data_format=data_format),
                       lambda x: x.mean(dim=axes), x)


@pytest.mark.parametrize('fn', [
    lambda x: F.max_pool2d(x, 3, 2, 'same'), lambda x: F.avg_pool2d(x, 3, 2, 'same'),
    F.global_average_pool2d, F.global_max_pool2d])
def test_dtype_preserved(rng, fn):
    x = Variable(rng.standard_normal((2, 5, 5, 3)).astype(np.float32))
    y = fn(x)
    assert y.dtype == np.float32
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32


def test_no_grad_forward_matches(rng):
    x = Variable(distinct(rng, (1, 6, 6, 2)).astype(np.float32))
    with no_grad():
        y = F.max_pool2d(x, 3, 2, 'same')
    np.testing.assert_array_equal(y.data, F.max_pool2d(x, 3, 2, 'same').data)


@pytest.mark.parametrize('call, message', [
    (lambda: F.max_pool2d(np.zeros((1, 4, 4, 1)), padding='full'),
     r"max_pool2d: padding must be 'valid', 'same'.*'full'"),
    (lambda: F.avg_pool2d(np.zeros((1, 4, 4, 1)), data_format='NCHW'),
     r"avg_pool2d: data_format must be 'channels_last' or 'channels_first', got 'NCHW'"),
    (lambda: F.max_pool2d(np.zeros((1, 2, 2, 1)), 3),
     r"max_pool2d: window \(3, 3\).*larger than the padded input \(2, 2\)"),
    (lambda: F.max_pool2d(np.zeros((4, 4, 1))),
     r"max_pool2d: x must be 4-d \(N, H, W, C\), got shape \(4, 4, 1\)"),
    (lambda: F.avg_pool2d(np.zeros((1, 4, 4, 1)), pool_size=0),
     r"avg_pool2d: pool_size must be a positive int"),
    (lambda: F.global_max_pool2d(np.zeros((4, 4, 1))),
     r"global_max_pool2d: x must be 4-d"),
])
def test_errors_name_op_and_shapes(call, message):
    with pytest.raises(ValueError, match=message):
        call()
