"""Synchronous data-parallel training on MPI (mpi4py over the system's MPI,
e.g. Open MPI), with Horovod's Keras API: ``import horovod.keras as hvd``
becomes ``import deepzero.keras.distributed as hvd``; run with
``mpirun -np N python train.py``.

The world: ``init()``, ``size()``, ``rank()``, ``local_rank()``,
``local_size()`` (the local ones count the processes that share this
machine's memory). Collectives on arrays: ``allreduce``, ``broadcast``,
``allgather``. For define-by-run loops, as ChainerMN's multi-node optimizer
did: ``average_gradients(params)`` and ``broadcast_parameters(params)``; for
``fit``: ``DistributedOptimizer(optimizer)`` and the callbacks of
``callbacks`` (``hvd.callbacks.BroadcastGlobalVariablesCallback(0)``,
``MetricAverageCallback()``, ``LearningRateWarmupCallback(initial_lr)``);
``load_model(path)`` to resume from a checkpoint with the optimizer's state.

Data: ``fit(..., shard=True)`` (arrays, Sequences) and the image iterators'
``flow(..., shard=True)``, ``flow_from_directory(..., shard=True)``, and
``image_dataset_from_directory(..., shard=True)`` give each rank its part of
every global batch (``shard_batch``); see "Data sharding" below. An argument, not automatic under mpirun: Horovod scripts shard (or
divide ``steps_per_epoch`` by ``size()``) themselves, and sharding them again
would lose data. ``fit`` with a DistributedOptimizer averages each epoch's
logs across the ranks by itself (unless a MetricAverageCallback does it, as
in Horovod), so that History, checkpoints and EarlyStopping decide alike on
every rank; in a world of several processes, only rank 0 draws the progress
bar and runs the callbacks that write (ModelCheckpoint, CSVLogger:
``Callback.rank_zero_only``).

Faults: in a world of several processes, ``init()`` installs an excepthook
that prints the uncaught exception with this rank's number and then aborts
the whole job (``MPI_Abort``), so the other ranks do not wait forever in a
collective the failed one never reaches; a rank killed by a signal makes
Open MPI's mpirun end the job and name it. (``sys.exit()`` on one rank is not
an exception there: that rank waits in MPI_Finalize for the others.)

Without mpirun, or without mpi4py, the world has one process and everything
works as in it (the collectives return copies of their input). mpi4py is
imported on first use, so deepzero imports without it. Any call initialises
the world when ``init()`` has not been called (Horovod asks for ``init()``
first; here it is optional).

Arrays: NumPy arrays (CuPy arrays go through the host), Variables (their
data), scalars and lists (read as ``core.as_array`` reads them: Python floats
as float32). Results keep the input's dtype: float32 stays float32.

Gradients travel in buckets (the ``allreduce_bucket_bytes`` setting) whose
non-blocking MPI allreduce starts while backward is still running:
``GradientReducer(params)``, passed to ``loss.backward(grad_ready=...)``, in
define-by-run loops; ``fit`` with a DistributedOptimizer does it by itself.
"""
import copy
import functools
import sys
import threading
import time
import types

import numpy as np

from .callbacks import Callback
from .core import Variable, as_array, cuda, runtime
from .saving.weights_io import set_optimizer_state

# Reduction operations, as Horovod names them (``hvd.Average``, ``hvd.Sum``, ...).
Average = 'average'
Sum = 'sum'
Min = 'min'
Max = 'max'
Product = 'product'
REDUCTIONS = (Average, Sum, Min, Max, Product)

class _World:
    """The processes of this run: ``comm`` is MPI's COMM_WORLD (None in a
    world of one process without mpi4py), ``local`` the processes of COMM_WORLD
    that share this machine's memory."""

    def __init__(self, comm):
        self.comm = comm
        if comm is None:
            self.size, self.rank, self.local_size, self.local_rank = 1, 0, 1, 0
            return
        from mpi4py import MPI
        local = comm.Split_type(MPI.COMM_TYPE_SHARED, key=comm.Get_rank())
        self.size, self.rank = comm.Get_size(), comm.Get_rank()
        self.local_size, self.local_rank = local.Get_size(), local.Get_rank()
        local.Free()


_world = None


def init(comm=None):
    """Join the world (idempotent). ``comm``: an mpi4py communicator to work
    in instead of COMM_WORLD. Without mpi4py the world has one process;
    RuntimeError, saying what to install, when mpi4py is there but finds no
    MPI library."""
    global _world
    if comm is None and _world is not None:
        return
    if comm is None:
        try:
            from mpi4py import MPI
        except ImportError:
            _world = _World(None)
            return
        except RuntimeError as error:   # mpi4py's wheels load the system's MPI library
            raise RuntimeError(
                "deepzero.distributed: mpi4py is installed but cannot load an MPI library; "
                "install Open MPI (on Debian: apt-get install openmpi-bin libopenmpi-dev) "
                f"or uninstall mpi4py. mpi4py said: {error}") from error
        comm = MPI.COMM_WORLD
    _world = _World(comm)
    if _world.size > 1:
        _abort_on_uncaught_exception()


def is_initialized():
    """Whether this process has joined the world (``init()`` or any call
    that initialises it); Horovod's ``hvd.is_initialized()``."""
    return _world is not None


def _abort_on_uncaught_exception():
    """Make an uncaught exception end the whole job: Python's traceback as
    usual, then a line naming this rank, then MPI_Abort on the world's
    communicator (Open MPI then stops every rank and mpirun exits non-zero).
    Without it the failed rank would wait in MPI_Finalize and the others in
    their next collective, for ever. Installed once, over any earlier hook."""
    previous = sys.excepthook
    if getattr(previous, 'aborts_mpi_job', False):
        return

    def abort_job(kind, value, traceback):
        previous(kind, value, traceback)
        world = _world
        sys.stderr.write(f"deepzero.distributed: rank {world.rank} of {world.size} failed "
                         f"({kind.__name__}: {value}); aborting the job with MPI_Abort\n")
        sys.stderr.flush()
        world.comm.Abort(1)

    abort_job.aborts_mpi_job = True
    sys.excepthook = abort_job


def is_rank_zero():
    """False only on a rank other than 0 of a world already joined; does not
    join it (a process that has not called ``init()``, or anything that
    joins, prints and writes as if alone). What prints and writes once per
    job asks this: the progress bar, the rank-0-only callbacks, the image
    loaders' "Found N images ..." lines."""
    return _world is None or _world.rank == 0


def _joined():
    if _world is None:
        init()
    return _world


def size():
    """Number of processes in the world (1 without mpirun)."""
    return _joined().size


def rank():
    """This process's rank in the world, 0 to ``size() - 1``."""
    return _joined().rank


def local_size():
    """Number of processes on this machine (sharing its memory)."""
    return _joined().local_size


def local_rank():
    """This process's rank among those on this machine, 0 to ``local_size() - 1``."""
    return _joined().local_rank


def _host_array(value, name):
    """``value`` as a C-contiguous NumPy array (a copy when it had to move or
    was not contiguous)."""
    if isinstance(value, Variable):
        value = value.data
    if value is None:
        raise ValueError(f"{name}: got None, expected an array")
    array = cuda.as_numpy(as_array(value))
    # not np.ascontiguousarray: it makes a 0-d array 1-d
    return array if array.flags.c_contiguous else array.copy(order='C')


def _like_input(result, value):
    """``result`` (NumPy) on the device of ``value``."""
    if isinstance(value, Variable):
        value = value.data
    return result if cuda.device_of(value) == 'cpu' else cuda.as_cupy(result)


def _check_op(op, dtype, name):
    if op not in REDUCTIONS:
        raise ValueError(f"{name}: op must be one of {REDUCTIONS}, got {op!r}")
    if op == Average and not np.issubdtype(dtype, np.inexact):
        raise ValueError(f"{name}: cannot average an array of dtype {dtype}; use op=Sum")


def _allreduce_in_place(array, op, name):
    """Reduce the C-contiguous NumPy ``array`` across the world, in place."""
    _check_op(op, array.dtype, name)
    world = _joined()
    if world.comm is None or world.size == 1:
        return
    from mpi4py import MPI
    world.comm.Allreduce(MPI.IN_PLACE, array, op=_mpi_op(op))
    if op == Average:
        array /= array.dtype.type(world.size)


def allreduce(value, average=None, name=None, op=None):
    """The reduction of ``value`` (an array of the same shape on every rank)
    across the world: by default, or with ``average=True``, the mean; with
    ``op`` one of Average, Sum, Min, Max, Product. Returns a new array of
    ``value``'s shape and dtype on ``value``'s device. ``name`` is Horovod's
    tensor name, unused (MPI matches calls by order)."""
    if average is not None and op is not None:
        raise ValueError("allreduce: give `average` or `op`, not both")
    if op is None:
        op = Sum if average is False else Average
    result = _host_array(value, 'allreduce').copy()
    _allreduce_in_place(result, op, 'allreduce')
    return _like_input(result, value)


def broadcast(value, root_rank=0, name=None):
    """``value`` of rank ``root_rank``, on every rank (each rank passes an array
    of the same shape and dtype). Returns a new array on ``value``'s device."""
    world = _joined()
    _check_root(root_rank, world, 'broadcast')
    result = _host_array(value, 'broadcast').copy()
    if world.comm is not None and world.size > 1:
        world.comm.Bcast(result, root=root_rank)
    return _like_input(result, value)


def allgather(value, name=None):
    """The arrays of all ranks concatenated along the first axis, in rank
    order; their first dimensions may differ, the other dimensions and the
    dtype may not. A 0-d array counts as shape (1,). Returns a new array."""
    world = _joined()
    array = _host_array(value, 'allgather')
    array = array.reshape(1) if array.ndim == 0 else array
    if world.comm is None or world.size == 1:
        return _like_input(array.copy(), value)
    shapes = world.comm.allgather((array.shape[1:], array.dtype.str, array.shape[0]))
    if len({(s, d) for s, d, _ in shapes}) > 1:
        raise ValueError("allgather: the ranks' arrays differ beyond the first dimension: "
                         + ", ".join(f"rank {r}: {(n,) + tuple(s)} {np.dtype(d)}"
                                     for r, (s, d, n) in enumerate(shapes)))
    counts = [n * int(np.prod(array.shape[1:], dtype=np.int64)) for _, _, n in shapes]
    result = np.empty((sum(n for _, _, n in shapes),) + array.shape[1:], array.dtype)
    world.comm.Allgatherv(array, [result, counts])
    return _like_input(result, value)


def _alone():
    """Whether there is nobody to reduce with: a world of one process, or one
    without a communicator."""
    world = _joined()
    return world.comm is None or world.size == 1


def _check_root(root_rank, world, name):
    if not 0 <= root_rank < world.size:
        raise ValueError(f"{name}: root_rank={root_rank} is not a rank of this world "
                         f"of size {world.size}")


def _mpi_op(op):
    from mpi4py import MPI
    return {Average: MPI.SUM, Sum: MPI.SUM, Min: MPI.MIN, Max: MPI.MAX, Product: MPI.PROD}[op]


def _buckets(specs, bucket_bytes):
    """Indices into ``specs`` (``(nbytes, dtype)`` pairs) grouped, in order,
    into lists of one dtype and at most ``bucket_bytes`` each (an entry larger
    than that is a bucket of its own)."""
    bucket, total = [], 0
    for i, (nbytes, dtype) in enumerate(specs):
        if bucket and (dtype != specs[bucket[0]][1] or total + nbytes > bucket_bytes):
            yield bucket
            bucket, total = [], 0
        bucket.append(i)
        total += nbytes
    if bucket:
        yield bucket


class _Buckets:
    """Reduces arrays of fixed shapes and dtypes (``specs``: ``(shape,
    dtype)`` per array, in bucket order) across the world with ``op``: packed
    into buckets of up to the ``allreduce_bucket_bytes`` setting, one
    non-blocking MPI Iallreduce per bucket, in the arrays' dtype (float32
    stays float32). Arrays come in one by one (``put(i, array)``) in any
    order; a bucket starts once all its arrays are in and every bucket before
    it has started (MPI needs all ranks to start their collectives in one
    order); ``finish()`` starts the rest and waits. Then it is ready for the
    next round, in the same buffers. ``discard()`` ends a round that failed
    part way (see GradientReducer.discard).

    MPI moves a non-blocking collective's data only while the process is
    inside MPI (an algorithm's rounds start one after another, each from an
    MPI call), so while buckets are in flight before ``finish``, a thread
    tests them every ``allreduce_progress_seconds`` (the runtime setting; the
    calls are serialised by a lock); it ends when every bucket started has
    completed (a later bucket starts it again), so a round left unfinished
    keeps no thread running.
    After ``finish``: ``wait_seconds``, how long it waited for them (the
    communication that nothing hid)."""

    def __init__(self, specs, op, name):
        from mpi4py import MPI
        self._mpi, self._op, self._name = MPI, op, name
        for _, dtype in specs:
            _check_op(op, np.dtype(dtype), name)
        world = _joined()
        self._comm, self._world_size = world.comm, world.size
        specs = [(tuple(shape), np.dtype(dtype)) for shape, dtype in specs]
        sizes = [int(np.prod(shape, dtype=np.int64)) for shape, _ in specs]
        layout = _buckets([(n * dtype.itemsize, dtype) for n, (_, dtype) in zip(sizes, specs)],
                          runtime.get('allreduce_bucket_bytes'))
        self._slots = [None] * len(specs)   # array i -> (bucket, offset, size, shape)
        self._members, self._buffers = [], []
        for b, indices in enumerate(layout):
            offset = 0
            for i in indices:
                self._slots[i] = (b, offset, sizes[i], specs[i][0])
                offset += sizes[i]
            self._members.append(indices)
            self._buffers.append(np.empty(offset, specs[indices[0]][1]))
        self.wait_seconds = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._progress = None
        # a second thread may call MPI only where MPI allows it (mpi4py asks for
        # MPI_THREAD_MULTIPLE unless told otherwise); else buckets move in finish
        self._threaded = MPI.Query_thread() >= MPI.THREAD_SERIALIZED
        self._new_round()

    @property
    def count(self):
        """The number of buckets."""
        return len(self._buffers)

    @property
    def started(self):
        """The buckets started so far in this round."""
        return len(self._requests)

    def _new_round(self):
        self._given = [False] * len(self._slots)
        self._missing = [len(m) for m in self._members]
        self._requests = []

    def given(self, i):
        return self._given[i]

    def put(self, i, array):
        """Copy ``array`` (array ``i``'s values, any device) into its bucket;
        start the buckets that are now complete."""
        if self._given[i]:
            raise RuntimeError(
                f"{self._name}: gradient {i} was handed over again before the previous "
                "backward pass's gradients were reduced: call wait() (or the optimizer's "
                "update) after each backward pass, and discard() where a step fails "
                "between backward and wait()")
        bucket, offset, size, shape = self._slots[i]
        array = cuda.as_numpy(array)
        if array.shape != shape:
            raise ValueError(f"{self._name}: array {i} has shape {array.shape}, expected "
                             f"{shape}")
        self._buffers[bucket][offset:offset + size] = array.reshape(-1)
        self._given[i] = True
        self._missing[bucket] -= 1
        self._start_complete()
        with self._lock:
            if self._threaded and self._requests and self._progress is None:
                self._stop.clear()
                self._progress = threading.Thread(
                    target=self._drive, args=(runtime.get('allreduce_progress_seconds'),),
                    daemon=True, name='deepzero-allreduce-progress')
                self._progress.start()

    def _start_complete(self):
        with self._lock:
            while len(self._requests) < self.count and \
                    self._missing[len(self._requests)] == 0:
                buffer = self._buffers[len(self._requests)]
                self._requests.append(self._comm.Iallreduce(self._mpi.IN_PLACE, buffer,
                                                            op=_mpi_op(self._op)))

    def _drive(self, seconds):
        """The progress thread: tests the buckets in flight every ``seconds``
        until all have completed or ``finish`` stops it."""
        while not self._stop.wait(seconds):
            with self._lock:
                if self._mpi.Request.Testall(self._requests):
                    self._progress = None
                    return

    def finish(self):
        """Start the buckets not started (arrays never put count as zeros), wait
        for all; returns the reduced arrays, in order, None for those never put.
        They are views of the buckets: valid until the next round's ``put``."""
        for bucket, members in enumerate(self._members):
            for i in members:
                if not self._given[i]:
                    _, offset, size, _ = self._slots[i]
                    self._buffers[bucket][offset:offset + size] = 0
            self._missing[bucket] = 0
        self._start_complete()
        begin = time.perf_counter()
        with self._lock:
            progress, self._progress = self._progress, None
        if progress is not None:
            self._stop.set()
            progress.join()
        self._mpi.Request.Waitall(self._requests)
        self.wait_seconds = time.perf_counter() - begin
        results = []
        for i, given in enumerate(self._given):
            if not given:
                results.append(None)
                continue
            bucket, offset, size, shape = self._slots[i]
            results.append(self._buffers[bucket][offset:offset + size].reshape(shape))
        if self._op == Average:
            for buffer in self._buffers:
                buffer /= buffer.dtype.type(self._world_size)
        self._new_round()
        return results

    def discard(self):
        """End this round without its results: as ``finish`` (the buckets not
        started start, with zeros for the arrays not put, and all are waited
        for), then drop them. Nothing when the round has not begun."""
        if self._requests or any(self._given):
            self.finish()


def allreduce_arrays(arrays, op=Average):
    """Reduce each array of the list ``arrays`` across the world; returns new
    arrays in the same order, shapes, dtypes and devices. The arrays travel
    packed in buckets of up to the ``allreduce_bucket_bytes`` setting, one MPI
    allreduce per bucket, each in its arrays' own dtype (float32 gradients
    reduce in float32). Every rank passes arrays of the same shapes and dtypes
    in the same order."""
    hosts = [_host_array(a, 'allreduce_arrays') for a in arrays]
    if _alone():
        for a in hosts:
            _check_op(op, a.dtype, 'allreduce_arrays')
        return [_like_input(a.copy(), original) for a, original in zip(hosts, arrays)]
    buckets = _Buckets([(a.shape, a.dtype) for a in hosts], op, 'allreduce_arrays')
    for i, a in enumerate(hosts):
        buckets.put(i, a)
    return [_like_input(r, a) for r, a in zip(buckets.finish(), arrays)]


class GradientReducer:
    """Reduces the gradients of ``params`` (a list of Parameters in the order
    the model made them, e.g. a model's ``trainable_weights``)
    across the world while backward runs, as PyTorch's DDP and Horovod do:
    pass it to ``loss.backward(grad_ready=reducer)``; each bucket of gradients
    (``allreduce_bucket_bytes``, last-made Parameters first, since backward
    reaches them first) starts its non-blocking MPI allreduce as soon as
    backward has completed all of its gradients, so that the communication
    overlaps the rest of backward. Then ``wait()``::

        params = model.trainable_weights
        reducer = distributed.GradientReducer(params)   # once
        for x, t in batches:
            loss = F.sparse_categorical_crossentropy(model(x), t)
            loss.backward(grad_ready=reducer)
            reducer.wait()          # each p.grad: the mean over the ranks
            optimizer.apply([p.grad for p in params], params)
            for p in params:
                p.cleargrad()

    ``op``: Average (default) or Sum. Each gradient is reduced in its
    Parameter's dtype (it is copied into a bucket of that dtype: a float32
    Parameter's gradient travels and comes back as float32). One backward
    pass per ``wait()``; every rank must give gradients to the same
    Parameters (one that has none on this rank counts as zeros in the others'
    reduction). In a world of one process it does nothing. ``buckets``: their
    number; ``started``: how many have started in this step; after
    ``wait()``: ``started_early`` (how many started while backward ran) and
    ``wait_seconds`` (how long ``wait`` waited: the communication backward
    did not hide).

    A step that fails between ``backward`` and ``wait()`` (an error, Ctrl-C)
    calls ``discard()`` in its error path (``fit`` does)::

        try:
            loss.backward(grad_ready=reducer)
            reducer.wait()
        except BaseException:
            reducer.discard()
            raise

    The buckets this rank has started are collectives that the other ranks
    start too, and MPI cannot cancel a collective, so ``discard()`` completes
    the step's reduction (the gradients not handed over count as zeros) and
    drops it: every rank then runs the same collectives whether its step
    failed or not, and the next step starts afresh. Where every rank fails
    alike (a bad batch, Ctrl-C) they all stay in step; an error on one rank
    alone ends the job when it reaches ``init()``'s excepthook (MPI_Abort).
    Without ``discard()`` the next backward's first gradient raises a
    RuntimeError saying so."""

    def __init__(self, params, op=Average):
        if op not in (Average, Sum):
            raise ValueError(f"GradientReducer: op must be Average or Sum, got {op!r}")
        self.params = list(params)
        self._order = self.params[::-1]
        self._position = {id(p): i for i, p in enumerate(self._order)}
        self.started_early = 0
        self._buckets = None if _alone() else _Buckets(
            [(p.data.shape, p.data.dtype) for p in self._order], op, 'GradientReducer')

    def __call__(self, leaf):
        """``Variable.backward``'s ``grad_ready``: take ``leaf``'s finished
        gradient (leaves that are not among the Parameters are ignored)."""
        i = self._position.get(id(leaf))
        if i is not None and self._buckets is not None:
            self._buckets.put(i, leaf.grad.data)

    def reduce(self, grads):
        """The reduced gradients, one per Parameter (``grads``: one per
        Parameter too, arrays, Variables or None for none; those backward has
        not handed over go now). Returns arrays on the gradients' devices, None
        where ``grads`` has None; host ones are valid until the next step's
        gradients come in (use them, or copy them, before)."""
        if len(grads) != len(self.params):
            raise ValueError(f"GradientReducer.reduce: {len(grads)} gradients for "
                             f"{len(self.params)} parameters")
        grads = [g.data if isinstance(g, Variable) else g for g in grads]
        if self._buckets is None:
            return list(grads)
        self.started_early = self._buckets.started
        for i, g in enumerate(grads[::-1]):
            if g is not None and not self._buckets.given(i):
                self._buckets.put(i, g)
        return [None if r is None else _like_input(r, g)
                for r, g in zip(self._buckets.finish()[::-1], grads)]

    def discard(self):
        """Drop this step's reduction after a failure between backward and
        ``wait()``: complete the buckets (a collective, see above) and forget
        the gradients handed over; the Parameters' ``grad`` are left as they
        are. Nothing when no gradient has been handed over in this step."""
        if self._buckets is not None:
            self._buckets.discard()

    def wait(self):
        """Wait for every bucket and give each Parameter that has a gradient
        its reduction, as a new ``grad`` Variable on the gradient's device."""
        if self._buckets is None:
            return
        reduced = self.reduce([p.grad for p in self.params])
        for p, r in zip(self.params, reduced):
            if r is not None:
                p.grad = Variable(r.copy(), requires_grad=False)

    @property
    def buckets(self):
        return 0 if self._buckets is None else self._buckets.count

    @property
    def started(self):
        """Buckets started so far in this step (before ``wait``)."""
        return 0 if self._buckets is None else self._buckets.started

    @property
    def wait_seconds(self):
        return 0.0 if self._buckets is None else self._buckets.wait_seconds


def average_gradients(params):
    """Replace each Parameter's ``.grad`` by its mean across the world
    (Parameters without a gradient are skipped; every rank must have
    gradients for the same Parameters). Call it between ``backward()`` and
    the optimizer's update in a define-by-run loop; it starts the whole
    reduction after backward. ``GradientReducer`` starts it during backward."""
    GradientReducer(params).wait()


def broadcast_parameters(params, root_rank=0):
    """Overwrite every Parameter's (or Variable's) data with rank
    ``root_rank``'s, in place: call it once after building the model so that
    all ranks start from the same weights."""
    world = _joined()
    _check_root(root_rank, world, 'broadcast_parameters')
    if world.comm is None or world.size == 1:
        return
    for p in params:
        p.data[...] = broadcast(p.data, root_rank)


class _DistributedApply:
    """Mixed into an optimizer's class by DistributedOptimizer: ``apply``
    (which ``apply_gradients`` and ``fit`` go through) reduces the gradients
    across the world first, with ``gradient_reducer`` (a GradientReducer over
    the variables it updates, made on the first step); ``fit`` passes that to
    backward (``gradient_ready_callback``), so the reduction overlaps it."""

    gradient_reducer = None

    def _reducer_for(self, variables):
        reducer = self.gradient_reducer
        if reducer is None or [id(v) for v in reducer.params] != [id(v) for v in variables]:
            reducer = self.gradient_reducer = GradientReducer(variables, self.distributed_op)
        return reducer

    def gradient_ready_callback(self, variables):
        return None if _alone() else self._reducer_for(list(variables))

    def apply(self, grads, variables=None):
        if _alone():
            return super().apply(grads, variables)
        if variables is None and self.built:
            variables = self._model_variables
        if variables is not None and len(variables) == len(grads):
            grads = self._reducer_for(list(variables)).reduce(list(grads))
        return super().apply(grads, variables)   # and its errors for bad arguments


@functools.lru_cache(maxsize=None)
def _distributed_class(base):
    """``base`` (an Optimizer class) with ``_DistributedApply`` mixed in, under
    ``base``'s names."""
    return type(base.__name__, (_DistributedApply, base),
                {'__module__': base.__module__, '__qualname__': base.__qualname__})


def DistributedOptimizer(optimizer, op=Average):
    """An optimizer like ``optimizer`` (an unbuilt deepzero Optimizer) whose
    updates first reduce the gradients across the world with ``op`` (Average:
    the gradient of the mean loss over all ranks' batches). The result is an
    instance of a subclass of ``optimizer``'s class with the same name, so
    ``compile``, saving and ``get_config`` see the original optimizer; use it
    in place of ``optimizer``, which is left untouched. Horovod's other
    arguments (compression, backward_passes_per_step, ...) are not taken."""
    if op not in (Average, Sum):
        raise ValueError(f"DistributedOptimizer: op must be Average or Sum, got {op!r}")
    if getattr(optimizer, 'built', None) is None or not hasattr(optimizer, 'apply'):
        raise TypeError("DistributedOptimizer: expected a deepzero Optimizer, got "
                        f"{type(optimizer).__name__}")
    if optimizer.built:
        raise ValueError(f"DistributedOptimizer: {optimizer.name} is already built (it has "
                         "updated variables); wrap the optimizer before training")
    distributed = copy.deepcopy(optimizer)
    distributed.__class__ = _distributed_class(type(optimizer))
    distributed.distributed_op = op
    return distributed


def load_model(filepath, custom_optimizers=None, custom_objects=None):
    """Horovod's ``hvd.load_model``: ``deepzero.models.load_model`` with the
    saved optimizer, state included (slots, iteration count), wrapped in a
    DistributedOptimizer, so that ``fit(..., initial_epoch=...)`` resumes a
    data-parallel run where its checkpoint left it. ``custom_optimizers``: a
    list of optimizer classes that are not deepzero's (merged into
    ``custom_objects``). Every rank may load the same file, or rank 0 alone
    with BroadcastGlobalVariablesCallback sharing its weights."""
    # deepzero.models (this level) registers the model classes that loading
    # looks up; imported here because it imports this module for fit
    from .models import load_model as load_saved_model
    custom_objects = dict(custom_objects or {})
    custom_objects.update({cls.__name__: cls for cls in custom_optimizers or []})
    model = load_saved_model(filepath, custom_objects=custom_objects)
    saved = getattr(model, 'optimizer', None)
    if saved is None:
        return model
    optimizer = DistributedOptimizer(type(saved).from_config(saved.get_config()))
    set_optimizer_state(optimizer, model.trainable_weights, saved.get_weights())
    model.optimizer = optimizer
    return model


def is_distributed(optimizer):
    """Whether ``optimizer`` came from ``DistributedOptimizer`` (its updates
    reduce the gradients across the world)."""
    return isinstance(optimizer, _DistributedApply)


def average_logs(logs, name='average_logs'):
    """Replace the values of ``logs`` (an epoch's loss and metrics: floats or
    NumPy scalars) by their means across the world, in place; each value
    keeps its type. A collective: every rank calls it with the same names
    (ValueError naming each rank's names otherwise; ``name`` says who asked)."""
    world = _joined()
    if not logs or world.comm is None or world.size == 1:
        return
    names = sorted(logs)
    every_ranks_names = world.comm.allgather(names)
    if any(other != names for other in every_ranks_names):
        raise ValueError(f"{name}: the ranks log different names: "
                         + "; ".join(f"rank {r}: {n}" for r, n in enumerate(every_ranks_names)))
    # one allreduce for all of them, in float64 so that the mean of
    # float64 logs loses nothing; each value then gets its own type back
    means = allreduce(np.array([float(logs[n]) for n in names], np.float64), op=Average)
    for log_name, mean in zip(names, means):
        value = logs[log_name]
        logs[log_name] = float(mean) if isinstance(value, float) else \
            np.asarray(value).dtype.type(mean)


# --- data sharding ---------------------------------------------------------------------------
# A sharded input is cut into global batches of ``batch_size * shards`` samples
# in an order that is the same on every rank (unshuffled, or shuffled from a
# seed that rank 0 drew and broadcast); each rank takes its part of every
# global batch. So the ranks' parts of an epoch are disjoint and together hold
# every sample once, every rank runs the same number of steps (no rank waits
# in an allreduce the others never start), and N ranks x batch B see the
# batches that 1 rank x batch N*B sees.
def shard_count_and_index(shard, name):
    """``(shards, index)`` for a ``shard`` argument: ``(size(), rank())``
    for True, ``(1, 0)`` for False. TypeError for anything else."""
    if shard is True:
        return size(), rank()
    if shard is False:
        return 1, 0
    raise TypeError(f"{name}: shard must be True or False, got {shard!r}")


def shard_batch(indices, shards, index):
    """Shard ``index``'s part of one global batch ``indices`` (1-D): the
    ``index``-th of ``shards`` contiguous parts whose lengths differ by at
    most one (a global batch of ``B * shards`` samples gives each shard
    ``B``). Where a short last global batch has fewer samples than shards, a
    shard whose part would be empty gets one sample of it again (as PyTorch's
    DistributedSampler pads), so that every rank trains on something."""
    part = np.array_split(indices, shards)[index]
    return part if len(part) else indices[index % len(indices):][:1]


def shared_seed(generator):
    """An int in [0, 2**63) that rank 0 draws from ``generator`` (a NumPy
    Generator), the same on every rank: the seed of a shuffle that every rank
    must draw alike. Every rank draws (so that their generators stay in step)
    and calls this at the same point: it is a broadcast."""
    return broadcast(np.array(generator.integers(2 ** 63), np.int64), 0).item()


# --- Horovod's Keras callbacks --------------------------------------------------------------
class BroadcastGlobalVariablesCallback(Callback):
    """Make every rank's model start from rank ``root_rank``'s: broadcasts
    the model's weights (trainable and not) at the start of ``fit``, and, as
    Horovod does, the model's weights and the optimizer's variables (slots,
    iteration count) once more after the first batch, when the optimizer has
    built them. Put it first in ``callbacks``."""

    def __init__(self, root_rank=0):
        super().__init__()
        self.root_rank = root_rank
        self.broadcast_done = False

    def _broadcast(self, variables):
        broadcast_parameters(variables, self.root_rank)

    def on_train_begin(self, logs=None):
        self._broadcast(self.model.weights)
        if self.model.optimizer is not None and self.model.optimizer.built:
            self._broadcast(self.model.optimizer.variables)

    def on_train_batch_end(self, batch, logs=None):
        if self.broadcast_done:
            return
        self._broadcast(self.model.weights)
        self._broadcast(self.model.optimizer.variables)
        self.broadcast_done = True


class MetricAverageCallback(Callback):
    """At each epoch's end, replace the epoch's logs (loss, metrics, their
    'val_' twins) by their means across the ranks, in place, so that the
    callbacks after it (History, which ``fit`` puts last; checkpoints) see
    the averaged values on every rank. Every rank must log the same names;
    ValueError naming each rank's names otherwise. Put it before the
    callbacks that read the logs. (``fit`` with a DistributedOptimizer
    averages the logs before any callback sees them when ``callbacks`` holds
    no MetricAverageCallback; with one, the averaging happens where it
    stands, as in Horovod.)"""

    def on_epoch_end(self, epoch, logs=None):
        average_logs(logs, 'MetricAverageCallback')


class LearningRateWarmupCallback(Callback):
    """Horovod's gradual warmup (Goyal et al., 2017): over the first
    ``warmup_epochs`` epochs the learning rate grows linearly, batch by batch,
    from ``initial_lr / size()`` to ``initial_lr``; at epoch ``e`` and batch
    ``b`` of ``steps_per_epoch`` it is::

        initial_lr / size() * (t * (size() - 1) / warmup_epochs + 1),
        t = e + (b + 1) / steps_per_epoch

    (so it reaches ``initial_lr`` on the last batch of the warmup). After the
    warmup the optimizer keeps ``initial_lr``. ``steps_per_epoch``: default,
    the steps ``fit`` runs per epoch. ``momentum_correction``: while a batch
    runs at a changed rate, an optimizer with ``momentum`` has it scaled by
    new_lr / old_lr (restored after the batch), as Horovod does.
    'learning_rate' is added to the epoch logs. ``verbose``: rank 0 prints
    when the warmup ends."""

    def __init__(self, initial_lr, warmup_epochs=5, momentum_correction=True,
                 steps_per_epoch=None, verbose=0):
        super().__init__()
        if initial_lr is None:
            raise ValueError("LearningRateWarmupCallback: initial_lr is required")
        if warmup_epochs <= 0:
            raise ValueError("LearningRateWarmupCallback: warmup_epochs must be positive, "
                             f"got {warmup_epochs}")
        self.initial_lr = float(initial_lr)
        self.warmup_epochs = warmup_epochs
        self.momentum_correction = momentum_correction
        self.steps_per_epoch = steps_per_epoch
        self.verbose = verbose
        self.current_epoch = None
        self.restore_momentum = None

    def learning_rate_at(self, epoch, batch):
        """The warmup's rate for batch ``batch`` (0-based) of epoch ``epoch``."""
        t = epoch + (batch + 1) / self.steps_per_epoch
        world_size = size()
        return self.initial_lr / world_size * (t * (world_size - 1) / self.warmup_epochs + 1)

    def on_train_begin(self, logs=None):
        if not self.steps_per_epoch:
            self.steps_per_epoch = (self.params or {}).get('steps')
        if not self.steps_per_epoch:
            raise ValueError("LearningRateWarmupCallback: fit does not know the number of "
                             "steps per epoch of this input; pass steps_per_epoch")

    def on_epoch_begin(self, epoch, logs=None):
        self.current_epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if self.current_epoch >= self.warmup_epochs:
            return
        optimizer = self.model.optimizer
        old_lr = optimizer.learning_rate
        new_lr = self.learning_rate_at(self.current_epoch, batch)
        optimizer.learning_rate = new_lr
        if self.momentum_correction and getattr(optimizer, 'momentum', None):
            # "Accurate, Large Minibatch SGD": scale the momentum with the rate's change
            self.restore_momentum = optimizer.momentum
            optimizer.momentum = self.restore_momentum * new_lr / old_lr

    def on_train_batch_end(self, batch, logs=None):
        if self.restore_momentum is not None:
            self.model.optimizer.momentum = self.restore_momentum
            self.restore_momentum = None

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs['learning_rate'] = self.model.optimizer.learning_rate
        if epoch == self.warmup_epochs - 1 and self.verbose > 0 and rank() == 0:
            print(f"\nEpoch {epoch + 1}: finished gradual learning rate warmup to "
                  f"{self.model.optimizer.learning_rate:g}.")


# ``hvd.callbacks.<Name>``, as in Horovod's Keras API.
callbacks = types.SimpleNamespace(
    BroadcastGlobalVariablesCallback=BroadcastGlobalVariablesCallback,
    MetricAverageCallback=MetricAverageCallback,
    LearningRateWarmupCallback=LearningRateWarmupCallback)
