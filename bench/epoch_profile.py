"""Where an epoch of bench/epoch_time_5_2_5.py goes (deepzero).

    python bench/epoch_profile.py [--epochs 3] [--cprofile 25]

Runs the epoch benchmark itself (its model, data and ``fit`` call; ``--epochs``
replaces its epoch count) with timers around the parts of ``fit``, and prints,
per epoch, seconds of wall time in:

- ``train step``: ``Trainer._train_step``, split into forward (with the loss
  and metrics), ``backward`` and the optimizer's ``apply``;
- ``validation step``: ``Trainer._test_step``;
- ``wait train`` / ``wait val``: the training thread waiting in ``next()`` of
  the training / validation iterator for a batch the prefetch threads have not
  finished (the iterators' own ``stats``);
- ``other``: the rest of the epoch (callbacks, progress bar, the epoch
  iterator's Python, converting batches).

``batch CPU`` is the CPU time the prefetch threads spent producing the epoch's
batches (decoding, augmentation, the copy into the batch): time they took from
the cores the step runs on, overlapped with the step, not part of the sum.
With ``--cprofile N`` the last epoch also runs under cProfile (main thread
only) and its top N functions by own time are printed.
Run it with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset, as the other benchmarks.
"""
import argparse
import collections
import cProfile
import functools
import os
import pstats
import runpy
import sys
import time

sys.path[:0] = [os.path.join(os.path.dirname(__file__), '..')]

from deepzero.core import Variable  # noqa: E402
from deepzero.models.trainer import Trainer  # noqa: E402
from deepzero.optimizers import Optimizer  # noqa: E402
from deepzero.preprocessing.image.iterator import Iterator  # noqa: E402

BENCH = os.path.join(os.path.dirname(__file__), 'epoch_time_5_2_5.py')
TOTALS = collections.Counter()


def _timed(owner, name, key, clock=time.perf_counter):
    method = getattr(owner, name)

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        start = clock()
        try:
            return method(*args, **kwargs)
        finally:
            TOTALS[key] += clock() - start
    setattr(owner, name, wrapper)


def instrument():
    _timed(Trainer, '_train_step', 'train step')
    _timed(Variable, 'backward', '  backward')
    _timed(Optimizer, 'apply', '  optimizer apply')
    _timed(Trainer, '_test_step', 'validation step')
    # CPU seconds of the thread that builds the batch (a prefetch thread)
    _timed(Iterator, '_batch', 'batch CPU', clock=time.thread_time)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--epochs', type=int, default=3)
    parser.add_argument('--cprofile', type=int, default=0, metavar='N',
                        help='profile the last epoch, print the top N functions')
    args = parser.parse_args()
    instrument()
    iterators = []
    original_init = Iterator.__init__

    def remember(self, *a, **k):
        original_init(self, *a, **k)
        iterators.append(self)
    Iterator.__init__ = remember

    sys.argv[1:] = ['deepzero']  # the benchmark reads its framework from argv
    bench = runpy.run_path(BENCH, run_name='epoch_bench')
    timer_class = bench['EpochTimer']
    profiler = cProfile.Profile()

    class Report(timer_class):
        def on_epoch_begin(self, epoch, logs=None):
            TOTALS.clear()
            for it in iterators:
                it.stats.reset()
            if args.cprofile and epoch == args.epochs - 1:
                profiler.enable()
            super().on_epoch_begin(epoch, logs)

        def on_epoch_end(self, epoch, logs=None):
            wall = time.perf_counter() - self.start
            profiler.disable()
            train_it, val_it = iterators[-2:]
            parts = dict(TOTALS)
            parts['wait train'] = train_it.stats.wait_seconds
            parts['wait val'] = val_it.stats.wait_seconds
            parts['  forward, loss, metrics'] = (parts['train step'] - parts['  backward']
                                                 - parts['  optimizer apply'])
            accounted = sum(parts[k] for k in ('train step', 'validation step', 'wait train',
                                               'wait val'))
            parts['other'] = wall - accounted
            print(f'epoch {epoch + 1}: {wall:.2f} s')
            for key in ('train step', '  forward, loss, metrics', '  backward',
                        '  optimizer apply', 'validation step', 'wait train', 'wait val',
                        'other', 'batch CPU'):
                print(f'  {key:<26}{parts[key]:7.2f} s {100 * parts[key] / wall:5.1f} %')

    bench['main'].__globals__['EpochTimer'] = Report
    bench['main'](epochs=args.epochs)
    if args.cprofile:
        pstats.Stats(profiler).sort_stats('tottime').print_stats(args.cprofile)


if __name__ == '__main__':
    main()
