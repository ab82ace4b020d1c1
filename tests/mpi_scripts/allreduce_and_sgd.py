"""Run under ``mpirun -np N`` (or plain ``python``: a world of one) by
tests/test_distributed.py. Checks the collectives against what each rank can
compute alone, then that N ranks x batch 16 with DistributedOptimizer(SGD)
reach the weights of 1 rank x batch 16*N, and Horovod's callbacks:
BroadcastGlobalVariablesCallback equalises different initial weights as fit
starts, MetricAverageCallback puts the ranks' mean metrics in History. Prints 'OK <rank> <size>' at the
end; any failure aborts the whole world, so that no rank hangs in a
collective the failed one never reaches."""
import sys
import traceback

import numpy as np

import deepzero.distributed as engine
import deepzero.keras.distributed as hvd
from deepzero.callbacks import Callback
from deepzero.core import Parameter, Variable, runtime
from deepzero.layers import Dense, Input
from deepzero.models import Sequential
from deepzero.optimizers import SGD

BATCH = 16
STEPS = 4


def check_collectives(rank, size):
    mine = np.arange(6, dtype=np.float32).reshape(2, 3) + rank
    mean = hvd.allreduce(mine)
    assert mean.dtype == np.float32 and mean.shape == (2, 3), (mean.dtype, mean.shape)
    np.testing.assert_allclose(mean, np.arange(6).reshape(2, 3) + (size - 1) / 2)
    total = hvd.allreduce(np.int64(rank + 1), op=hvd.Sum)
    assert total == size * (size + 1) // 2 and total.dtype == np.int64, total
    assert total.shape == () and hvd.broadcast(np.float32(rank), 0).shape == (), total.shape
    assert hvd.allreduce(np.float32(rank), op=hvd.Max) == size - 1
    root = size - 1
    got = hvd.broadcast(np.full(4, rank, np.float32), root_rank=root)
    np.testing.assert_array_equal(got, np.full(4, root, np.float32))
    # ranks give 1, 2, ... rows: gathered in rank order
    gathered = hvd.allgather(np.full((rank + 1, 2), rank, np.float32))
    expected = np.concatenate([np.full((r + 1, 2), r, np.float32) for r in range(size)])
    np.testing.assert_array_equal(gathered, expected)
    assert gathered.dtype == np.float32
    # bucketed averaging of Parameters' gradients, in place
    params = [Parameter(np.zeros((3, 2), np.float32)), Parameter(np.zeros(5, np.float32))]
    for i, p in enumerate(params):
        p.grad = Variable(np.full(p.data.shape, 10 * i + rank, np.float32))
    engine.average_gradients(params)
    for i, p in enumerate(params):
        np.testing.assert_allclose(p.grad.data, 10 * i + (size - 1) / 2)
        assert p.grad.data.dtype == np.float32


def make_model():
    return Sequential([Input((8,)), Dense(16, activation='relu'), Dense(3)])


def check_sgd_matches_one_big_batch(rank, size):
    rng = np.random.default_rng(0)   # the same data on every rank
    x = rng.standard_normal((STEPS * BATCH * size, 8)).astype(np.float32)
    y = rng.standard_normal((STEPS * BATCH * size, 3)).astype(np.float32)

    runtime.set_random_seed(rank)    # different initial weights per rank...
    model = make_model()
    initial = [w.copy() for w in model.get_weights()]
    engine.broadcast_parameters(model.weights, root_rank=0)   # ...made equal
    for w in model.get_weights():
        np.testing.assert_array_equal(w, hvd.broadcast(w, root_rank=0))
        assert w.dtype == np.float32
    if rank == 0:
        for w, w0 in zip(model.get_weights(), initial):
            np.testing.assert_array_equal(w, w0)
    elif size > 1:
        assert any(not np.array_equal(w, w0) for w, w0 in zip(model.get_weights(), initial))
    start = model.get_weights()

    model.compile(optimizer=hvd.DistributedOptimizer(SGD(0.1, momentum=0.9)), loss='mse')
    # global step s takes rows [s*BATCH*size, (s+1)*BATCH*size); this rank its slice of them
    mine = lambda a: a.reshape(STEPS, size, BATCH, -1)[:, rank].reshape(STEPS * BATCH, -1)
    model.fit(mine(x), mine(y), batch_size=BATCH, epochs=1, shuffle=False, verbose=0)

    reference = make_model()
    reference.set_weights(start)
    reference.compile(optimizer=SGD(0.1, momentum=0.9), loss='mse')
    reference.fit(x, y, batch_size=BATCH * size, epochs=1, shuffle=False, verbose=0)
    for got, want in zip(model.get_weights(), reference.get_weights()):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert any(not np.allclose(w, w0) for w, w0 in zip(model.get_weights(), start)), \
        "training did not move the weights"


class RecordWeightsAndLogs(Callback):
    """The weights as the first batch starts, and each epoch's logs as this
    rank computed them (put before MetricAverageCallback)."""

    def __init__(self):
        super().__init__()
        self.first_weights, self.own_logs = None, []

    def on_train_batch_begin(self, batch, logs=None):
        if self.first_weights is None:
            self.first_weights = [w.copy() for w in self.model.get_weights()]

    def on_epoch_end(self, epoch, logs=None):
        self.own_logs.append(dict(logs))


def check_callbacks(rank, size):
    rng = np.random.default_rng(100 + rank)   # different data per rank: different losses
    x = rng.standard_normal((2 * BATCH, 8)).astype(np.float32)
    y = rng.standard_normal((2 * BATCH, 3)).astype(np.float32)
    runtime.set_random_seed(10 + rank)        # different initial weights per rank
    model = make_model()
    initial = [w.copy() for w in model.get_weights()]
    model.compile(optimizer=hvd.DistributedOptimizer(SGD(0.05, momentum=0.9)), loss='mse',
                  metrics=['mae'])
    record = RecordWeightsAndLogs()
    history = model.fit(x, y, batch_size=BATCH, epochs=2, shuffle=False, verbose=0,
                        validation_data=(x, y),
                        callbacks=[hvd.callbacks.BroadcastGlobalVariablesCallback(0), record,
                                   hvd.callbacks.MetricAverageCallback()])
    # fit started from rank 0's initial weights on every rank, and stayed equal
    root_initial = [hvd.broadcast(w, root_rank=0) for w in initial]
    if rank > 0:
        assert any(not np.array_equal(w, r) for w, r in zip(initial, root_initial)), \
            "the ranks drew the same initial weights: the test would prove nothing"
    for got, want in zip(record.first_weights, root_initial):
        np.testing.assert_array_equal(got, want)
    for w in model.get_weights() + [v.data for v in model.optimizer.variables]:
        np.testing.assert_array_equal(w, hvd.broadcast(w, root_rank=0))
    # History holds the mean over the ranks of what each rank computed
    assert set(history.history) == {'loss', 'mae', 'val_loss', 'val_mae'}, history.history
    for name, values in history.history.items():
        own = np.array([logs[name] for logs in record.own_logs], np.float64)
        everyone = hvd.allgather(own.reshape(1, -1))
        if size > 1:
            assert not np.allclose(everyone[0], everyone[1]), (name, everyone)
        np.testing.assert_allclose(values, everyone.mean(axis=0), rtol=1e-12)
        np.testing.assert_array_equal(values, hvd.broadcast(np.array(values), root_rank=0))


def main():
    hvd.init()
    rank, size = hvd.rank(), hvd.size()
    assert 0 <= hvd.local_rank() < hvd.local_size() <= size
    check_collectives(rank, size)
    check_sgd_matches_one_big_batch(rank, size)
    check_callbacks(rank, size)
    print(f'OK {rank} {size}', flush=True)


if __name__ == '__main__':
    try:
        main()
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
        if hvd.size() > 1:
            from mpi4py import MPI
            MPI.COMM_WORLD.Abort(1)
        sys.exit(1)
