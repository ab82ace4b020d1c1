"""Run the book's step scripts (DeZero's steps/step01.py ... step60.py) on
DeZero and on deepzero.dezero, and compare what they print.

    python tools/dezero_steps.py DEZERO_CHECKOUT [--steps 23-60] [--timeout 300]

DEZERO_CHECKOUT is a clone of oreilly-japan/deep-learning-from-scratch-3 (its
``dezero/`` and ``steps/``). Each step runs twice, in a fresh process and a
scratch working folder, with NumPy's global generator seeded to 0 first and
matplotlib's non-interactive backend:

1. on deepzero: a copy of the step with its imports renamed (``dezero`` ->
   ``deepzero.dezero``), this repository on ``sys.path``;
2. on DeZero: the step as it is, the checkout on ``sys.path``.

Files that DeZero downloads (MNIST's, VGG16's weights) are read by both from
one folder (``--cache``, by default deepzero's: $DEZERO_CACHE_DIR or
~/.dezero); DeZero runs with downloads blocked.

The outputs are compared as token streams (so NumPy's line wrapping, which
depends on how many digits a float64 prints, does not count): words and
punctuation must be equal, numbers equal within ``atol + rtol * |DeZero's|``
(deepzero computes in float32 where DeZero drifts to float64).

Each step is reported as ``same`` (with the largest relative difference of
the numbers), ``differs`` (with the first differing line of each), ``error``
(one side failed, or both failed differently: their last lines), ``timeout``
or ``skipped`` with the reason: a file DeZero would download is not in the
cache folder (deepzero stops with a message naming it; DeZero is not run, so
nothing is downloaded), a GPU, or Graphviz's ``dot``. Ctrl-C stops cleanly
with the summary so far. Exit status 1 when a step differs or fails.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Runs the step as __main__ after seeding NumPy (steps without their own seed,
# e.g. SinCurve's noise, then print the same numbers on both sides).
BOOTSTRAP = ("import runpy, sys, numpy; numpy.random.seed(0); path = sys.argv[1]; "
             "sys.argv = [path]; runpy.run_path(path, run_name='__main__')")

IMPORT = re.compile(r'^(\s*)import dezero((?:\.\w+)*)(\s+as\s+\w+)?\s*$')
FROM_IMPORT = re.compile(r'^(\s*)from dezero((?:\.\w+)*) import ')
# deepzero's message for a file it would have to download (datasets.MissingDownload)
MISSING_DOWNLOAD = 'MissingDownload'
NO_GPU = 'no GPU to use'
NUMBER = r'[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|nan|inf'
TOKEN = re.compile(rf'(?P<number>{NUMBER})|(?P<word>\w+)|(?P<mark>\S)')
# Wall-clock times the steps print (step52's "time: 5.5112[sec]") are not compared.
ELAPSED = re.compile(r'\d+(?:\.\d*)?(?=\[sec\])')


def rename_imports(source):
    """The step's source with ``dezero`` imports pointing at deepzero.dezero."""
    lines = []
    for line in source.splitlines():
        m = IMPORT.match(line)
        if m:
            indent, sub, alias = m.groups()
            if alias:
                line = f'{indent}import deepzero.dezero{sub}{alias}'
            else:   # `import dezero` or `import dezero.x`: the name `dezero` is bound
                line = f'{indent}import deepzero.dezero{sub}; import deepzero.dezero as dezero'
        else:
            line = FROM_IMPORT.sub(r'\1from deepzero.dezero\2 import ', line)
        lines.append(line)
    return '\n'.join(lines) + '\n'


def run(script, python_path, timeout, **env_vars):
    """(returncode or None on timeout, stdout, stderr, seconds) of ``script``
    run in a scratch working folder, with ``env_vars`` set."""
    env = dict(os.environ, PYTHONPATH=python_path, MPLBACKEND='Agg', **env_vars)
    with tempfile.TemporaryDirectory(prefix='dezero-step-cwd-') as cwd:
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, '-c', BOOTSTRAP, script], cwd=cwd, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        try:
            out, err = proc.communicate(timeout=timeout)
            code = proc.returncode
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            code = None
        except BaseException:   # Ctrl-C: end the child before going
            proc.kill()
            proc.communicate()
            raise
        return code, out, err, time.perf_counter() - start


def tokens(text):
    """[(kind, text, line number)] of ``text``."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        for m in TOKEN.finditer(ELAPSED.sub('seconds', line)):
            found.append((m.lastgroup, m.group(), number))
    return found


def first_difference(ours, theirs, rtol, atol):
    """(None, largest relative difference of the numbers) when the outputs
    agree, else ((our line, their line) where they first differ, the largest
    relative difference of the numbers before that)."""
    a, b = tokens(ours), tokens(theirs)
    largest = 0.0
    for (kind_a, text_a, line_a), (kind_b, text_b, line_b) in zip(a, b):
        if kind_a == kind_b == 'number':
            x, y = float(text_a), float(text_b)
            if x == y:
                continue
            if abs(x - y) <= atol + rtol * abs(y):
                if abs(y) > atol:   # (near 0, atol is what counts)
                    largest = max(largest, abs(x - y) / abs(y))
                continue
        elif text_a == text_b:
            continue
        return (_line(ours, line_a), _line(theirs, line_b)), largest
    if len(a) < len(b):
        return ('(output ends)', _line(theirs, b[len(a)][2])), largest
    if len(a) > len(b):
        return (_line(ours, a[len(b)][2]), '(output ends)'), largest
    return None, largest


def _line(text, number):
    return text.splitlines()[number - 1].strip()


def _last_line(text):
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else '(no output)'


def compare_step(path, checkout, scratch, args):
    """(status, detail) of one step."""
    source = open(path).read()
    if ('plot_dot_graph' in source or '.plot(' in source) and shutil.which('dot') is None:
        return 'skipped', "needs Graphviz's dot (not on PATH)"
    # A folder of its own, so the step's `sys.path.append(<folder>/..)` adds
    # nothing that holds a `dezero` package.
    renamed = os.path.join(scratch, 'deepzero-steps', 'steps', os.path.basename(path))
    os.makedirs(os.path.dirname(renamed), exist_ok=True)
    with open(renamed, 'w') as f:
        f.write(rename_imports(source))
    code, ours, err, ours_s = run(renamed, REPO, args.timeout, DEZERO_CACHE_DIR=args.cache)
    if code is None:
        return 'timeout', f'deepzero.dezero ran past {args.timeout} s'
    our_error = _last_line(err) if code != 0 else None
    if our_error and MISSING_DOWNLOAD in our_error:
        return 'skipped', 'needs a download: ' + our_error.split(': ', 1)[-1]
    if our_error and NO_GPU in our_error:
        return 'skipped', 'needs a GPU: ' + our_error.split(': ', 1)[-1]
    code, theirs, err, theirs_s = run(path, checkout, args.timeout, **dezero_env(scratch, args))
    if code is None:
        return 'timeout', f'DeZero ran past {args.timeout} s (deepzero: {ours_s:.1f} s)'
    their_error = _last_line(err) if code != 0 else None
    # Some steps end in an error on purpose (step09 shows Variable(1.0) refused):
    # the same exception on both sides is part of the same output.
    if _exception_type(our_error) != _exception_type(their_error):
        return 'error', (f'deepzero.dezero: {our_error or "no error"}; '
                         f'DeZero: {their_error or "no error"}')
    diff, largest = first_difference(ours, theirs, args.rtol, args.atol)
    times = f'{ours_s:.1f} s / {theirs_s:.1f} s'
    if largest:
        times += f', numbers within {largest:.1e} relative'
    if our_error:
        times += f', both end with {_exception_type(our_error)}'
    if diff is None:
        return 'same', times
    return 'differs', f'{times}\n      deepzero: {diff[0]}\n      DeZero:   {diff[1]}'


def _exception_type(last_line):
    return None if last_line is None else last_line.split(':', 1)[0]


def dezero_env(scratch, args):
    """DeZero's environment: a home whose .dezero is the cache folder
    deepzero reads (DeZero's is always ~/.dezero), matplotlib's settings kept
    in the scratch folder, and a dead proxy, so that a step that fails on
    deepzero for another reason cannot make DeZero download (step58 would
    fetch VGG16's 500 MB of weights)."""
    home = os.path.join(scratch, 'home')
    if not os.path.exists(home):
        os.makedirs(home)
        if os.path.isdir(args.cache):
            os.symlink(args.cache, os.path.join(home, '.dezero'))
        else:   # DeZero makes its own (it writes graph files there)
            os.makedirs(os.path.join(home, '.dezero'))
    dead = 'http://127.0.0.1:9'
    return dict(HOME=home, MPLCONFIGDIR=os.path.join(scratch, 'matplotlib'),
                http_proxy=dead, https_proxy=dead, HTTP_PROXY=dead, HTTPS_PROXY=dead)


def step_numbers(text):
    first, _, last = text.partition('-')
    return range(int(first), int(last or first) + 1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('checkout', help="a clone of DeZero's repository (dezero/, steps/)")
    parser.add_argument('--steps', default='1-60', help="a step or a range, e.g. 23-60")
    parser.add_argument('--timeout', type=float, default=300,
                        help='seconds each run of a step may take (default 300)')
    parser.add_argument('--cache', default=os.environ.get('DEZERO_CACHE_DIR') or
                        os.path.join(os.path.expanduser('~'), '.dezero'),
                        help="the folder of the files DeZero downloads (MNIST's ...), read by "
                             "both sides (default: $DEZERO_CACHE_DIR or ~/.dezero)")
    parser.add_argument('--rtol', type=float, default=1e-4)
    parser.add_argument('--atol', type=float, default=1e-6)
    args = parser.parse_args(argv)
    checkout = os.path.abspath(args.checkout)
    args.cache = os.path.abspath(args.cache)
    if not os.path.isdir(os.path.join(checkout, 'dezero')):
        parser.error(f'{checkout} has no dezero/ folder')

    counts = {}
    try:
        with tempfile.TemporaryDirectory(prefix='dezero-steps-') as scratch:
            for n in step_numbers(args.steps):
                path = os.path.join(checkout, 'steps', f'step{n:02d}.py')
                if not os.path.exists(path):
                    continue
                status, detail = compare_step(path, checkout, scratch, args)
                counts[status] = counts.get(status, 0) + 1
                print(f'step{n:02d}: {status} ({detail})', flush=True)
    except KeyboardInterrupt:
        print('stopped (Ctrl-C)')
    print('summary: ' + ', '.join(f'{k} {v}' for k, v in sorted(counts.items())))
    return 1 if counts.get('differs') or counts.get('error') else 0


if __name__ == '__main__':
    sys.exit(main())
