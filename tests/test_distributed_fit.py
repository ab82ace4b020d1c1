"""Data-parallel fit (deepzero.distributed): sharded inputs, rank-0-only
callbacks and averaged logs in this process, in a world of one and in
pretended larger worlds (a ``_World`` without a communicator, whose
collectives are identities); then the real thing under ``mpirun -np 2``
(tests/mpi_scripts/data_parallel_fit.py, and fault_and_resume.py for a rank
that raises or is killed, and the resumed run), skipped where Open MPI or
mpi4py is missing."""
import io
import math
import re
import subprocess
import sys
import time

import numpy as np
import pytest

import deepzero.distributed as distributed
import deepzero.keras.distributed as hvd
from deepzero.callbacks import Callback, CSVLogger, ModelCheckpoint, ProgbarLogger, TensorBoard
from deepzero.core import runtime
from deepzero.layers import Dense, Flatten, Input
from deepzero.models import Sequential, load_model
from deepzero.models.epoch_iterator import EpochIterator
from deepzero.optimizers import SGD
from deepzero.preprocessing.image import ImageDataGenerator, image_dataset_from_directory, save_img
from test_distributed import ROOT, _mpi_env, mpi4py_works, mpirun, world_of_one  # noqa: F401

SCRIPTS = ROOT / 'tests' / 'mpi_scripts'


@pytest.fixture
def pretend_world(monkeypatch):
    """``pretend_world(size, rank)`` makes size() and rank() say so (no
    communicator: broadcast and allreduce return their input)."""
    def make(size, rank):
        world = distributed._World(None)
        world.size, world.rank = size, rank
        monkeypatch.setattr(distributed, '_world', world)
    return make


def ids_per_rank(size, make_batches):
    """Each pretended rank's epoch of ids: ``make_batches()`` builds the
    input (with the same runtime seed on every rank, standing in for rank
    0's broadcast seed) and returns its id batches."""
    parts = []
    for rank in range(size):
        distributed._world.size, distributed._world.rank = size, rank
        runtime.set_random_seed(7)
        parts.append(np.concatenate(make_batches()).astype(int))
    return parts


# --- sharding ---------------------------------------------------------------------------------
def test_shard_batch_splits_evenly_and_pads_a_short_last_batch():
    batch = np.arange(10, 18)
    assert [list(distributed.shard_batch(batch, 2, r)) for r in range(2)] == \
        [[10, 11, 12, 13], [14, 15, 16, 17]]
    assert [len(distributed.shard_batch(np.arange(5), 2, r)) for r in range(2)] == [3, 2]
    # 2 samples for 3 ranks: the third repeats one, so that no rank has an empty batch
    assert [list(distributed.shard_batch(np.array([4, 9]), 3, r)) for r in range(3)] == \
        [[4], [9], [4]]


def test_shard_argument_must_be_a_bool(world_of_one):
    assert distributed.shard_count_and_index(True, 'x') == (1, 0)
    with pytest.raises(TypeError, match="x: shard must be True or False, got 2"):
        distributed.shard_count_and_index(2, 'x')


@pytest.mark.parametrize('n, size, batch', [(37, 2, 4), (40, 4, 5), (10, 3, 2)])
def test_sharded_arrays_cover_every_sample_once_per_epoch(pretend_world, n, size, batch):
    pretend_world(size, 0)
    x = np.arange(n, dtype=np.float32).reshape(n, 1)
    iterators = []

    def epoch():
        data = EpochIterator(x, np.zeros(n), batch_size=batch, shuffle=True, shard=True)
        iterators.append(data)
        return [xb[:, 0] for _, (xb, _, _) in data]

    parts = ids_per_rank(size, epoch)
    assert {d.steps for d in iterators} == {math.ceil(n / (batch * size))}
    assert sorted(np.concatenate(parts)) == list(range(n))
    assert not np.array_equal(np.sort(parts[0]), parts[0])   # shuffled


def test_sharded_arrays_repeat_a_sample_only_where_a_rank_would_get_none(pretend_world):
    pretend_world(2, 0)
    # 9 samples, batch 4 x 2 ranks: the last global batch has 1 sample
    parts = ids_per_rank(2, lambda: [xb[:, 0] for _, (xb, _, _) in EpochIterator(
        np.arange(9, dtype=np.float32).reshape(9, 1), batch_size=4, shard=True)])
    assert [list(p) for p in parts] == [[0, 1, 2, 3, 8], [4, 5, 6, 7, 8]]


def test_sharded_arrays_keep_their_order_across_passes_of_steps_per_epoch(pretend_world):
    pretend_world(2, 1)
    runtime.set_random_seed(0)
    data = EpochIterator(np.arange(8, dtype=np.float32).reshape(8, 1), batch_size=2,
                         steps_per_epoch=3, shard=True)
    assert [list(xb[:, 0]) for _, (xb, _, _) in data] == [[2, 3], [6, 7], [2, 3]]


class IdSequence:
    def __init__(self, n):
        self.n, self.passes = n, 0

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return np.array([[i]], np.float32), np.zeros((1, 1), np.float32)

    def on_epoch_end(self):
        self.passes += 1


def test_sharded_sequence_reads_every_size_th_item(pretend_world):
    pretend_world(3, 0)
    sequences = []

    def epoch():
        sequences.append(IdSequence(7))
        return [xb[:, 0] for _, (xb, _, _) in EpochIterator(sequences[-1], shard=True)]

    parts = ids_per_rank(3, epoch)
    # 7 items, 3 ranks: 3 steps each, the last round wraps to the start
    assert [list(p) for p in parts] == [[0, 3, 6], [1, 4, 0], [2, 5, 1]]
    assert [s.passes for s in sequences] == [1, 1, 1]


class _Batches:
    """A dataset in tf.data's style: __iter__ and __len__ only."""
    def __iter__(self):
        return iter([(np.zeros((2, 1)), np.zeros(2))])

    def __len__(self):
        return 1


@pytest.mark.parametrize('source', [lambda: iter([(np.zeros((2, 1)), np.zeros(2))]), _Batches],
                         ids=['stream', 'dataset'])
def test_shard_refuses_a_stream_or_dataset_and_says_where_to_shard(world_of_one, source):
    with pytest.raises(ValueError, match=r"flow_from_directory\(..., shard=True\)"):
        EpochIterator(source(), shard=True)


def _model():
    model = Sequential([Input((4,)), Dense(2)])
    model.compile(optimizer=hvd.DistributedOptimizer(SGD(0.1)), loss='mse', metrics=['mae'])
    return model


def _data(n=24):
    rng = np.random.default_rng(0)
    return (rng.standard_normal((n, 4)).astype(np.float32),
            rng.standard_normal((n, 2)).astype(np.float32))


def test_sharded_fit_in_a_world_of_one_trains_as_plain_fit(world_of_one):
    x, y = _data()
    sharded, plain = _model(), _model()
    plain.set_weights(sharded.get_weights())
    got = sharded.fit(x, y, batch_size=8, epochs=2, shuffle=False, shard=True, verbose=0)
    want = plain.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    assert got.history == want.history
    for a, b in zip(sharded.get_weights(), plain.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_sharded_flow_gives_each_rank_its_part_of_every_global_batch(pretend_world):
    pretend_world(2, 0)
    n = 11
    images = np.arange(n, dtype=np.float32).reshape(n, 1, 1, 1)
    flows = []

    def two_passes():
        flow = ImageDataGenerator().flow(images, batch_size=2, shard=True, workers=0)
        flows.append(flow)
        return [next(flow)[:, 0, 0, 0] for _ in range(2 * len(flow))]

    parts = ids_per_rank(2, two_passes)
    assert [len(f) for f in flows] == [3, 3] and flows[0].samples == n
    first = [p[:len(p) // 2] for p in parts]
    second = [p[len(p) // 2:] for p in parts]
    for epoch in (first, second):
        assert sorted(np.concatenate(epoch)) == list(range(n)), epoch   # 11 = 4 + 4 + 3
    assert not np.array_equal(np.concatenate(first), np.concatenate(second))


def test_sharded_flow_in_a_world_of_one_gives_the_unsharded_batches(world_of_one):
    images = np.random.default_rng(0).random((10, 4, 4, 3)).astype(np.float32)
    augment = ImageDataGenerator(rotation_range=30, horizontal_flip=True)
    plain = augment.flow(images, batch_size=4, seed=3, workers=0)
    sharded = augment.flow(images, batch_size=4, seed=3, workers=0, shard=True)
    for _ in range(5):
        np.testing.assert_array_equal(next(plain), next(sharded))


@pytest.fixture
def id_images(tmp_path):
    """``id_images(n)``: a folder of ``n`` 4x4 grayscale PNGs in classes 'a'
    (even ids) and 'b' (odd), each image's pixels holding 20 * its id."""
    def make(n):
        root = tmp_path / f'images-{n}'
        for i in range(n):
            save_img(root / 'ab'[i % 2] / f'{i:02d}.png', np.full((4, 4, 1), 20 * i, np.float32),
                     scale=False)
        return root
    return make


@pytest.fixture
def replayed_broadcasts(monkeypatch):
    """Pretended ranks run one after another in this process; with this,
    broadcast gives rank k what rank 0's broadcast of the same call number
    sent, as a real broadcast would (the pretend world's returns its input)."""
    sent, calls = [], {}

    def broadcast(value, root_rank=0, name=None):
        assert root_rank == 0
        rank = distributed.rank()
        calls[rank] = calls.get(rank, 0) + 1
        if rank == 0:
            sent.append(np.array(value, copy=True))
        return sent[calls[rank] - 1].copy()
    monkeypatch.setattr(distributed, 'broadcast', broadcast)


def _ids_and_labels(dataset):
    """The ids and labels of one pass over an ``id_images`` dataset."""
    batches = list(dataset)
    ids = np.concatenate([np.round(x[:, 0, 0, 0] / 20) for x, _ in batches]).astype(int)
    return ids, np.concatenate([y for _, y in batches])


@pytest.mark.parametrize('n, size, batch, repeated', [(11, 2, 2, 0), (10, 3, 2, 0), (9, 2, 4, 1)])
def test_sharded_image_dataset_gives_each_rank_its_part_of_every_pass(
        pretend_world, replayed_broadcasts, id_images, n, size, batch, repeated):
    root = id_images(n)
    passes = []   # per rank: two passes of (ids, labels)
    for rank in range(size):
        pretend_world(size, rank)
        runtime.set_random_seed(rank)   # each rank would draw its own seed: rank 0's wins
        dataset = image_dataset_from_directory(root, image_size=(4, 4), color_mode='grayscale',
                                               batch_size=batch, shard=True, verbose=False)
        assert len(dataset) == math.ceil(n / (batch * size)) and len(dataset.file_paths) == n
        passes.append([_ids_and_labels(dataset) for _ in range(2)])
    for epoch in range(2):
        ids = np.concatenate([rank_passes[epoch][0] for rank_passes in passes])
        labels = np.concatenate([rank_passes[epoch][1] for rank_passes in passes])
        # every file once (a short last global batch repeats one where a rank gets none)
        assert sorted(set(ids)) == list(range(n)) and len(ids) == n + repeated, ids
        np.testing.assert_array_equal(labels, ids % 2)
    orders = [np.concatenate([rank_passes[epoch][0] for rank_passes in passes])
              for epoch in range(2)]
    assert not np.array_equal(orders[0], orders[1])   # reshuffled every pass, alike on all ranks


def test_sharded_image_dataset_in_a_world_of_one_is_the_unsharded_one(world_of_one, id_images):
    root = id_images(7)
    options = dict(image_size=(4, 4), color_mode='grayscale', batch_size=3, seed=5,
                   verbose=False)
    plain = image_dataset_from_directory(root, **options)
    sharded = image_dataset_from_directory(root, shard=True, **options)
    assert sharded.file_paths == plain.file_paths and len(sharded) == len(plain) == 3
    for _ in range(2):
        for (got_x, got_y), (want_x, want_y) in zip(sharded, plain):
            np.testing.assert_array_equal(got_x, want_x)
            np.testing.assert_array_equal(got_y, want_y)


def test_sharded_image_dataset_trains_in_fit_and_validation_stays_whole(pretend_world,
                                                                         id_images):
    pretend_world(2, 1)
    root = id_images(10)
    with pytest.raises(TypeError, match="image_dataset_from_directory: shard must be True or "
                                        "False, got 'yes'"):
        image_dataset_from_directory(root, shard='yes')
    training, validation = image_dataset_from_directory(
        root, image_size=(4, 4), color_mode='grayscale', batch_size=2, seed=3,
        validation_split=0.2, subset='both', shard=True, verbose=False)
    assert (len(training), len(validation)) == (2, 1)   # 8 files / (2 x 2 ranks); 2 files / 2
    model = Sequential([Input((4, 4, 1)), Flatten(), Dense(2)])
    model.compile(optimizer=hvd.DistributedOptimizer(SGD(1e-4)),
                  loss='sparse_categorical_crossentropy')
    with pytest.raises(ValueError, match=r"image_dataset_from_directory\(..., shard=True\)"):
        model.fit(training, shard=True, verbose=0)   # already sharded where it was made
    history = model.fit(training, validation_data=validation, epochs=1, verbose=0)
    assert sorted(history.history) == ['loss', 'val_loss']


@pytest.mark.parametrize('rank', [0, 1])
def test_only_rank_0_prints_what_the_image_loaders_found(pretend_world, id_images, capsys, rank):
    pretend_world(2, rank)
    root = id_images(5)
    ImageDataGenerator().flow_from_directory(root, target_size=(4, 4), shard=True, workers=0)
    image_dataset_from_directory(root, image_size=(4, 4), seed=1, validation_split=0.4,
                                 subset='training', shard=True)
    assert capsys.readouterr().out == ('' if rank else 'Found 5 images belonging to 2 classes.\n'
                                       'Found 5 files belonging to 2 classes.\n'
                                       'Using 3 files for training.\n')


# --- rank 0 alone writes; averaged logs -------------------------------------------------------
class Record(Callback):
    def __init__(self):
        super().__init__()
        self.epochs = 0

    def on_epoch_end(self, epoch, logs=None):
        self.epochs += 1


@pytest.mark.parametrize('rank', [0, 1])
def test_only_rank_0_draws_and_writes(pretend_world, tmp_path, capsys, rank):
    pretend_world(2, rank)
    x, y = _data()
    record, bar = Record(), io.StringIO()
    _model().fit(x, y, batch_size=8, epochs=2, verbose=1,
                 callbacks=[record, ModelCheckpoint(tmp_path / 'model.keras'),
                            CSVLogger(tmp_path / 'log.csv')])
    _model().fit(x, y, batch_size=8, epochs=1, verbose=1, callbacks=[ProgbarLogger(bar)])
    printed = capsys.readouterr().out   # the default progress bar's
    assert ((tmp_path / 'model.keras').exists(), (tmp_path / 'log.csv').exists(),
            'Epoch 2/2' in printed, 'Epoch 1/1' in bar.getvalue()) == ((rank == 0,) * 4)
    assert rank == 0 or printed == ''
    assert record.epochs == 2           # the other callbacks run on every rank


@pytest.mark.parametrize('rank', [0, 1])
def test_only_rank_0_writes_tensorboard_logs(pretend_world, tmp_path, rank):
    pytest.importorskip('tensorboardX', reason="TensorBoard's writer: pip install 'deepzero[tensorboard]'")
    pretend_world(2, rank)
    x, y = _data()
    _model().fit(x, y, batch_size=8, epochs=1, verbose=0,
                 callbacks=[TensorBoard(tmp_path / 'logs')])
    assert (tmp_path / 'logs').exists() == (rank == 0)


def test_fit_averages_logs_unless_a_metric_average_callback_does(monkeypatch, pretend_world):
    pretend_world(2, 0)
    calls = []
    monkeypatch.setattr(distributed, 'average_logs', lambda logs, name: calls.append(name))
    x, y = _data()
    _model().fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert calls == ['fit', 'fit']
    calls.clear()
    _model().fit(x, y, batch_size=8, epochs=1, verbose=0,
                 callbacks=[hvd.callbacks.MetricAverageCallback()])
    assert calls == ['MetricAverageCallback']
    calls.clear()
    plain = Sequential([Input((4,)), Dense(2)])
    plain.compile(optimizer=SGD(0.1), loss='mse')   # not distributed: nothing to average
    plain.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert calls == []


def test_load_model_resumes_with_the_optimizer_state_in_a_distributed_optimizer(world_of_one,
                                                                                 tmp_path):
    x, y = _data()
    model = Sequential([Input((4,)), Dense(2)])
    model.compile(optimizer=hvd.DistributedOptimizer(SGD(0.1, momentum=0.9)), loss='mse')
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    model.save(tmp_path / 'checkpoint.keras')
    loaded = hvd.load_model(tmp_path / 'checkpoint.keras')
    assert distributed.is_distributed(loaded.optimizer)
    assert type(loaded.optimizer).__name__ == 'SGD' and loaded.optimizer.iterations == 3
    for got, want in zip(loaded.optimizer.get_weights(), model.optimizer.get_weights()):
        np.testing.assert_array_equal(got, want)
    for m in (model, loaded):   # both go on alike: the momentum was restored
        m.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for got, want in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-6)


# --- real MPI ---------------------------------------------------------------------------------
MPIRUN_FLAGS = ['-np', '2', '--oversubscribe', '--allow-run-as-root', '-x', 'PYTHONPATH',
                '-x', 'DEEPZERO_THREADS']


def _launch(command, timeout=120):
    started = time.time()
    done = subprocess.run(command, env=_mpi_env(), cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)
    return done, done.stdout + done.stderr, time.time() - started


def test_data_parallel_fit_without_mpirun_is_a_world_of_one(mpi4py_works, tmp_path):
    done, out, _ = _launch([sys.executable, str(SCRIPTS / 'data_parallel_fit.py'), str(tmp_path)])
    assert done.returncode == 0 and done.stdout.split() == ['OK', '0', '1'], out


def test_data_parallel_fit_on_two_ranks(mpirun, tmp_path):
    done, out, _ = _launch([mpirun, *MPIRUN_FLAGS, sys.executable,
                            str(SCRIPTS / 'data_parallel_fit.py'), str(tmp_path)])
    assert done.returncode == 0, out
    # mpirun forwards the ranks' output as it comes: their lines may run together
    assert sorted(re.findall(r'OK (\d) 2', out)) == ['0', '1'], out


@pytest.mark.parametrize('fault', ['raise', 'kill'])
def test_a_failed_rank_ends_the_job_and_the_run_resumes_from_the_checkpoint(mpirun, tmp_path,
                                                                            fault):
    script = str(SCRIPTS / 'fault_and_resume.py')
    done, out, _ = _launch([mpirun, *MPIRUN_FLAGS, sys.executable, script, fault,
                            str(tmp_path)])
    ended = time.time()
    assert done.returncode != 0, out
    fault_time = float(re.search(r'FAULT (\d+\.\d+)', out).group(1))
    assert ended - fault_time < 20, f"the job took {ended - fault_time:.1f} s to end:\n{out}"
    if fault == 'raise':
        assert "RuntimeError: injected fault in epoch 2" in out, out
        assert "rank 1 of 2 failed (RuntimeError" in out, out
    else:
        assert re.search(r"process rank 1 .*exited on signal 9", out), out
    # the last checkpoint (epoch 1's) is whole and holds the weights rank 0 saved then
    saved = np.load(tmp_path / 'weights-1.npy')
    model = load_model(tmp_path / 'checkpoint.keras')
    np.testing.assert_array_equal(
        np.concatenate([w.reshape(-1) for w in model.get_weights()]), saved)
    assert not (tmp_path / 'weights-2.npy').exists()
    done, out, _ = _launch([mpirun, *MPIRUN_FLAGS, sys.executable, script, 'resume',
                            str(tmp_path)])
    assert done.returncode == 0, out
    assert sorted(re.findall(r'OK (\d) 2', out)) == ['0', '1'], out
