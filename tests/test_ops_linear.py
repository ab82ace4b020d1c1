"""linear(x, W, b): x @ W + b with W stored (in, out) as Keras stores Dense kernels."""
import numpy as np
import pytest

import deepzero.functions as F
from deepzero import Variable, no_grad
from deepzero.utils import check_gradients, check_second_order
from torch_oracle import compare_with_torch


@pytest.mark.parametrize('x_shape', [(3, 4), (2, 3, 4), (4,)])
def test_gradients_with_bias(rng, x_shape):
    x = rng.standard_normal(x_shape)
    W = rng.standard_normal((4, 5))
    b = rng.standard_normal(5)
    check_gradients(F.linear, x, W, b)


def test_gradients_without_bias(rng):
    check_gradients(F.linear, rng.standard_normal((3, 4)), rng.standard_normal((4, 2)))


def test_second_order(rng):
    check_second_order(lambda x, W, b: F.linear(x, W, b) ** 2,
                       rng.standard_normal((3, 4)), rng.standard_normal((4, 2)),
                       rng.standard_normal(2))


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('x_shape', [(8, 6), (2, 5, 6)])
def test_matches_torch(rng, dtype, x_shape):
    x, W, b = rng.standard_normal(x_shape), rng.standard_normal((6, 3)), rng.standard_normal(3)
    compare_with_torch(F.linear, lambda x, W, b: x @ W + b, x, W, b, dtype=dtype)
    compare_with_torch(F.linear, lambda x, W: x @ W, x, W, dtype=dtype)


def test_float32_stays_float32(rng):
    x = Variable(rng.standard_normal((4, 3)).astype(np.float32))
    W = Variable(rng.standard_normal((3, 2)).astype(np.float32))
    b = Variable(np.zeros(2, np.float32))
    y = F.linear(x, W, b)
    y.backward()
    assert y.dtype == np.float32
    assert x.grad.dtype == W.grad.dtype == b.grad.dtype == np.float32


def test_skips_gradients_nobody_needs(rng):
    x = rng.standard_normal((4, 3))  # a plain array: a constant
    W = Variable(rng.standard_normal((3, 2)))
    b = Variable(rng.standard_normal(2), requires_grad=False)
    F.linear(x, W, b).backward()
    np.testing.assert_allclose(W.grad.data, x.T @ np.ones((4, 2)))
    assert b.grad is None


def test_no_graph_under_no_grad(rng):
    W = Variable(rng.standard_normal((3, 2)))
    with no_grad():
        y = F.linear(rng.standard_normal((4, 3)), W)
    assert y.creator is None and not y.requires_grad


def test_bad_shapes_name_the_op_and_shapes():
    with pytest.raises(ValueError, match=r"linear: input has 5 features but W expects 4 "
                                         r"\(x \(2, 5\), W \(4, 3\)\)"):
        F.linear(np.zeros((2, 5)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"linear: bias must have shape \(3,\).*\(2,\)"):
        F.linear(np.zeros((2, 4)), np.zeros((4, 3)), np.zeros(2))
    with pytest.raises(ValueError, match=r"linear: W must be 2-d"):
        F.linear(np.zeros((2, 4)), np.zeros(4))
