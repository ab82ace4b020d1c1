"""Activations: gradients by finite differences (first and second order),
forward and backward against PyTorch, dtypes, kinks and extreme inputs."""
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import deepzero.functions as F
from deepzero import Variable
from deepzero.utils import check_gradients, check_second_order
from op_checks import away_from, check_float32
from torch_oracle import compare_with_torch

# name: (deepzero op, torch op, kinks to keep inputs away from, curved)
ELEMENTWISE = {
    'sigmoid': (F.sigmoid, torch.sigmoid, (), True),
    'relu': (F.relu, torch.relu, (0.0,), False),
    'relu_capped': (lambda x: F.relu(x, max_value=1.0), lambda x: TF.hardtanh(x, 0.0, 1.0),
                    (0.0, 1.0), False),
    'relu6': (F.relu6, TF.relu6, (0.0, 6.0), False),
    'leaky_relu': (F.leaky_relu, lambda x: TF.leaky_relu(x, 0.2), (0.0,), False),
    'leaky_relu_0.01': (lambda x: F.leaky_relu(x, negative_slope=0.01),
                        lambda x: TF.leaky_relu(x, 0.01), (0.0,), False),
    'elu': (F.elu, TF.elu, (0.0,), True),
    'elu_alpha2': (lambda x: F.elu(x, alpha=2.0), lambda x: TF.elu(x, 2.0), (0.0,), True),
    'softplus': (F.softplus, TF.softplus, (), True),
}
SHAPES = [(), (5,), (2, 3), (2, 1, 3)]


@pytest.mark.parametrize('shape', SHAPES)
@pytest.mark.parametrize('name', ELEMENTWISE)
def test_elementwise_gradients(name, shape, rng):
    op, _, _, curved = ELEMENTWISE[name]
    x = away_from(rng, shape, kinks=ELEMENTWISE[name][2], scale=8.0)
    check_gradients(op, x)
    if curved:  # piecewise-linear ones have no second derivative to check alone
        check_second_order(op, x)
    check_second_order(lambda v: op(v) * op(v), x)


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('name', ELEMENTWISE)
def test_elementwise_matches_torch(name, dtype, rng):
    op, torch_op, _, _ = ELEMENTWISE[name]
    compare_with_torch(op, torch_op, rng.uniform(-8, 8, (3, 5)), dtype=dtype)


@pytest.mark.parametrize('name', ELEMENTWISE)
def test_elementwise_keeps_float32(name, rng):
    check_float32(ELEMENTWISE[name][0], rng.uniform(-8, 8, (2, 3)))


@pytest.mark.parametrize('name', ['relu', 'relu6', 'relu_capped', 'leaky_relu', 'elu_alpha2'])
def test_gradient_at_kinks_matches_torch(name):
    op, torch_op, _, _ = ELEMENTWISE[name]
    compare_with_torch(op, torch_op, np.array([-1.0, 0.0, 0.5, 1.0, 6.0, 7.0]),
                       dtype=np.float64)


@pytest.mark.parametrize('op', [F.sigmoid, F.softplus, F.elu, F.softmax, F.log_softmax])
def test_extreme_inputs_stay_finite_without_warnings(op):
    x = Variable(np.array([-1e4, -800.0, -30.0, 0.0, 30.0, 800.0, 1e4], dtype=np.float32))
    with warnings.catch_warnings():  # NumPy's overflow/invalid/divide warnings fail
        warnings.simplefilter('error')
        y = op(x)
        y.backward()
    assert np.isfinite(y.data).all() and np.isfinite(x.grad.data).all()


def test_sigmoid_and_softplus_extreme_values():
    x = Variable(np.array([-800.0, -40.0, 40.0, 800.0]))
    np.testing.assert_allclose(F.sigmoid(x).data, [0.0, np.exp(-40.0), 1.0, 1.0],
                               rtol=1e-12, atol=0)
    np.testing.assert_allclose(F.softplus(x).data, [0.0, np.exp(-40.0), 40.0, 800.0],
                               rtol=1e-12, atol=0)


def test_relu_rejects_a_non_positive_cap():
    with pytest.raises(ValueError, match='relu: max_value must be positive'):
        F.relu(Variable(np.zeros(2)), max_value=0)


# --- softmax / log_softmax --------------------------------------------------------
SOFTMAX_CASES = [((4,), -1), ((2, 3), -1), ((2, 3), 0), ((2, 3, 2), 1), ((2, 2, 3), (1, 2))]
SOFTMAXES = {'softmax': (F.softmax, torch.softmax), 'log_softmax': (F.log_softmax,
                                                                    torch.log_softmax)}


@pytest.mark.parametrize('shape,axis', SOFTMAX_CASES)
@pytest.mark.parametrize('name', SOFTMAXES)
def test_softmax_gradients(name, shape, axis, rng):
    op = SOFTMAXES[name][0]
    x = rng.standard_normal(shape)
    weights = rng.standard_normal(shape)  # a plain sum of softmax has zero gradient
    check_gradients(lambda v: op(v, axis=axis) * weights, x)
    check_second_order(lambda v: op(v, axis=axis) * weights, x)


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('axis', [-1, 0, 1])
@pytest.mark.parametrize('name', SOFTMAXES)
def test_softmax_matches_torch(name, axis, dtype, rng):
    op, torch_op = SOFTMAXES[name]
    compare_with_torch(lambda x: op(x, axis=axis), lambda x: torch_op(x, dim=axis),
                       rng.standard_normal((3, 4, 2)) * 5, dtype=dtype)


@pytest.mark.parametrize('name', SOFTMAXES)
def test_softmax_keeps_float32(name, rng):
    weights = rng.standard_normal((2, 3)).astype(np.float32)
    check_float32(lambda x: SOFTMAXES[name][0](x) * weights, rng.standard_normal((2, 3)))


def test_softmax_is_shift_invariant_and_log_softmax_stays_finite():
    x = np.array([[1000.0, 1001.0, 1002.0], [-1e30, 0.0, 1.0]])
    np.testing.assert_allclose(F.softmax(Variable(x)).data[0],
                               F.softmax(Variable(np.array([0.0, 1.0, 2.0]))).data, rtol=1e-12)
    np.testing.assert_allclose(F.softmax(Variable(x)).data.sum(axis=-1), 1.0, rtol=1e-12)
    log_p = F.log_softmax(Variable(x)).data
    assert np.isfinite(log_p).all()
    np.testing.assert_allclose(log_p[1, 0], -1e30 - np.log(np.exp(0) + np.exp(1)) + 0.0,
                               rtol=1e-12)
