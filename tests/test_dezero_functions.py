"""deepzero.dezero.functions: DeZero's names, signatures and defaults; values
against formulas written out here, gradients against float64 finite
differences, float32 in float32 out."""
import numpy as np
import pytest

import deepzero.dezero as dezero
import deepzero.dezero.functions as F
from deepzero.dezero import Variable
from deepzero.utils.gradient_check import check_gradients, check_second_order
from op_checks import away_from, check_float32


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def softmax_rows(x, axis=1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# --- the names DeZero's code calls ------------------------------------------------------------
def test_dezero_names_exist():
    names = ('sin cos tanh exp log reshape transpose get_item GetItem GetItemGrad expand_dims '
             'flatten sum sum_to broadcast_to average mean matmul linear linear_simple sigmoid '
             'sigmoid_simple relu softmax softmax_simple log_softmax leaky_relu '
             'mean_squared_error MeanSquaredError mean_squared_error_simple '
             'softmax_cross_entropy '
             'softmax_cross_entropy_simple sigmoid_cross_entropy binary_cross_entropy accuracy '
             'dropout batch_norm batch_nrom embed_id max min clip conv2d deconv2d conv2d_simple '
             'im2col col2im pooling pooling_simple average_pooling add sub rsub mul div rdiv '
             'neg pow').split()
    assert sorted(F.__all__) == sorted(names)
    assert all(callable(getattr(F, name)) for name in names)
    assert F.batch_nrom is F.batch_norm        # DeZero's own spelling


# --- elementwise math and activations -------------------------------------------------------------
@pytest.mark.parametrize('name, fn, reference', [
    ('sin', F.sin, np.sin), ('cos', F.cos, np.cos), ('tanh', F.tanh, np.tanh),
    ('exp', F.exp, np.exp),
    ('sigmoid', F.sigmoid, lambda x: 1 / (1 + np.exp(-x))),
    ('sigmoid_simple', F.sigmoid_simple, lambda x: 1 / (1 + np.exp(-x))),
    ('relu', F.relu, lambda x: np.maximum(x, 0)),
    ('leaky_relu', F.leaky_relu, lambda x: np.where(x > 0, x, 0.2 * x)),
    ('leaky_relu 0.1', lambda x: F.leaky_relu(x, slope=0.1), lambda x: np.where(x > 0, x, 0.1 * x)),
])
def test_elementwise_values_gradients_float32(name, fn, reference, rng):
    x = away_from(rng, (3, 4))
    np.testing.assert_allclose(fn(Variable(x)).data, reference(x), rtol=1e-12)
    check_gradients(fn, x)
    check_float32(fn, x)


def test_log_and_clip(rng):
    x = rng.uniform(0.5, 2.0, (2, 3))
    np.testing.assert_allclose(F.log(Variable(x)).data, np.log(x))
    check_gradients(F.log, x)
    x = away_from(rng, (3, 4), kinks=(-0.5, 0.5))
    y = F.clip(Variable(x), -0.5, 0.5)
    np.testing.assert_array_equal(y.data, np.clip(x, -0.5, 0.5))
    check_gradients(lambda v: F.clip(v, -0.5, 0.5), x)
    check_float32(lambda v: F.clip(v, -0.5, 0.5), x)


@pytest.mark.parametrize('fn', [F.softmax, F.softmax_simple, F.log_softmax])
def test_softmax_defaults_to_axis_1(fn, rng):
    x = rng.standard_normal((2, 3, 4))
    expected = softmax_rows(x, axis=1)
    if fn is F.log_softmax:
        expected = np.log(expected)
    np.testing.assert_allclose(fn(Variable(x)).data, expected, rtol=1e-10)
    check_gradients(lambda v: fn(v) * np.arange(24.0).reshape(2, 3, 4), x)
    check_float32(fn, x)
    np.testing.assert_allclose(fn(Variable(x), axis=2).data.sum(axis=2) if fn is not F.log_softmax
                               else np.exp(fn(Variable(x), axis=2).data).sum(axis=2), 1.0)


# --- shape ops and reductions ---------------------------------------------------------------------
def test_shape_ops(rng):
    x = rng.standard_normal((2, 3, 4))
    v = Variable(x)
    assert F.reshape(v, (6, 4)).shape == (6, 4)
    assert F.reshape(v, (2, 3, 4)) is v                     # the same shape: no op
    np.testing.assert_array_equal(F.transpose(v, (2, 0, 1)).data, x.transpose(2, 0, 1))
    np.testing.assert_array_equal(F.transpose(v).data, x.T)
    assert F.expand_dims(v, 1).shape == (2, 1, 3, 4)
    assert F.flatten(v).shape == (2, 12)                     # keeps the batch axis
    np.testing.assert_array_equal(F.get_item(v, (slice(None), 1)).data, x[:, 1])
    np.testing.assert_array_equal(F.broadcast_to(Variable(np.ones(4)), (3, 4)).data,
                                  np.ones((3, 4)))
    np.testing.assert_array_equal(F.sum_to(v, (1, 3, 1)).data, x.sum(axis=(0, 2),
                                                                     keepdims=True))
    for fn in (lambda a: F.transpose(a, (1, 2, 0)) * np.arange(24.0).reshape(3, 4, 2),
               lambda a: F.get_item(a, (np.array([0, 0, 1]), slice(1, 3))),
               lambda a: F.sum_to(a, (3, 1)) ** 2,
               lambda a: F.broadcast_to(F.sum(a, axis=0), (5, 3, 4)) ** 2,
               lambda a: F.expand_dims(a, 0) * 2.0,
               lambda a: F.flatten(a) ** 2):
        check_gradients(fn, x)


@pytest.mark.parametrize('axis, keepdims', [(None, False), (0, False), (1, True), ((0, 2), False)])
def test_reductions(axis, keepdims, rng):
    x = rng.standard_normal((2, 3, 4))
    for fn, reference in ((F.sum, np.sum), (F.average, np.mean), (F.mean, np.mean),
                          (F.max, np.max), (F.min, np.min)):
        y = fn(Variable(x), axis=axis, keepdims=keepdims)
        np.testing.assert_allclose(y.data, reference(x, axis=axis, keepdims=keepdims))
        check_gradients(lambda v: fn(v, axis=axis, keepdims=keepdims) ** 2, x)


def test_max_with_ties_shares_the_gradient():
    x = Variable(np.array([[1.0, 3.0, 3.0]]))
    F.max(x, axis=1).backward()
    np.testing.assert_array_equal(x.grad.data, [[0.0, 0.5, 0.5]])   # DeZero: [0, 1, 1]


# --- matmul and linear ----------------------------------------------------------------------------
def test_matmul_linear_and_linear_simple(rng):
    x, W, b = rng.standard_normal((4, 3)), rng.standard_normal((3, 2)), rng.standard_normal(2)
    np.testing.assert_allclose(F.matmul(Variable(x), Variable(W)).data, x @ W)
    for fn in (F.linear, F.linear_simple):
        np.testing.assert_allclose(fn(Variable(x), Variable(W), Variable(b)).data, x @ W + b)
        np.testing.assert_allclose(fn(Variable(x), Variable(W)).data, x @ W)
        check_gradients(fn, x, W, b)
        check_float32(fn, x, W, b)
    check_gradients(F.matmul, x, W)


# --- losses and accuracy --------------------------------------------------------------------------
@pytest.mark.parametrize('fn', [F.mean_squared_error, F.mean_squared_error_simple])
def test_mean_squared_error_divides_by_the_batch_size(fn, rng):
    x0, x1 = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    np.testing.assert_allclose(fn(Variable(x0), Variable(x1)).data,
                               ((x0 - x1) ** 2).sum() / 4)
    assert float(fn(np.zeros((4, 3)), Variable(np.ones((4, 3)))).data) == 3.0
    check_gradients(fn, x0, x1)
    check_float32(fn, x0, x1)


@pytest.mark.parametrize('shapes, dtype', [
    (((4, 3), (4, 3)), np.float64), (((4, 3), (4, 3)), np.float32),
    (((4, 1), (4, 3)), np.float64), (((1, 1), ()), np.float32)])
def test_mean_squared_error_op_gives_the_four_ops_values_bit_for_bit(shapes, dtype, rng):
    """One op (DeZero's MeanSquaredError, the engine's SumSquaredErrorOverBatch),
    the values and gradients of sum(d * d) / len(d)."""
    arrays = [rng.standard_normal(s).astype(dtype) for s in shapes]

    def run(fn):
        xs = [Variable(a) for a in arrays]
        y = fn(*xs)
        y.backward()
        return [y.data] + [x.grad.data for x in xs]

    def four_ops(x0, x1):
        diff = F.sub(x0, x1)
        return F.sum(diff * diff) / len(diff)

    for got, expected in zip(run(F.mean_squared_error), run(four_ops)):
        assert got.dtype == expected.dtype == dtype
        np.testing.assert_array_equal(got, expected)


def test_mean_squared_error_second_derivative(rng):
    x0, x1 = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    check_second_order(F.mean_squared_error, x0, x1)


@pytest.mark.parametrize('fn', [F.softmax_cross_entropy, F.softmax_cross_entropy_simple])
def test_softmax_cross_entropy_with_int_labels(fn, rng):
    x = rng.standard_normal((5, 4))
    t = np.array([0, 3, 1, 1, 2])
    expected = -np.log(softmax_rows(x)[np.arange(5), t]).mean()
    np.testing.assert_allclose(fn(Variable(x), t).data, expected, rtol=1e-10)
    np.testing.assert_allclose(fn(Variable(x), Variable(t.reshape(5, 1))).data, expected)
    check_gradients(lambda v: fn(v, t), x)
    check_float32(lambda v: fn(v, t), x)


def test_sigmoid_cross_entropy_is_finite_on_saturated_logits(rng):
    x, t = rng.standard_normal((4, 3)), rng.integers(0, 2, (4, 3))
    p = 1 / (1 + np.exp(-x))
    expected = -(t * np.log(p) + (1 - t) * np.log(1 - p)).sum() / 4
    np.testing.assert_allclose(F.sigmoid_cross_entropy(Variable(x), t).data, expected)
    check_gradients(lambda v: F.sigmoid_cross_entropy(v, t), x)
    check_float32(lambda v: F.sigmoid_cross_entropy(v, t), x)
    y = F.sigmoid_cross_entropy(Variable(np.array([[40.0]])), np.array([0]))
    np.testing.assert_allclose(y.data, 40.0)                 # DeZero: inf
    y = F.sigmoid_cross_entropy(Variable(np.array([[2.0], [-1.0]])), np.array([1, 0]))
    assert y.shape == ()                                     # t (N,) against x (N, 1)


def test_binary_cross_entropy(rng):
    p, t = rng.uniform(0.1, 0.9, (4, 2)), rng.integers(0, 2, (4, 2)).astype(np.float64)
    expected = -(t * np.log(p) + (1 - t) * np.log(1 - p)).sum() / 4
    np.testing.assert_allclose(F.binary_cross_entropy(Variable(p), t).data, expected)
    check_gradients(lambda v: F.binary_cross_entropy(v, t), p)
    check_float32(lambda v: F.binary_cross_entropy(v, t), p)
    # a confidently wrong p above DeZero's 0.999 clip still has a gradient
    wrong = Variable(np.array([0.9995]))
    F.binary_cross_entropy(wrong, np.array([0.0])).backward()
    assert wrong.grad.data[0] > 1000


def test_accuracy():
    y = Variable(np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]]))
    acc = F.accuracy(y, np.array([1, 0, 0]))
    assert isinstance(acc, Variable) and acc.creator is None
    np.testing.assert_allclose(acc.data, 2 / 3)
    np.testing.assert_allclose(F.accuracy(y.data, Variable(np.array([1, 0, 1]))).data, 1.0)


# --- dropout --------------------------------------------------------------------------------------
def test_dropout_follows_numpys_global_seed_and_test_mode(rng):
    x = rng.standard_normal((50, 40))

    def f(v):
        np.random.seed(3)
        return F.dropout(v, dropout_ratio=0.6)

    a, b = f(Variable(x)).data, f(Variable(x)).data
    np.testing.assert_array_equal(a, b)                      # np.random.seed repeats the mask
    kept = a != 0
    np.random.seed(3)
    np.testing.assert_array_equal(kept, np.random.rand(50, 40) > 0.6)   # DeZero's draw
    assert 0.3 < kept.mean() < 0.5
    np.testing.assert_allclose(a[kept], x[kept] / 0.4)
    check_gradients(f, x[:5, :4])
    check_float32(f, x)
    np.testing.assert_array_equal(F.dropout(Variable(x), 0.0).data, x)
    with dezero.test_mode():
        np.testing.assert_array_equal(F.dropout(x).data, x)


# --- batch norm -----------------------------------------------------------------------------------
def batch_norm_reference(x, gamma, beta, mean, var, eps):
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return (gamma.reshape(shape) * (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
            + beta.reshape(shape))


@pytest.mark.parametrize('shape', [(8, 3), (4, 3, 2, 5)])
def test_batch_norm_training_and_running_statistics(shape, rng):
    x = rng.standard_normal(shape) * 2 + 1
    gamma, beta = rng.standard_normal(3), rng.standard_normal(3)
    running_mean, running_var = np.zeros(3), np.ones(3)
    y = F.batch_norm(Variable(x), gamma, beta, running_mean, running_var)
    axes = (0,) + tuple(range(2, x.ndim))
    batch_mean, batch_var = x.mean(axis=axes), x.var(axis=axes)
    np.testing.assert_allclose(y.data, batch_norm_reference(x, gamma, beta, batch_mean,
                                                            batch_var, 2e-5), rtol=1e-9)
    m = x.size // 3
    np.testing.assert_allclose(running_mean, 0.1 * batch_mean)          # decay 0.9
    np.testing.assert_allclose(running_var, 0.9 + 0.1 * batch_var * m / (m - 1))  # unbiased
    stats = np.zeros(3), np.ones(3)
    check_gradients(lambda v, g, b: F.batch_norm(v, g, b, *stats) * F.cos(v), x, gamma, beta)
    check_float32(lambda v, g, b: F.batch_norm(v, g, b, np.zeros(3, 'f'), np.ones(3, 'f')),
                  x, gamma, beta)


def test_batch_norm_decay_eps_and_test_mode(rng):
    x = rng.standard_normal((6, 2))
    gamma, beta = np.ones(2), np.zeros(2)
    mean, var = np.array([0.5, -0.5]), np.array([2.0, 0.5])
    with dezero.test_mode():
        y = F.batch_nrom(x, gamma, beta, mean, var, eps=1e-3)
    np.testing.assert_allclose(y.data, batch_norm_reference(x, gamma, beta, mean, var, 1e-3))
    np.testing.assert_array_equal(mean, [0.5, -0.5])                   # not updated
    F.batch_norm(x, gamma, beta, mean, var, decay=0.5)
    np.testing.assert_allclose(mean, 0.5 * np.array([0.5, -0.5]) + 0.5 * x.mean(axis=0))
    with pytest.raises(ValueError, match=r'\(N, C\) or \(N, C, H, W\)'):
        F.batch_norm(np.ones((2, 2, 2)), np.ones(2), np.zeros(2), np.zeros(2), np.ones(2))


def test_batch_norm_second_order(rng):
    x = rng.standard_normal((5, 2))
    stats = np.zeros(2), np.ones(2)
    check_second_order(lambda v, g: F.batch_norm(v, g, np.zeros(2), *stats) ** 2, x,
                       rng.standard_normal(2))


# --- embedding ------------------------------------------------------------------------------------
def test_embed_id(rng):
    W = rng.standard_normal((5, 3))
    ids = np.array([[0, 4], [4, 2]])
    np.testing.assert_array_equal(F.embed_id(ids, Variable(W)).data, W[ids])
    check_gradients(lambda w: F.embed_id(ids, w) ** 2, W)


# --- the arithmetic functions ---------------------------------------------------------------------
def test_arithmetic_functions():
    a, b = Variable(np.array(6.0)), Variable(np.array(2.0))
    got = [F.add(a, b), F.sub(a, b), F.rsub(a, b), F.mul(a, b), F.div(a, b), F.rdiv(a, b),
           F.neg(a), F.pow(a, 2)]
    np.testing.assert_allclose([float(v.data) for v in got], [8, 4, -4, 12, 3, 1 / 3, -6, 36])


# --- on the inputs' device (CuPy where a GPU is usable) -------------------------------------------
@pytest.mark.parametrize('fn, shapes, constants', [
    (lambda x, g, b, m, v: F.batch_norm(x, g, b, m, v), [(4, 3, 2, 2), (3,), (3,)],
     (np.zeros(3, np.float32), np.ones(3, np.float32))),
    (lambda x, t: F.softmax_cross_entropy(x, t), [(5, 4)], (np.array([0, 3, 1, 1, 2]),)),
    (lambda x, t: F.sigmoid_cross_entropy(x, t), [(5, 2)], (np.ones((5, 2), np.float32),)),
    (lambda x, y: F.mean_squared_error(x, y), [(5, 2), (5, 2)], ()),
    (lambda W, ids: F.embed_id(ids, W), [(6, 3)], (np.array([[0, 5], [5, 2]]),)),
    (lambda x: F.softmax(x), [(3, 4, 2)], ()),
])
def test_on_the_inputs_device(xp, fn, shapes, constants):
    from test_device_ops import check_against_numpy   # the engine's device harness
    rng = np.random.default_rng(1)
    check_against_numpy(xp, fn, [rng.standard_normal(s) for s in shapes], constants)
