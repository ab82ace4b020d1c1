"""``DeviceFeeder``: moves the host batches that fit / evaluate / predict
draw onto the model's device, the next batch's copy overlapping the current
step.

On the CPU it is the identity: ``feed(batches)`` returns ``batches`` itself
and ``to_device`` returns its argument, so the CPU path does no extra work.

On the GPU each batch goes host array -> pinned (page-locked) host buffer ->
device array, the second copy asynchronous on a CUDA stream of its own. While
the model's steps run on the GPU (their kernels are queued on the current
stream and run behind the Python thread), the feeder draws the next batches
from their source (the image pipeline, a generator, array slices) and queues
their copies on the copy stream; the current stream waits for a batch's copy
(an event, not a host synchronisation) only where that batch's step begins.

The feeder runs one batch ahead: batch ``i + 2`` is drawn and its copy queued
right after step ``i`` is queued, before step ``i + 1`` is handed out. Each
copy first waits for the work queued before it (an event), because its device
array comes from CuPy's memory pool on the current stream, where Python may
have freed a block that queued kernels still read. So the copy of batch
``i + 2`` runs after step ``i`` and alongside step ``i + 1``, and drawing it
on the host (the image pipeline) overlaps the GPU's work too. (So on the GPU a
loop that stops early, ``stop_training``, has drawn one batch more from its
input than it trained on.)
"""
import itertools

import numpy as np

from ..core import cuda

# Pinned buffers per array position: batch i's buffer is written again for
# batch i + PINNED_RING, by which time its copy has long finished (checked
# with its event, never assumed).
PINNED_RING = 2


class DeviceFeeder:
    """Batches onto ``device`` ('cpu' or 'gpu').

    ``feed(batches)``: ``batches`` yields ``(step, (x, y, sample_weight))``
    of host arrays (an ``EpochIterator`` epoch); the result yields the same
    with every array on the device (None stays None, lists stay lists).
    ``to_device(data)``: one batch (an array, a list of them or None), now.
    """

    def __init__(self, device):
        if device not in ('cpu', 'gpu'):
            raise ValueError(f"DeviceFeeder: device must be 'cpu' or 'gpu', got {device!r}")
        self.device = device
        self._stream = None
        self._pinned = {}      # array position in a batch -> ring of _PinnedSlot
        self._turn = 0

    def feed(self, batches):
        if self.device == 'cpu':
            return batches
        return self._feed_ahead(iter(batches))

    def to_device(self, data):
        if self.device == 'cpu':
            return data
        return _map_arrays(cuda.as_cupy, data)

    # --- the GPU path -------------------------------------------------------------
    def _feed_ahead(self, batches):
        """Queue batch i + 1's copy before handing batch i to the step."""
        pending = None
        for step, batch in batches:
            queued = (step, *self._queue_copy(batch))
            if pending is not None:
                yield self._ready(*pending)
            pending = queued
        if pending is not None:
            yield self._ready(*pending)

    @staticmethod
    def _ready(step, batch, event):
        """Make the current stream wait for the batch's copy (the GPU waits,
        the host goes on) and hand the batch out."""
        if event is not None:
            cuda.cupy.cuda.get_current_stream().wait_event(event)
        return step, batch

    def _queue_copy(self, batch):
        """Start copying every host array of ``batch`` to the device on the
        copy stream; returns (the batch of device arrays, the copy's event or
        None when nothing was copied)."""
        cupy = cuda.cupy
        if self._stream is None:
            self._stream = cupy.cuda.Stream(non_blocking=True)
        self._stream.wait_event(cupy.cuda.get_current_stream().record())
        self._turn += 1
        positions = itertools.count()
        used_slots = []

        def copy(array):
            position = next(positions)
            if cuda.device_of(array) == 'gpu':
                return array
            host = np.ascontiguousarray(array)
            slot = self._pinned_slot(position, host)
            device = cupy.empty(host.shape, host.dtype)   # on the current stream's pool
            device.set(slot.array, stream=self._stream)
            used_slots.append(slot)
            return device

        moved = _map_arrays(copy, batch)
        if not used_slots:
            return moved, None
        event = self._stream.record()
        for slot in used_slots:
            slot.event = event
        return moved, event

    def _pinned_slot(self, position, host):
        """The ring slot for array ``position`` of this turn, its pinned
        buffer holding a copy of ``host``; the slot's previous copy must have
        finished before it is written (this bounds the host's lead over the
        GPU to PINNED_RING batches)."""
        ring = self._pinned.setdefault(position, [_PinnedSlot() for _ in range(PINNED_RING)])
        slot = ring[self._turn % PINNED_RING]
        slot.fill(host)
        return slot


class _PinnedSlot:
    """A page-locked host buffer (grown to the largest array it has held, so
    a smaller last batch reuses it), and the event of the last copy out of it."""

    def __init__(self):
        self.memory, self.capacity = None, 0
        self.event = None
        self.array = None

    def fill(self, host):
        if self.event is not None:
            self.event.synchronize()
        if host.nbytes > self.capacity:
            self.capacity = host.nbytes
            self.memory = cuda.cupy.cuda.alloc_pinned_memory(self.capacity)
        self.array = (np.frombuffer(self.memory, host.dtype, host.size).reshape(host.shape)
                      if host.size else np.empty(host.shape, host.dtype))
        np.copyto(self.array, host)


def _map_arrays(move, data):
    """``data`` with ``move`` applied to each array (None kept; lists and
    tuples as lists, their structure kept)."""
    if data is None:
        return None
    if isinstance(data, (list, tuple)):
        return [_map_arrays(move, item) for item in data]
    return move(data)
