"""deepzero.dezero's convolutions, pooling and im2col in DeZero's layouts (NCHW
images, OIHW kernels, (C_in, C_out, KH, KW) transposed-conv kernels):
values and gradients against PyTorch (which uses the same layouts), finite
differences including second order, and im2col's layout against indices
worked out here.

Set DEZERO_REFERENCE to a checkout of oreilly-japan/deep-learning-from-scratch-3
to also compare with DeZero's own functions (skipped otherwise)."""
import importlib
import os
import sys

import numpy as np
import pytest

import deepzero.dezero.functions as F
from deepzero.dezero import Variable
from deepzero.dezero.utils import get_deconv_outsize, pair
from deepzero.utils.gradient_check import check_gradients, check_second_order
from op_checks import check_float32

torch = pytest.importorskip('torch')
from torch_oracle import compare_with_torch  # noqa: E402

TF = torch.nn.functional


@pytest.fixture
def rng():
    return np.random.default_rng(0)


# --- conv2d / deconv2d against PyTorch ----------------------------------------------------------
CONV_CASES = [((2, 3, 7, 6), (4, 3, 3, 3), 1, 0), ((1, 2, 8, 8), (3, 2, 3, 3), 2, 1),
              ((2, 3, 5, 7), (2, 3, 2, 3), (2, 1), (1, 2)), ((1, 4, 6, 6), (5, 4, 1, 1), 1, 0)]


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('x_shape, w_shape, stride, pad', CONV_CASES)
def test_conv2d_against_torch(x_shape, w_shape, stride, pad, dtype, rng):
    x, W = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0])
    compare_with_torch(lambda x, W, b: F.conv2d(x, W, b, stride, pad),
                       lambda x, W, b: TF.conv2d(x, W, b, stride=stride, padding=pad),
                       x, W, b, dtype=dtype)
    compare_with_torch(lambda x, W: F.conv2d(x, W, stride=stride, pad=pad),
                       lambda x, W: TF.conv2d(x, W, stride=stride, padding=pad),
                       x, W, dtype=dtype)


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('x_shape, w_shape, stride, pad, extra', [
    ((2, 3, 4, 5), (3, 2, 3, 3), 1, 0, (0, 0)), ((1, 2, 4, 4), (2, 3, 4, 4), 2, 1, (0, 0)),
    ((2, 2, 3, 3), (2, 2, 3, 3), 2, 1, (1, 0)), ((1, 3, 3, 4), (3, 2, 2, 3), (2, 3), (0, 1),
                                                 (1, 2))])
def test_deconv2d_against_torch(x_shape, w_shape, stride, pad, extra, dtype, rng):
    x, W = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[1])
    (sh, sw), (ph, pw) = pair(stride), pair(pad)
    outsize = (get_deconv_outsize(x_shape[2], w_shape[2], sh, ph) + extra[0],
               get_deconv_outsize(x_shape[3], w_shape[3], sw, pw) + extra[1])
    compare_with_torch(
        lambda x, W, b: F.deconv2d(x, W, b, stride, pad, outsize=outsize),
        lambda x, W, b: TF.conv_transpose2d(x, W, b, stride=stride, padding=pad,
                                            output_padding=extra),
        x, W, b, dtype=dtype)
    if extra == (0, 0):   # the default outsize
        y = F.deconv2d(Variable(x), Variable(W), None, stride, pad)
        assert y.shape[2:] == outsize


def test_deconv2d_is_conv2ds_input_gradient(rng):
    x = Variable(rng.standard_normal((2, 3, 7, 7)))
    W = rng.standard_normal((4, 3, 3, 3))
    y = F.conv2d(x, W, stride=2, pad=1)
    gy = rng.standard_normal(y.shape)
    y.grad = Variable(gy)
    y.backward()
    np.testing.assert_allclose(F.deconv2d(gy, W, stride=2, pad=1, outsize=(7, 7)).data,
                               x.grad.data, rtol=1e-12)


def test_deconv2d_refuses_an_outsize_that_does_not_map_back():
    with pytest.raises(ValueError, match=r'deconv2d: outsize \(9, 9\) does not map back'):
        F.deconv2d(np.ones((1, 1, 3, 3)), np.ones((1, 1, 3, 3)), stride=1, outsize=(9, 9))
    with pytest.raises(ValueError, match='deconv2d: x has 2 channels but W expects 1'):
        F.deconv2d(np.ones((1, 2, 3, 3)), np.ones((1, 1, 3, 3)))


def test_conv2d_keeps_float32_and_gives_oihw_gradients(rng):
    x, W, b = rng.standard_normal((2, 3, 5, 5)), rng.standard_normal((4, 3, 3, 3)), np.zeros(4)
    check_float32(lambda x, W, b: F.conv2d(x, W, b, 1, 1), x, W, b)
    check_float32(lambda x, W: F.deconv2d(x, W, None, 2, 1), x, rng.standard_normal((3, 2, 4, 4)))
    Wv = Variable(W.astype(np.float32))
    F.conv2d(x.astype(np.float32), Wv).backward()
    assert Wv.grad.shape == (4, 3, 3, 3)


# --- higher-order gradients (DeZero's second order through the kernel fails) ----------------------
def test_conv2d_second_order_through_input_and_kernel(rng):
    x, W = rng.standard_normal((1, 2, 4, 4)), rng.standard_normal((2, 2, 3, 3))
    check_second_order(lambda x, W: F.conv2d(x, W, None, 2, 1) ** 2, x, W)
    check_second_order(lambda x, W: F.deconv2d(x, W, None, 2, 1) ** 2,
                       rng.standard_normal((1, 2, 3, 3)), rng.standard_normal((2, 3, 3, 3)))


# --- pooling --------------------------------------------------------------------------------------
@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('kernel, stride, pad', [(2, 2, 0), (3, 1, 1), (3, 2, 1),
                                                 ((2, 3), (1, 2), (1, 1))])
def test_pooling_against_torch(kernel, stride, pad, dtype, rng):
    x = rng.permutation(2 * 3 * 7 * 8).reshape(2, 3, 7, 8) / 10.0 - 17.0   # no ties, negative
    compare_with_torch(lambda x: F.pooling(x, kernel, stride, pad),
                       lambda x: TF.max_pool2d(x, kernel, stride, pad), x, dtype=dtype)
    compare_with_torch(lambda x: F.average_pooling(x, kernel, stride, pad),
                       lambda x: TF.avg_pool2d(x, kernel, stride, pad, count_include_pad=True),
                       x, dtype=dtype)


def test_pooling_stride_defaults_to_1(rng):
    x = rng.standard_normal((1, 2, 5, 5))
    assert F.pooling(x, 2).shape == (1, 2, 4, 4)
    assert F.average_pooling(x, 3).shape == (1, 2, 3, 3)
    assert F.pooling_simple(x, 2).shape == (1, 2, 4, 4)


def test_max_pooling_padding_never_wins():
    x = -np.ones((1, 1, 2, 2))
    np.testing.assert_array_equal(F.pooling(x, 2, 2, 1).data, -np.ones((1, 1, 2, 2)))  # DeZero: 0


def test_pooling_gradients_and_float32(rng):
    x = rng.permutation(2 * 2 * 6 * 6).reshape(2, 2, 6, 6) / 7.0
    check_gradients(lambda v: F.pooling(v, 3, 2, 1), x)
    check_gradients(lambda v: F.average_pooling(v, 3, 2, 1) ** 2, x)
    check_float32(lambda v: F.pooling(v, 2, 2), x)
    check_float32(lambda v: F.average_pooling(v, 3, 2, 1), x)
    check_second_order(lambda v: F.average_pooling(v, 2, 1) ** 2, x[:1, :1])


# --- the book's im2col versions -------------------------------------------------------------------
def im2col_by_index(x, kh, kw, stride, pad):
    """im2col's matrix element by element: row n*OH*OW + i*OW + j, column
    c*KH*KW + a*KW + b holds padded x[n, c, i*stride + a, j*stride + b]."""
    n_, c_, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = (h + 2 * pad - kh) // stride + 1, (w + 2 * pad - kw) // stride + 1
    out = np.empty((n_ * oh * ow, c_ * kh * kw), x.dtype)
    for n in range(n_):
        for i in range(oh):
            for j in range(ow):
                for c in range(c_):
                    for a in range(kh):
                        for b in range(kw):
                            out[n * oh * ow + i * ow + j, c * kh * kw + a * kw + b] = \
                                xp[n, c, i * stride + a, j * stride + b]
    return out, (oh, ow)


@pytest.mark.parametrize('kernel, stride, pad', [(3, 3, 0), (2, 1, 1), (3, 2, 1)])
def test_im2col_layout(kernel, stride, pad):
    x = np.arange(2 * 3 * 5 * 4, dtype=np.float64).reshape(2, 3, 5, 4)
    expected, (oh, ow) = im2col_by_index(x, kernel, kernel, stride, pad)
    np.testing.assert_array_equal(F.im2col(x, kernel, stride, pad).data, expected)
    col = F.im2col(x, kernel, stride, pad, to_matrix=False).data
    assert col.shape == (2, 3, kernel, kernel, oh, ow)
    np.testing.assert_array_equal(col.transpose(0, 4, 5, 1, 2, 3).reshape(expected.shape),
                                  expected)


def test_im2col_of_a_3x3_image_is_one_row():
    x = np.arange(9).reshape(1, 1, 3, 3)
    np.testing.assert_array_equal(F.im2col(x, 3, 3, 0).data, [np.arange(9)])


@pytest.mark.parametrize('to_matrix', [True, False])
@pytest.mark.parametrize('kernel, stride, pad', [(2, 1, 1), (3, 2, 1), ((2, 3), (2, 1), (0, 1))])
def test_col2im_is_im2cols_adjoint(kernel, stride, pad, to_matrix, rng):
    x = rng.standard_normal((2, 2, 5, 4))
    col = F.im2col(x, kernel, stride, pad, to_matrix).data
    c = rng.standard_normal(col.shape)
    back = F.col2im(c, x.shape, kernel, stride, pad, to_matrix).data
    assert back.shape == x.shape
    np.testing.assert_allclose(np.vdot(col, c), np.vdot(x, back), rtol=1e-12)
    check_gradients(lambda v: F.im2col(v, kernel, stride, pad, to_matrix) ** 2, x)
    check_gradients(lambda v: F.col2im(v, x.shape, kernel, stride, pad, to_matrix) ** 2, c)


def test_conv2d_simple_and_pooling_simple_match_the_fast_ops(rng):
    x, W = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((4, 3, 3, 3))
    b = rng.standard_normal(4)
    np.testing.assert_allclose(F.conv2d_simple(x, W, b, 2, 1).data,
                               F.conv2d(x, W, b, 2, 1).data, rtol=1e-12)
    check_gradients(lambda x, W, b: F.conv2d_simple(x, W, b, 2, 1) ** 2, x, W, b)
    np.testing.assert_array_equal(F.pooling_simple(x, 2, 2).data, F.pooling(x, 2, 2).data)
    check_gradients(lambda v: F.pooling_simple(v, 3, 2), x)
    check_float32(lambda x, W: F.conv2d_simple(x, W, None, 1, 1), x, W)


# --- DeZero itself, where a checkout is given -----------------------------------------------------
@pytest.fixture(scope='module')
def reference():
    path = os.environ.get('DEZERO_REFERENCE')
    if not path:
        pytest.skip('DEZERO_REFERENCE (a checkout of oreilly-japan/deep-learning-from-scratch-3) '
                    'is not set')
    sys.path.insert(0, path)
    try:
        return importlib.import_module('dezero.functions_conv')
    except ImportError as error:
        pytest.skip(f'DeZero at {path} does not import: {error}')
    finally:
        sys.path.remove(path)


@pytest.mark.parametrize('kernel, stride, pad', [(3, 1, 1), (2, 2, 0), ((3, 2), (2, 1), (1, 0))])
def test_same_as_dezero(reference, kernel, stride, pad, rng):
    x = rng.standard_normal((2, 3, 7, 6))
    for to_matrix in (True, False):
        np.testing.assert_array_equal(F.im2col(x, kernel, stride, pad, to_matrix).data,
                                      reference.im2col(x, kernel, stride, pad, to_matrix).data)
        col = reference.im2col(x, kernel, stride, pad, to_matrix).data
        np.testing.assert_allclose(F.col2im(col, x.shape, kernel, stride, pad, to_matrix).data,
                                   reference.col2im(col, x.shape, kernel, stride, pad,
                                                    to_matrix).data)
    W = rng.standard_normal((4, 3) + pair(kernel))
    np.testing.assert_allclose(F.conv2d(x, W, None, stride, pad).data,
                               reference.conv2d(x, W, None, stride, pad).data, rtol=1e-10)
    y = reference.conv2d(x, W, None, stride, pad).data
    np.testing.assert_allclose(F.deconv2d(y, W, None, stride, pad,
                                          outsize=x.shape[2:]).data,
                               reference.deconv2d(y, W, None, stride, pad, x.shape[2:]).data,
                               rtol=1e-10)
    np.testing.assert_allclose(F.average_pooling(x, kernel, stride, pad).data,
                               reference.average_pooling(x, kernel, stride, pad).data)
    if pad == 0:   # DeZero's max pooling pads with 0
        np.testing.assert_array_equal(F.pooling(x, kernel, stride).data,
                                      reference.pooling(x, kernel, stride).data)


# --- on the inputs' device (CuPy where a GPU is usable) -------------------------------------------
@pytest.mark.parametrize('fn, shapes, second_order', [
    (lambda x, W, b: F.conv2d(x, W, b, 2, 1), [(2, 3, 7, 7), (4, 3, 3, 3), (4,)], True),
    (lambda x, W, b: F.deconv2d(x, W, b, 2, 1), [(2, 3, 4, 4), (3, 2, 4, 4), (2,)], True),
    (lambda x, W: F.conv2d_simple(x, W, None, 1, 1), [(1, 2, 5, 5), (3, 2, 3, 3)], False),
    (lambda x: F.pooling(x, 3, 2, 1), [(2, 3, 7, 7)], False),
    (lambda x: F.average_pooling(x, 3, 2, 1), [(2, 3, 7, 7)], False),
    (lambda x: F.im2col(x, 3, 2, 1), [(2, 3, 7, 6)], False),
    (lambda c: F.col2im(c, (2, 3, 7, 6), 3, 2, 1, to_matrix=False), [(2, 3, 3, 3, 4, 3)], False),
])
def test_on_the_inputs_device(xp, fn, shapes, second_order):
    from test_device_ops import check_against_numpy   # the engine's device harness
    rng = np.random.default_rng(1)
    check_against_numpy(xp, fn, [rng.standard_normal(s) for s in shapes],
                        second_order=second_order)
