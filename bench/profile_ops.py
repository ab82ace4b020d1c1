"""Where the time goes: per-op time of one W1 training step (and a W2 forward).

    python bench/profile_ops.py [--steps 5] [--workload W1_train]

Wraps every Function subclass's ``forward`` and ``backward`` with a timer that
subtracts nested op calls (a backward that calls other ops is charged only its
own time), runs a few steps after a warm-up, and prints seconds per step by
op. Run it with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset, as bench/run.py does.
"""
import argparse
import collections
import functools
import os
import sys
import time

sys.path[:0] = [os.path.dirname(__file__), os.path.join(os.path.dirname(__file__), '..')]

from deepzero.core import Function  # noqa: E402

TOTALS = collections.Counter()
_stack = []


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _timed(name, method):
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        _stack.append(0.0)
        start = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            elapsed = time.perf_counter() - start
            nested = _stack.pop()
            TOTALS[name] += elapsed - nested
            if _stack:
                _stack[-1] += elapsed
    return wrapper


def instrument():
    import deepzero.functions  # noqa: F401  (registers every op class)
    for cls in set(_subclasses(Function)):
        for kind in ('forward', 'backward'):
            if kind in cls.__dict__:
                setattr(cls, kind, _timed(f'{cls.__name__}.{kind}', cls.__dict__[kind]))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--steps', type=int, default=5)
    parser.add_argument('--workload', default='W1_train')
    args = parser.parse_args()
    instrument()
    from workloads_deepzero import WORKLOADS
    step = WORKLOADS[args.workload][0]()
    step()
    step()
    TOTALS.clear()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    wall = (time.perf_counter() - start) / args.steps
    print(f'{args.workload}: {wall:.3f} s per step (OPENBLAS_CORETYPE='
          f"{os.environ.get('OPENBLAS_CORETYPE', 'unset')})")
    print(f"{'op':40s} {'s/step':>8s} {'share':>6s}")
    ops_total = 0.0
    for name, total in TOTALS.most_common():
        per = total / args.steps
        ops_total += per
        print(f'{name:40s} {per:8.4f} {per / wall:6.1%}')
    print(f"{'(outside ops: engine, optimizer, Python)':40s} {wall - ops_total:8.4f} "
          f'{(wall - ops_total) / wall:6.1%}')


if __name__ == '__main__':
    main()
