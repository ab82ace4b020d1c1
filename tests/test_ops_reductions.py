"""Reductions: results equal NumPy's, gradients by finite differences (first
and second order), forward and backward against PyTorch, ties, dtypes."""
import warnings

import numpy as np
import pytest
import torch

import deepzero.functions as F
from deepzero import Variable
from deepzero.utils import check_gradients, check_second_order
from op_checks import check_float32
from torch_oracle import compare_with_torch

AXES = [(None, False), (0, False), (-1, True), ((0, 2), False), ((1, 2), True)]


def all_dims_if_none(torch_reduction):
    """torch spells "every axis" as a tuple of all dims; NumPy as None."""
    return lambda x, dim, keepdim: torch_reduction(
        x, dim=tuple(range(x.ndim)) if dim is None else dim, keepdim=keepdim)


# name: (deepzero op, NumPy equivalent, torch equivalent(x, dim, keepdim))
REDUCTIONS = {
    'mean': (F.mean, np.mean, all_dims_if_none(torch.mean)),
    'max': (F.max, np.max, all_dims_if_none(torch.amax)),
    'min': (F.min, np.min, all_dims_if_none(torch.amin)),
    'logsumexp': (F.logsumexp, None, all_dims_if_none(torch.logsumexp)),
}


def distinct_values(rng, shape):
    """Values at least 0.1 apart, so max/min have no near-ties."""
    return rng.permutation(np.prod(shape)).reshape(shape) * 0.1 + rng.uniform(0, 0.01, shape)


def numpy_logsumexp(x, axis=None, keepdims=False):
    return np.log(np.exp(x).sum(axis=axis, keepdims=keepdims))


@pytest.mark.parametrize('axis,keepdims', AXES)
@pytest.mark.parametrize('name', REDUCTIONS)
def test_forward_equals_numpy(name, axis, keepdims, rng):
    op, np_op, _ = REDUCTIONS[name]
    x = rng.standard_normal((2, 3, 4))
    want = (np_op or numpy_logsumexp)(x, axis=axis, keepdims=keepdims)
    y = op(Variable(x), axis=axis, keepdims=keepdims)
    assert y.shape == np.shape(want)
    np.testing.assert_allclose(y.data, want, rtol=1e-12)


@pytest.mark.parametrize('axis,keepdims', AXES)
@pytest.mark.parametrize('name', REDUCTIONS)
def test_gradients(name, axis, keepdims, rng):
    op = REDUCTIONS[name][0]
    x = distinct_values(rng, (2, 3, 2))
    check_gradients(lambda v: op(v, axis=axis, keepdims=keepdims) ** 2, x)
    check_second_order(lambda v: op(v, axis=axis, keepdims=keepdims) ** 2, x)
    if name == 'logsumexp':  # curved by itself
        check_second_order(lambda v: op(v, axis=axis, keepdims=keepdims), x)


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('axis,keepdims', AXES)
@pytest.mark.parametrize('name', REDUCTIONS)
def test_matches_torch(name, axis, keepdims, dtype, rng):
    op, _, torch_op = REDUCTIONS[name]
    compare_with_torch(lambda x: op(x, axis=axis, keepdims=keepdims),
                       lambda x: torch_op(x, axis, keepdims), distinct_values(rng, (2, 3, 4)),
                       dtype=dtype)


@pytest.mark.parametrize('name', REDUCTIONS)
def test_keeps_float32(name, rng):
    op = REDUCTIONS[name][0]
    check_float32(op, rng.standard_normal((2, 3)))
    check_float32(lambda x: op(x, axis=1), rng.standard_normal((2, 3)))


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('axis', [None, 1])
@pytest.mark.parametrize('name', ['max', 'min'])
def test_ties_share_the_gradient_like_torch_amax(name, axis, dtype):
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])
    if name == 'min':
        x = -x
    op, _, torch_op = REDUCTIONS[name]
    compare_with_torch(lambda v: op(v, axis=axis), lambda t: torch_op(t, axis, False), x,
                       dtype=dtype)
    v = Variable(x)
    op(v, axis=1).sum().backward()
    np.testing.assert_array_equal(v.grad.data, [[0, 0.5, 0.5], [0.5, 0.5, 0]])


@pytest.mark.parametrize('name', REDUCTIONS)
def test_zero_dimensional_input(name):
    op = REDUCTIONS[name][0]
    check_gradients(lambda v: op(v) ** 2, np.array(0.7))
    check_float32(op, np.array(0.7))


def test_max_of_empty_explains():
    with pytest.raises(ValueError, match=r'max: x is empty \(shape \(0, 3\)\)'):
        F.max(Variable(np.zeros((0, 3))))


def test_logsumexp_is_stable():
    x = np.array([[1000.0, 1000.0], [-1000.0, -1000.0], [-np.inf, 0.0], [-np.inf, -np.inf]])
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        y = F.logsumexp(Variable(x), axis=1).data
    np.testing.assert_allclose(y[:3], [1000 + np.log(2), -1000 + np.log(2), 0.0], rtol=1e-12)
    assert y[3] == -np.inf


def test_argmax():
    x = Variable(np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 7.0]], dtype=np.float32))
    for axis in (None, 0, 1, -1):
        index = F.argmax(x, axis=axis)
        np.testing.assert_array_equal(index.data, np.argmax(x.data, axis=axis))
        assert index.dtype.kind == 'i' and not index.requires_grad and index.creator is None
