"""The gpu kernel set (deepzero/kernels/gpu) against the cpu set, kernel by
kernel, on the same float32 data: every conv, pool, fused post-op, ReLU and
batch-norm case the op tests cover, channels_last and channels_first.

The kernel tests run over the array module: on 'numpy' the gpu set's
array-API code runs on the CPU (all of it but the optimizer updates), on
'cupy' on a GPU, results brought back with ``cupy.asnumpy``. The cupy cases,
and the optimizer kernels (fused CuPy elementwise kernels, checked against
the CPU optimizers' updates), skip where CuPy or a GPU is missing. The op
tests at the end run the engine's ops (forward, backward, second order) with
the gpu set standing in for the cpu set on NumPy arrays: the return
conventions (masks, winners, kept state) are the ops' contract.
"""
import re

import numpy as np
import pytest

import deepzero.functions as F
from deepzero import Variable, kernels
from deepzero.kernels import cpu, gpu
from deepzero.kernels.geometry import ConvSpec, PoolSpec, WindowGeometry
from deepzero.utils import check_second_order

import test_ops_conv


def _why_no_gpu():
    try:
        import cupy
    except ImportError:
        return "CuPy is not installed (pip install 'deepzero[gpu]')"
    try:
        if cupy.cuda.runtime.getDeviceCount() > 0:
            return None
        return 'CuPy finds no CUDA device'
    except Exception as error:  # no driver, no device: CuPy's own error says which
        return f'no usable CUDA device: {error}'


NO_GPU = _why_no_gpu()
needs_gpu = pytest.mark.skipif(NO_GPU is not None, reason=str(NO_GPU))


@pytest.fixture(params=['numpy', pytest.param('cupy', marks=needs_gpu)])
def xp(request):
    """The array module the gpu set gets its arrays in."""
    if request.param == 'numpy':
        return np
    import cupy
    return cupy


def host(a):
    """A NumPy array from a NumPy or CuPy array (None stays None)."""
    return a if a is None or isinstance(a, np.ndarray) else a.get()


def on(xp, *arrays):
    return [None if a is None else xp.asarray(a) for a in arrays]


def assert_close(got, expected):
    """float32 agreement: 1e-5 relative, and 1e-5 of the largest value
    absolute (sums in another order cancel differently near zero)."""
    got = host(got)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-5,
                               atol=1e-5 * max(1.0, float(np.abs(expected).max(initial=0))))


def as_pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def to_format(x, data_format):
    """An NHWC array in ``data_format``, contiguous."""
    return x if data_format == 'channels_last' else np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def conv_spec(x_shape, k_shape, strides, padding, dilation, groups, data_format):
    geometry = WindowGeometry('conv2d', x_shape[1:3], k_shape[:2], as_pair(strides),
                              as_pair(dilation), padding)
    return ConvSpec(geometry, groups, data_format, x_shape[3], 'direct')


def pool_spec(x_shape, pool, strides, padding, data_format):
    window = as_pair(pool)
    geometry = WindowGeometry('pool', x_shape[1:3], window,
                              window if strides is None else as_pair(strides), (1, 1), padding)
    return PoolSpec(geometry, data_format)


def normal(rng, shape):
    return rng.standard_normal(shape).astype(np.float32)


def distinct(rng, shape):
    """float32 values far apart: no max ties."""
    return (rng.permutation(int(np.prod(shape))).reshape(shape) * 0.1).astype(np.float32)


FORMATS = ['channels_last', 'channels_first']

CONV_CASES = test_ops_conv.CASES + [  # and 1x1 convs
    ((2, 5, 4, 6), (1, 1, 6, 4), 1, 'valid', 1, 1),    # 1x1: columns are the image
    ((2, 5, 4, 6), (1, 1, 3, 4), 1, 'valid', 1, 2),
    ((2, 5, 4, 6), (1, 1, 6, 4), 2, 'same', 1, 1),
]

FUSED_POOL_CASES = [  # as tests/test_ops_conv.py: (x, kernel, padding, activation, bias, pool)
    ((2, 8, 8, 2), (3, 3, 2, 3), 'same', None, True, 2),
    ((3, 7, 9, 2), (2, 2, 2, 5), 'valid', 'relu', False, (2, 3)),
    ((2, 7, 7, 4), (3, 3, 4, 6), 'same', 'relu', True, 3),
]

POOL_CASES = [  # as tests/test_ops_pooling.py: (x NHWC, pool, strides, padding)
    ((2, 6, 6, 3), 2, None, 'valid'),
    ((1, 7, 5, 2), 2, None, 'valid'),
    ((1, 7, 5, 2), 3, 2, 'valid'),
    ((1, 7, 5, 2), 3, 2, 'same'),
    ((1, 5, 6, 2), (2, 3), (1, 2), 'same'),
    ((1, 6, 6, 2), 2, 3, 'valid'),
    ((1, 8, 8, 2), 3, 1, 1),
]

BN_LAYOUTS = [((2, 3, 3, 4), -1), ((2, 4, 3, 3), 1), ((6, 4), -1), ((2, 3, 4), 1)]


# --- the set and its registration ------------------------------------------------------
def test_gpu_set_has_the_cpu_sets_functions_and_numpy_still_chooses_cpu():
    assert sorted(gpu.__all__) == sorted(cpu.__all__)
    assert all(callable(getattr(gpu, name)) for name in cpu.__all__)
    assert kernels._SETS['cupy'] is gpu
    assert kernels.for_arrays(np.zeros(3)) is cpu


@needs_gpu
def test_cupy_arrays_choose_the_gpu_set():
    import cupy
    assert kernels.for_arrays(cupy.zeros(3)) is gpu


@pytest.mark.skipif(NO_GPU is None or not NO_GPU.startswith('CuPy is not installed'),
                    reason='CuPy is installed')
def test_optimizer_kernels_without_cupy_say_so():
    from deepzero.kernels.gpu import optimizers
    with pytest.raises(RuntimeError, match='needs CuPy'):
        optimizers.sgd_update(np.zeros(2, np.float32), np.zeros(2, np.float32), None,
                              learning_rate=0.1, momentum=0.0, nesterov=False)


# --- convolution -----------------------------------------------------------------------
@pytest.mark.parametrize('x_shape, k_shape, strides, padding, dilation, groups', CONV_CASES)
@pytest.mark.parametrize('data_format', FORMATS)
@pytest.mark.parametrize('relu', [False, True])
def test_conv2d(xp, rng, x_shape, k_shape, strides, padding, dilation, groups, data_format,
                relu):
    spec = conv_spec(x_shape, k_shape, strides, padding, dilation, groups, data_format)
    x, k, b = to_format(normal(rng, x_shape), data_format), normal(rng, k_shape), \
        normal(rng, k_shape[3])
    y, passing, tiles = cpu.conv2d(x, k, b, spec, relu, keep_mask=True)
    got_y, got_passing, got_tiles = gpu.conv2d(*on(xp, x, k, b), spec, relu, keep_mask=True,
                                               keep_tiles=True)
    assert_close(got_y, y)
    assert got_tiles is None
    if relu:
        got_passing = host(got_passing)
        np.testing.assert_array_equal(got_passing, host(got_y) > 0)
        clear = np.abs(y) > 1e-4  # away from 0, both sets agree on the sign
        np.testing.assert_array_equal(got_passing[clear], passing[clear])
    else:
        assert got_passing is None


@pytest.mark.parametrize('x_shape, k_shape, strides, padding, dilation, groups', CONV_CASES)
@pytest.mark.parametrize('data_format', FORMATS)
def test_conv2d_transpose_and_kernel_grad(xp, rng, x_shape, k_shape, strides, padding,
                                          dilation, groups, data_format):
    spec = conv_spec(x_shape, k_shape, strides, padding, dilation, groups, data_format)
    x, k = to_format(normal(rng, x_shape), data_format), normal(rng, k_shape)
    gy = to_format(normal(rng, (x_shape[0],) + spec.geometry.out_hw + (k_shape[3],)),
                   data_format)
    bias_in = normal(rng, x_shape[3])
    for bias in (None, bias_in):
        assert_close(gpu.conv2d_transpose(*on(xp, gy, k, bias), spec),
                     cpu.conv2d_transpose(gy, k, bias, spec))
    assert_close(gpu.conv2d_kernel_grad(*on(xp, x, gy), spec),
                 cpu.conv2d_kernel_grad(x, gy, spec))
    got_gk, got_gb = gpu.conv2d_kernel_grad(*on(xp, x, gy), spec, with_bias=True)
    gk, gb = cpu.conv2d_kernel_grad(x, gy, spec, with_bias=True)
    assert_close(got_gk, gk)
    assert_close(got_gb, gb)
    assert_close(gpu.bias_grad(*on(xp, gy), data_format), cpu.bias_grad(gy, data_format))


@pytest.mark.parametrize('data_format', FORMATS)
def test_conv_chunks_of_one_image(xp, rng, monkeypatch, data_format):
    """With a window-column budget below one image, every image is its own
    chunk: the same results."""
    x_shape, k_shape = (3, 6, 5, 4), (3, 3, 2, 6)
    spec = conv_spec(x_shape, k_shape, 1, 'same', 1, 2, data_format)
    x, k, b = to_format(normal(rng, x_shape), data_format), normal(rng, k_shape), \
        normal(rng, 6)
    gy = to_format(normal(rng, (3, 6, 5, 6)), data_format)
    expected = (cpu.conv2d(x, k, b, spec)[0], cpu.conv2d_transpose(gy, k, None, spec),
                cpu.conv2d_kernel_grad(x, gy, spec))
    monkeypatch.setattr(gpu.conv, 'COLUMN_BYTES', 1)
    got = (gpu.conv2d(*on(xp, x, k, b), spec)[0], gpu.conv2d_transpose(*on(xp, gy, k), None, spec),
           gpu.conv2d_kernel_grad(*on(xp, x, gy), spec))
    for g, e in zip(got, expected):
        assert_close(g, e)


@pytest.mark.parametrize('x_shape, k_shape, padding, activation, with_bias, pool_size',
                         FUSED_POOL_CASES)
@pytest.mark.parametrize('data_format', FORMATS)
def test_conv2d_max_pool(xp, rng, x_shape, k_shape, padding, activation, with_bias,
                         pool_size, data_format):
    spec = conv_spec(x_shape, k_shape, 1, padding, 1, 1, data_format)
    window = as_pair(pool_size)
    pool = PoolSpec(WindowGeometry('conv2d', spec.geometry.out_hw, window, window, (1, 1),
                                   'valid'), data_format)
    relu = activation == 'relu'
    x, k = to_format(normal(rng, x_shape), data_format), normal(rng, k_shape)
    b = normal(rng, k_shape[3]) if with_bias else None
    y, argmax, passing, _ = cpu.conv2d_max_pool(x, k, b, spec, pool, relu, keep_state=True)
    got = gpu.conv2d_max_pool(*on(xp, x, k, b), spec, pool, relu, keep_state=True)
    assert_close(got[0], y)
    np.testing.assert_array_equal(host(got[1]), argmax)
    assert host(got[1]).dtype == argmax.dtype
    if relu:
        np.testing.assert_array_equal(host(got[2]), host(got[0]) > 0)
    else:
        assert got[2] is None
    assert got[3] is None
    assert gpu.conv2d_max_pool(*on(xp, x, k, b), spec, pool, relu)[1:3] == (None, None)
    # the kernel gradient given the pooled gradient and the winners
    gy = normal(rng, y.shape)
    got_gk, got_gb = gpu.conv2d_kernel_grad(*on(xp, x, gy), spec, True, pool,
                                            *on(xp, argmax))
    gk, gb = cpu.conv2d_kernel_grad(x, gy, spec, True, pool, argmax)
    assert_close(got_gk, gk)
    assert_close(got_gb, gb)


# --- pooling ---------------------------------------------------------------------------
@pytest.mark.parametrize('x_shape, pool, strides, padding', POOL_CASES)
@pytest.mark.parametrize('data_format', FORMATS)
def test_max_pool(xp, rng, x_shape, pool, strides, padding, data_format):
    spec = pool_spec(x_shape, pool, strides, padding, data_format)
    x = to_format(distinct(rng, x_shape) - 3.0, data_format)  # negatives: -inf padding shows
    y, argmax = cpu.max_pool2d(x, spec, keep_argmax=True)
    got_y, got_argmax = gpu.max_pool2d(*on(xp, x), spec, keep_argmax=True)
    np.testing.assert_array_equal(host(got_y), y)
    np.testing.assert_array_equal(host(got_argmax), argmax)
    assert host(got_argmax).dtype == argmax.dtype
    got_plain, none = gpu.max_pool2d(*on(xp, x), spec)
    assert none is None
    np.testing.assert_array_equal(host(got_plain), y)
    gy = normal(rng, y.shape)
    assert_close(gpu.max_pool2d_grad(*on(xp, gy, argmax), spec),
                 cpu.max_pool2d_grad(gy, argmax, spec))
    other = to_format(normal(rng, x_shape), data_format)
    np.testing.assert_array_equal(host(gpu.max_pool2d_gather(*on(xp, other, argmax), spec)),
                                  cpu.max_pool2d_gather(other, argmax, spec))


def test_max_pool_ties_go_to_the_first_maximum(xp, rng):
    spec = pool_spec((2, 6, 6, 3), 3, 1, 'same', 'channels_last')
    x = rng.integers(0, 2, (2, 6, 6, 3)).astype(np.float32)  # ties everywhere
    y, argmax = cpu.max_pool2d(x, spec, keep_argmax=True)
    got_y, got_argmax = gpu.max_pool2d(*on(xp, x), spec, keep_argmax=True)
    np.testing.assert_array_equal(host(got_y), y)
    np.testing.assert_array_equal(host(got_argmax), argmax)


@pytest.mark.parametrize('x_shape, pool, strides, padding', POOL_CASES)
@pytest.mark.parametrize('data_format', FORMATS)
def test_avg_pool(xp, rng, x_shape, pool, strides, padding, data_format):
    spec = pool_spec(x_shape, pool, strides, padding, data_format)
    x = to_format(normal(rng, x_shape), data_format)
    y = cpu.avg_pool2d(x, spec)
    assert_close(gpu.avg_pool2d(*on(xp, x), spec), y)
    gy = normal(rng, y.shape)
    assert_close(gpu.avg_pool2d_grad(*on(xp, gy), spec), cpu.avg_pool2d_grad(gy, spec))


# --- ReLU and batch normalisation ------------------------------------------------------
@pytest.mark.parametrize('max_value', [None, 0.5])
def test_relu(xp, rng, max_value):
    x = normal(rng, (2, 5, 4, 3))
    y = cpu.relu(x, max_value)
    got_y = gpu.relu(*on(xp, x), max_value)
    np.testing.assert_array_equal(host(got_y), y)
    passing = cpu.relu_mask(y, max_value)
    got_passing = gpu.relu_mask(got_y, max_value)
    np.testing.assert_array_equal(host(got_passing), passing)
    gy = normal(rng, x.shape)
    np.testing.assert_array_equal(host(gpu.relu_grad(*on(xp, gy), got_passing)),
                                  cpu.relu_grad(gy, passing))


@pytest.mark.parametrize('shape, axis', BN_LAYOUTS)
@pytest.mark.parametrize('training', [True, False])
def test_batch_norm(xp, rng, shape, axis, training):
    x = normal(rng, shape) * 3 + 5  # a large mean: the variance is taken from deviations
    channels = shape[axis]
    mean, var = cpu.batch_norm_stats(x, axis)
    got_mean, got_var = gpu.batch_norm_stats(*on(xp, x), axis)
    assert_close(got_mean, mean)
    assert_close(got_var, var)
    scale, shift = normal(rng, channels), normal(rng, channels)
    assert_close(gpu.batch_norm(*on(xp, x, scale, shift), axis),
                 cpu.batch_norm(x, scale, shift, axis))
    gy, gamma = normal(rng, shape), normal(rng, channels)
    inv_std = (1 / np.sqrt(var + 1e-3)).astype(np.float32)
    for needs in [(True, True, True), (True, False, False), (False, True, False),
                  (False, False, True)]:
        expected = cpu.batch_norm_grad(x, gy, gamma, mean, inv_std, axis, training, needs)
        got = gpu.batch_norm_grad(*on(xp, x, gy, gamma, mean, inv_std), axis, training, needs)
        for g, e in zip(got, expected):
            if e is None:
                assert g is None
            else:
                assert_close(g, e)


# --- the ops on the gpu set ------------------------------------------------------------
def values_and_gradients(fn, arrays, seed=1):
    xs = [Variable(a.copy()) for a in arrays]
    y = fn(*xs)
    (y * np.random.default_rng(seed).standard_normal(y.shape).astype(y.dtype)).sum().backward()
    return [y.data] + [x.grad.data for x in xs if x.grad is not None]  # unused: no gradient


OP_CASES = {
    'conv2d': lambda x, k, b: F.conv2d(x, k, b, 2, 'same'),
    'conv2d relu': lambda x, k, b: F.conv2d(x, k, b, padding='same', activation='relu'),
    'conv2d relu pool': lambda x, k, b: F.conv2d(x, k, b, padding='same', activation='relu',
                                                 pool_size=2),
    'conv2d pool channels_first': lambda x, k, b: F.conv2d(
        x.transpose(0, 3, 1, 2), k, b, padding='same', pool_size=2,
        data_format='channels_first'),
    'conv2d groups': lambda x, k, b: F.conv2d(x, k[:, :, :2], None, padding='same', groups=2),
    'conv2d_transpose': lambda x, k, b: F.conv2d_transpose(x, k.transpose(0, 1, 3, 2), None,
                                                           2, 'same'),
    'max_pool': lambda x, k, b: F.max_pool2d(x, 3, 2, 'same'),
    'avg_pool': lambda x, k, b: F.avg_pool2d(x, 3, 2, 'same'),
    'relu': lambda x, k, b: F.relu(x),
}


@pytest.mark.parametrize('case', list(OP_CASES))
def test_ops_on_the_gpu_set_match_the_cpu_set(rng, monkeypatch, case):
    """Forward and backward of the engine's ops, float32, the gpu set (on
    NumPy arrays) in the cpu set's place: the same values and gradients."""
    arrays = [normal(rng, (2, 8, 8, 4)), normal(rng, (3, 3, 4, 4)), normal(rng, 4)]
    fn = OP_CASES[case]
    expected = values_and_gradients(fn, arrays)
    monkeypatch.setitem(kernels._SETS, 'numpy', gpu)
    for got, e in zip(values_and_gradients(fn, arrays), expected):
        assert_close(got, e)


def test_batch_norm_op_on_the_gpu_set(rng, monkeypatch):
    x, gamma, beta = normal(rng, (4, 5, 5, 3)), normal(rng, 3), normal(rng, 3)

    def run():
        moving = [Variable(np.zeros(3, np.float32)), Variable(np.ones(3, np.float32))]
        return values_and_gradients(
            lambda x, g, b: F.batch_norm(x, g, b, *moving, training=True), [x, gamma, beta]) \
            + [m.data for m in moving]
    expected = run()
    monkeypatch.setitem(kernels._SETS, 'numpy', gpu)
    for got, e in zip(run(), expected):
        assert_close(got, e)


@pytest.mark.parametrize('fn, k_shape', [
    (lambda x, k: F.conv2d(x, k, padding='same', activation='relu', pool_size=2) ** 2,
     (3, 3, 2, 4)),
    (lambda x, k: F.conv2d(x, k, strides=2, padding='same', groups=2) ** 2, (3, 3, 1, 4)),
    (lambda x, k: F.max_pool2d(F.conv2d(x, k), 2, 1, 'same') ** 2, (3, 3, 2, 4)),
    (lambda x, k: F.avg_pool2d(F.conv2d_transpose(x, k, None, 2, 'same'), 3, 2, 'same') ** 2,
     (3, 3, 4, 2)),
])
def test_second_order_on_the_gpu_set(rng, monkeypatch, fn, k_shape):
    """Second order through the gpu set (float64, finite differences)."""
    monkeypatch.setitem(kernels._SETS, 'numpy', gpu)
    x = distinct(rng, (2, 6, 6, 2)).astype(np.float64) + rng.random((2, 6, 6, 2)) * 0.01
    check_second_order(fn, x, rng.standard_normal(k_shape))


# --- the optimizers' device updates ----------------------------------------------------
def optimizer_cases():
    """(name, CPU update of one piece, device kernel call, slot initialisers):
    the CPU side is the optimizer's own update (``_update``) on NumPy arrays,
    the device side the kernel of ``kernels/gpu/optimizers.py``."""
    from deepzero.kernels.gpu import optimizers as device
    from deepzero.optimizers import SGD, Adadelta, Adagrad, Adam, Nadam, RMSprop
    lr = np.float32(0.01)
    positive = lambda rng, shape: rng.uniform(0.5, 1.5, shape).astype(np.float32)  # noqa: E731
    small = lambda rng, shape: rng.uniform(-0.1, 0.1, shape).astype(np.float32)  # noqa: E731
    cases = []
    for momentum, nesterov in [(0.0, False), (0.9, False), (0.9, True)]:
        opt = SGD(momentum=momentum, nesterov=nesterov)
        cases.append((f'sgd {momentum} {nesterov}',
                      lambda g, w, *s, opt=opt: opt._update(lr, g, w, *(s or [None])),
                      lambda g, w, *s, opt=opt: device.sgd_update(
                          g, w, *(s or [None]), learning_rate=lr, momentum=opt.momentum,
                          nesterov=opt.nesterov),
                      [normal] if momentum else []))
    for momentum, centered in [(0.0, False), (0.5, False), (0.0, True), (0.5, True)]:
        opt = RMSprop(rho=0.8, momentum=momentum, centered=centered)
        slots = [positive] + [normal] * bool(momentum) + [small] * centered

        def slots_of(s, opt=opt):  # (v, m or None, a or None)
            s = list(s)
            return [s.pop(0), s.pop(0) if opt.momentum else None,
                    s.pop(0) if opt.centered else None]
        cases.append((f'rmsprop {momentum} {centered}',
                      lambda g, w, *s, opt=opt, slots_of=slots_of: opt._update(
                          lr, g, w, *slots_of(s)),
                      lambda g, w, *s, opt=opt, slots_of=slots_of: device.rmsprop_update(
                          g, w, *slots_of(s), learning_rate=lr, rho=opt.rho,
                          momentum=opt.momentum, epsilon=opt.epsilon),
                      slots))
    for amsgrad in (False, True):
        opt = Adam(beta_1=0.8, beta_2=0.95, amsgrad=amsgrad)
        alpha = np.float32(0.003)
        cases.append((f'adam {amsgrad}',
                      lambda g, w, m, v, *h, opt=opt, alpha=alpha: opt._update(
                          alpha, g, w, m, v, *(h or [None])),
                      lambda g, w, m, v, *h, opt=opt, alpha=alpha: device.adam_update(
                          g, w, m, v, *(h or [None]), alpha=alpha, beta_1=opt.beta_1,
                          beta_2=opt.beta_2, epsilon=opt.epsilon),
                      [normal, positive] + [positive] * amsgrad))
    nadam = Nadam(beta_1=0.8, beta_2=0.95)
    factors = (np.float32(0.7), np.float32(0.2), np.float32(0.3))
    cases.append(('nadam', lambda g, w, m, v: nadam._update_nadam(lr, factors, g, w, m, v),
                  lambda g, w, m, v: device.nadam_update(
                      g, w, m, v, learning_rate=lr, m_factor=factors[0],
                      gradient_factor=factors[1], v_correction=factors[2],
                      beta_1=nadam.beta_1, beta_2=nadam.beta_2, epsilon=nadam.epsilon),
                  [normal, positive]))
    adagrad = Adagrad()
    cases.append(('adagrad', lambda g, w, acc: adagrad._update(lr, g, w, acc),
                  lambda g, w, acc: device.adagrad_update(g, w, acc, learning_rate=lr,
                                                          epsilon=adagrad.epsilon),
                  [positive]))
    adadelta = Adadelta(rho=0.9)
    cases.append(('adadelta', lambda g, w, a, d: adadelta._update(lr, g, w, a, d),
                  lambda g, w, a, d: device.adadelta_update(
                      g, w, a, d, learning_rate=lr, rho=adadelta.rho,
                      epsilon=adadelta.epsilon),
                  [positive, positive]))
    return cases


OPTIMIZER_CASES = ['sgd 0.0 False', 'sgd 0.9 False', 'sgd 0.9 True', 'rmsprop 0.0 False',
                   'rmsprop 0.5 False', 'rmsprop 0.0 True', 'rmsprop 0.5 True', 'adam False',
                   'adam True', 'nadam', 'adagrad', 'adadelta']


class InterpretedKernel:
    """A CuPy ElementwiseKernel's body run by NumPy on float32 arrays: its
    statements (``T x = ...;``, C's + - * / and sqrt/max, whose precedence
    Python shares) executed as Python, the outputs written back in place. It
    checks the kernels' formulas, operation order and arguments where no GPU
    is; the compiled kernels are checked on a GPU."""

    def __init__(self, name, in_params, out_params, body):  # as optimizers._kernel
        self.inputs = [p.split()[-1] for p in in_params.split(',')]
        self.outputs = [p.split()[-1] for p in out_params.split(',')]
        self.statements = [re.sub(r'\bT ', '', s).strip() for s in body.split(';') if s.strip()]

    def __call__(self, *args):
        names = dict(zip(self.inputs + self.outputs, args), sqrt=np.sqrt, max=np.maximum)
        for statement in self.statements:
            exec(statement, {}, names)
        for name, array in zip(self.outputs, args[len(self.inputs):]):
            array[...] = names[name]


@pytest.fixture(params=['numpy (kernel bodies interpreted)',
                        pytest.param('cupy', marks=needs_gpu)])
def device_arrays(request, monkeypatch):
    """How the optimizer kernels get their arrays, and whether the results
    must be the CPU's bit for bit: CuPy copies on a GPU (to float32
    rounding), or NumPy copies with the kernel bodies interpreted
    (``InterpretedKernel``: the same NumPy operations, so bit for bit)."""
    if request.param == 'cupy':
        import cupy
        return cupy.asarray, False
    from deepzero.kernels.gpu import optimizers
    monkeypatch.setattr(optimizers, '_kernel', InterpretedKernel)
    monkeypatch.setattr(optimizers, '_dtype_of', lambda variable, name: variable.dtype)
    return np.copy, True


@pytest.mark.parametrize('case', OPTIMIZER_CASES)
def test_optimizer_kernels_match_the_cpu_updates(rng, device_arrays, case):
    """Three steps of each fused device update against the CPU optimizer's
    update of the same arrays: the same float32 values (the kernels round
    each operation as NumPy does: no fused multiply-adds)."""
    _, cpu_update, device_update, slot_makers = {c[0]: c for c in optimizer_cases()}[case]
    device_arrays, exact = device_arrays
    shape = (37, 29)
    w = normal(rng, shape)
    slots = [make(rng, shape) for make in slot_makers]
    w_device, slots_device = device_arrays(w), [device_arrays(s) for s in slots]
    for _ in range(3):
        g = normal(rng, shape)
        cpu_update(g, w, *slots)
        device_update(device_arrays(g), w_device, *slots_device)
    for got, expected in zip([w_device] + slots_device, [w] + slots):
        assert host(got).dtype == np.float32
        if exact:
            np.testing.assert_array_equal(got, expected)
        else:
            np.testing.assert_allclose(host(got), expected, rtol=1e-6, atol=1e-7)


def test_optimizer_cases_are_all_listed():
    """The parametrize list (plain names) is the list the cases build."""
    assert [c[0] for c in optimizer_cases()] == OPTIMIZER_CASES


@needs_gpu
def test_optimizer_kernels_name_a_host_array():
    from deepzero.kernels.gpu import optimizers as device
    with pytest.raises(TypeError, match='adagrad_update: variable must be a CuPy array'):
        device.adagrad_update(np.zeros(2, np.float32), np.zeros(2, np.float32),
                              np.zeros(2, np.float32), learning_rate=0.1, epsilon=1e-7)
