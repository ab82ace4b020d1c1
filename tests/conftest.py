"""Shared test settings.

Real data comes from one setting, ``DEEPZERO_DATA`` (default: ``../shared/data``
beside the repository root); tests that need it skip with the reason when it
is absent. Keras, a test-only oracle, runs on its torch backend.

PyTorch and Keras are oracles from the ``test`` extra: where one is not
installed, the test module or test that imports it is skipped with the
reason, and the rest of the suite runs.

GPU tests are CPU tests parametrized over the array module: a test taking
the ``xp`` fixture runs once with NumPy and once with CuPy, marked ``gpu``
(``pytest -m gpu`` runs only those); the CuPy case skips, saying why, where
CuPy or a CUDA GPU is missing.
"""
import os
import pathlib
import sys

import numpy as np
import pytest

from deepzero import cuda

os.environ.setdefault('KERAS_BACKEND', 'torch')

ORACLES = {name: f"{name} is not installed (a test-only oracle: pip install -e '.[test]')"
           for name in ('torch', 'keras')}


class SkipWithoutOracle:
    """The last import finder: asked only when no other finder has found a
    module, it turns ``import torch`` / ``import keras`` into a skip of the
    test or module that asked. Only these top-level names: a submodule the
    installed package lacks still raises ImportError, as its code expects."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if path is None and name in ORACLES:
            pytest.skip(ORACLES[name], allow_module_level=True)
        return None


sys.meta_path.append(SkipWithoutOracle)

REPO = pathlib.Path(__file__).resolve().parent.parent
DATA_DIR = pathlib.Path(os.environ.get('DEEPZERO_DATA', REPO.parent / 'shared' / 'data'))


def pytest_configure(config):
    config.addinivalue_line('markers', 'gpu: runs on CuPy arrays (skips without CuPy and a GPU)')


@pytest.fixture(params=['numpy', pytest.param('cupy', marks=pytest.mark.gpu)])
def xp(request):
    """The array module a test runs on: numpy, then cupy (skipped with the
    reason where CuPy or a CUDA GPU is missing)."""
    if request.param == 'numpy':
        return np
    reason = cuda.unavailable_reason()
    if reason is not None:
        pytest.skip(f"GPU case: {reason}")
    return cuda.cupy


@pytest.fixture
def shared_data():
    """Path to the shared real-data folder, or skip with the reason."""
    if not DATA_DIR.is_dir():
        pytest.skip(f"real data not found at {DATA_DIR} (set DEEPZERO_DATA)")
    return DATA_DIR


@pytest.fixture
def rng():
    return np.random.default_rng(0)
