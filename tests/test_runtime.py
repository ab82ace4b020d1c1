"""Process-wide state (core/runtime.py): settings with environment overrides
and a scoped form, the BLAS policy applied at first use rather than at
import, one thread budget, and one seeding call that makes a run repeatable
without touching NumPy's global random state."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import deepzero.keras as keras
from deepzero import runtime
from deepzero.core import parallel, workspace
from deepzero.core.workspace import MIN_POOLED_BYTES, Workspace
from deepzero.preprocessing.image import ImageDataGenerator, iterator
from deepzero.utils import set_random_seed

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_python(code, **env):
    """Run ``code`` in a fresh interpreter importing this checkout's deepzero;
    returns its stdout (a failure shows its stderr)."""
    environ = {**os.environ, 'PYTHONPATH': REPO, **env}
    done = subprocess.run([sys.executable, '-c', code], env=environ, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


# ---------------------------------------------------------------- first use
OPENBLAS_AROUND_IMPORT = '''
import json
import numpy as np
import threadpoolctl
def counts():
    return {i['filepath']: i['num_threads'] for i in threadpoolctl.threadpool_info()
            if i['internal_api'] == 'openblas'}
try:
    import cv2
except ImportError:
    cv2 = None
opencv = cv2.getNumThreads() if cv2 is not None else None
before = counts()
import deepzero.preprocessing.image
after_import = counts()
opencv_after_import = cv2.getNumThreads() if cv2 is not None else None
import deepzero.functions as F
F.relu(np.ones((64, 1 << 14), np.float32))  # a split pass: deepzero's first use
after_use = counts()
print(json.dumps({'before': before, 'after_import': after_import, 'after_use': after_use,
                  'opencv': [opencv, opencv_after_import]}))
'''


def numpy_openblas(counts):
    return [n for path, n in counts.items() if 'numpy' in path]


def test_importing_the_image_pipeline_changes_no_thread_count():
    pytest.importorskip('threadpoolctl', reason='threadpoolctl reads OpenBLAS\'s thread count '
                        "(pip install threadpoolctl; in the test extra)")
    env = {name: '' for name in ('OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS', 'DEEPZERO_BLAS')}
    result = json.loads(run_python(OPENBLAS_AROUND_IMPORT, **env))
    before = result['before']
    if not numpy_openblas(before):
        pytest.skip("NumPy's BLAS is not OpenBLAS")
    after_import = {path: result['after_import'][path] for path in before}
    assert after_import == before
    assert result['opencv'][0] == result['opencv'][1]
    assert numpy_openblas(result['after_use']) == [1]  # the policy, once deepzero runs an op


def test_blas_keep_leaves_openblas_alone():
    pytest.importorskip('threadpoolctl', reason="threadpoolctl reads OpenBLAS's thread count")
    env = {'OPENBLAS_NUM_THREADS': '', 'OMP_NUM_THREADS': '', 'DEEPZERO_BLAS': 'keep'}
    result = json.loads(run_python(OPENBLAS_AROUND_IMPORT, **env))
    if not numpy_openblas(result['before']):
        pytest.skip("NumPy's BLAS is not OpenBLAS")
    assert numpy_openblas(result['after_use']) == numpy_openblas(result['before'])


# ---------------------------------------------------------------- settings
def test_environment_variables_set_the_defaults():
    code = ('from deepzero.core import parallel, runtime, workspace\n'
            'from deepzero.preprocessing.image import iterator\n'
            "print(runtime.get('threads'), parallel.THREADS, workspace.workspace.max_bytes,"
            " runtime.get('blas'), iterator.default_workers(), runtime.get('warp_backend'),"
            " runtime.get('conv_algorithm'))")
    out = run_python(code, DEEPZERO_THREADS='3', DEEPZERO_POOL_BYTES='512M',
                     DEEPZERO_BLAS='keep', DEEPZERO_WARP_BACKEND='numpy',
                     DEEPZERO_CONV_ALGORITHM='direct')
    assert out.split() == ['3', '3', str(512 << 20), 'keep', '3', 'numpy', 'direct']


@pytest.mark.parametrize('name, value', [('DEEPZERO_THREADS', '0'),
                                         ('DEEPZERO_THREADS', 'many'),
                                         ('DEEPZERO_POOL_BYTES', '1.5G'),
                                         ('DEEPZERO_BLAS', 'openblas'),
                                         ('DEEPZERO_CONV_ALGORITHM', 'winograd8')])
def test_a_bad_environment_variable_is_named(name, value):
    setting = next(key for key, s in runtime.SETTINGS.items() if s.env == name)
    code = (f'from deepzero.core import runtime\n'
            f'try:\n    runtime.get({setting!r})\n'
            f'except ValueError as e:\n    print(e)')
    out = run_python(code, **{name: value})
    assert name in out and repr(value) in out


def test_settings_block_restores_the_previous_values():
    threads, pool = runtime.get('threads'), runtime.get('pool_bytes')
    with pytest.raises(RuntimeError, match='inside'):
        with runtime.settings(threads=1, pool_bytes=0):
            assert parallel.THREADS == 1 and workspace.workspace.max_bytes == 0
            raise RuntimeError('inside')
    assert runtime.get('threads') == threads and runtime.get('pool_bytes') == pool


def test_settings_are_checked():
    with pytest.raises(TypeError, match="'thread'"):
        runtime.configure(thread=2)
    with pytest.raises(ValueError, match="'threads'"):
        runtime.configure(threads=0)
    with pytest.raises(ValueError, match="'pool_bytes'"):
        runtime.configure(pool_bytes=-1)
    with pytest.raises(ValueError, match='unknown runtime setting'):
        runtime.get('cores')


def test_one_thread_runs_a_pass_in_the_calling_thread():
    import threading
    names = []
    out = np.zeros((8, 1 << 16), np.float32)
    with runtime.settings(threads=1):
        parallel.over_batch(lambda part: names.append(threading.current_thread().name), out)
    assert names == [threading.current_thread().name]


def test_pool_budget_zero_keeps_nothing():
    pool = Workspace()
    with runtime.settings(pool_bytes=0):
        arrays = [pool.empty((MIN_POOLED_BYTES,), np.uint8) for _ in range(2)]
    assert pool.held_bytes == 0 and all(a.nbytes == MIN_POOLED_BYTES for a in arrays)


# ---------------------------------------------------------------- thread budget
def test_prefetch_threads_come_from_the_thread_budget():
    x = np.zeros((4, 8, 8, 3), np.float32)
    with runtime.settings(threads=1):
        assert ImageDataGenerator().flow(x, batch_size=2).workers == 1
    with runtime.settings(threads=16):
        assert iterator.default_workers() == 4
        assert ImageDataGenerator().flow(x, batch_size=2, workers=7).workers == 7


def test_opencv_warps_on_the_calling_thread():
    cv2 = pytest.importorskip('cv2', reason='OpenCV is optional (the fast extra)')
    from deepzero.preprocessing.image import get_warp_backend
    if get_warp_backend() != 'opencv':
        pytest.skip('the warp backend is not OpenCV')
    ImageDataGenerator(rotation_range=30).random_transform(np.ones((16, 16, 3), np.float32),
                                                           seed=0)
    assert cv2.getNumThreads() == 1


# ---------------------------------------------------------------- seeding
def small_fit(directory=None):
    """The book's 5.2.5 setup in miniature: augmentation, a convnet with
    Dropout, default initializers, shuffling flow; the weights after 2 epochs."""
    rng = np.random.default_rng(7)  # the data only
    x = rng.uniform(0, 255, (12, 16, 16, 3)).astype(np.float32)
    y = (np.arange(12) % 2).astype(np.float32)
    augment = ImageDataGenerator(rescale=1 / 255, rotation_range=40, width_shift_range=0.2,
                                 shear_range=0.2, zoom_range=0.2, horizontal_flip=True)
    model = keras.models.Sequential([
        keras.layers.Input((16, 16, 3)),
        keras.layers.Conv2D(4, 3, activation='relu'), keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(), keras.layers.Dropout(0.5),
        keras.layers.Dense(8, activation='relu'), keras.layers.Dense(1, activation='sigmoid')])
    model.compile(optimizer='rmsprop', loss='binary_crossentropy')
    model.fit(augment.flow(x, y, batch_size=4), steps_per_epoch=3, epochs=2, verbose=0)
    model.fit(x / 255, y, batch_size=4, epochs=1, verbose=0)  # shuffled arrays
    return [w.copy() for w in model.get_weights()]


def test_set_random_seed_makes_a_fit_repeatable_without_numpys_global_state():
    np.random.seed(123)
    state = np.random.get_state()
    set_random_seed(0)
    first = small_fit()
    set_random_seed(0)
    second = small_fit()
    set_random_seed(1)
    other = small_fit()
    after = np.random.get_state()
    assert after[0] == state[0] and np.array_equal(after[1], state[1]) and after[2:] == state[2:]
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(first, other))


def test_keras_face_and_checks():
    assert keras.utils.set_random_seed is set_random_seed
    for bad in (-1, 1.5, '0', True):
        with pytest.raises(ValueError, match='seed'):
            set_random_seed(bad)
    with pytest.raises(ValueError, match='stream'):
        runtime.generator('weights')
