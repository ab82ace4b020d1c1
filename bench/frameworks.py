"""Which Python runs each benchmarked framework, and the environment it runs in.

Keras on TensorFlow lives in its own virtual environment, .venv-bench-tf/ at the
repository root, made by ``bash bench/setup_keras_tf.sh``; every other framework
runs in the Python that runs the benchmark.
"""
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
