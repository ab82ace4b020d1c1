"""tools/dezero_steps.py, the runner of the book's steps on DeZero and on
deepzero.dezero: its import renaming and its output comparison (the steps
themselves need a DeZero checkout and minutes; docs/dezero.md has the run)."""
import importlib.util
import pathlib

TOOL = pathlib.Path(__file__).resolve().parent.parent / 'tools' / 'dezero_steps.py'
spec = importlib.util.spec_from_file_location('dezero_steps', TOOL)
steps = importlib.util.module_from_spec(spec)
spec.loader.exec_module(steps)


def test_imports_are_renamed_to_the_face():
    source = '\n'.join([
        'import numpy as np',
        'import dezero',
        'import dezero.functions as F',
        'import dezero.layers',
        '    from dezero.core_simple import Variable',
        'from dezero import Variable, Model',
        'print("dezero")',
    ])
    assert steps.rename_imports(source).splitlines() == [
        'import numpy as np',
        'import deepzero.dezero; import deepzero.dezero as dezero',
        'import deepzero.dezero.functions as F',
        'import deepzero.dezero.layers; import deepzero.dezero as dezero',
        '    from deepzero.dezero.core_simple import Variable',
        'from deepzero.dezero import Variable, Model',
        'print("dezero")',
    ]


def test_outputs_compare_as_tokens_with_a_tolerance_on_numbers():
    ours = 'variable([0.1234568 2.])\nloss 0.5000001, time: 0.7[sec]\n'
    # float64 printing wraps NumPy's lines elsewhere; times are not compared
    theirs = 'variable([0.12345678\n 2.])\nloss 0.5, time: 5.5112[sec]\n'
    diff, largest = steps.first_difference(ours, theirs, rtol=1e-6, atol=1e-9)
    assert diff is None and 1e-7 < largest < 1e-6
    diff, _ = steps.first_difference(ours, theirs.replace('0.5,', '0.6,'), rtol=1e-6, atol=1e-9)
    assert diff == ('loss 0.5000001, time: 0.7[sec]', 'loss 0.6, time: 5.5112[sec]')
    diff, _ = steps.first_difference('a 1\n', 'a 1\nb\n', rtol=0, atol=0)
    assert diff == ('(output ends)', 'b')
    diff, _ = steps.first_difference('float32\n', 'float64\n', rtol=1, atol=1)
    assert diff == ('float32', 'float64')
