"""Shape ops: results equal NumPy's, gradients by finite differences (first
and second order), forward and backward against PyTorch, dtypes and errors."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import deepzero.functions as F
from deepzero import Variable
from deepzero.utils import check_gradients, check_second_order
from op_checks import check_float32
from torch_oracle import compare_with_torch


def cubed(op):
    """``op(x) ** 3``: a curved function of a linear op, for second-order checks."""
    return lambda *xs: op(*xs) ** 3


# name: (deepzero op, NumPy equivalent, input shapes)
CASES = {
    'expand_dims_0': (lambda x: F.expand_dims(x, 0), lambda x: np.expand_dims(x, 0), [(2, 3)]),
    'expand_dims_-1': (lambda x: F.expand_dims(x, -1), lambda x: np.expand_dims(x, -1),
                       [(2, 3)]),
    'expand_dims_tuple': (lambda x: F.expand_dims(x, (0, 3)),
                          lambda x: np.expand_dims(x, (0, 3)), [(2, 3)]),
    'squeeze_all': (F.squeeze, np.squeeze, [(1, 3, 1, 2)]),
    'squeeze_axis': (lambda x: F.squeeze(x, 2), lambda x: np.squeeze(x, 2), [(1, 3, 1, 2)]),
    'squeeze_tuple': (lambda x: F.squeeze(x, (0, -2)), lambda x: np.squeeze(x, (0, -2)),
                      [(1, 3, 1, 2)]),
    'flatten_4d': (F.flatten, lambda x: x.reshape(len(x), -1), [(2, 3, 2, 2)]),
    'flatten_1d': (F.flatten, lambda x: x.reshape(-1, 1), [(3,)]),
    'concat_0': (lambda a, b: F.concat([a, b]), lambda a, b: np.concatenate([a, b]),
                 [(2, 3), (1, 3)]),
    'concat_-1': (lambda a, b, c: F.concat([a, b, c], axis=-1),
                  lambda a, b, c: np.concatenate([a, b, c], axis=-1),
                  [(2, 1, 2), (2, 1, 3), (2, 1, 1)]),
    'stack_0': (lambda a, b: F.stack([a, b]), lambda a, b: np.stack([a, b]), [(2, 3), (2, 3)]),
    'stack_-1': (lambda a, b, c: F.stack([a, b, c], axis=-1),
                 lambda a, b, c: np.stack([a, b, c], axis=-1), [(2, 2), (2, 2), (2, 2)]),
    'split_sections': (lambda x: F.concat(F.split(x, 3, axis=1)[::-1], axis=1),
                       lambda x: np.concatenate(np.split(x, 3, axis=1)[::-1], axis=1),
                       [(2, 6)]),
    'split_indices': (lambda x: F.split(x, [1, 3], axis=0)[1] * 2,
                      lambda x: np.split(x, [1, 3], axis=0)[1] * 2, [(5, 2)]),
    'pad_int': (lambda x: F.pad(x, 1), lambda x: np.pad(x, 1), [(2, 3)]),
    'pad_pairs': (lambda x: F.pad(x, ((0, 0), (1, 2), (2, 0)), constant_values=-1.5),
                  lambda x: np.pad(x, ((0, 0), (1, 2), (2, 0)), constant_values=-1.5),
                  [(2, 2, 3)]),
    'pad_before_after': (lambda x: F.pad(x, (2, 1)), lambda x: np.pad(x, (2, 1)), [(2, 2)]),
    'pad_reflect': (lambda x: F.pad(x, ((1, 2), (2, 1)), mode='reflect'),
                    lambda x: np.pad(x, ((1, 2), (2, 1)), mode='reflect'), [(3, 4)]),
    'pad_edge': (lambda x: F.pad(x, 2, mode='edge'), lambda x: np.pad(x, 2, mode='edge'),
                 [(2, 3)]),
    'pad_symmetric': (lambda x: F.pad(x, (1, 2), mode='symmetric'),
                      lambda x: np.pad(x, (1, 2), mode='symmetric'), [(3, 2)]),
    'pad_wrap': (lambda x: F.pad(x, ((2,),), mode='wrap'),
                 lambda x: np.pad(x, ((2,),), mode='wrap'), [(3, 2)]),
}


def inputs(rng, name):
    return [rng.standard_normal(shape) for shape in CASES[name][2]]


@pytest.mark.parametrize('name', CASES)
def test_forward_equals_numpy(name, rng):
    op, np_op, _ = CASES[name]
    xs = inputs(rng, name)
    y = op(*[Variable(x) for x in xs])
    np.testing.assert_array_equal(y.data, np_op(*xs))


@pytest.mark.parametrize('name', CASES)
def test_gradients(name, rng):
    op = CASES[name][0]
    xs = inputs(rng, name)
    check_gradients(cubed(op), *xs)
    check_second_order(cubed(op), *xs)


@pytest.mark.parametrize('name', CASES)
def test_keeps_float32(name, rng):
    check_float32(CASES[name][0], *inputs(rng, name))


# --- against PyTorch -------------------------------------------------------------
TORCH_CASES = {
    'expand_dims': (lambda x: F.expand_dims(x, 1), lambda x: x.unsqueeze(1), [(2, 3)]),
    'squeeze': (lambda x: F.squeeze(x, 1), lambda x: x.squeeze(1), [(2, 1, 3)]),
    'flatten': (F.flatten, lambda x: torch.flatten(x, 1), [(2, 3, 2)]),
    'concat': (lambda a, b: F.concat([a, b], axis=1), lambda a, b: torch.cat([a, b], dim=1),
               [(2, 3), (2, 2)]),
    'stack': (lambda a, b: F.stack([a, b], axis=1), lambda a, b: torch.stack([a, b], dim=1),
              [(2, 3), (2, 3)]),
    'split': (lambda x: F.split(x, [1, 4], axis=1)[1] * F.split(x, [1, 4], axis=1)[2].sum(),
              lambda x: torch.tensor_split(x, [1, 4], dim=1)[1]
              * torch.tensor_split(x, [1, 4], dim=1)[2].sum(), [(2, 6)]),
    'pad': (lambda x: F.pad(x, ((0, 0), (1, 2), (2, 1))),
            lambda x: TF.pad(x, (2, 1, 1, 2)), [(2, 3, 2)]),
    'pad_reflect': (lambda x: F.pad(x, ((0, 0), (1, 2), (2, 1)), mode='reflect'),
                    lambda x: TF.pad(x, (2, 1, 1, 2), mode='reflect'), [(2, 3, 3)]),
}


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('name', TORCH_CASES)
def test_matches_torch(name, dtype, rng):
    op, torch_op, shapes = TORCH_CASES[name]
    compare_with_torch(op, torch_op, *[rng.standard_normal(s) for s in shapes], dtype=dtype)


# --- split details ------------------------------------------------------------------
def test_split_returns_a_list_and_unused_pieces_get_zero_gradient():
    x = Variable(np.arange(6.0).reshape(3, 2))
    pieces = F.split(x, 3)
    assert isinstance(pieces, list) and [p.shape for p in pieces] == [(1, 2)] * 3
    assert isinstance(F.split(x, 1), list) and F.split(x, 1)[0].shape == (3, 2)
    (pieces[1] * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[0, 0], [3, 3], [0, 0]])


def test_split_follows_numpy_for_indices_past_the_end():
    x = np.arange(5.0)
    got = [p.data for p in F.split(Variable(x), [2, 9])]
    want = np.split(x, [2, 9])
    assert [g.shape for g in got] == [w.shape for w in want] == [(2,), (3,), (0,)]


# --- errors -------------------------------------------------------------------------
def test_concat_of_mismatched_shapes_names_op_and_shapes():
    with pytest.raises(ValueError, match=r'concat: .*shapes \[\(2, 3\), \(2, 4\)\]'):
        F.concat([Variable(np.zeros((2, 3))), Variable(np.zeros((2, 4)))])
    with pytest.raises(ValueError, match=r'concat: .*shapes \[\(2, 3\), \(3,\)\]'):
        F.concat([Variable(np.zeros((2, 3))), Variable(np.zeros(3))], axis=1)
    with pytest.raises(ValueError, match='concat: needs at least one input'):
        F.concat([])


def test_stack_of_mismatched_shapes_names_op_and_shapes():
    with pytest.raises(ValueError, match=r'stack: .*shapes \[\(2,\), \(3,\)\]'):
        F.stack([Variable(np.zeros(2)), Variable(np.zeros(3))])


def test_split_into_unequal_sections_explains():
    with pytest.raises(ValueError, match=r'split: axis 0 of size 5 cannot be split into 2 '
                                         r'equal sections \(x shape \(5, 3\)\)'):
        F.split(Variable(np.zeros((5, 3))), 2)


def test_axis_and_squeeze_errors():
    x = Variable(np.zeros((2, 1)))
    with pytest.raises(ValueError, match=r'squeeze: axis 0 has size 2, not 1'):
        F.squeeze(x, 0)
    with pytest.raises(ValueError, match=r'expand_dims: axis 4 is out of range for x of shape'):
        F.expand_dims(x, 4)
    with pytest.raises(ValueError, match=r'concat: axis 2 is out of range'):
        F.concat([x, x], axis=2)
    with pytest.raises(ValueError, match='flatten: x is 0-d'):
        F.flatten(Variable(np.float64(1.0)))


def test_pad_errors():
    x = Variable(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"pad: pad_width .* does not fit x of shape \(2, 3\)"):
        F.pad(x, ((1, 1), (1, 1), (1, 1)))
    with pytest.raises(ValueError, match='pad: pad_width .* has negative widths'):
        F.pad(x, -1)
    with pytest.raises(TypeError, match='pad: pad_width must hold integers'):
        F.pad(x, 1.5)
    with pytest.raises(ValueError, match="pad: mode 'mean' is not supported"):
        F.pad(x, 1, mode='mean')
    with pytest.raises(ValueError, match='pad: x is 0-d'):
        F.pad(Variable(np.float64(1.0)), 1)
