"""deepzero.distributed: a world of one process in this process (mpi4py made
unimportable), and the real thing in subprocesses: the scripts of
tests/mpi_scripts/ (allreduce_and_sgd.py: collectives, DistributedOptimizer,
callbacks; overlap.py: gradients reduced while backward runs) under plain
python (MPI's world of one) and under ``mpirun -np 2`` (Open MPI; skipped
where mpirun or mpi4py is missing)."""
import importlib.util
import os
import pathlib
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

import deepzero.distributed as distributed
import deepzero.keras.distributed as hvd
from deepzero.callbacks import Callback
from deepzero.core import Parameter, Variable
from deepzero.layers import Dense, Input
from deepzero.models import Sequential
from deepzero.optimizers import SGD, RMSprop

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / 'tests' / 'mpi_scripts'
SCRIPT_NAMES = ['allreduce_and_sgd.py', 'overlap.py']


@pytest.fixture
def world_of_one(monkeypatch):
    """A fresh world with mpi4py unimportable, as on a machine without it."""
    monkeypatch.setitem(sys.modules, 'mpi4py', None)
    monkeypatch.setattr(distributed, '_world', None)
    yield
    assert 'mpi4py.MPI' not in sys.modules or sys.modules['mpi4py'] is None


def test_keras_face_is_the_engine_module():
    assert hvd.DistributedOptimizer is distributed.DistributedOptimizer
    assert hvd.allreduce is distributed.allreduce


def test_world_of_one_without_mpi4py(world_of_one):
    hvd.init()
    assert (hvd.size(), hvd.rank(), hvd.local_size(), hvd.local_rank()) == (1, 0, 1, 0)


def test_calls_before_init_join_a_world_of_one(world_of_one):
    assert hvd.size() == 1 and hvd.rank() == 0


def test_collectives_in_a_world_of_one_return_copies_of_the_same_dtype(world_of_one):
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    for result in (hvd.allreduce(x), hvd.allreduce(x, average=False),
                   hvd.allreduce(x, op=hvd.Max), hvd.broadcast(x, root_rank=0),
                   hvd.allgather(x), hvd.allreduce(Variable(x))):
        assert result.dtype == np.float32 and result.shape == (2, 3)
        np.testing.assert_array_equal(result, x)
        assert not np.shares_memory(result, x)
    assert hvd.allreduce(1.5).dtype == np.float32        # Python floats read as float32
    assert hvd.allgather(np.float32(2)).shape == (1,)
    assert hvd.allreduce(np.arange(3), op=hvd.Sum).dtype == np.arange(3).dtype


def test_bad_arguments_name_what_is_wrong(world_of_one):
    x = np.ones(3, np.float32)
    with pytest.raises(ValueError, match="op must be one of"):
        hvd.allreduce(x, op='mean')
    with pytest.raises(ValueError, match="not both"):
        hvd.allreduce(x, average=True, op=hvd.Sum)
    with pytest.raises(ValueError, match="cannot average an array of dtype int"):
        hvd.allreduce(np.arange(3))
    with pytest.raises(ValueError, match="root_rank=1 is not a rank of this world of size 1"):
        hvd.broadcast(x, root_rank=1)
    with pytest.raises(ValueError, match="got None"):
        hvd.allreduce(None)


def test_buckets_keep_order_split_by_size_and_dtype():
    arrays = [np.zeros(8, np.float32), np.zeros(8, np.float32), np.zeros(20, np.float32),
              np.zeros(2, np.float32), np.zeros(2, np.float64), np.zeros(1, np.float32)]
    buckets = list(distributed._buckets([(a.nbytes, a.dtype) for a in arrays], 64))
    assert buckets == [[0, 1], [2], [3], [4], [5]]


def test_engine_helpers_in_a_world_of_one_leave_parameters_as_they_are(world_of_one):
    params = [Parameter(np.arange(4, dtype=np.float32)), Parameter(np.ones(2, np.float32))]
    params[0].grad = Variable(np.full(4, 3, np.float32))
    distributed.average_gradients(params)           # params[1] has no gradient: skipped
    distributed.broadcast_parameters(params)
    np.testing.assert_array_equal(params[0].grad.data, np.full(4, 3, np.float32))
    np.testing.assert_array_equal(params[0].data, np.arange(4, dtype=np.float32))


def test_gradient_reducer_in_a_world_of_one_leaves_the_gradients(world_of_one):
    w = Parameter(np.array([[1.0, -2.0]], np.float32))
    b = Parameter(np.array([0.5], np.float32))
    reducer = distributed.GradientReducer([w, b])
    x = Variable(np.array([[3.0], [4.0]], np.float32), requires_grad=False)
    ((x @ w + b) ** 2).sum().backward(grad_ready=reducer)
    want = [w.grad.data.copy(), b.grad.data.copy()]
    reducer.wait()
    for p, g in zip((w, b), want):
        np.testing.assert_array_equal(p.grad.data, g)
    assert (reducer.buckets, reducer.started, reducer.wait_seconds) == (0, 0, 0.0)
    reduced = reducer.reduce([w.grad, None])
    np.testing.assert_array_equal(reduced[0], want[0])
    assert reduced[1] is None
    with pytest.raises(ValueError, match="1 gradients for 2 parameters"):
        reducer.reduce([w.grad])
    with pytest.raises(ValueError, match="op must be Average or Sum"):
        distributed.GradientReducer([w], op=hvd.Max)
    reducer.discard()   # a failed step's reduction: nothing to end when alone
    np.testing.assert_array_equal(w.grad.data, want[0])


@pytest.mark.parametrize('text, printed', [('0.002', '0.002'), ('0', 'must be a number > 0')])
def test_progress_interval_is_a_runtime_setting_read_from_the_environment(text, printed):
    done = subprocess.run(
        [sys.executable, '-c', 'from deepzero.core import runtime\n'
         'try:\n    print(runtime.get("allreduce_progress_seconds"))\n'
         'except ValueError as e:\n    print(e)'],
        env=_mpi_env(DEEPZERO_ALLREDUCE_PROGRESS_SECONDS=text), capture_output=True,
        text=True, timeout=60)
    assert printed in done.stdout, done.stdout + done.stderr


def _model():
    return Sequential([Input((4,)), Dense(3)])


@pytest.mark.parametrize('make', [lambda: SGD(0.1, momentum=0.9), lambda: RMSprop(0.01)])
def test_distributed_optimizer_in_a_world_of_one_trains_as_the_optimizer(world_of_one, make):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 4)).astype(np.float32)
    y = rng.standard_normal((32, 3)).astype(np.float32)
    plain, wrapped = _model(), _model()
    wrapped.set_weights(plain.get_weights())
    optimizer = make()
    distributed_optimizer = hvd.DistributedOptimizer(optimizer)
    assert isinstance(distributed_optimizer, type(optimizer))
    assert type(distributed_optimizer).__name__ == type(optimizer).__name__
    assert distributed_optimizer.get_config() == optimizer.get_config()
    plain.compile(optimizer=make(), loss='mse')
    wrapped.compile(optimizer=distributed_optimizer, loss='mse')
    for model in (plain, wrapped):
        model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    for got, want in zip(wrapped.get_weights(), plain.get_weights()):
        np.testing.assert_array_equal(got, want)
    assert not optimizer.built                       # the original is left untouched


def test_distributed_optimizer_refuses_what_it_cannot_wrap(world_of_one):
    built = SGD(0.1)
    built.build([Parameter(np.zeros(2, np.float32))])
    with pytest.raises(ValueError, match="already built"):
        hvd.DistributedOptimizer(built)
    with pytest.raises(TypeError, match="expected a deepzero Optimizer, got str"):
        hvd.DistributedOptimizer('sgd')
    with pytest.raises(ValueError, match="op must be Average or Sum"):
        hvd.DistributedOptimizer(SGD(0.1), op=hvd.Max)


# --- Horovod's Keras callbacks, in a world of one and a pretended larger one -----------------
def test_keras_face_has_the_callbacks():
    assert hvd.callbacks.BroadcastGlobalVariablesCallback is \
        distributed.BroadcastGlobalVariablesCallback
    assert hvd.callbacks.MetricAverageCallback is distributed.MetricAverageCallback
    assert hvd.callbacks.LearningRateWarmupCallback is distributed.LearningRateWarmupCallback


def _data():
    rng = np.random.default_rng(0)
    return (rng.standard_normal((32, 4)).astype(np.float32),
            rng.standard_normal((32, 3)).astype(np.float32))


def test_broadcast_and_metric_average_are_identities_in_a_world_of_one(world_of_one):
    x, y = _data()
    plain, with_callbacks = _model(), _model()
    with_callbacks.set_weights(plain.get_weights())
    for model in (plain, with_callbacks):
        model.compile(optimizer=hvd.DistributedOptimizer(SGD(0.1, momentum=0.9)), loss='mse',
                      metrics=['mae'])
    want = plain.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0,
                     validation_data=(x, y))
    got = with_callbacks.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0,
                             validation_data=(x, y),
                             callbacks=[hvd.callbacks.BroadcastGlobalVariablesCallback(0),
                                        hvd.callbacks.MetricAverageCallback()])
    assert got.history == want.history
    assert set(got.history) == {'loss', 'mae', 'val_loss', 'val_mae'}
    for w, v in zip(with_callbacks.get_weights(), plain.get_weights()):
        np.testing.assert_array_equal(w, v)


def test_broadcast_callback_refuses_a_root_outside_the_world(world_of_one):
    x, y = _data()
    model = _model()
    model.compile(optimizer=SGD(0.1), loss='mse')
    with pytest.raises(ValueError, match="root_rank=2 is not a rank of this world of size 1"):
        model.fit(x, y, batch_size=8, verbose=0,
                  callbacks=[hvd.callbacks.BroadcastGlobalVariablesCallback(2)])


class _RecordOptimizer(Callback):
    """Records the optimizer's learning rate and momentum as each batch runs
    (put after the warmup callback) and after it."""

    def __init__(self):
        super().__init__()
        self.during, self.after = [], []

    def on_train_batch_begin(self, batch, logs=None):
        optimizer = self.model.optimizer
        self.during.append((optimizer.learning_rate, optimizer.momentum))

    def on_train_batch_end(self, batch, logs=None):
        self.after.append(self.model.optimizer.momentum)


@pytest.fixture
def world_of_four(monkeypatch):
    """size() says 4 (no communicator: the collectives are not used here)."""
    world = distributed._World(None)
    world.size = 4
    monkeypatch.setattr(distributed, '_world', world)


def test_reduction_without_a_communicator_leaves_the_gradients(world_of_four):
    x, y = _data()
    plain, wrapped = _model(), _model()
    wrapped.set_weights(plain.get_weights())
    plain.compile(optimizer=SGD(0.1), loss='mse')
    wrapped.compile(optimizer=hvd.DistributedOptimizer(SGD(0.1)), loss='mse')
    for model in (plain, wrapped):
        model.fit(x, y, batch_size=8, shuffle=False, verbose=0)
    for got, want in zip(wrapped.get_weights(), plain.get_weights()):
        np.testing.assert_array_equal(got, want)
    assert distributed.GradientReducer(wrapped.trainable_weights).buckets == 0


def test_warmup_grows_the_rate_from_a_size_th_to_initial_lr_batch_by_batch(world_of_four):
    x, y = _data()
    model = _model()
    model.compile(optimizer=SGD(0.8, momentum=0.9), loss='mse')
    warmup = hvd.callbacks.LearningRateWarmupCallback(initial_lr=0.4, warmup_epochs=2)
    record = _RecordOptimizer()
    history = model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0,
                        callbacks=[warmup, record])
    # 4 steps per epoch: t = epoch + (batch + 1) / 4; rate = 0.4 / 4 * (t * 3 / 2 + 1)
    warm = [0.1 * ((e + (b + 1) / 4) * 1.5 + 1) for e in range(2) for b in range(4)]
    rates = [lr for lr, _ in record.during]
    np.testing.assert_allclose(rates, warm + [0.4] * 4, rtol=1e-6)
    assert rates[7] == pytest.approx(0.4)          # initial_lr on the warmup's last batch
    # momentum scaled by new_lr / old_lr while the batch runs, 0.9 again after it
    old = [0.8] + warm[:-1]
    np.testing.assert_allclose([m for _, m in record.during[:8]],
                               [0.9 * new / o for new, o in zip(warm, old)], rtol=1e-6)
    assert [m for _, m in record.during[8:]] == [0.9] * 4
    assert record.after == [0.9] * 12
    np.testing.assert_allclose(history.history['learning_rate'], [warm[3], 0.4, 0.4],
                               rtol=1e-6)


def test_warmup_schedule_without_momentum_correction_and_given_steps(world_of_four):
    x, y = _data()
    model = _model()
    model.compile(optimizer=SGD(0.1, momentum=0.5), loss='mse')
    warmup = hvd.callbacks.LearningRateWarmupCallback(0.2, warmup_epochs=1,
                                                      momentum_correction=False,
                                                      steps_per_epoch=8)
    record = _RecordOptimizer()
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0,
              callbacks=[warmup, record])
    np.testing.assert_allclose([lr for lr, _ in record.during],
                               [0.05 * ((b + 1) / 8 * 3 + 1) for b in range(4)], rtol=1e-6)
    assert [m for _, m in record.during] == [0.5] * 4
    assert warmup.learning_rate_at(0, 7) == pytest.approx(0.2)


def test_warmup_in_a_world_of_one_keeps_initial_lr(world_of_one):
    x, y = _data()
    model = _model()
    model.compile(optimizer=SGD(0.1, momentum=0.9), loss='mse')
    record = _RecordOptimizer()
    model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0,
              callbacks=[hvd.callbacks.LearningRateWarmupCallback(0.3, warmup_epochs=1),
                         record])
    np.testing.assert_allclose([lr for lr, _ in record.during], [0.3] * 8, rtol=1e-6)
    # first batch: momentum * 0.3 / 0.1, then the rate no longer changes
    np.testing.assert_allclose([m for _, m in record.during], [0.9 * 3] + [0.9] * 7,
                               rtol=1e-6)


def test_warmup_refuses_bad_arguments():
    with pytest.raises(ValueError, match="initial_lr is required"):
        hvd.callbacks.LearningRateWarmupCallback(None)
    with pytest.raises(ValueError, match="warmup_epochs must be positive, got 0"):
        hvd.callbacks.LearningRateWarmupCallback(0.1, warmup_epochs=0)


# --- real MPI, in subprocesses ------------------------------------------------------------
def _mpi_env(**extra):
    return dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep) if p]),
        # CI runs as root; the machine may have fewer cores than ranks
        OMPI_ALLOW_RUN_AS_ROOT='1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM='1',
        OMPI_MCA_rmaps_base_oversubscribe='1', DEEPZERO_THREADS='1', **extra)


@pytest.fixture(scope='module')
def mpi4py_works():
    """Skip unless mpi4py imports and loads an MPI library (probed in a
    subprocess, so that this process never initialises MPI)."""
    if importlib.util.find_spec('mpi4py') is None:
        pytest.skip("mpi4py is not installed (pip install 'deepzero[mpi]')")
    probe = subprocess.run([sys.executable, '-c', 'from mpi4py import MPI'], env=_mpi_env(),
                           capture_output=True, text=True, timeout=60)
    if probe.returncode:
        pytest.skip("mpi4py cannot load an MPI library (Open MPI: apt-get install "
                    f"openmpi-bin libopenmpi-dev): {probe.stderr.strip()[-300:]}")


@pytest.fixture
def mpirun(mpi4py_works):
    if shutil.which('mpirun') is None:
        pytest.skip("mpirun is missing (Open MPI: apt-get install openmpi-bin libopenmpi-dev)")
    return shutil.which('mpirun')


def _run(command, **env):
    done = subprocess.run(command, env=_mpi_env(**env), cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_mpi4py_without_an_mpi_library_says_what_to_install():
    if importlib.util.find_spec('mpi4py') is None:
        pytest.skip("mpi4py is not installed (pip install 'deepzero[mpi]')")
    done = subprocess.run(
        [sys.executable, '-c', 'import deepzero.distributed as d; d.size()'],
        env=_mpi_env(MPI4PY_LIBMPI=str(ROOT / 'no-such-libmpi.so')),
        capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "cannot load an MPI library; install Open MPI" in done.stderr, done.stderr


@pytest.mark.parametrize('script', SCRIPT_NAMES)
def test_script_without_mpirun_runs_in_mpis_world_of_one(mpi4py_works, script):
    assert _run([sys.executable, str(SCRIPTS / script)]).split() == ['OK', '0', '1']


@pytest.mark.parametrize('script', SCRIPT_NAMES)
def test_script_under_mpirun_with_two_ranks(mpirun, script):
    out = _run([mpirun, '-np', '2', '--oversubscribe', '--allow-run-as-root',
                '-x', 'PYTHONPATH', '-x', 'DEEPZERO_THREADS', sys.executable,
                str(SCRIPTS / script)])
    # mpirun forwards the ranks' output as it comes: their lines may run together
    assert sorted(re.findall(r'OK (\d) 2', out)) == ['0', '1'], out
