"""tools/dezero_upstream_tests.py: DeZero's imports renamed, Chainer's uses
skipped with the reason where it is missing, the report's counts."""
import importlib.util
import pathlib
import textwrap

import pytest

TOOL = pathlib.Path(__file__).resolve().parents[1] / 'tools' / 'dezero_upstream_tests.py'


@pytest.fixture(scope='module')
def runner():
    spec = importlib.util.spec_from_file_location('dezero_upstream_tests', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_imports_of_dezero_are_renamed(runner):
    source = textwrap.dedent("""\
        import dezero
        import dezero.functions as F
        from dezero import Variable
        from dezero.utils import gradient_check
        import dezero.layers
        import dezeros_neighbour
        x = dezero.Variable  # not an import: unchanged
        """)
    assert runner.rename_imports(source) == textwrap.dedent("""\
        import deepzero.dezero as dezero
        import deepzero.dezero.functions as F
        from deepzero.dezero import Variable
        from deepzero.dezero.utils import gradient_check
        import deepzero.dezero.layers
        import deepzero.dezero as dezero
        import dezeros_neighbour
        x = dezero.Variable  # not an import: unchanged
        """)


def test_a_checkout_is_run_and_reported(runner, tmp_path, capsys):
    pytest.importorskip('numpy')
    tests = tmp_path / 'tests'
    tests.mkdir()
    (tests / 'test_small.py').write_text(textwrap.dedent("""\
        import unittest
        import numpy as np
        import chainer.functions as CF
        from dezero import Variable
        import dezero.functions as F


        class TestSmall(unittest.TestCase):
            def test_sum(self):
                self.assertEqual(float(F.sum(Variable(np.ones(3))).data), 3.0)

            def test_against_chainer(self):
                CF.relu(np.ones(1))

            def test_wrong(self):
                self.assertEqual(F.sum(Variable(np.ones(2))).data, 3.0)
        """))
    (tests / 'gpu').mkdir()   # left out: needs CuPy
    (tests / 'gpu' / 'gpu_test_small.py').write_text('raise ImportError("cupy")\n')
    status = runner.main([str(tmp_path)])
    report = capsys.readouterr().out
    assert status != 0                                        # a test failed
    try:
        import chainer  # noqa: F401
        expected = '1 failed, 2 passed'
    except ImportError:
        expected = '1 failed, 1 passed, 1 skipped'
        assert 'Chainer is not installed' in report
    assert f'test_small.py' in report and expected in report
    assert 'TestSmall::test_wrong' in report and 'AssertionError' in report
