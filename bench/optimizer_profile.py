"""One optimizer update of the book convnet's weights (W1), per call.

    python bench/optimizer_profile.py [--optimizers RMSprop,Adam,SGD] [--repeats 60]

Applies the same float32 gradients to W1's 12 weights (3.5 M values, 3.2 M
of them the 6272x512 dense kernel) with ``optimizer.apply`` and prints the
median and quartiles in ms. The ``threads`` setting (DEEPZERO_THREADS)
decides how many threads the update splits over.
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path[:0] = [os.path.join(os.path.dirname(__file__), '..')]

from deepzero import optimizers, runtime  # noqa: E402
from deepzero.core import Parameter  # noqa: E402

W1_SHAPES = [(3, 3, 3, 32), (32,), (3, 3, 32, 64), (64,), (3, 3, 64, 128), (128,),
             (3, 3, 128, 128), (128,), (6272, 512), (512,), (512, 1), (1,)]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--optimizers', default='RMSprop,Adam,SGD')
    parser.add_argument('--repeats', type=int, default=60)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(s).astype(np.float32) * 0.01 for s in W1_SHAPES]
    print(f"threads: {runtime.get('threads')}")
    for name in args.optimizers.split(','):
        params = [Parameter(rng.standard_normal(s).astype(np.float32) * 0.01, name=f'w{i}')
                  for i, s in enumerate(W1_SHAPES)]
        optimizer = getattr(optimizers, name)(learning_rate=1e-4)
        optimizer.apply(grads, params)
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            optimizer.apply(grads, params)
            times.append(1000 * (time.perf_counter() - start))
        p25, p50, p75 = np.percentile(times, [25, 50, 75])
        print(f'{name:<8} median {p50:6.2f} ms  ({p25:.2f}..{p75:.2f})')


if __name__ == '__main__':
    main()
