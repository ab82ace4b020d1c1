"""Run under ``mpirun -np N`` (or plain ``python``: a world of one) by
tests/test_distributed_fit.py, with a scratch folder as its argument (every
rank gets the same one). Checks data-parallel ``fit``:

- N ranks x batch 16 (``fit(..., shard=True)``, DistributedOptimizer) reach
  the weights of 1 rank x batch 16*N, with SGD and RMSprop, for the book's
  convnet without dropout (48x48 input: the smallest its four conv blocks
  take) and for a model with a frozen base; the ranks start from different
  weights that BroadcastGlobalVariablesCallback makes equal;
- the sharded inputs (arrays and a Sequence through fit's EpochIterator,
  ``flow``, ``flow_from_directory`` and ``image_dataset_from_directory`` on
  tiny images written here) give the ranks disjoint parts of each epoch that
  together hold every sample once, even where each rank drew another seed;
  only rank 0 prints the loaders' "Found N images ..." lines;
- BatchNormalization keeps per-rank moving statistics;
- only rank 0 draws the progress bar and writes checkpoints and CSV logs;
  every rank's History holds the ranks' mean metrics.

Prints 'OK <rank> <size>' at the end. A failure is an uncaught exception:
deepzero.distributed's excepthook prints it with the rank and aborts the job
(so the test also shows that no rank hangs when another fails)."""
import contextlib
import io
import math
import os
import sys

import numpy as np

import deepzero.distributed as engine
import deepzero.keras.distributed as hvd
from deepzero.callbacks import Callback, CSVLogger, ModelCheckpoint
from deepzero.core import runtime
from deepzero.layers import (BatchNormalization, Conv2D, Dense, Flatten, GlobalAveragePooling2D,
                             Input, MaxPooling2D)
from deepzero.models import Sequential
from deepzero.models.epoch_iterator import EpochIterator
from deepzero.optimizers import SGD, RMSprop
from deepzero.preprocessing.image import ImageDataGenerator, image_dataset_from_directory, save_img

BATCH = 16
STEPS = 3


def book_convnet():
    """The book's cats-vs-dogs convnet (chapter 5.2) without its Dropout."""
    return Sequential([
        Input((48, 48, 3)),
        Conv2D(32, (3, 3), activation='relu'), MaxPooling2D((2, 2)),
        Conv2D(64, (3, 3), activation='relu'), MaxPooling2D((2, 2)),
        Conv2D(128, (3, 3), activation='relu'), MaxPooling2D((2, 2)),
        Conv2D(128, (3, 3), activation='relu'), MaxPooling2D((2, 2)),
        Flatten(), Dense(512, activation='relu'), Dense(1, activation='sigmoid')])


def frozen_base_model():
    base = Sequential([Input((48, 48, 3)), Conv2D(8, (3, 3), activation='relu'),
                       BatchNormalization(), MaxPooling2D((2, 2)),
                       Conv2D(16, (3, 3), activation='relu'), GlobalAveragePooling2D()])
    base.trainable = False
    return Sequential([base, Dense(16, activation='relu'), Dense(1, activation='sigmoid')])


def same_on_every_rank(array):
    return np.array_equal(array, hvd.broadcast(array, root_rank=0))


def check_n_ranks_match_one_big_batch(rank, size):
    rng = np.random.default_rng(0)   # the same data on every rank
    x = rng.random((STEPS * BATCH * size, 48, 48, 3), np.float32)
    y = (rng.random((STEPS * BATCH * size, 1)) > 0.5).astype(np.float32)
    for make_model in (book_convnet, frozen_base_model):
        for make_optimizer in (lambda: SGD(0.05, momentum=0.9), lambda: RMSprop(1e-3)):
            runtime.set_random_seed(rank)   # different initial weights per rank
            model = make_model()
            initial = [w.copy() for w in model.get_weights()]
            root_initial = [hvd.broadcast(w, root_rank=0) for w in initial]
            if size > 1 and rank > 0:
                assert not all(np.array_equal(a, b) for a, b in zip(initial, root_initial))
            model.compile(optimizer=hvd.DistributedOptimizer(make_optimizer()),
                          loss='binary_crossentropy')
            model.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, shard=True, verbose=0,
                      callbacks=[hvd.callbacks.BroadcastGlobalVariablesCallback(0)])

            reference = make_model()
            reference.set_weights(root_initial)
            reference.compile(optimizer=make_optimizer(), loss='binary_crossentropy')
            reference.fit(x, y, batch_size=BATCH * size, epochs=1, shuffle=False, verbose=0)
            moved = False
            for got, want, start in zip(model.get_weights(), reference.get_weights(),
                                        root_initial):
                assert got.dtype == np.float32
                np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6,
                                           err_msg=make_model.__name__)
                moved |= not np.allclose(got, start)
            assert moved, f"{make_model.__name__}: training did not move the weights"


def epoch_ids(batches):
    """The sample ids of a list of id batches, gathered from every rank:
    (per-rank lists, all ids)."""
    mine = np.concatenate(batches).astype(np.int64)
    every = hvd.allgather(mine)
    counts = hvd.allgather(np.array([len(mine)]))
    return np.split(every, np.cumsum(counts)[:-1]), every


def assert_covers_once(batches, n, what):
    parts, every = epoch_ids(batches)
    np.testing.assert_array_equal(np.sort(every), np.arange(n), err_msg=what)
    assert sum(len(p) for p in parts) == n, what
    return every


class IdSequence:
    """A Sequence of ``n`` one-sample batches (x = its index)."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return np.array([[i]], np.float32), np.zeros((1, 1), np.float32)


def check_sharded_inputs_cover_each_epoch_once(rank, size, folder):
    # arrays, as fit cuts them (37 samples: the last global batch is partial)
    n = 37
    data = EpochIterator(np.arange(n, dtype=np.float32).reshape(n, 1), np.zeros((n, 1)),
                         batch_size=4, shuffle=True, shard=True)
    assert data.steps == math.ceil(n / (4 * size))
    orders = []
    for _ in range(2):
        batches = [xb[:, 0] for _, (xb, _, _) in data]
        assert len(batches) == data.steps
        orders.append(assert_covers_once(batches, n, 'arrays'))
    assert not np.array_equal(orders[0], orders[1]), "the shuffle did not change per epoch"

    # a Sequence (dataset-style input) of 6 one-sample batches
    data = EpochIterator(IdSequence(6), shard=True)
    if 6 % size == 0:
        assert_covers_once([xb[:, 0] for _, (xb, _, _) in data], 6, 'sequence')

    # ImageDataGenerator.flow: 2 passes through next(), as fit draws from it
    n = 23
    images = np.arange(n, dtype=np.float32).reshape(n, 1, 1, 1) * np.ones((1, 2, 2, 1))
    flow = ImageDataGenerator().flow(images, np.zeros(n), batch_size=3, shard=True, workers=0)
    assert flow.samples == n and len(flow) == math.ceil(n / (3 * size))
    for _ in range(2):
        assert_covers_once([next(flow)[0][:, 0, 0, 0] for _ in range(len(flow))], n, 'flow')

    # flow_from_directory on tiny grayscale images whose pixels hold their id
    n = 11
    root = os.path.join(folder, 'images')
    if rank == 0:
        for i in range(n):
            klass = os.path.join(root, 'ab'[i % 2])
            os.makedirs(klass, exist_ok=True)
            save_img(os.path.join(klass, f'{i:02d}.png'),
                     np.full((4, 4, 1), 20 * i, np.float32), scale=False)
    hvd.broadcast(np.int64(0), root_rank=0)   # the images exist before anyone reads
    printed = io.StringIO()
    runtime.set_random_seed(rank)   # each rank draws another seed: rank 0's is used
    with contextlib.redirect_stdout(printed):
        directory = ImageDataGenerator().flow_from_directory(
            root, target_size=(4, 4), color_mode='grayscale', class_mode='sparse',
            batch_size=2, shuffle=True, shard=True, workers=0)
        dataset = image_dataset_from_directory(root, image_size=(4, 4), color_mode='grayscale',
                                               batch_size=2, shard=True)
    assert printed.getvalue() == ('' if rank else 'Found 11 images belonging to 2 classes.\n'
                                  'Found 11 files belonging to 2 classes.\n'), printed.getvalue()
    assert len(directory) == len(dataset) == math.ceil(n / (2 * size))
    for _ in range(2):
        ids = [np.round(next(directory)[0][:, 0, 0, 0] / 20) for _ in range(len(directory))]
        assert_covers_once(ids, n, 'flow_from_directory')
        batches = list(dataset)
        ids = [np.round(x[:, 0, 0, 0] / 20) for x, _ in batches]
        labels = np.concatenate([y for _, y in batches])
        np.testing.assert_array_equal(labels, np.concatenate(ids) % 2)
        assert_covers_once(ids, n, 'image_dataset_from_directory')


def check_batch_norm_keeps_per_rank_statistics(rank, size):
    rng = np.random.default_rng(50 + rank)   # each rank its own data, shifted by its rank
    x = (rng.standard_normal((64, 6)) + 3 * rank).astype(np.float32)
    y = rng.standard_normal((64, 1)).astype(np.float32)
    runtime.set_random_seed(rank)
    batch_norm = BatchNormalization()
    model = Sequential([Input((6,)), Dense(8), batch_norm, Dense(1)])
    model.compile(optimizer=hvd.DistributedOptimizer(SGD(0.01)), loss='mse')
    history = model.fit(x, y, batch_size=16, epochs=2, verbose=0,
                        callbacks=[hvd.callbacks.BroadcastGlobalVariablesCallback(0)])
    assert all(np.isfinite(v) for v in history.history['loss'])
    for w in model.trainable_weights:
        assert same_on_every_rank(w.data), w.path
    moving = hvd.allgather(batch_norm.moving_mean.data.reshape(1, -1))
    if size > 1:
        assert not np.allclose(moving[0], moving[1]), "moving statistics were synchronised"
    assert np.all(np.isfinite(model.predict(x, verbose=0)))


class RecordOwnLoss(Callback):
    """This rank's own running loss at the end of each epoch's last batch."""

    def __init__(self):
        super().__init__()
        self.losses = []

    def on_train_batch_end(self, batch, logs=None):
        if batch == self.params['steps'] - 1:
            self.losses.append(float(logs['loss']))


def check_rank_zero_writes_and_history_is_averaged(rank, size, folder):
    rng = np.random.default_rng(100 + rank)   # different data per rank: different losses
    x = rng.standard_normal((32, 4)).astype(np.float32)
    y = rng.standard_normal((32, 2)).astype(np.float32)
    validation = (np.ones((8, 4), np.float32), np.zeros((8, 2), np.float32))
    runtime.set_random_seed(0)
    model = Sequential([Input((4,)), Dense(2)])
    model.compile(optimizer=hvd.DistributedOptimizer(SGD(0.05)), loss='mse', metrics=['mae'])
    checkpoint = os.path.join(folder, f'checkpoint-of-rank-{rank}.keras')
    csv_log = os.path.join(folder, f'log-of-rank-{rank}.csv')
    own = RecordOwnLoss()
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        history = model.fit(x, y, batch_size=8, epochs=2, verbose=2, validation_data=validation,
                            callbacks=[own, ModelCheckpoint(checkpoint), CSVLogger(csv_log)])
    wrote = (os.path.exists(checkpoint), os.path.exists(csv_log), 'Epoch 2/2' in printed.getvalue())
    assert wrote == ((True,) * 3 if rank == 0 else (False,) * 3), (rank, wrote, printed.getvalue())
    assert printed.getvalue() == '' or rank == 0
    everyone = hvd.allgather(np.array([own.losses]))
    if size > 1:
        assert not np.allclose(everyone[0], everyone[1])
    np.testing.assert_allclose(history.history['loss'], everyone.mean(axis=0), rtol=1e-6)
    for name, values in history.history.items():
        assert same_on_every_rank(np.array(values)), name
    if rank == 0:
        with open(csv_log) as f:
            rows = f.read().splitlines()
        assert len(rows) == 3 and rows[0].startswith('epoch,loss,mae,val_loss'), rows


def main():
    folder = sys.argv[1]
    hvd.init()
    rank, size = hvd.rank(), hvd.size()
    check_n_ranks_match_one_big_batch(rank, size)
    check_sharded_inputs_cover_each_epoch_once(rank, size, folder)
    check_batch_norm_keeps_per_rank_statistics(rank, size)
    check_rank_zero_writes_and_history_is_averaged(rank, size, folder)
    assert engine.is_initialized()
    print(f'OK {rank} {size}', flush=True)


if __name__ == '__main__':
    main()
