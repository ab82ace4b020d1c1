"""The suite's own setup. Without the test extra's oracles (PyTorch, Keras)
the suite still runs: the tests that need one are skipped with the reason
(tests/conftest.py). Known third-party warnings are filtered in
pyproject.toml, narrowly, so that deepzero's own stand out."""
import os
import subprocess
import sys
import textwrap

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# pytest in a process where torch and keras look not installed: the path
# finder no longer sees them.
RUN_PYTEST_WITHOUT_ORACLES = '''
import importlib.machinery, sys
import pytest

class HideOracles(importlib.machinery.PathFinder):
    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name.partition('.')[0] in ('torch', 'keras'):
            return None
        return super().find_spec(name, path, target)

sys.meta_path[sys.meta_path.index(importlib.machinery.PathFinder)] = HideOracles
sys.exit(pytest.main(sys.argv[1:]))
'''


def test_oracle_tests_skip_with_the_reason_when_torch_and_keras_are_missing():
    # A module that imports torch at its top (through tests/torch_oracle.py
    # too), one that imports keras at its top, one that asks for keras in a
    # test, and one that needs neither.
    modules = ['tests/test_ops_math.py', 'tests/test_ops_linear.py',
               'tests/test_layers_keras_parity.py', 'tests/test_image_utils.py',
               'tests/test_demo.py::test_stripes_are_what_their_label_says']
    result = subprocess.run(
        [sys.executable, '-c', RUN_PYTEST_WITHOUT_ORACLES, '-q', '-rs', '-p', 'no:cacheprovider',
         *modules],
        cwd=REPO, capture_output=True, text=True, timeout=300,
        env=dict(os.environ, PYTHONPATH=REPO))
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    assert 'error' not in log.lower(), log[-3000:]
    assert "torch is not installed (a test-only oracle: pip install -e '.[test]')" in log
    assert "keras is not installed (a test-only oracle: pip install -e '.[test]')" in log
    assert ' passed' in log   # the tests that need neither still ran


def test_known_third_party_warnings_are_filtered_and_deepzero_warnings_are_not(tmp_path):
    pytest.importorskip('keras')
    (tmp_path / 'test_warnings.py').write_text(textwrap.dedent('''
        import warnings
        import keras
        import numpy as np
        import torch

        def test_keras_converts_a_torch_tensor():
            # NumPy 2's DeprecationWarning about torch's __array__, from Keras's backend.
            assert keras.ops.convert_to_numpy(torch.ones(2)).sum() == 2

        def test_a_deprecation_of_our_own():
            warnings.warn('deepzero: an old argument', DeprecationWarning)
    '''))
    result = subprocess.run(
        [sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', '-c',
         os.path.join(REPO, 'pyproject.toml'), '--rootdir', str(tmp_path),
         str(tmp_path / 'test_warnings.py')],
        capture_output=True, text=True, timeout=300,
        env=dict(os.environ, KERAS_BACKEND='torch'))
    assert result.returncode == 0, result.stdout[-3000:]
    assert '2 passed, 1 warning' in result.stdout, result.stdout[-3000:]
    assert 'deepzero: an old argument' in result.stdout
