"""Turn what fit / evaluate / predict receive into batches, epoch by epoch.

Three kinds of input:

- **Arrays** (an ndarray, or a list of them for several inputs) with ``y``
  and ``sample_weight``: sliced into batches of ``batch_size`` (default 32),
  reshuffled each epoch when ``shuffle``; an epoch is ceil(N / batch_size)
  steps.
- **Streams**: anything with ``__next__`` -- Keras-style data iterators
  (``ImageDataGenerator.flow_from_directory``) and Python generators. They are
  treated as endless streams, as Keras 2 did: each step draws ``next(it)``.
  An epoch is ``steps_per_epoch`` draws, or ``len(it)`` draws (one pass)
  when not given, or -- for a plain generator without a length -- until it
  is exhausted. So ``steps_per_epoch=100`` over a 63-batch iterator runs 100
  steps, wrapping into the iterator's next (reshuffled) pass.
- **Sequences**: objects with ``__len__`` and ``__getitem__`` but no
  ``__next__`` (``keras.utils.Sequence`` / ``PyDataset`` style): an epoch
  reads ``it[0] .. it[len-1]``; after each full pass ``on_epoch_end()`` is
  called (if defined) and, when ``steps_per_epoch`` asks for more, reading
  goes on from index 0.
- **Datasets**: objects with ``__iter__`` and ``__len__`` but neither
  ``__next__`` nor ``__getitem__`` (``tf.data.Dataset`` style, e.g. what
  ``image_dataset_from_directory`` returns): each ``iter(x)`` is one pass of
  ``len(x)`` batches, and an epoch is one pass. With ``steps_per_epoch`` the
  passes run on as one stream (a new ``iter(x)`` when one ends), across
  epochs too.

Sharding (``shard=True``, for data-parallel training on MPI): arrays and
sequences give this rank its part of each global batch, as
``deepzero.distributed`` describes. Arrays: an epoch is
ceil(N / (batch_size * size())) steps; each global batch of
``batch_size * size()`` samples (in an order shuffled from a seed shared by
all ranks, when ``shuffle``) is split among the ranks. Sequences: step ``s``
of rank ``r`` reads item ``s * size() + r`` (wrapping to the start where the
last round runs past the end), so the sequence must give the same item for
the same index on every rank. Streams and datasets cannot be sharded here:
shard them where they are made (``flow_from_directory(..., shard=True)``,
``image_dataset_from_directory(..., shard=True)``).

A stream or sequence item is ``x``, ``(x,)``, ``(x, y)`` or
``(x, y, sample_weight)`` (a list counts as a tuple). float64 arrays become
float32, deepzero's float. ``class_weight`` turns into per-sample weights
(multiplying any given sample weights).
"""
import inspect
import math
import warnings

import numpy as np

from .. import distributed
from ..core import runtime

RAN_OUT_OF_DATA = ("Your input ran out of data; interrupting training. Make sure that your "
                   "dataset or generator can generate at least `steps_per_epoch * epochs` "
                   "batches.")


class EpochIterator:
    """Batches ``(x, y, sample_weight)`` for each epoch.

    Args:
        x, y, sample_weight: arrays, or ``x`` a stream / sequence (then ``y``
            and ``sample_weight`` must be None). Input with no samples raises
            ValueError (for a stream without a length, its first batch is
            drawn here to know, as Keras does).
        batch_size: for arrays only (default 32).
        steps_per_epoch: steps per epoch (None: one pass over the data).
        shuffle: reshuffle arrays each epoch.
        class_weight: dict class index -> weight.
        name: what error messages call the input ('x', 'validation_data').
        shard: give this rank its part of each epoch (arrays and sequences;
            see the module docstring). A collective when shuffling arrays:
            every rank builds its iterator at the same point.

    ``steps`` is the number of steps per epoch, None when unknown (a
    generator without a length and no ``steps_per_epoch``).
    ``exhausted`` becomes True when a stream stopped before an epoch's end.
    """

    def __init__(self, x, y=None, sample_weight=None, batch_size=None, steps_per_epoch=None,
                 shuffle=False, class_weight=None, name='x', shard=False):
        if steps_per_epoch is not None and (not isinstance(steps_per_epoch, int)
                                            or steps_per_epoch <= 0):
            raise ValueError(f"steps_per_epoch must be a positive integer, got "
                             f"{steps_per_epoch!r}")
        self.class_weight = class_weight
        self.exhausted = False
        shards, shard_index = distributed.shard_count_and_index(shard, name)
        if shard and (is_stream(x) or is_dataset(x)):
            raise ValueError(f"{name}: shard=True takes arrays or a Sequence; a data iterator, "
                             "generator or dataset is sharded where it is made "
                             "(flow(..., shard=True), flow_from_directory(..., shard=True), "
                             "image_dataset_from_directory(..., shard=True))")
        if is_batch_source(x):
            if y is not None or sample_weight is not None:
                raise ValueError("When x is a generator or a data iterator, y and "
                                 "sample_weight must come from it (got separate y/"
                                 "sample_weight arguments)")
            if is_stream(x):
                self._source = _StreamSource(x)
            elif is_sequence(x):
                self._source = (_ShardedSequenceSource(x, shards, shard_index) if shard
                                else _SequenceSource(x))
            else:
                self._source = _DatasetSource(x, steps_per_epoch is not None)
            empty = _no_batches(name, x)
        else:
            self._source = (
                _ShardedArraySource(x, y, sample_weight, batch_size or 32, shuffle, shards,
                                    shard_index) if shard
                else _ArraySource(x, y, sample_weight, batch_size or 32, shuffle))
            empty = f"{name} has 0 samples (shape {_shapes(x)})"
        if self._source.length == 0:
            raise ValueError(empty)
        self.steps = steps_per_epoch or self._source.length
        self._endless = steps_per_epoch is not None

    def __iter__(self):
        """One epoch: yields (step, (x, y, sample_weight))."""
        step = 0
        while self.steps is None or step < self.steps:
            try:
                x, y, sample_weight = self._source.next_batch(self._endless)
            except StopIteration:
                if self.steps is not None or step == 0:
                    self.exhausted = True
                    warnings.warn(RAN_OUT_OF_DATA, stacklevel=3)
                elif self.steps is None:
                    self.steps = step  # a finite generator: one pass is an epoch
                return
            if self.class_weight is not None:
                sample_weight = _apply_class_weight(y, sample_weight, self.class_weight)
            yield step, (x, y, sample_weight)
            step += 1
        self._source.end_of_epoch()


def _no_batches(name, x):
    """The error message for a stream or sequence ``x`` without batches."""
    if inspect.isgenerator(x):
        return (f"{name}: the generator has no batches (0 samples); a generator "
                "that was already consumed yields nothing")
    kind = 'data iterator' if is_stream(x) else 'dataset'
    return f"{name}: the {kind} has no batches (0 samples)"


def _shapes(x):
    return [np.shape(v) for v in x] if isinstance(x, (list, tuple)) else np.shape(x)


def is_stream(x):
    return hasattr(x, '__next__')


def is_sequence(x):
    return (hasattr(x, '__getitem__') and hasattr(x, '__len__')
            and not isinstance(x, (np.ndarray, list, tuple, dict)))


def is_dataset(x):
    return (hasattr(x, '__iter__') and hasattr(x, '__len__') and not is_stream(x)
            and not is_sequence(x) and not isinstance(x, (np.ndarray, list, tuple, dict, str)))


def is_batch_source(x):
    """Whether ``x`` brings its own batches (a stream, sequence or dataset)
    rather than being arrays to slice."""
    return is_stream(x) or is_sequence(x) or is_dataset(x)


def unpack_batch(data):
    """``x`` / ``(x,)`` / ``(x, y)`` / ``(x, y, sample_weight)`` -> (x, y, sw)."""
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if len(data) == 1:
        return data[0], None, None
    if len(data) == 2:
        return data[0], data[1], None
    if len(data) == 3:
        return data
    raise ValueError("Data is expected to be in format `x`, `(x,)`, `(x, y)`, or "
                     f"`(x, y, sample_weight)`, found a tuple of {len(data)} items")


def as_float32(a):
    """float64 arrays (and lists of arrays) -> float32; others unchanged."""
    if a is None:
        return None
    if isinstance(a, (list, tuple)):
        return [as_float32(v) for v in a]
    a = np.asarray(a)
    return a.astype(np.float32) if a.dtype == np.float64 else a


def num_samples(a):
    return len(a[0]) if isinstance(a, (list, tuple)) else len(a)


def take(a, index):
    if a is None:
        return None
    if isinstance(a, (list, tuple)):
        return [v[index] for v in a]
    return a[index]


def check_lengths(x, y, sample_weight):
    """Raise a clear error when the arrays disagree on the number of samples."""
    arrays = {'x': x, 'y': y, 'sample_weight': sample_weight}
    sizes = {}
    for name, a in arrays.items():
        if a is None:
            continue
        parts = a if isinstance(a, (list, tuple)) else [a]
        for i, part in enumerate(parts):
            label = name if len(parts) == 1 else f'{name}[{i}]'
            sizes[label] = len(part)
    if len(set(sizes.values())) > 1:
        raise ValueError("Data cardinality is ambiguous: make sure all arrays contain the "
                         "same number of samples. " +
                         ', '.join(f"'{k}' has {v} samples" for k, v in sizes.items()))


def split_validation(x, y, sample_weight, validation_split):
    """Keras: the LAST ``validation_split`` fraction of the arrays (before any
    shuffling) is held out: split at floor(N * (1 - validation_split))."""
    if not 0 < validation_split < 1:
        raise ValueError(f"validation_split must be in (0, 1), got {validation_split}")
    n = num_samples(x)
    split_at = int(math.floor(n * (1.0 - validation_split)))
    if split_at == 0 or split_at == n:
        raise ValueError(f"Training data contains {n} samples, which is not sufficient to "
                         f"split it into a validation and training set as specified by "
                         f"`validation_split={validation_split}`.")
    head, tail = slice(0, split_at), slice(split_at, n)
    return ((take(x, head), take(y, head), take(sample_weight, head)),
            (take(x, tail), take(y, tail), take(sample_weight, tail)))


def _apply_class_weight(y, sample_weight, class_weight):
    """Per-sample weights from class weights: the class of a sample is the
    argmax of a one-hot / probability row, else the rounded label."""
    if y is None:
        raise ValueError("class_weight needs targets y")
    labels = np.asarray(y)
    if labels.ndim > 1:
        labels = labels.argmax(axis=-1) if labels.shape[-1] > 1 else labels[..., 0]
    labels = np.round(labels).astype(np.int64).reshape(len(labels))
    try:
        weights = np.array([class_weight[int(c)] for c in labels], np.float32)
    except KeyError as e:
        raise ValueError(f"class_weight has no entry for class {e} (it has "
                         f"{sorted(class_weight)})") from None
    return weights if sample_weight is None else weights * np.asarray(sample_weight)


class _ArraySource:
    def __init__(self, x, y, sample_weight, batch_size, shuffle):
        check_lengths(x, y, sample_weight)
        self.x, self.y, self.sample_weight = x, y, sample_weight
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.n = num_samples(x)
        self.length = math.ceil(self.n / batch_size)
        self._start_pass()

    def _start_pass(self):
        self._order = runtime.generator('shuffle').permutation(self.n) if self.shuffle else None
        self._position = 0

    def next_batch(self, endless):
        if self._position >= self.n:
            if not endless:
                raise StopIteration
            self._start_pass()
        stop = min(self._position + self.batch_size, self.n)
        index = self._rows(self._position, stop)
        self._position = stop
        return (as_float32(take(self.x, index)), as_float32(take(self.y, index)),
                take(self.sample_weight, index))

    def _rows(self, start, stop):
        """The rows of this step, whose batch spans ``start:stop`` of the pass's order."""
        return slice(start, stop) if self._order is None else self._order[start:stop]

    def end_of_epoch(self):
        if self._position >= self.n or not self.shuffle:
            self._start_pass()


class _ShardedArraySource(_ArraySource):
    """This shard's part of each global batch of ``batch_size * shards``
    samples (``batch_size`` here is the global batch); the shuffled order of
    pass ``p`` comes from ``SeedSequence(seed, spawn_key=(p,))`` with a seed
    shared by all ranks."""

    def __init__(self, x, y, sample_weight, batch_size, shuffle, shards, index):
        self.shards, self.shard_index = shards, index
        self._pass = -1
        # drawn from the 'shuffle' stream as the unsharded source draws, then rank 0's
        self._seed = distributed.shared_seed(runtime.generator('shuffle')) if shuffle else None
        super().__init__(x, y, sample_weight, batch_size * shards, shuffle)

    def _start_pass(self):
        self._pass += 1
        self._order = (np.random.default_rng(np.random.SeedSequence(
            self._seed, spawn_key=(self._pass,))).permutation(self.n) if self.shuffle
            else np.arange(self.n))
        self._position = 0

    def _rows(self, start, stop):
        return distributed.shard_batch(self._order[start:stop], self.shards, self.shard_index)


class _StreamSource:
    def __init__(self, stream):
        self.stream = stream
        self.length = len(stream) if hasattr(stream, '__len__') else None
        self._drawn = []   # the first batch, drawn early to know that there is one
        if self.length is None:
            try:
                self._drawn.append(next(stream))
            except StopIteration:
                self.length = 0

    def next_batch(self, endless):
        item = self._drawn.pop() if self._drawn else next(self.stream)
        x, y, sample_weight = unpack_batch(item)
        return as_float32(x), as_float32(y), sample_weight

    def end_of_epoch(self):
        """A stream keeps its own position (Keras 2 generator semantics)."""


class _SequenceSource:
    def __init__(self, sequence):
        self.sequence = sequence
        self.length = len(sequence)
        self._index = 0

    def next_batch(self, endless):
        if self._index >= self.length:
            self._pass_done()
            if not endless:
                raise StopIteration
        x, y, sample_weight = unpack_batch(self.sequence[self._item(self._index)])
        self._index += 1
        return as_float32(x), as_float32(y), sample_weight

    def _item(self, step):
        """The index of the item that step ``step`` of a pass reads."""
        return step

    def _pass_done(self):
        if hasattr(self.sequence, 'on_epoch_end'):
            self.sequence.on_epoch_end()
        self._index = 0

    def end_of_epoch(self):
        if self._index >= self.length:
            self._pass_done()


class _ShardedSequenceSource(_SequenceSource):
    """Items ``shard, shard + shards, ...`` of ``sequence``: ceil(len / shards)
    steps a pass, the last round wrapping to the start for the shards that
    run past the end."""

    def __init__(self, sequence, shards, index):
        super().__init__(sequence)
        self.items = self.length
        self.shards, self.shard_index = shards, index
        self.length = math.ceil(self.items / shards)

    def _item(self, step):
        return (step * self.shards + self.shard_index) % self.items


class _DatasetSource:
    def __init__(self, dataset, continuous):
        self.dataset = dataset
        self.length = len(dataset)
        self._continuous = continuous  # steps_per_epoch given: passes run on as one stream
        self._iterator = None

    def next_batch(self, endless):
        if self._iterator is None:
            self._iterator = iter(self.dataset)
        try:
            item = next(self._iterator)
        except StopIteration:
            self._iterator = None
            if not endless:
                raise
            self._iterator = iter(self.dataset)
            item = next(self._iterator)
        x, y, sample_weight = unpack_batch(item)
        return as_float32(x), as_float32(y), sample_weight

    def end_of_epoch(self):
        if not self._continuous:
            self._iterator = None  # the next epoch is a new pass
