"""Run under ``mpirun -np N`` (or plain ``python``: a world of one) by
tests/test_distributed.py. Gradients reduced while backward runs
(GradientReducer passed to ``backward(grad_ready=...)``, and
DistributedOptimizer in ``fit``) equal the mean of the ranks' own gradients
computed one after the other, and the reduction started after backward
(``average_gradients``, an optimizer without the backward hook) exactly;
buckets start before backward ends; a weight used by two layers is reduced
once, after both; ``allreduce_arrays`` reduces arrays of several dtypes in
buckets; a step that fails between backward and the reduction leaves no
progress thread running, says so at the next backward, and ``discard()`` (in
``fit``: by itself) lets the next step reduce right. Prints 'OK <rank> <size>' at the end; any failure aborts
the whole world, so that no rank hangs in a collective the failed one never
reaches."""
import functools
import sys
import threading
import time
import traceback

import numpy as np

import deepzero.distributed as engine
import deepzero.functions as F
import deepzero.keras.distributed as hvd
from deepzero.core import Function, Parameter, Variable, runtime
from deepzero.layers import Dense, Input
from deepzero.models import Sequential
from deepzero.optimizers import SGD

# 4 KiB buckets: the parameters below make three of them
BUCKET_BYTES = 4096


def progress_threads():
    return sum(t.name == 'deepzero-allreduce-progress' for t in threading.enumerate())


class Spy(Function):
    """The identity; its backward records how many of ``reducer``'s buckets
    have started when backward reaches it, and how many progress threads
    run."""

    def __init__(self, reducer, record):
        self.reducer, self.record = reducer, record

    def forward(self, x):
        return x

    def backward(self, gy):
        self.record.append((self.reducer.started, progress_threads()))
        return gy


def make_params():
    rng = np.random.default_rng(0)    # the same weights on every rank
    draw = lambda *shape: Parameter((rng.standard_normal(shape) * 0.3).astype(np.float32))
    w1, b1, shared, w3 = draw(8, 16), draw(16), draw(32, 32), draw(16, 4)
    return [w1, b1, shared, w3]


def loss_of(params, x, spy=None):
    w1, b1, shared, w3 = params
    h = F.tanh(x @ w1 + b1)                       # (n, 16)
    h = spy(h) if spy is not None else h
    h = F.reshape(h, (-1, 32))                    # rows paired: (n/2, 32)
    h = F.tanh(F.tanh(h @ shared) @ shared)       # shared: used by two layers
    return F.reshape(h, (-1, 16)) @ w3            # (n, 4)


def sequential_mean(arrays):
    """The ranks' arrays summed in rank order, divided by the world's size."""
    gathered = hvd.allgather(arrays[None])
    return functools.reduce(np.add, gathered) / np.float32(len(gathered))


def check_define_by_run(rank, size):
    params = make_params()
    rng = np.random.default_rng(100 + rank)       # different data per rank
    x = Variable(rng.standard_normal((12, 8)).astype(np.float32), requires_grad=False)
    (loss_of(params, x) ** 2).sum().backward()
    own = [p.grad.data.copy() for p in params]
    want = [sequential_mean(g) for g in own]
    if size > 1:
        assert not np.array_equal(own[0], want[0]), "the ranks' gradients are equal"

    for p in params:
        p.cleargrad()
    reducer = engine.GradientReducer(params)
    spied = []
    # the progress thread ends once its buckets have completed; testing them
    # only every 10 s keeps it alive until the Spy has looked (wait() stops it)
    with runtime.settings(allreduce_progress_seconds=10.0):
        (loss_of(params, x, Spy(reducer, spied)) ** 2).sum().backward(grad_ready=reducer)
    started_in_backward = reducer.started
    reducer.wait()
    for p, w, g in zip(params, want, own):
        assert p.grad.data.dtype == np.float32
        if size <= 2:   # a + b: one sum in any order; more ranks may sum in another
            np.testing.assert_array_equal(p.grad.data, w)
        else:
            np.testing.assert_allclose(p.grad.data, w, rtol=1e-6)
    if size > 1:
        # w3 | shared | b1, w1: the last-made first. When backward reached the
        # first layer, the buckets of w3 and of the shared weight (complete
        # only after both of its layers) had started; w1's had not
        assert reducer.buckets == 3, reducer.buckets
        assert spied == [(2, 1)], spied          # and a thread kept them moving
        assert progress_threads() == 0           # wait() stopped it
        assert started_in_backward == 3 and reducer.started_early == 3
    overlapped = [p.grad.data.copy() for p in params]

    # the same gradients, reduced after backward
    for p, g in zip(params, own):
        p.grad = Variable(g.copy(), requires_grad=False)
    engine.average_gradients(params)
    for p, o in zip(params, overlapped):
        np.testing.assert_array_equal(p.grad.data, o)


def check_allreduce_arrays(rank, size):
    """Arrays of several dtypes and sizes, in buckets of one dtype each."""
    rng = np.random.default_rng(300 + rank)
    arrays = [rng.standard_normal((3, 700)).astype(np.float32),   # a bucket of its own
              rng.standard_normal(5), np.arange(4) * (rank + 1),
              rng.standard_normal(2).astype(np.float32)]
    for op in (hvd.Sum, hvd.Max):
        got = engine.allreduce_arrays(arrays, op)
        for g, a in zip(got, arrays):
            assert g.dtype == a.dtype and g.shape == a.shape, (g.dtype, g.shape)
            gathered = hvd.allgather(a[None])
            want = functools.reduce(np.add if op == hvd.Sum else np.maximum, gathered)
            np.testing.assert_array_equal(g, want)


def wait_for_no_progress_thread():
    """The progress thread ends once the buckets it drives have completed."""
    deadline = time.monotonic() + 30
    while progress_threads() and time.monotonic() < deadline:
        time.sleep(0.001)
    assert progress_threads() == 0, "the progress thread still runs"


def check_failed_step(rank, size):
    """Every rank fails alike between backward and the reduction."""
    # the buckets themselves (also in a world of one): a round left after its
    # first bucket started
    arrays = [np.full(1100, rank + 1, np.float32), np.full(3, 10 * (rank + 1), np.float32)]
    buckets = engine._Buckets([(a.shape, a.dtype) for a in arrays], hvd.Sum, 'check')
    assert buckets.count == 2
    buckets.put(0, arrays[0])
    assert buckets.started == 1
    wait_for_no_progress_thread()
    try:
        buckets.put(0, arrays[0])
        raise AssertionError("a second put of one array in a round was taken")
    except RuntimeError as error:
        assert 'discard() where a step fails between backward and wait()' in str(error), error
    buckets.discard()
    for i, a in enumerate(arrays):
        buckets.put(i, a)
    total = size * (size + 1) // 2
    got = buckets.finish()
    np.testing.assert_array_equal(got[0], np.full(1100, total, np.float32))
    np.testing.assert_array_equal(got[1], np.full(3, 10 * total, np.float32))

    # define by run: the step after a failed one, with discard(), reduces right
    params = make_params()
    rng = np.random.default_rng(400 + rank)
    x = Variable(rng.standard_normal((12, 8)).astype(np.float32), requires_grad=False)
    (loss_of(params, x) ** 2).sum().backward()
    want = [sequential_mean(p.grad.data) for p in params]
    reducer = engine.GradientReducer(params)
    for p in params:
        p.cleargrad()
    try:
        (loss_of(params, x) ** 2).sum().backward(grad_ready=reducer)
        raise KeyError('fails before wait()')
    except KeyError:
        wait_for_no_progress_thread()
        reducer.discard()
    for p in params:
        p.cleargrad()
    (loss_of(params, x) ** 2).sum().backward(grad_ready=reducer)
    reducer.wait()
    for p, w in zip(params, want):
        np.testing.assert_array_equal(p.grad.data, w)

    # fit: an error after backward, before the update, leaves the next fit as
    # a fresh model's
    data = np.random.default_rng(500 + rank)
    x = data.standard_normal((32, 8)).astype(np.float32)
    y = data.standard_normal((32, 3)).astype(np.float32)
    models = []
    for fail_first in (True, False):
        model = make_model()
        optimizer = hvd.DistributedOptimizer(SGD(0.05))
        model.compile(optimizer=optimizer, loss='mse')
        if fail_first:
            def fail_once(weights):
                del optimizer.build          # the class's build from now on
                raise RuntimeError('fails between backward and the update')
            optimizer.build = fail_once
            try:
                model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
                raise AssertionError("the failing fit did not fail")
            except RuntimeError as error:
                assert 'fails between backward' in str(error), error
            wait_for_no_progress_thread()
        model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
        models.append(model)
    for a, b in zip(models[0].get_weights(), models[1].get_weights()):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, hvd.broadcast(a, root_rank=0))


def make_model():
    runtime.set_random_seed(0)
    return Sequential([Input((8,)), Dense(32, activation='tanh'), Dense(32, activation='tanh'),
                       Dense(3)])


def check_fit_overlapped_equals_reduced_after(rank, size):
    rng = np.random.default_rng(200 + rank)
    x = rng.standard_normal((64, 8)).astype(np.float32)
    y = rng.standard_normal((64, 3)).astype(np.float32)
    models = []
    for hook in (True, False):
        model = make_model()
        optimizer = hvd.DistributedOptimizer(SGD(0.05, momentum=0.9))
        if not hook:   # no grad_ready: apply starts the whole reduction after backward
            optimizer.gradient_ready_callback = lambda variables: None
        model.compile(optimizer=optimizer, loss='mse')
        model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
        models.append(model)
    overlapped, after = models
    for a, b in zip(overlapped.get_weights(), after.get_weights()):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, hvd.broadcast(a, root_rank=0))
    if size > 1:
        reducer = overlapped.optimizer.gradient_reducer
        assert reducer.buckets > 1 and reducer.started_early >= 1, \
            (reducer.buckets, reducer.started_early)
        assert after.optimizer.gradient_reducer.started_early == 0


def main():
    hvd.init()
    rank, size = hvd.rank(), hvd.size()
    runtime.configure(allreduce_bucket_bytes=BUCKET_BYTES)
    check_define_by_run(rank, size)
    check_fit_overlapped_equals_reduced_after(rank, size)
    check_allreduce_arrays(rank, size)
    check_failed_step(rank, size)
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
