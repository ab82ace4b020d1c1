"""Every kind of op on the array module of its inputs (the ``xp`` fixture:
NumPy, then CuPy where a GPU is usable): outputs, gradients and, where cheap,
second-order gradients stay on the inputs' device, stay float32, and agree
with the same op run on NumPy (float32: within 1e-4 of the largest value).

On NumPy this is the CPU path run through the same harness; on CuPy it is
the GPU-vs-CPU check of the engine."""
import numpy as np
import pytest

import deepzero.functions as F
from deepzero import Variable, cuda, runtime, using_config

RTOL = 1e-4  # float32 GPU vs CPU: sums run in another order


def assert_close(got, want, what):
    """``got`` (either device) matches the NumPy ``want`` within RTOL of
    ``want``'s largest magnitude (float32 sums differ in rounding, not more)."""
    got = cuda.as_numpy(got)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    scale = max(float(np.max(np.abs(want))), 1.0) if want.size else 1.0
    error = float(np.max(np.abs(got.astype(np.float64) - want))) if want.size else 0.0
    assert error <= RTOL * scale, f"{what}: max error {error:.3g} > {RTOL} * {scale:.3g}"


def run(xp, fn, inputs, constants=(), second_order=False):
    """``fn(*variables, *constants)`` on ``xp`` arrays, backpropagated from
    ``sum(y * w)`` for a fixed random ``w``; with ``second_order``, again from
    ``sum(gx * gx)`` of the first gradients (graph recorded; for ops whose
    gradient depends on their inputs, so not for linear ones such as add or
    pooling, whose adjoints the conv net below chains). Returns the arrays
    computed, named, as they came out (on their device)."""
    xs = [Variable(xp.asarray(a)) for a in inputs]
    y = fn(*xs, *[xp.array(c) for c in constants])  # copies: batch norm updates its stats
    w = xp.asarray(np.random.default_rng(7).standard_normal(y.shape).astype(np.float32))
    F.sum(y * w).backward(create_graph=second_order)
    results = {'y': y.data}
    results.update((f'grad {i}', x.grad.data) for i, x in enumerate(xs))
    if second_order:
        grads = [x.grad for x in xs]
        for x in xs:
            x.cleargrad()
        sum(F.sum(g * g) for g in grads).backward()
        results.update((f'second-order grad {i}', x.grad.data)
                       for i, x in enumerate(xs) if x.grad is not None)
    return results


def check_against_numpy(xp, fn, inputs, constants=(), second_order=False):
    inputs = [np.asarray(a, np.float32) for a in inputs]
    want = run(np, fn, inputs, constants, second_order)
    got = run(xp, fn, inputs, constants, second_order)
    assert got.keys() == want.keys()
    device = 'gpu' if xp is not np else 'cpu'
    for name, array in got.items():
        assert cuda.device_of(array) == device, f"{name} is on {cuda.device_of(array)}"
        assert array.dtype == want[name].dtype == np.float32, f"{name}: {array.dtype}"
        assert_close(array, want[name], name)


def normal(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def positive(*shape, seed=0):
    return np.random.default_rng(seed).uniform(0.5, 2.0, shape).astype(np.float32)


def probabilities(*shape, seed=0):
    return np.random.default_rng(seed).uniform(0.05, 0.95, shape).astype(np.float32)


# (id, fn, inputs, constants, second order)
ARITHMETIC = [
    ('add', lambda a, b: a + b, [normal(3, 4), normal(4, seed=1)], (), False),
    ('sub', lambda a, b: a - b, [normal(3, 1), normal(4, seed=1)], (), False),
    ('mul', lambda a, b: a * b, [normal(3, 4), normal(3, 4, seed=1)], (), True),
    ('div', lambda a, b: a / b, [normal(3, 4), positive(4, seed=1)], (), True),
    ('pow', lambda a, b: a ** b, [positive(3, 4), normal(3, 4, seed=1)], (), True),
    ('neg', lambda a: -a, [normal(5)], (), False),
    ('scalars', lambda a: (2.0 * a - 1.0) / 3.0 + a ** 2, [normal(3, 4)], (), True),
    ('exp log', lambda a: F.exp(a) + F.log(a), [positive(6)], (), True),
    ('matmul', lambda a, b: a @ b, [normal(3, 4), normal(4, 5, seed=1)], (), True),
    ('batched matmul', lambda a, b: a @ b, [normal(2, 3, 4), normal(4, 5, seed=1)], (), True),
    ('linear', F.linear, [normal(3, 4), normal(4, 5, seed=1), normal(5, seed=2)], (), True),
]
REDUCTIONS = [
    ('sum', lambda a: F.sum(a, axis=1, keepdims=True), [normal(3, 4, 5)], (), False),
    ('sum_to broadcast_to', lambda a: F.sum_to(F.broadcast_to(a, (2, 3, 4)), (3, 1)),
     [normal(3, 1)], (), False),
    ('mean', lambda a: F.mean(a, axis=(0, 2)), [normal(3, 4, 5)], (), False),
    ('max ties', lambda a: F.max(a, axis=1), [np.array([[1, 3, 3], [2, 0, 1]])], (), False),
    ('min', lambda a: F.min(a, axis=0), [normal(4, 3)], (), False),
    ('logsumexp', lambda a: F.logsumexp(a, axis=-1), [normal(3, 5)], (), True),
]
SHAPE = [
    ('reshape transpose', lambda a: F.transpose(F.reshape(a, (4, 6)), (1, 0)),
     [normal(2, 3, 4)], (), False),
    ('getitem basic', lambda a: a[1:, ::2], [normal(3, 4)], (), False),
    ('getitem repeated', lambda a: a[np.array([0, 2, 0])], [normal(3, 4)], (), False),
    ('concat split', lambda a, b: F.split(F.concat([a, b], axis=1), [2], axis=1)[1] * 2.0,
     [normal(3, 2), normal(3, 4, seed=1)], (), False),
    ('stack', lambda a, b: F.stack([a, b], axis=1), [normal(3, 2), normal(3, 2, seed=1)],
     (), False),
    ('pad constant', lambda a: F.pad(a, ((1, 0), (2, 1))), [normal(3, 4)], (), False),
    ('pad reflect', lambda a: F.pad(a, 2, mode='reflect'), [normal(3, 4)], (), False),
    ('expand squeeze flatten', lambda a: F.flatten(F.squeeze(F.expand_dims(a, 0), 0)),
     [normal(3, 2, 2)], (), False),
]
ELEMENTWISE = [
    ('sigmoid', F.sigmoid, [normal(3, 4) * 4], (), True),
    ('relu', F.relu, [normal(3, 4)], (), False),
    ('relu6', F.relu6, [normal(3, 4) * 5], (), False),
    ('leaky_relu', F.leaky_relu, [normal(3, 4)], (), False),
    ('elu', F.elu, [normal(3, 4)], (), True),
    ('softplus', F.softplus, [normal(3, 4) * 4], (), True),
    ('softmax', lambda a: F.softmax(a, axis=-1), [normal(3, 5)], (), True),
    ('log_softmax', F.log_softmax, [normal(3, 5)], (), True),
    ('tanh sin cos', lambda a: F.tanh(a) + F.sin(a) * F.cos(a), [normal(3, 4)], (), True),
    ('sqrt abs', lambda a: F.sqrt(F.abs(a)), [normal(3, 4)], (), False),
    ('clip', lambda a: F.clip(a, -0.5, 0.7), [normal(3, 4)], (), False),
    ('maximum minimum', lambda a, b: F.maximum(a, b) * F.minimum(a, 0.0),
     [normal(3, 4), normal(3, 4, seed=1)], (), False),
    ('where', lambda a, b, c: F.where(c, a, b), [normal(3, 4), normal(3, 4, seed=1)],
     (normal(3, 4, seed=2) > 0,), False),
]
LOSSES = [
    ('mse', F.mean_squared_error, [normal(4, 3), normal(4, 3, seed=1)], (), True),
    ('mae', F.mean_absolute_error, [normal(4, 3), normal(4, 3, seed=1)], (), False),
    ('binary crossentropy', F.binary_crossentropy,
     [probabilities(6, 1), probabilities(6, 1, seed=1)], (), True),
    ('binary crossentropy logits', lambda y, t: F.binary_crossentropy(y, t, from_logits=True),
     [normal(6, 2), probabilities(6, 2, seed=1)], (), True),
    ('categorical crossentropy', F.categorical_crossentropy,
     [probabilities(4, 5), probabilities(4, 5, seed=1)], (), True),
    ('categorical crossentropy logits',
     lambda y, t: F.categorical_crossentropy(y, t, from_logits=True),
     [normal(4, 5), probabilities(4, 5, seed=1)], (), True),
    ('sparse categorical crossentropy',
     lambda y, labels: F.sparse_categorical_crossentropy(y, labels, from_logits=True),
     [normal(4, 5)], (np.array([0, 4, 2, 2]),), True),
    ('hinge', F.hinge, [normal(6, 1)], (np.array([[0], [1], [1], [0], [1], [0]]),), False),
]
IMAGES = [
    ('conv2d same stride 2', lambda x, k, b: F.conv2d(x, k, b, strides=2, padding='same'),
     [normal(2, 7, 7, 3), normal(3, 3, 3, 4, seed=1), normal(4, seed=2)], (), True),
    ('conv2d 3x3 relu', lambda x, k: F.conv2d(x, k, activation='relu'),
     [normal(2, 8, 8, 16), normal(3, 3, 16, 8, seed=1) * 0.2], (), False),
    ('conv2d relu max pool', lambda x, k, b: F.conv2d(x, k, b, activation='relu', pool_size=2),
     [normal(2, 8, 8, 3), normal(3, 3, 3, 4, seed=1), normal(4, seed=2)], (), False),
    ('conv2d channels_first', lambda x, k: F.conv2d(x, k, padding=1,
                                                    data_format='channels_first'),
     [normal(2, 3, 6, 6), normal(3, 3, 3, 4, seed=1)], (), True),
    ('depthwise conv2d', lambda x, k: F.depthwise_conv2d(x, k, padding='same'),
     [normal(2, 6, 6, 3), normal(3, 3, 3, 2, seed=1)], (), False),
    ('conv2d transpose', lambda x, k: F.conv2d_transpose(x, k, strides=2, padding='same'),
     [normal(2, 4, 4, 3), normal(3, 3, 5, 3, seed=1)], (), True),
    ('max pool', lambda x: F.max_pool2d(x, 2), [normal(2, 6, 6, 3)], (), False),
    ('max pool same', lambda x: F.max_pool2d(x, 3, 2, padding='same'),
     [normal(2, 7, 7, 3)], (), False),
    ('avg pool', lambda x: F.avg_pool2d(x, 3, 2, padding='same'), [normal(2, 7, 7, 3)], (),
     False),
    ('global pools', lambda x: F.global_average_pool2d(x) + F.global_max_pool2d(x),
     [normal(2, 5, 5, 3)], (), False),
]
CASES = ARITHMETIC + REDUCTIONS + SHAPE + ELEMENTWISE + LOSSES + IMAGES


@pytest.mark.parametrize('fn, inputs, constants, second_order',
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_op_on_the_inputs_device_matches_numpy(xp, fn, inputs, constants, second_order):
    check_against_numpy(xp, fn, inputs, constants, second_order)


@pytest.mark.parametrize('training', [True, False])
def test_batch_norm_matches_numpy(xp, training):
    x = normal(8, 4, 4, 3) * 2 + 1
    moving = {}  # device -> the moving statistics that run updated

    def fn(x, gamma, beta, moving_mean, moving_variance):
        moving[cuda.device_of(x)] = moving_mean, moving_variance
        return F.batch_norm(x, gamma, beta, moving_mean, moving_variance, training=training)
    check_against_numpy(xp, fn, [x, positive(3, seed=1), normal(3, seed=2)],
                        (normal(3, seed=3), positive(3, seed=4)), second_order=training)
    device = 'gpu' if xp is not np else 'cpu'
    for got, want in zip(moving[device], moving['cpu']):
        assert_close(got, cuda.as_numpy(want), 'moving statistics')


def test_metrics_on_the_inputs_device(xp):
    scores, labels = normal(8, 5), np.arange(8) % 5
    for metric in (F.sparse_categorical_accuracy, F.sparse_top_k_categorical_accuracy):
        got = metric(xp.asarray(scores), xp.asarray(labels))
        assert cuda.device_of(got) == ('gpu' if xp is not np else 'cpu')
        assert float(got) == float(metric(scores, labels))


def test_dropout_masks_on_the_inputs_device(xp):
    rate = 0.25
    x = Variable(xp.asarray(positive(64, 128)))
    with using_config('train', True):
        y = F.dropout(x, rate)
    y.backward()
    assert cuda.device_of(y) == cuda.device_of(x.grad) == cuda.device_of(x)
    kept = cuda.as_numpy(y.data) != 0
    assert abs(1 - kept.mean() - rate) < 0.03  # 8192 units
    np.testing.assert_allclose(cuda.as_numpy(y.data)[kept],
                               cuda.as_numpy(x.data)[kept] / (1 - rate), rtol=1e-6)
    np.testing.assert_array_equal(cuda.as_numpy(x.grad.data),
                                  np.where(kept, np.float32(1 / (1 - rate)), 0))


def test_dropout_on_the_device_is_repeatable(xp):
    x = Variable(xp.asarray(positive(32, 32)))

    def masks(seed=None):
        with using_config('train', True):
            return [cuda.as_numpy(F.dropout(x, 0.5, seed=seed).data) != 0 for _ in range(2)]
    runtime.set_random_seed(11)
    first = masks()
    runtime.set_random_seed(11)
    again = masks()
    assert (first[0] == again[0]).all() and (first[1] == again[1]).all()
    assert not (first[0] == first[1]).all()  # consecutive calls differ
    assert (masks(seed=5)[0] == masks(seed=5)[1]).all()  # an int seed: the same mask


def test_second_order_through_a_conv_net(xp):
    """A small conv net's gradient of a gradient (the ops' adjoint pairs
    chained: conv, ReLU, pool, dense, loss), as on NumPy."""
    def net(x, k, w, labels):
        h = F.max_pool2d(F.relu(F.conv2d(x, k, padding='same')), 2)
        return F.sparse_categorical_crossentropy(F.linear(F.flatten(h), w), labels,
                                                 from_logits=True)
    check_against_numpy(xp, net, [normal(2, 6, 6, 2), normal(3, 3, 2, 4, seed=1) * 0.5,
                                  normal(36, 3, seed=2) * 0.3], (np.array([0, 2]),),
                        second_order=True)


@pytest.mark.gpu
@pytest.mark.parametrize('xp', ['cupy'], indirect=True)
def test_to_gpu_and_back_keeps_values_and_grad(xp):
    x = Variable(normal(3, 4))
    x.grad = Variable(normal(3, 4, seed=1))
    data, grad = x.data.copy(), x.grad.data.copy()
    assert x.to_gpu() is x and x.device == 'gpu' and x.grad.device == 'gpu'
    assert isinstance(x.data, xp.ndarray) and x.data.dtype == np.float32
    assert x.to_cpu() is x and x.device == 'cpu' and isinstance(x.grad.data, np.ndarray)
    np.testing.assert_array_equal(x.data, data)
    np.testing.assert_array_equal(x.grad.data, grad)
    assert isinstance(cuda.as_cupy(2.5), xp.ndarray) and cuda.as_cupy(2.5).dtype == np.float32
