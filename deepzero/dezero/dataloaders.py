"""DeZero's mini-batch iterators (``dezero.dataloaders``).

``for x, t in DataLoader(dataset, batch_size):`` gives ``ceil(len / batch_size)``
batches (the last one partial), stacked from the dataset's samples as NumPy
arrays (CuPy with ``gpu=True``), then resets for the next epoch.
"""
import math

import numpy as np

from ..core import cuda

__all__ = ['DataLoader', 'SeqDataLoader']


class DataLoader:
    """Batches of ``dataset[i]`` pairs.

    Args:
        dataset: a Dataset (anything with ``len`` and ``[i] -> (x, t)``).
        batch_size: samples per batch.
        shuffle: a new order each epoch from NumPy's global generator
            (``np.random.permutation``, as DeZero), else dataset order.
        gpu: give CuPy arrays (``to_gpu()``/``to_cpu()`` switch later).
    """

    def __init__(self, dataset, batch_size, shuffle=True, gpu=False):
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size < 1:
            raise ValueError(f"{type(self).__name__}: batch_size must be a positive int, "
                             f"got {batch_size!r}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.data_size = len(dataset)
        self.max_iter = math.ceil(self.data_size / self.batch_size)
        self.gpu = False
        if gpu:
            self.to_gpu()
        self.reset()

    def reset(self):
        """Start an epoch: iteration 0 and, with shuffle, a new order."""
        self.iteration = 0
        if self.shuffle:
            self.index = np.random.permutation(self.data_size)
        else:
            self.index = np.arange(self.data_size)

    def __iter__(self):
        return self

    def __next__(self):
        if self.iteration >= self.max_iter:
            self.reset()
            raise StopIteration
        start = self.iteration * self.batch_size
        batch = self._batch(self.index[start:start + self.batch_size])
        self.iteration += 1
        return batch

    def next(self):
        return self.__next__()

    def _batch(self, indices):
        samples = [self.dataset[i] for i in indices]
        x = np.array([sample[0] for sample in samples])
        t = np.array([sample[1] for sample in samples])
        if self.gpu:
            return cuda.as_cupy(x), cuda.as_cupy(t)
        return x, t

    def to_cpu(self):
        self.gpu = False

    def to_gpu(self):
        """Give CuPy batches from now on (RuntimeError, saying why, where CuPy
        or a GPU is missing)."""
        cuda.require_gpu(f"{type(self).__name__}.to_gpu()")
        self.gpu = True


class SeqDataLoader(DataLoader):
    """Batches for truncated backprop through time: ``batch_size`` streams
    read the dataset in order from evenly spaced offsets (stream i at
    ``i * (len // batch_size) + iteration``, wrapping around), one step per
    batch, ``ceil(len / batch_size)`` steps per epoch."""

    def __init__(self, dataset, batch_size, gpu=False):
        super().__init__(dataset, batch_size, shuffle=False, gpu=gpu)

    def __next__(self):
        if self.iteration >= self.max_iter:
            self.reset()
            raise StopIteration
        jump = self.data_size // self.batch_size
        indices = [(i * jump + self.iteration) % self.data_size
                   for i in range(self.batch_size)]
        batch = self._batch(indices)
        self.iteration += 1
        return batch
