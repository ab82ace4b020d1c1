"""Run DeZero's own test suite against ``deepzero.dezero``.

    python tools/dezero_upstream_tests.py PATH_TO_DEZERO_CHECKOUT [-k EXPR] [-v]

Copies the CPU tests (``tests/*.py``; ``tests/gpu`` needs CuPy and is left
out) of a checkout of oreilly-japan/deep-learning-from-scratch-3 to a
temporary directory, with the one change a DeZero user would make: the
package ``dezero`` imported as ``deepzero.dezero``. Then runs pytest on them
and prints passed / failed / skipped per file, with the reasons of skips and
failures, and the totals. The exit status is pytest's. The tests listed in
``KNOWN_DIFFERENCES`` (below) run as expected failures, reported with the
reason: they assert what deepzero corrects on purpose.

Chainer: many of DeZero's tests compare with Chainer, which needs NumPy < 2.
Where ``import chainer`` fails, a stand-in module makes every use of Chainer
skip the test that makes it (naming the reason); the rest of the file runs.
To run those comparisons too, make a separate environment (docs/dezero.md):

    python -m venv .venv-chainer
    .venv-chainer/bin/pip install 'setuptools<70' wheel 'numpy<2' pytest pillow h5py
    .venv-chainer/bin/pip install --no-build-isolation chainer
    .venv-chainer/bin/python tools/dezero_upstream_tests.py PATH_TO_DEZERO_CHECKOUT

(Chainer's sdist builds with ``pkg_resources``, gone from new setuptools. This
checkout's deepzero is put first on the tests' path; its own dependencies,
NumPy, Pillow and h5py, are what the environment needs.)
"""
import argparse
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

# import lines naming the package ``dezero``, and what they become
IMPORT_RULES = [
    # import dezero.functions as F  ->  import deepzero.dezero.functions as F
    (re.compile(r'^(\s*)import dezero((?:\.\w+)*) as (\w+)\s*$', re.M),
     r'\1import deepzero.dezero\2 as \3'),
    # import dezero  ->  import deepzero.dezero as dezero
    (re.compile(r'^(\s*)import dezero\s*$', re.M), r'\1import deepzero.dezero as dezero'),
    # import dezero.layers  ->  the submodule, and the name ``dezero`` bound as before
    (re.compile(r'^(\s*)import dezero((?:\.\w+)+)\s*$', re.M),
     r'\1import deepzero.dezero\2\n\1import deepzero.dezero as dezero'),
    # from dezero.utils import x  ->  from deepzero.dezero.utils import x
    (re.compile(r'^(\s*)from dezero((?:\.\w+)*) import ', re.M),
     r'\1from deepzero.dezero\2 import '),
]

# Tests that assert DeZero behaviour deepzero corrects on purpose, or that
# demand more than a float32 op can promise (docs/dezero.md): they run and are
# reported as expected failures, with the reason. ``strict``: the test must
# fail (a corrected behaviour); else it may pass (rounding that random data
# may or may not show).
SUM_ORDER = ("bitwise equality with Chainer's float32 conv; deepzero sums in another order "
             "(blocked GEMM, Winograd for 3x3), equal to float32 rounding (a few 1e-6 at "
             "values near 20)")
KNOWN_DIFFERENCES = {
    'test_sum.py::TestSumTo::test_backward3': (
        "sum_to from (10, 20, 20) to (10,) is no broadcasting adjoint; DeZero returns "
        "shape (20,), deepzero raises a ValueError naming both shapes", True),
    'test_conv2d.py::TestConv2d::test_forward1': (SUM_ORDER, False),
    'test_conv2d.py::TestConv2d::test_forward2': (SUM_ORDER, False),
    'test_conv2d.py::TestConv2d::test_forward3': (SUM_ORDER, False),
    'test_conv2d.py::TestConv2d::test_forward4': (SUM_ORDER, False),
    'test_conv2d.py::TestConv2d_simple::test_forward1': (SUM_ORDER, False),
    'test_conv2d.py::TestConv2d_simple::test_forward2': (SUM_ORDER, False),
    'test_conv2d.py::TestConv2d_simple::test_forward3': (SUM_ORDER, False),
    'test_conv2d.py::TestConv2d_simple::test_forward4': (SUM_ORDER, False),
}

# Written beside the copied tests: Chainer, where it is missing, as modules
# whose every use skips the test using it; the known differences as xfail.
CONFTEST = '''\
import sys
import types

import pytest

KNOWN_DIFFERENCES = %r


def pytest_collection_modifyitems(items):
    for item in items:
        if item.nodeid in KNOWN_DIFFERENCES:
            reason, strict = KNOWN_DIFFERENCES[item.nodeid]
            item.add_marker(pytest.mark.xfail(reason=reason, strict=strict))

REASON = ("Chainer is not installed: it needs NumPy < 2, so it lives in a separate "
          "environment (docs/dezero.md, .venv-chainer)")


class MissingChainer(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith('__'):
            raise AttributeError(name)
        pytest.skip(REASON, allow_module_level=True)


try:
    import chainer  # noqa: F401
except ImportError:
    for name in ('chainer', 'chainer.functions', 'chainer.links'):
        sys.modules[name] = MissingChainer(name)
    sys.modules['chainer'].functions = sys.modules['chainer.functions']
    sys.modules['chainer'].links = sys.modules['chainer.links']
'''


def rename_imports(source):
    """``source`` with every import of ``dezero`` made an import of ``deepzero.dezero``."""
    for pattern, replacement in IMPORT_RULES:
        source = pattern.sub(replacement, source)
    return source


def copy_tests(checkout, target):
    """The CPU test files of ``checkout``, renamed, into ``target``; their names."""
    tests = sorted((checkout / 'tests').glob('test_*.py'))
    if not tests:
        raise SystemExit(f"no tests/test_*.py under {checkout}: is it a checkout of "
                         "oreilly-japan/deep-learning-from-scratch-3?")
    for path in tests:
        (target / path.name).write_text(rename_imports(path.read_text(encoding='utf-8')),
                                        encoding='utf-8')
    (target / 'conftest.py').write_text(CONFTEST % (KNOWN_DIFFERENCES,), encoding='utf-8')
    return [p.name for p in tests]


def read_report(junit_xml):
    """{file: [(test, outcome, reason)]} from pytest's JUnit XML."""
    results = {}
    for case in ET.parse(junit_xml).getroot().iter('testcase'):
        classname = case.get('classname', '')
        if classname:
            file, name = classname.split('.')[0] + '.py', classname.split('.')[-1] + '::' + \
                case.get('name')
        else:  # the file could not be imported
            file, name = case.get('name') + '.py', '(import)'
        outcome, reason = 'passed', ''
        for tag in ('failure', 'error', 'skipped'):
            element = case.find(tag)
            if element is not None:
                outcome = {'failure': 'failed', 'error': 'error', 'skipped': 'skipped'}[tag]
                if element.get('type') == 'pytest.xfail':
                    outcome = 'xfailed (a known difference)'
                reason = _first_line(element.get('message') or element.text or '')
                break
        results.setdefault(file, []).append((name, outcome, reason))
    return results


def _first_line(text):
    """The line of a failure message that says what went wrong (the last
    'E   ' line of a traceback, else the first line), shortened."""
    errors = [line[1:].strip() for line in text.splitlines() if line.startswith('E ')]
    line = errors[-1] if errors else (text.strip().splitlines() or [''])[0]
    return line[:200]


def print_report(results, verbose):
    totals = {}
    for file in sorted(results):
        counts = {}
        for _, outcome, _ in results[file]:
            counts[outcome] = counts.get(outcome, 0) + 1
            totals[outcome] = totals.get(outcome, 0) + 1
        summary = ', '.join(f'{n} {outcome}' for outcome, n in sorted(counts.items()))
        print(f'{file:32s} {summary}')
        reasons = {}
        for name, outcome, reason in results[file]:
            if outcome != 'passed':
                reasons.setdefault((outcome, reason), []).append(name)
        for (outcome, reason), names in reasons.items():
            shown = ', '.join(names) if verbose or len(names) < 3 else f'{len(names)} tests'
            print(f'    {outcome}: {shown}: {reason}')
    print('total: ' + ', '.join(f'{n} {outcome}' for outcome, n in sorted(totals.items())))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('checkout', type=pathlib.Path,
                        help='a checkout of oreilly-japan/deep-learning-from-scratch-3')
    parser.add_argument('-k', default=None, help="pytest's -k expression")
    parser.add_argument('-v', '--verbose', action='store_true',
                        help='name every test that did not pass')
    args = parser.parse_args(argv)
    repo_root = pathlib.Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory(prefix='dezero-tests-') as tmp:
        tmp = pathlib.Path(tmp)
        copy_tests(args.checkout, tmp)
        report = tmp / 'report.xml'
        command = [sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider',
                   '--continue-on-collection-errors',
                   f'--junitxml={report}', '--rootdir', str(tmp), str(tmp)]
        if args.k:
            command += ['-k', args.k]
        # this checkout's deepzero first, ahead of any installed one
        env = dict(os.environ)
        env['PYTHONPATH'] = str(repo_root) + (':' + env['PYTHONPATH']
                                              if env.get('PYTHONPATH') else '')
        process = subprocess.run(command, cwd=tmp, env=env, capture_output=True, text=True)
        if not report.exists():
            print(process.stdout[-4000:], process.stderr[-4000:], sep='\n')
            return process.returncode or 1
        results = read_report(report)
        if args.verbose:
            print(process.stdout[-6000:])
    print_report(results, args.verbose)
    return process.returncode


if __name__ == '__main__':
    sys.exit(main())
