"""What the benchmark drivers (bench/run.py, bench/epoch_time_5_2_5.py) share:
which Python runs each framework and in what environment, their command-line
lists, and how results are written.

Keras on TensorFlow lives in its own virtual environment, .venv-bench-tf/ at the
repository root, made by ``bash bench/setup_keras_tf.sh``; every other framework
runs in the Python that runs the benchmark.
"""
import argparse
import json
import os
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent
TF_VENV = REPO / '.venv-bench-tf'
SETUP_COMMAND = 'bash bench/setup_keras_tf.sh'
TF_FRAMEWORKS = {'keras_tf'}


def python_for(framework):
    """The interpreter for ``framework``. Raises SystemExit with one line naming the
    set-up command when the Keras/TF environment has not been made."""
    if framework not in TF_FRAMEWORKS:
        return sys.executable
    python = TF_VENV / 'bin' / 'python'
    if not python.exists():
        raise SystemExit(f'{framework}: {python.relative_to(REPO)} is missing; make it with '
                         f'`{SETUP_COMMAND}` from the repository root')
    return str(python)


def environment(framework, extra=None):
    """The benchmark's environment for one framework's process: this one's, less
    OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE (they slow NumPy's BLAS on this
    machine), plus ``extra``, bench/ and the repository on PYTHONPATH, and for
    Keras on TensorFlow its backend and quieter TensorFlow logging."""
    env = {k: v for k, v in os.environ.items()
           if k not in ('OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE')}
    env.update(extra or {})
    env['PYTHONPATH'] = os.pathsep.join([str(HERE), str(REPO), env.get('PYTHONPATH', '')])
    if framework in TF_FRAMEWORKS:
        env['KERAS_BACKEND'] = 'tensorflow'
        env.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
    return env


def names_from(known):
    """An argparse type: a comma-separated list of names from ``known``."""
    def parse(text):
        names = text.split(',')
        unknown = [n for n in names if n not in known]
        if unknown:
            raise argparse.ArgumentTypeError(
                f"unknown name(s) {', '.join(unknown)}; choose from {', '.join(known)}")
        return names
    return parse


def int_at_least(minimum):
    """An argparse type: an integer no smaller than ``minimum``."""
    def parse(text):
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f'must be at least {minimum}, not {value}')
        return value
    return parse


def rotated(frameworks, round_index):
    """The order of one round: each round starts one framework further on."""
    k = round_index % len(frameworks)
    return frameworks[k:] + frameworks[:k]


def write_results(name, results, table):
    """bench/results/NAME.json (``results``) and NAME.md (``table``), each written
    whole or not at all."""
    folder = HERE / 'results'
    folder.mkdir(exist_ok=True)
    for path, text in ((folder / f'{name}.json', json.dumps(results, indent=1)),
                       (folder / f'{name}.md', table)):
        tmp = path.with_suffix(path.suffix + '.tmp')
        tmp.write_text(text)
        os.replace(tmp, path)
