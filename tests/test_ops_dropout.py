"""dropout(x, rate, seed): inverted dropout, identity outside training."""
import numpy as np
import pytest
import torch

import deepzero.functions as F
import deepzero
from deepzero import Variable
from deepzero.utils import check_gradients
from torch_oracle import compare_with_torch


def expected_mask(shape, rate, seed):
    """The keep mask a seeded call draws: float32 uniforms >= rate."""
    return np.random.default_rng(seed).random(shape, dtype=np.float32) >= rate


def test_identity_in_test_mode(rng):
    x = Variable(rng.standard_normal((4, 5)).astype(np.float32))
    with deepzero.test_mode():
        y = F.dropout(x, 0.5)
    np.testing.assert_array_equal(y.data, x.data)


def test_rate_zero_is_identity(rng):
    x = rng.standard_normal((3, 3))
    np.testing.assert_array_equal(F.dropout(x, 0.0).data, x)


def test_same_seed_same_mask_and_generator_advances(rng):
    x = np.ones((16, 16), np.float32)
    a, b = F.dropout(x, 0.5, seed=3), F.dropout(x, 0.5, seed=3)
    np.testing.assert_array_equal(a.data, b.data)
    gen1, gen2 = np.random.default_rng(7), np.random.default_rng(7)
    first = F.dropout(x, 0.5, seed=gen1).data
    np.testing.assert_array_equal(first, F.dropout(x, 0.5, seed=gen2).data)
    assert not np.array_equal(first, F.dropout(x, 0.5, seed=gen1).data)
    assert not np.array_equal(F.dropout(x, 0.5).data, F.dropout(x, 0.5).data)


@pytest.mark.parametrize('rate', [0.2, 0.5, 0.8])
def test_scaling_keeps_the_expected_value(rate):
    x = np.ones((200, 500), np.float32)
    y = F.dropout(x, rate, seed=0).data
    kept = y != 0
    np.testing.assert_allclose(y[kept], np.float32(1 / (1 - rate)), rtol=1e-6)
    assert abs(kept.mean() - (1 - rate)) < 0.01
    assert abs(y.mean() - 1.0) < 0.03


def test_mask_is_the_seeded_draw_and_matches_torch(rng):
    x = rng.standard_normal((6, 7))
    keep = expected_mask(x.shape, 0.3, seed=11)
    for dtype in (np.float32, np.float64):
        compare_with_torch(lambda x: F.dropout(x, 0.3, seed=11),
                           lambda x: x * torch.tensor(keep) / (1 - 0.3), x, dtype=dtype)


def test_gradient_check_with_fixed_mask(rng):
    check_gradients(lambda x: F.dropout(x, 0.4, seed=5), rng.standard_normal((3, 4, 2)))


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_dtype_preserved(rng, dtype):
    x = Variable(rng.standard_normal((8, 8)).astype(dtype))
    y = F.dropout(x, 0.5, seed=0)
    y.backward()
    assert y.dtype == x.grad.dtype == dtype
    assert y.creator.mask.dtype == dtype


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"dropout: rate must be in \[0, 1\), got 1.0"):
        F.dropout(np.ones(3), 1.0)
    with pytest.raises(TypeError, match="dropout: seed must be"):
        F.dropout(np.ones(3), 0.5, seed='abc')
