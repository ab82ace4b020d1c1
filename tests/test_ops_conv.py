"""conv2d, depthwise_conv2d, separable_conv2d, conv2d_transpose: finite
differences (float64), second order, PyTorch forward+backward, the reference
conv2d (deepzero/kernels/reference.py), Keras for the transposed conv's
'same' sizes, dtypes and error messages.

Every test here runs the direct (im2col) path, so the PyTorch comparisons
keep their float32 tolerances; Winograd's paths are tested in
test_ops_conv_winograd.py."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import deepzero.functions as F
from deepzero import Variable, no_grad, runtime
from deepzero import kernels
from deepzero.kernels import reference
from deepzero.kernels.geometry import (WindowGeometry, conv_output_length, deconv_output_length,
                                       resolve_padding)
from deepzero.layers import arg_utils
from deepzero.utils import check_gradients, check_second_order
from torch_oracle import compare_with_torch


@pytest.fixture(autouse=True)
def direct_convolutions():
    with runtime.settings(conv_algorithm='direct'):
        yield


def nchw(x):
    return x.permute(0, 3, 1, 2)


def nhwc(x):
    return x.permute(0, 2, 3, 1)


def oihw(kernel):  # (KH, KW, I, O) -> (O, I, KH, KW)
    return kernel.permute(3, 2, 0, 1)


def torch_conv(x, kernel, bias=None, strides=1, padding='valid', dilation=1, groups=1):
    """torch reference on channels_last x and Keras kernels; asymmetric
    padding through F.pad."""
    kh, kw = kernel.shape[:2]
    span = ((kh - 1) * dilation + 1, (kw - 1) * dilation + 1)
    (top, bottom), (left, right) = resolve_padding(padding, x.shape[1:3], span,
                                                   (strides, strides), 'torch')
    xp = TF.pad(nchw(x), (left, right, top, bottom))
    return nhwc(TF.conv2d(xp, oihw(kernel), bias, stride=strides, dilation=dilation,
                          groups=groups))


CASES = [  # (x shape NHWC, kernel shape, strides, padding, dilation, groups)
    ((2, 7, 6, 3), (3, 3, 3, 4), 1, 'valid', 1, 1),
    ((2, 7, 6, 3), (3, 3, 3, 4), 2, 'same', 1, 1),
    ((1, 8, 7, 2), (3, 2, 2, 3), 2, 'same', 1, 1),
    ((1, 6, 6, 2), (2, 2, 2, 3), 1, 'same', 1, 1),   # even kernel: odd pad at bottom/right
    ((2, 6, 7, 2), (3, 3, 2, 2), 1, 1, 1, 1),
    ((1, 7, 7, 2), (3, 3, 2, 3), (2, 1), ((0, 2), (1, 0)), 1, 1),
    ((1, 9, 8, 2), (3, 3, 2, 2), 1, 'valid', 2, 1),
    ((1, 9, 8, 2), (3, 3, 2, 2), 2, 'same', 2, 1),
    ((2, 6, 6, 4), (3, 3, 2, 6), 1, 'same', 1, 2),
    ((1, 6, 5, 3), (3, 3, 1, 6), 1, 'valid', 1, 3),   # depthwise as groups
]


@pytest.mark.parametrize('x_shape, k_shape, strides, padding, dilation, groups', CASES)
def test_conv2d_gradients(rng, x_shape, k_shape, strides, padding, dilation, groups):
    x, k = rng.standard_normal(x_shape), rng.standard_normal(k_shape)
    b = rng.standard_normal(k_shape[3])
    check_gradients(lambda x, k, b: F.conv2d(x, k, b, strides, padding, dilation, groups),
                    x, k, b)


@pytest.mark.parametrize('x_shape, k_shape, strides, padding, dilation, groups', CASES)
@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_conv2d_matches_torch(rng, x_shape, k_shape, strides, padding, dilation, groups,
                              dtype):
    x, k = rng.standard_normal(x_shape), rng.standard_normal(k_shape)
    b = rng.standard_normal(k_shape[3])
    s = strides if isinstance(strides, int) else strides
    tstrides = s if isinstance(s, int) else tuple(s)

    def ref(x, k, b):
        kh, kw = k.shape[:2]
        span = ((kh - 1) * dilation + 1, (kw - 1) * dilation + 1)
        st = (tstrides, tstrides) if isinstance(tstrides, int) else tstrides
        (t, bo), (l, r) = resolve_padding(padding, x.shape[1:3], span, st, 'ref')
        return nhwc(TF.conv2d(TF.pad(nchw(x), (l, r, t, bo)), oihw(k), b, stride=st,
                              dilation=dilation, groups=groups))
    compare_with_torch(lambda x, k, b: F.conv2d(x, k, b, strides, padding, dilation, groups),
                       ref, x, k, b, dtype=dtype)


def pair_of(value):
    return value if isinstance(value, tuple) else (value, value)


def values_and_gradients(fn, rng, *arrays):
    """fn's output and the gradients of its inputs for a random output
    gradient (the same for every fn given the same rng state)."""
    xs = [Variable(a) for a in arrays]
    y = fn(*xs)
    (y * rng.standard_normal(y.shape)).sum().backward()
    return [y.data] + [x.grad.data for x in xs]


@pytest.mark.parametrize('x_shape, k_shape, strides, padding, dilation, groups',
                         [case for case in CASES if case[5] == 1])
@pytest.mark.parametrize('fusion', [{}, {'activation': 'relu'}, {'pool_size': 2}])
def test_conv2d_matches_reference(rng, x_shape, k_shape, strides, padding, dilation, groups,
                                  fusion):
    """The fast path (chunked im2col + GEMM, fused post-ops, its own gradient
    ops) against the reference conv2d (whole im2col + matmul, gradients by
    the engine's indexing and matmul ops), float64."""
    x, k = rng.standard_normal(x_shape), rng.standard_normal(k_shape)
    b = rng.standard_normal(k_shape[3])
    if 'pool_size' in fusion and min(F.conv2d(x, k, None, strides, padding,
                                              dilation).shape[1:3]) < 2:
        pytest.skip('conv output smaller than the pool')

    def simple(x, k, b):
        y = reference.conv2d(x, k, b, pair_of(strides), padding, pair_of(dilation))
        y = F.relu(y) if fusion else y
        return F.max_pool2d(y, 2) if 'pool_size' in fusion else y

    fused = {**fusion, 'activation': 'relu'} if 'pool_size' in fusion else fusion
    fast = values_and_gradients(
        lambda x, k, b: F.conv2d(x, k, b, strides, padding, dilation, **fused),
        np.random.default_rng(1), x, k, b)
    for got, expected in zip(fast, values_and_gradients(simple, np.random.default_rng(1),
                                                        x, k, b)):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize('padding', ['valid', 'same'])
def test_one_output_size_rule(padding):
    """The layers' shape inference, the ops' window geometry and the arrays
    the ops return agree: one rule, in kernels/geometry.py."""
    assert arg_utils.conv_output_length is conv_output_length
    assert arg_utils.deconv_output_length is deconv_output_length
    for length, k, stride, dilation in [(7, 3, 1, 1), (7, 3, 2, 1), (8, 2, 3, 1), (9, 3, 2, 2),
                                        (5, 5, 1, 1), (6, 1, 4, 1)]:
        expected = conv_output_length(length, k, padding, stride, dilation)
        geometry = WindowGeometry('test', (length, 1), (k, 1), (stride, 1), (dilation, 1),
                                  padding)
        y = F.conv2d(np.zeros((1, length, 1, 1)), np.zeros((k, 1, 1, 1)), None, (stride, 1),
                     padding, (dilation, 1))
        assert geometry.out_hw[0] == y.shape[1] == expected
        z = F.conv2d_transpose(np.zeros((1, length, 1, 1)), np.zeros((k, 1, 1, 1)), None,
                               (stride, 1), padding, dilation_rate=(dilation, 1))
        assert z.shape[1] == deconv_output_length(length, k, padding, stride, None, dilation)
    assert conv_output_length(None, 3, padding, 1) is None
    assert conv_output_length(2, 3, 'valid', 1) == 0


def test_arrays_choose_their_kernel_set_by_array_module(monkeypatch):
    assert kernels.for_arrays(np.zeros(3), np.zeros(2)) is kernels.cpu
    other_set = object()
    monkeypatch.setitem(kernels._SETS, 'numpy', other_set)
    assert kernels.for_arrays(np.zeros(3)) is other_set


def test_conv2d_transpose_names_a_size_it_cannot_map_back():
    x, k = np.ones((1, 5, 5, 2), 'f4'), np.ones((4, 4, 3, 2), 'f4')
    with pytest.raises(ValueError, match=r"cannot map input \(5, 5\) to output \(4, 4\) "
                                         r"\(kernel \(4, 4\), strides \(1, 1\), padding 'same'"):
        F.conv2d_transpose(x, k, strides=1, padding='same', output_padding=0)
    with pytest.raises(ValueError, match='output_padding must be a non-negative int'):
        F.conv2d_transpose(x, k, strides=2, output_padding=-1)


def test_conv2d_channels_first_matches_channels_last(rng):
    x, k = rng.standard_normal((2, 7, 6, 4)), rng.standard_normal((3, 3, 2, 6))
    b = rng.standard_normal(6)
    y_last = F.conv2d(x, k, b, 2, 'same', groups=2)
    y_first = F.conv2d(x.transpose(0, 3, 1, 2), k, b, 2, 'same', groups=2,
                       data_format='channels_first')
    np.testing.assert_allclose(y_first.data, y_last.data.transpose(0, 3, 1, 2), rtol=1e-12)
    check_gradients(lambda x, k, b: F.conv2d(x, k, b, 2, 'same', 2, groups=2,
                                             data_format='channels_first'),
                    x.transpose(0, 3, 1, 2)[:1, :, :5, :5], k, b)


def test_conv2d_channels_first_matches_torch(rng):
    x, k = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((3, 3, 3, 4))
    compare_with_torch(lambda x, k: F.conv2d(x, k, strides=2, padding=1,
                                             data_format='channels_first'),
                       lambda x, k: TF.conv2d(x, oihw(k), stride=2, padding=1), x, k)


@pytest.mark.parametrize('padding', ['valid', 'same', ((1, 0), (0, 1))])
def test_conv2d_second_order(rng, padding):
    x, k = rng.standard_normal((1, 5, 4, 2)), rng.standard_normal((2, 3, 2, 3))
    check_second_order(lambda x, k: F.conv2d(x, k, strides=(1, 2), padding=padding) ** 2,
                       x, k)


def test_conv2d_second_order_groups_channels_first(rng):
    x, k = rng.standard_normal((1, 4, 4, 5)), rng.standard_normal((2, 2, 2, 4))
    b = rng.standard_normal(4)
    check_second_order(lambda x, k, b: F.conv2d(x, k, b, padding='same', groups=2,
                                                data_format='channels_first') ** 2, x, k, b)


def test_conv2d_kernel_gradient_without_input_gradient(rng):
    x = Variable(rng.standard_normal((2, 5, 5, 3)).astype(np.float32), requires_grad=False)
    k = Variable(rng.standard_normal((3, 3, 3, 4)).astype(np.float32))
    F.conv2d(x, k).sum().backward()
    assert x.grad is None and k.grad.dtype == np.float32
    # and the same twice through one graph (the saved im2col is used once)
    k.cleargrad()
    y = F.conv2d(x, k).sum()
    y.backward()
    first = k.grad.data.copy()
    y.backward()
    np.testing.assert_allclose(k.grad.data, 2 * first, rtol=1e-5)


@pytest.mark.parametrize('data_format', ['channels_last', 'channels_first'])
@pytest.mark.parametrize('with_bias', [True, False])
def test_conv2d_fused_relu_is_relu_of_conv(rng, data_format, with_bias):
    """activation='relu' gives exactly relu(conv2d(...)), forward and backward."""
    x = rng.standard_normal((2, 6, 5, 4)).astype(np.float32)
    k = rng.standard_normal((3, 3, 2, 6)).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32) if with_bias else None
    if data_format == 'channels_first':
        x = x.transpose(0, 3, 1, 2).copy()
    gy = rng.standard_normal(F.conv2d(x, k, b, padding='same', groups=2,
                                      data_format=data_format).shape).astype(np.float32)
    results = []
    for fused in (True, False):
        xs = [Variable(x.copy()), Variable(k.copy())] + ([Variable(b.copy())] if with_bias else [])
        conv = lambda act: F.conv2d(xs[0], xs[1], xs[2] if with_bias else None,
                                    padding='same', groups=2, data_format=data_format,
                                    activation=act)
        y = conv('relu') if fused else F.relu(conv(None))
        (y * gy).sum().backward()
        results.append([y.data] + [v.grad.data for v in xs])
        if fused:
            assert isinstance(y.creator, F.Conv2DFunction) and y.creator.relu
    for fused, plain in zip(*results):
        np.testing.assert_array_equal(fused, plain)


def test_conv2d_fused_relu_gradients_and_torch(rng):
    x, k = rng.standard_normal((2, 6, 5, 3)), rng.standard_normal((3, 3, 3, 4))
    b = rng.standard_normal(4)
    fn = lambda x, k, b: F.conv2d(x, k, b, padding='same', activation='relu')
    check_gradients(fn, x, k, b)
    check_second_order(lambda x, k, b: fn(x, k, b) ** 2, x, k, b)
    compare_with_torch(fn, lambda x, k, b: TF.relu(torch_conv(x, k, b, padding='same')),
                       x, k, b)


POOL_CASES = [  # (x shape NHWC, kernel shape, padding, activation, bias, pool_size)
    ((2, 9, 11, 3), (3, 3, 3, 4), 'valid', 'relu', True, 2),     # odd conv output: row/col dropped
    ((2, 8, 8, 2), (3, 3, 2, 3), 'same', None, True, 2),
    ((3, 7, 9, 2), (2, 2, 2, 5), 'valid', 'relu', False, (2, 3)),
    ((2, 7, 7, 4), (3, 3, 4, 6), 'same', 'relu', True, 3),
]


@pytest.mark.parametrize('x_shape, k_shape, padding, activation, with_bias, pool_size',
                         POOL_CASES)
@pytest.mark.parametrize('data_format', ['channels_last', 'channels_first'])
def test_conv2d_fused_pool_is_max_pool_of_conv(rng, x_shape, k_shape, padding, activation,
                                               with_bias, pool_size, data_format):
    """pool_size gives exactly max_pool2d(conv2d(...)), forward and backward
    (float32, bit for bit)."""
    x = rng.standard_normal(x_shape).astype(np.float32)
    if data_format == 'channels_first':
        x = x.transpose(0, 3, 1, 2).copy()
    k = rng.standard_normal(k_shape).astype(np.float32)
    b = rng.standard_normal(k_shape[3]).astype(np.float32) if with_bias else None
    results = []
    for fused in (True, False):
        xs = [Variable(a.copy()) for a in (x, k, b) if a is not None]
        conv = lambda pool: F.conv2d(*xs[:2], xs[2] if with_bias else None, padding=padding,
                                     data_format=data_format, activation=activation,
                                     pool_size=pool)
        y = conv(pool_size) if fused else F.max_pool2d(conv(None), pool_size,
                                                       data_format=data_format)
        if fused:
            assert isinstance(y.creator, F.Conv2DMaxPool)
            gy = rng.standard_normal(y.shape).astype(np.float32)
        (y * gy).sum().backward()
        results.append([y.data] + [v.grad.data for v in xs])
    for fused, plain in zip(*results):
        assert fused.dtype == np.float32
        np.testing.assert_array_equal(fused, plain)


def test_conv2d_fused_pool_across_chunks(rng, monkeypatch):
    """Chunks that cut an image into runs of rows still pool whole windows."""
    from deepzero.kernels.cpu import im2col
    monkeypatch.setattr(im2col, 'CHUNK_BYTES', 2000)  # a few output rows per chunk
    x = Variable(rng.standard_normal((3, 13, 12, 3)).astype(np.float32))
    k = Variable(rng.standard_normal((3, 3, 3, 4)).astype(np.float32))
    y = F.conv2d(x, k, activation='relu', pool_size=2)
    gy = rng.standard_normal(y.shape).astype(np.float32)
    (y * gy).sum().backward()
    gx, gk = x.grad.data, k.grad.data
    x.cleargrad(), k.cleargrad()
    plain = F.max_pool2d(F.conv2d(x, k, activation='relu'), 2)
    (plain * gy).sum().backward()
    np.testing.assert_array_equal(y.data, plain.data)
    np.testing.assert_array_equal(gx, x.grad.data)
    # chunks of an even number of rows sum the kernel gradient in another order
    np.testing.assert_allclose(gk, k.grad.data, rtol=1e-5, atol=1e-5)


def test_conv2d_fused_pool_gradients_and_torch(rng):
    x, k = rng.standard_normal((2, 7, 8, 3)), rng.standard_normal((3, 3, 3, 4))
    b = rng.standard_normal(4)
    fn = lambda x, k, b: F.conv2d(x, k, b, padding='same', activation='relu', pool_size=2)
    check_gradients(fn, x, k, b)
    check_second_order(lambda x, k, b: fn(x, k, b) ** 2, x, k, b)
    compare_with_torch(
        fn, lambda x, k, b: nhwc(TF.max_pool2d(nchw(TF.relu(torch_conv(x, k, b, padding='same'))),
                                               2)),
        x, k, b)
    compare_with_torch(fn, lambda x, k, b: nhwc(TF.max_pool2d(
        nchw(TF.relu(torch_conv(x, k, b, padding='same'))), 2)), x, k, b, dtype=np.float64)


@pytest.mark.parametrize('padding, pool_size', [('same', 2), ('valid', (2, 3))])
def test_conv2d_fused_pool_first_layer(rng, padding, pool_size):
    """When x needs no gradient, the kernel gradient takes the pooled
    gradient directly (offset by offset): against finite differences, to
    second order, against torch and against the unfused ops."""
    x = rng.standard_normal((2, 9, 8, 3))  # a constant, as a first layer's input
    k, b = rng.standard_normal((3, 3, 3, 4)), rng.standard_normal(4)
    fn = lambda k, b: F.conv2d(x.astype(k.dtype), k, b, padding=padding, activation='relu',
                               pool_size=pool_size)
    check_gradients(fn, k, b)
    check_second_order(lambda k, b: fn(k, b) ** 2, k, b)
    window = pool_size if isinstance(pool_size, tuple) else (pool_size, pool_size)
    compare_with_torch(fn, lambda k, b: nhwc(TF.max_pool2d(nchw(TF.relu(
        torch_conv(torch.tensor(x, dtype=k.dtype), k, b, padding=padding))), window)), k, b)
    assert isinstance(fn(Variable(k), Variable(b)).creator, F.Conv2DMaxPool)
    xs = x.astype(np.float32)
    grads = []
    for fused in (True, False):
        kv, bv = Variable(k.astype(np.float32)), Variable(b.astype(np.float32))
        y = (F.conv2d(xs, kv, bv, padding=padding, activation='relu', pool_size=pool_size)
             if fused else F.max_pool2d(F.conv2d(xs, kv, bv, padding=padding, activation='relu'),
                                        pool_size))
        (y * np.linspace(-1, 1, y.size, dtype=np.float32).reshape(y.shape)).sum().backward()
        grads.append((kv.grad.data, bv.grad.data))
    for fused, plain in zip(*grads):
        assert fused.dtype == np.float32
        np.testing.assert_allclose(fused, plain, rtol=1e-5, atol=1e-5)


def test_conv2d_fused_pool_keeps_no_state_without_gradients(rng, monkeypatch):
    """Without gradients the op records no winners and no ReLU mask; with
    them it keeps one byte per pooled value of each."""
    made = []
    forward = F.Conv2DMaxPool.forward
    monkeypatch.setattr(F.Conv2DMaxPool, 'forward',
                        lambda op, *arrays: made.append(op) or forward(op, *arrays))
    x = rng.standard_normal((2, 8, 8, 3)).astype(np.float32)
    k = Variable(rng.standard_normal((3, 3, 3, 4)).astype(np.float32))
    with no_grad():
        y = F.conv2d(x, k, activation='relu', pool_size=2)
    assert made[-1].argmax is None and made[-1].passing is None
    np.testing.assert_array_equal(y.data, F.max_pool2d(F.conv2d(x, k, activation='relu'), 2).data)
    y = F.conv2d(x, k, activation='relu', pool_size=2)
    assert y.creator is made[-1]
    assert made[-1].argmax.shape == y.shape and made[-1].argmax.dtype == np.uint8
    assert made[-1].passing.shape == y.shape and made[-1].passing.dtype == bool


@pytest.mark.parametrize('pool_size, message', [
    (0, r"conv2d: pool_size must be a positive int or a pair of them, got \(0, 0\)"),
    (4, r"conv2d: pool_size \(4, 4\) is larger than the conv output \(3, 3\) "
        r"\(x \(1, 5, 5, 3\), kernel \(3, 3, 3, 4\)\)"),
])
def test_conv2d_fused_pool_errors(pool_size, message):
    with pytest.raises(ValueError, match=message):
        F.conv2d(np.zeros((1, 5, 5, 3)), np.zeros((3, 3, 3, 4)), pool_size=pool_size)


def test_conv2d_activation_must_be_relu_or_none():
    with pytest.raises(ValueError, match=r"conv2d: activation must be None or 'relu', "
                                         r"got 'tanh'"):
        F.conv2d(np.zeros((1, 5, 5, 3)), np.zeros((3, 3, 3, 4)), activation='tanh')


@pytest.mark.parametrize('dm, strides, padding, dilation', [
    (1, 1, 'valid', 1), (2, 2, 'same', 1), (3, 1, 'same', 2)])
def test_depthwise_conv2d(rng, dm, strides, padding, dilation):
    x, k = rng.standard_normal((2, 7, 6, 3)), rng.standard_normal((3, 3, 3, dm))
    b = rng.standard_normal(3 * dm)
    check_gradients(lambda x, k, b: F.depthwise_conv2d(x, k, b, strides, padding, dilation),
                    x[:1], k, b)

    def ref(x, k, b):  # Keras order: output channel c * dm + m
        weights = k.permute(2, 3, 0, 1).reshape(3 * dm, 1, 3, 3)
        st = strides
        span = 2 * dilation + 1
        (t, bo), (l, r) = resolve_padding(padding, x.shape[1:3], (span, span), (st, st), 'r')
        return nhwc(TF.conv2d(TF.pad(nchw(x), (l, r, t, bo)), weights, b, stride=st,
                              dilation=dilation, groups=3))
    compare_with_torch(lambda x, k, b: F.depthwise_conv2d(x, k, b, strides, padding,
                                                          dilation), ref, x, k, b)


def test_separable_conv2d(rng):
    x = rng.standard_normal((2, 6, 6, 3))
    dk, pk = rng.standard_normal((3, 3, 3, 2)), rng.standard_normal((1, 1, 6, 4))
    b = rng.standard_normal(4)
    check_gradients(lambda x, dk, pk, b: F.separable_conv2d(x, dk, pk, b, 1, 'same'),
                    x[:1], dk, pk, b)

    def ref(x, dk, pk, b):
        depth = TF.conv2d(TF.pad(nchw(x), (1, 1, 1, 1)),
                          dk.permute(2, 3, 0, 1).reshape(6, 1, 3, 3), groups=3)
        return nhwc(TF.conv2d(depth, oihw(pk), b))
    compare_with_torch(lambda x, dk, pk, b: F.separable_conv2d(x, dk, pk, b, 1, 'same'),
                       ref, x, dk, pk, b)
    y = F.separable_conv2d(x.transpose(0, 3, 1, 2), dk, pk, b, 1, 'same',
                           data_format='channels_first')
    np.testing.assert_allclose(y.data.transpose(0, 2, 3, 1),
                               F.separable_conv2d(x, dk, pk, b, 1, 'same').data, rtol=1e-12)


TRANSPOSE_CASES = [  # (x shape, kernel (KH, KW, C_out, C_in), strides, output_padding, dilation)
    ((2, 4, 3, 3), (3, 3, 2, 3), 1, None, 1),
    ((2, 4, 3, 3), (3, 3, 2, 3), 2, None, 1),
    ((1, 3, 4, 2), (2, 3, 3, 2), (2, 3), None, 1),   # kernel smaller than stride
    ((1, 4, 3, 2), (3, 3, 2, 2), 2, 1, 1),
    ((1, 4, 4, 2), (3, 3, 2, 2), 1, None, 2),
]


@pytest.mark.parametrize('x_shape, k_shape, strides, output_padding, dilation',
                         TRANSPOSE_CASES)
def test_conv2d_transpose_valid_gradients_and_torch(rng, x_shape, k_shape, strides,
                                                    output_padding, dilation):
    x, k = rng.standard_normal(x_shape), rng.standard_normal(k_shape)
    b = rng.standard_normal(k_shape[2])

    def dz(x, k, b):
        return F.conv2d_transpose(x, k, b, strides, 'valid', output_padding, dilation)
    check_gradients(dz, x[:1], k, b)
    st = (strides, strides) if isinstance(strides, int) else strides
    span = [(n - 1) * dilation + 1 for n in k_shape[:2]]
    if output_padding is None:  # Keras: H*s + max(k - s, 0)
        extra = [max(kk - s, 0) - (kk - s) for kk, s in zip(span, st)]
    else:
        extra = [output_padding] * 2

    def ref(x, k, b):
        y = TF.conv_transpose2d(nchw(x), k.permute(3, 2, 0, 1), b, stride=st,
                                output_padding=0, dilation=dilation)
        y = TF.pad(y, (0, extra[1], 0, extra[0]))  # zero rows torch does not emit
        return nhwc(y + b.reshape(1, -1, 1, 1) * (TF.pad(
            torch.zeros_like(y[:1, :1, :-extra[0] or None, :-extra[1] or None]),
            (0, extra[1], 0, extra[0]), value=1.0)))
    for dtype in (np.float32, np.float64):
        compare_with_torch(dz, ref, x, k, b, dtype=dtype)


@pytest.mark.parametrize('x_shape, k_shape, strides, output_padding', [
    ((1, 4, 3, 2), (3, 3, 2, 2), 2, None),
    ((1, 4, 3, 2), (2, 2, 3, 2), 2, None),
    ((1, 3, 3, 2), (4, 3, 2, 2), 1, None),
    ((1, 4, 3, 2), (3, 3, 2, 2), 2, 1),
    ((1, 4, 3, 2), (3, 3, 2, 2), 3, 2),
])
def test_conv2d_transpose_same_matches_keras(rng, x_shape, k_shape, strides, output_padding):
    keras = pytest.importorskip('keras')
    x, k = rng.standard_normal(x_shape), rng.standard_normal(k_shape)
    b = rng.standard_normal(k_shape[2])
    layer = keras.layers.Conv2DTranspose(k_shape[2], k_shape[:2], strides, 'same',
                                         output_padding=output_padding, dtype='float64')
    layer.build(x_shape)
    layer.set_weights([k, b])
    expected = keras.ops.convert_to_numpy(layer(x))
    y = F.conv2d_transpose(x, k, b, strides, 'same', output_padding)
    np.testing.assert_allclose(y.data, expected, rtol=1e-10, atol=1e-12)
    check_gradients(lambda x, k, b: F.conv2d_transpose(x, k, b, strides, 'same',
                                                       output_padding), x, k, b)


def test_conv2d_transpose_channels_first_and_second_order(rng):
    x, k = rng.standard_normal((1, 2, 3, 3)), rng.standard_normal((3, 3, 2, 2))
    y = F.conv2d_transpose(x, k, strides=2, padding='same', data_format='channels_first')
    y_last = F.conv2d_transpose(x.transpose(0, 2, 3, 1), k, strides=2, padding='same')
    np.testing.assert_allclose(y.data, y_last.data.transpose(0, 3, 1, 2), rtol=1e-12)
    check_second_order(lambda x, k: F.conv2d_transpose(x, k, strides=2, padding='same',
                                                       data_format='channels_first') ** 2,
                       x, k)


@pytest.mark.parametrize('fn', [
    lambda x, k: F.conv2d(x, k, padding='same', strides=2),
    lambda x, k: F.depthwise_conv2d(x, k[:, :, :, :1], padding='same'),
    lambda x, k: F.conv2d_transpose(x, k, strides=2),
])
def test_dtype_preserved(rng, fn):
    x = Variable(rng.standard_normal((2, 5, 5, 4)).astype(np.float32))
    k = Variable(rng.standard_normal((3, 3, 4, 4)).astype(np.float32))
    y = fn(x, k)
    assert y.dtype == np.float32
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32 and k.grad.dtype == np.float32


def test_no_grad_forward_matches(rng):
    x = rng.standard_normal((1, 5, 5, 2)).astype(np.float32)
    k = Variable(rng.standard_normal((3, 3, 2, 3)).astype(np.float32))
    with no_grad():
        y = F.conv2d(x, k)
    np.testing.assert_allclose(y.data, F.conv2d(x, k).data)
    assert y.creator is None


@pytest.mark.parametrize('call, message', [
    (lambda: F.conv2d(np.zeros((2, 8, 8, 4)), np.zeros((3, 3, 3, 16))),
     r"conv2d: input has 4 channels but kernel expects 3 \(x \(2, 8, 8, 4\), "
     r"kernel \(3, 3, 3, 16\)\)"),
    (lambda: F.conv2d(np.zeros((1, 2, 2, 3)), np.zeros((3, 3, 3, 4))),
     r"conv2d: window \(3, 3\).*larger than the padded input \(2, 2\)"),
    (lambda: F.conv2d(np.zeros((1, 5, 5, 3)), np.zeros((3, 3, 3, 4)), padding='full'),
     r"conv2d: padding must be 'valid', 'same'.*'full'"),
    (lambda: F.conv2d(np.zeros((1, 5, 5, 3)), np.zeros((3, 3, 3, 4)), data_format='NHWC'),
     r"conv2d: data_format must be 'channels_last' or 'channels_first', got 'NHWC'"),
    (lambda: F.conv2d(np.zeros((1, 5, 5, 4)), np.zeros((3, 3, 2, 3)), groups=2),
     r"conv2d: 3 output channels are not divisible by groups=2"),
    (lambda: F.conv2d(np.zeros((5, 5, 3)), np.zeros((3, 3, 3, 4))),
     r"conv2d: x must be 4-d \(N, H, W, C\), got shape \(5, 5, 3\)"),
    (lambda: F.conv2d(np.zeros((1, 5, 5, 3)), np.zeros((3, 3, 3, 4)), np.zeros(3)),
     r"conv2d: bias must have shape \(4,\), got \(3,\)"),
    (lambda: F.conv2d(np.zeros((1, 5, 5, 3)), np.zeros((3, 3, 3, 4)), strides=0),
     r"conv2d: strides must be a positive int"),
    (lambda: F.conv2d(np.zeros((1, 5, 5, 3), np.float32), np.zeros((3, 3, 3, 4))),
     r"conv2d: x is float32 but kernel is float64"),
    (lambda: F.conv2d_transpose(np.zeros((1, 5, 5, 3)), np.zeros((3, 3, 4, 2))),
     r"conv2d_transpose: input has 3 channels but kernel expects 2"),
    (lambda: F.conv2d_transpose(np.zeros((1, 5, 5, 3)), np.zeros((3, 3, 4, 3)), strides=2,
                                output_padding=2),
     r"conv2d_transpose: output_padding \(2, 2\) must be smaller than strides \(2, 2\)"),
])
def test_errors_name_op_and_shapes(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


@pytest.mark.parametrize('trainable', [(True, True), (True, False), (False, True)])
def test_conv2d_bias_gradient_with_and_without_kernel_gradient(rng, trainable):
    """The bias gradient comes out of the kernel-gradient op when both are
    needed, and from BiasGrad alone when the kernel is frozen."""
    x = rng.standard_normal((2, 6, 5, 3)).astype(np.float32)
    gy = rng.standard_normal((2, 6, 5, 4)).astype(np.float32)
    k = Variable(rng.standard_normal((3, 3, 3, 4)).astype(np.float32),
                 requires_grad=trainable[0])
    b = Variable(rng.standard_normal(4).astype(np.float32), requires_grad=trainable[1])
    (F.conv2d(x, k, b, padding='same', activation='relu') * gy).sum().backward()
    tk, tb = (torch.tensor(v.data, requires_grad=True) for v in (k, b))
    (TF.relu(torch_conv(torch.tensor(x), tk, tb, padding='same')) * torch.tensor(gy)
     ).sum().backward()
    for v, t, needed in ((k, tk, trainable[0]), (b, tb, trainable[1])):
        if needed:
            np.testing.assert_allclose(v.grad.data, t.grad.numpy(), rtol=1e-4, atol=1e-4)
        else:
            assert v.grad is None
