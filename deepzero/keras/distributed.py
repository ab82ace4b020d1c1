"""Horovod's Keras API over deepzero: ``import horovod.keras as hvd`` becomes
``import deepzero.keras.distributed as hvd``. Re-exports ``deepzero.distributed``."""
from ..distributed import (Average, Max, Min, Product, Sum, DistributedOptimizer, allgather,
                           allreduce, broadcast, callbacks, init, is_initialized, load_model,
                           local_rank, local_size, rank, size)

__all__ = ['init', 'is_initialized', 'size', 'rank', 'local_rank', 'local_size', 'allreduce',
           'broadcast', 'allgather', 'DistributedOptimizer', 'callbacks', 'Average', 'Sum', 'Min',
           'Max', 'Product', 'load_model']
