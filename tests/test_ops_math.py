"""Elementwise math ops: gradients by finite differences (first and second
order), forward and backward against PyTorch, dtypes, ties and errors."""
import numpy as np
import pytest
import torch

import deepzero.functions as F
from deepzero import Variable
from deepzero.utils import check_gradients, check_second_order
from op_checks import away_from, check_float32
from torch_oracle import compare_with_torch

# name: (deepzero op, torch op, input maker(rng, shape))
UNARY = {
    'sqrt': (F.sqrt, torch.sqrt, lambda rng, s: rng.uniform(0.2, 3.0, s)),
    'abs': (F.abs, torch.abs, lambda rng, s: away_from(rng, s)),
    'sin': (F.sin, torch.sin, lambda rng, s: rng.uniform(-4, 4, s)),
    'cos': (F.cos, torch.cos, lambda rng, s: rng.uniform(-4, 4, s)),
    'tanh': (F.tanh, torch.tanh, lambda rng, s: rng.uniform(-3, 3, s)),
    'clip': (lambda x: F.clip(x, -0.5, 0.8), lambda x: torch.clamp(x, -0.5, 0.8),
             lambda rng, s: away_from(rng, s, kinks=(-0.5, 0.8), margin=0.05)),
    'clip_low_only': (lambda x: F.clip(x, -0.5, None), lambda x: torch.clamp(x, min=-0.5),
                      lambda rng, s: away_from(rng, s, kinks=(-0.5,), margin=0.05)),
}
CURVED = {'sqrt', 'sin', 'cos', 'tanh'}
SHAPES = [(), (5,), (2, 3), (2, 1, 3)]


@pytest.mark.parametrize('shape', SHAPES)
@pytest.mark.parametrize('name', UNARY)
def test_unary_gradients(name, shape, rng):
    op, _, make = UNARY[name]
    x = make(rng, shape)
    check_gradients(op, x)
    if name in CURVED:  # piecewise-linear ops have no second derivative to check alone
        check_second_order(op, x)
    check_second_order(lambda v: op(v) * op(v), x)


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('name', UNARY)
def test_unary_matches_torch(name, dtype, rng):
    op, torch_op, make = UNARY[name]
    compare_with_torch(op, torch_op, make(rng, (3, 4)), dtype=dtype)


@pytest.mark.parametrize('name', UNARY)
def test_unary_keeps_float32(name, rng):
    op, _, make = UNARY[name]
    check_float32(op, make(rng, (2, 3)))


def test_abs_and_clip_at_kinks_match_torch():
    # abs'(0) = 0; clip passes the gradient at the bounds themselves.
    compare_with_torch(F.abs, torch.abs, np.array([-1.0, 0.0, 2.0]))
    compare_with_torch(lambda x: F.clip(x, -1.0, 1.0), lambda x: torch.clamp(x, -1.0, 1.0),
                       np.array([-2.0, -1.0, 0.0, 1.0, 3.0]))


def test_clip_float64_bounds_do_not_promote():
    x = Variable(np.array([-2.0, 0.5, 3.0], dtype=np.float32))
    y = F.clip(x, np.float64(-1), np.float64(1))
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y.data, [-1.0, 0.5, 1.0])


def test_clip_needs_a_bound():
    with pytest.raises(ValueError, match='clip: x_min and x_max are both None'):
        F.clip(Variable(np.zeros(2)), None, None)


# --- maximum / minimum ----------------------------------------------------------
BINARY_SHAPES = [((), ()), ((2, 3), (2, 3)), ((2, 3), (3,)), ((3, 1), (1, 4)), ((2, 3), ())]


@pytest.mark.parametrize('shapes', BINARY_SHAPES)
@pytest.mark.parametrize('op', [F.maximum, F.minimum])
def test_maximum_minimum_gradients(op, shapes, rng):
    # a near odd halves, b near integers: every pair differs by at least 0.1
    a = rng.choice([-1.5, -0.5, 0.5, 1.5], shapes[0]) + rng.uniform(-0.2, 0.2, shapes[0])
    b = rng.choice([-1.0, 0.0, 1.0], shapes[1]) + rng.uniform(-0.2, 0.2, shapes[1])
    check_gradients(op, a, b)
    check_second_order(lambda u, v: op(u, v) * op(u, v), a, b)


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('ops', [(F.maximum, torch.maximum), (F.minimum, torch.minimum)])
def test_maximum_minimum_match_torch_including_ties(ops, dtype, rng):
    op, torch_op = ops
    a = np.array([[1.0, 2.0, 3.0], [0.0, -1.0, 5.0]])
    b = np.array([[1.0, 1.0, 4.0], [0.0, 2.0, 5.0]])  # ties at [0, 0], [1, 0], [1, 2]
    compare_with_torch(op, torch_op, a, b, dtype=dtype)
    compare_with_torch(op, torch_op, rng.standard_normal((3, 4)), rng.standard_normal((4,)),
                       dtype=dtype)


def test_maximum_ties_split_the_gradient_evenly():
    # PyTorch's rule for torch.maximum: half to each side where a == b.
    a, b = Variable(np.array([1.0, 2.0])), Variable(np.array([1.0, 1.0]))
    F.maximum(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad.data, [0.5, 1.0])
    np.testing.assert_array_equal(b.grad.data, [0.5, 0.0])


@pytest.mark.parametrize('op', [F.maximum, F.minimum])
def test_maximum_minimum_with_scalars_keep_float32(op):
    x = Variable(np.array([-1.0, 0.5, 2.0], dtype=np.float32))
    for y in (op(x, 0.0), op(0.0, x), op(x, np.float64(0.0)), op(x, np.float32(0.0))):
        assert y.dtype == np.float32
    check_float32(op, np.array([1.0, 3.0]), np.array([2.0, 2.0]))


def test_maximum_bad_shapes_name_op_and_shapes():
    with pytest.raises(ValueError, match=r'maximum: shapes \(3,\) and \(4,\) cannot be broadcast'):
        F.maximum(Variable(np.zeros(3)), Variable(np.zeros(4)))


# --- where -------------------------------------------------------------------------
WHERE_SHAPES = [((2, 3), (2, 3), (2, 3)), ((2, 3), (3,), (2, 1)), ((3, 1), (1, 4), ())]


@pytest.mark.parametrize('shapes', WHERE_SHAPES)
def test_where_gradients(shapes, rng):
    cond_shape, x_shape, y_shape = shapes
    condition = rng.uniform(size=cond_shape) > 0.5
    x, y = rng.standard_normal(x_shape), rng.standard_normal(y_shape)
    check_gradients(lambda u, v: F.where(condition, u, v), x, y)
    check_second_order(lambda u, v: F.where(condition, u * u, v * u.sum()), x, y)


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_where_matches_torch(dtype, rng):
    condition = np.array([[True, False, True]])
    compare_with_torch(lambda x, y: F.where(condition, x, y),
                       lambda x, y: torch.where(torch.tensor(condition), x, y),
                       rng.standard_normal((2, 3)), rng.standard_normal((2, 1)), dtype=dtype)


def test_where_accepts_a_variable_condition_and_scalars():
    x = Variable(np.array([1.0, -2.0, 3.0], dtype=np.float32))
    y = F.where(Variable(x.data > 0), x, 0.0)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y.data, [1.0, 0.0, 3.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 0.0, 1.0])
    check_float32(lambda u, v: F.where(np.array([True, False]), u, v),
                  np.array([1.0, 2.0]), np.array([3.0, 4.0]))


def test_where_errors():
    x = Variable(np.zeros(3))
    with pytest.raises(TypeError, match='where: condition must be a bool array'):
        F.where(np.array([1, 0, 1]), x, x)
    with pytest.raises(ValueError, match=r'where: shapes condition \(2,\), x \(3,\)'):
        F.where(np.array([True, False]), x, x)
