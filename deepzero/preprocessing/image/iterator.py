"""``Iterator``: the batch stream behind ``flow``, ``flow_from_directory`` and
``flow_from_dataframe``, with deterministic seeding and background prefetch.

Contract (Keras's):
- ``len(it)`` is the number of batches in one pass, ``ceil(n / batch_size)``.
- ``next(it)`` never ends: it walks the batches of a pass in order (the last
  one is partial), then starts the next pass in a new order (when
  ``shuffle``). ``for batch in it`` is therefore endless.
- ``it[i]`` is batch ``i`` of the current pass; ``on_epoch_end()`` moves to the
  next pass (new order) and rewinds; ``reset()`` rewinds to the start of the
  current pass.

Determinism: batch ``i`` of pass ``e`` is a pure function of
``(seed, e, i)``: its sample order comes from ``SeedSequence(seed, (0, e))``
and its augmentation draws from ``SeedSequence(seed, (1, e, i))``. So a seeded
iterator yields the same batches on every run and with any number of workers,
and NumPy's global random state is never used. Without a seed, a seed is drawn
once from the runtime's 'images' stream (readable as ``it.seed_entropy``), so
``deepzero.utils.set_random_seed`` makes unseeded iterators repeatable too.

Sharding (``shard=True``, data-parallel training on MPI, see
``deepzero.distributed``): the iterator gives this rank its part of each
global batch of ``batch_size * size()`` samples, so the ranks' parts of a
pass are disjoint and together hold every sample once. ``len(it)`` is then
ceil(n / (batch_size * size())), the steps of one pass on each rank (what a
Horovod user passes as ``steps_per_epoch // size()``); ``n``, ``samples``
and the file lists still describe the whole data set. The seed of the order
is rank 0's (broadcast when the iterator is made, so every rank makes it at
the same point); augmentation draws also depend on the rank.

Prefetch: with ``workers >= 1``, ``next()`` keeps up to ``max_queue_size``
upcoming batches in flight in a thread pool (image decoding and OpenCV release
the GIL). ``it.stats`` counts batches served and the seconds ``next()`` spent
waiting for them, so a trainer can report its data-wait share. The threads stop
when the iterator is closed (``close()``, ``with``) or garbage collected.
A trainer that streams with ``next()`` (e.g. the book's ``steps_per_epoch=100``
at batch 32 over 2,000 images, which crosses pass boundaries) should not call
``on_epoch_end()``; one that indexes ``it[i]`` for ``i in range(len(it))``
calls ``on_epoch_end()`` after each pass.
"""
import collections
import concurrent.futures
import os
import threading
import time
import weakref

import numpy as np

from ... import distributed
from ...core import runtime
from .utils import save_img

_ORDER_STREAM, _AUGMENT_STREAM = 0, 1


def save_batch_images(batch_x, index_array, data_format, save_to_dir, save_prefix,
                      save_format, rng, hash_limit):
    """Write every image of a batch as ``{prefix}_{index}_{hash}.{format}`` (scaled to 0..255)."""
    for x, index in zip(batch_x, index_array):
        name = f'{save_prefix}_{index}_{rng.integers(hash_limit)}.{save_format}'
        save_img(os.path.join(save_to_dir, name), x, data_format=data_format, scale=True)


class PrefetchStats:
    """Batches served by ``next()`` and the seconds it spent waiting for them."""

    def __init__(self):
        self.batches = 0
        self.wait_seconds = 0.0

    def reset(self):
        self.batches = 0
        self.wait_seconds = 0.0

    def __repr__(self):
        return f'PrefetchStats(batches={self.batches}, wait_seconds={self.wait_seconds:.3f})'


def _produce_batch(iterator_ref, epoch, index):
    # Runs in a worker thread; holds the iterator only while working, so dropping
    # the iterator lets it be collected (which shuts the pool down).
    iterator = iterator_ref()
    if iterator is None:
        return None
    return iterator._batch(epoch, index)


def default_workers():
    """Prefetch threads of an iterator made without ``workers``: up to 4, within
    the ``threads`` setting (the budget the training step runs on too)."""
    return min(4, runtime.get('threads'))


def _shutdown(executor):
    executor.shutdown(wait=False, cancel_futures=True)


class Iterator:
    """Base class of the image iterators. Subclasses implement
    ``_get_batches_of_transformed_samples(index_array, rng)``.

    Args:
        n: number of samples (> 0).
        batch_size: samples per batch (the last batch of a pass may be smaller).
        shuffle: draw a new sample order for every pass.
        seed: None or a non-negative int (see the module docstring).
        workers: prefetch threads for ``next()``; 0 computes each batch in the
            calling thread. Default: ``default_workers()``, min(4, the
            ``threads`` setting).
        max_queue_size: batches kept in flight ahead of ``next()``.
        shard: give this rank its part of each pass (see the module
            docstring); False (default): every sample on every rank.
    """

    white_list_formats = ('png', 'jpg', 'jpeg', 'bmp', 'ppm', 'tif', 'tiff')

    def __init__(self, n, batch_size, shuffle, seed, workers=None, max_queue_size=10,
                 shard=False):
        if n <= 0:
            raise ValueError(f'{type(self).__name__}: there are no samples to iterate over')
        if batch_size < 1:
            raise ValueError(f'batch_size must be at least 1, got {batch_size}')
        if seed is not None and (not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f'seed must be None or a non-negative int, got {seed!r}')
        workers = default_workers() if workers is None else workers
        if workers < 0 or max_queue_size < 1:
            raise ValueError(f'workers must be >= 0 and max_queue_size >= 1, '
                             f'got {workers} and {max_queue_size}')
        self.n = n
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.seed_entropy = (int(seed) if seed is not None
                             else int(runtime.generator('images').integers(2 ** 63)))
        self.shards, self.shard_index = distributed.shard_count_and_index(
            shard, type(self).__name__)
        if shard:   # one order for all ranks: rank 0's seed
            self.seed_entropy = distributed.broadcast(np.int64(self.seed_entropy), 0).item()
        self.workers = workers
        self.max_queue_size = max_queue_size
        self.epoch = 0
        self.batch_index = 0
        self.total_batches_seen = 0
        self.stats = PrefetchStats()
        self.lock = threading.Lock()
        self._orders = {}
        self._orders_lock = threading.Lock()
        self._executor = None
        self._in_flight = collections.deque()  # (epoch, index, future), in stream order
        self._finalizer = None

    # ------------------------------------------------------------ contract
    @property
    def samples(self):
        """Number of samples (``n``)."""
        return self.n

    def __len__(self):
        rows = self.batch_size * self.shards
        return (self.n + rows - 1) // rows

    @property
    def index_array(self):
        """Sample order of the current pass."""
        return self._order(self.epoch)

    def __getitem__(self, idx):
        if not 0 <= idx < len(self):
            raise ValueError(f'Asked to retrieve element {idx}, but the Sequence has length '
                             f'{len(self)}')
        return self._batch(self.epoch, idx)

    def __iter__(self):
        return self

    def __next__(self):
        with self.lock:
            epoch, index = self.epoch, self.batch_index
            self._advance()
            future = self._future_for(epoch, index) if self.workers else None
        start = time.perf_counter()
        try:
            return future.result() if future is not None else self._batch(epoch, index)
        finally:
            self.stats.batches += 1
            self.stats.wait_seconds += time.perf_counter() - start

    def on_epoch_end(self):
        """Start the next pass: new sample order (if ``shuffle``), first batch."""
        with self.lock:
            self.epoch += 1
            self.batch_index = 0

    def reset(self):
        """Rewind to the first batch of the current pass (same order)."""
        with self.lock:
            self.batch_index = 0

    def close(self):
        """Stop the prefetch threads (pending batches are dropped). Idempotent;
        ``next()`` after ``close()`` computes batches in the calling thread."""
        if self._finalizer is not None:
            self._finalizer()
        self.workers = 0
        self._in_flight.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    # ------------------------------------------------------------ internals
    def _advance(self):
        self.total_batches_seen += 1
        self.batch_index += 1
        if self.batch_index >= len(self):
            self.epoch += 1
            self.batch_index = 0

    def _next_key(self, epoch, index):
        return (epoch, index + 1) if index + 1 < len(self) else (epoch + 1, 0)

    def _order(self, epoch):
        """Sample order of pass ``epoch`` (cached for the few passes in use)."""
        if not self.shuffle:
            return np.arange(self.n)
        with self._orders_lock:
            order = self._orders.get(epoch)
            if order is None:
                sequence = np.random.SeedSequence(self.seed_entropy,
                                                  spawn_key=(_ORDER_STREAM, epoch))
                order = np.random.default_rng(sequence).permutation(self.n)
                for old in [e for e in self._orders if e < epoch - 1]:
                    del self._orders[old]
                self._orders[epoch] = order
            return order

    def _batch(self, epoch, index):
        rows = self.batch_size * self.shards
        index_array = self._order(epoch)[index * rows:(index + 1) * rows]
        key = (_AUGMENT_STREAM, epoch, index)
        if self.shards > 1:   # the ranks' samples draw apart
            index_array = distributed.shard_batch(index_array, self.shards, self.shard_index)
            key += (self.shard_index,)
        sequence = np.random.SeedSequence(self.seed_entropy, spawn_key=key)
        return self._get_batches_of_transformed_samples(index_array,
                                                        np.random.default_rng(sequence))

    def _future_for(self, epoch, index):
        """The future of batch (epoch, index), keeping the queue topped up (lock held)."""
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                self.workers, thread_name_prefix='deepzero-prefetch')
            self._finalizer = weakref.finalize(self, _shutdown, self._executor)
        in_flight = self._in_flight
        # After reset(), on_epoch_end() or an it[i] detour, queued batches are stale.
        while in_flight and in_flight[0][:2] != (epoch, index):
            in_flight.popleft()[2].cancel()
        if not in_flight:
            in_flight.append((epoch, index, self._submit(epoch, index)))
        future = in_flight.popleft()[2]
        key = self._next_key(*in_flight[-1][:2]) if in_flight else self._next_key(epoch, index)
        while len(in_flight) < self.max_queue_size:
            in_flight.append(key + (self._submit(*key),))
            key = self._next_key(*key)
        return future

    def _submit(self, epoch, index):
        return self._executor.submit(_produce_batch, weakref.ref(self), epoch, index)

    def _get_batches_of_transformed_samples(self, index_array, rng):
        """Build the batch of samples ``index_array`` using ``rng`` for every random draw."""
        raise NotImplementedError
