"""Initializers draw their random values in the weight's dtype: a float32
weight never costs a float64 draw twice its size."""
import tracemalloc

import numpy as np
import pytest

from deepzero import initializers

RANDOM = ['RandomUniform', 'RandomNormal', 'TruncatedNormal', 'VarianceScaling',
          'GlorotUniform', 'GlorotNormal', 'HeNormal', 'HeUniform', 'LecunNormal',
          'LecunUniform', 'Orthogonal']


class RecordingGenerator:
    """A NumPy Generator that records the dtype of every array it draws."""

    def __init__(self, rng, drawn):
        self._rng, self._drawn = rng, drawn

    def __getattr__(self, name):
        method = getattr(self._rng, name)

        def draw(*args, **kwargs):
            values = method(*args, **kwargs)
            self._drawn.append((name, np.asarray(values).dtype))
            return values

        return draw


@pytest.mark.parametrize('name', RANDOM)
@pytest.mark.parametrize('dtype', ['float32', 'float64'])
def test_random_values_are_drawn_in_the_weight_dtype(monkeypatch, name, dtype):
    drawn = []
    default_rng = np.random.default_rng
    monkeypatch.setattr(np.random, 'default_rng',
                        lambda seed=None: RecordingGenerator(default_rng(seed), drawn))
    values = getattr(initializers, name)(seed=1)((20, 30), dtype=dtype)
    assert values.dtype == dtype and values.shape == (20, 30)
    assert drawn and all(d == dtype for _, d in drawn), drawn


def test_default_kernel_initializer_needs_no_float64_temporary():
    init = initializers.GlorotUniform(seed=0)
    tracemalloc.start()
    try:
        values = init((1000, 1000))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert values.dtype == np.float32
    assert peak < 1.5 * values.nbytes  # a float64 draw alone would be 2x


def test_seeded_normal_draws_are_unchanged():
    """Normal draws were float32 before; a seed still gives the same values."""
    expected = np.random.default_rng(3).standard_normal(4, dtype=np.float32) * np.float32(0.05)
    np.testing.assert_array_equal(initializers.RandomNormal(seed=3)((4,)), expected)


@pytest.mark.parametrize('name', ['GlorotUniform', 'RandomUniform', 'HeUniform'])
def test_uniform_draws_stay_within_their_limits(name):
    init = getattr(initializers, name)(seed=0)
    values = init((300, 200))
    limit = {'GlorotUniform': np.sqrt(6 / 500), 'RandomUniform': 0.05,
             'HeUniform': np.sqrt(6 / 300)}[name]
    assert np.abs(values).max() <= limit
    assert np.abs(values).max() > 0.95 * limit  # the whole range is used
    assert abs(values.mean()) < 0.1 * limit


def test_orthogonal_in_float32_is_orthogonal():
    q = initializers.Orthogonal(gain=2.0, seed=1)((6, 4))
    assert q.dtype == np.float32
    np.testing.assert_allclose(q.T @ q, 4 * np.eye(4), atol=1e-5)


def test_initializer_config_must_be_a_dict():
    with pytest.raises(ValueError, match='GlorotUniform.*config'):
        initializers.get({'class_name': 'GlorotUniform', 'config': None})
