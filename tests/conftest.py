"""Shared test settings.

Real data comes from one setting, ``DEEPZERO_DATA`` (default: ``../shared/data``
beside the repository root); tests that need it skip with the reason when it
is absent. Keras, a test-only oracle, runs on its torch backend.
"""
import os
import pathlib

import numpy as np
import pytest

os.environ.setdefault('KERAS_BACKEND', 'torch')

REPO = pathlib.Path(__file__).resolve().parent.parent
DATA_DIR = pathlib.Path(os.environ.get('DEEPZERO_DATA', REPO.parent / 'shared' / 'data'))


@pytest.fixture
def shared_data():
    """Path to the shared real-data folder, or skip with the reason."""
    if not DATA_DIR.is_dir():
        pytest.skip(f"real data not found at {DATA_DIR} (set DEEPZERO_DATA)")
    return DATA_DIR


@pytest.fixture
def rng():
    return np.random.default_rng(0)
