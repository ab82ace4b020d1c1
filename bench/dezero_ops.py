"""Small ops: deepzero's DeZero face against the original DeZero, in one run.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \\
        python bench/dezero_ops.py --dezero PATH [--rounds 7] [--benchmarks ...] [--out dezero_ops]

PATH is the folder that holds DeZero's ``dezero`` package (the book's repository
root); without ``--dezero``, or where PATH has no ``dezero``, DeZero is skipped
with a message and deepzero runs alone. Both run in this process, the same
benchmark code written once against the DeZero API (``Variable``, ``F``, ``L``,
``Model``, ``optimizers``), on the same float64/float32 NumPy inputs.

The benchmarks are graphs of tiny arrays, where the time is the framework's
bookkeeping per op, not NumPy's arithmetic:

- ``chain_*``: a chain of 100 ops (add, mul, sin, or ``x @ W`` on a (1, 10)
  row with a (10, 10) W) on a scalar or a (1, 10) array, then ``backward()``;
  reported per op (forward and backward together).
- ``mlp_step``: one SGD step of ``MLP((10, 3))`` on a batch of 30 of 2-D points
  (the book's step 48, Spiral-sized), softmax cross entropy.
- ``rnn_step``: the book's step 59: 30 steps of ``L.RNN(100)`` and
  ``L.Linear(1)`` on one (1, 1) input each, mean squared error summed over them,
  ``backward()``, ``unchain_backward()`` and one Adam update.

Each round runs every benchmark on every framework, in rotated order; a sample is
the time of a fixed number of repetitions; the tables give medians over the rounds.
OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE slow NumPy's BLAS on this machine: unset
them in the command, as above (this script cannot: OpenBLAS reads them at load).
Results: bench/results/OUT.json and a Markdown table (stdout and OUT.md).
"""
import argparse
import importlib
import os
import pathlib
import statistics
import sys
import time

import numpy as np

from harness import int_at_least, names_from, rotated, write_results

CHAIN = 100   # ops in one chain


def load_frameworks(dezero_path):
    """{name: namespace of the DeZero API} for deepzero's face and, when found,
    DeZero itself."""
    frameworks = {}
    if dezero_path is None:
        print('DeZero skipped: no --dezero PATH given')
    elif not (pathlib.Path(dezero_path) / 'dezero' / '__init__.py').exists():
        print(f'DeZero skipped: {dezero_path} has no dezero package')
    else:
        sys.path.insert(0, str(dezero_path))
        frameworks['dezero'] = api('dezero')
    frameworks['deepzero'] = api('deepzero.dezero')
    return frameworks


def api(package):
    class Api:
        pass
    ns = Api()
    root = importlib.import_module(package)
    ns.Variable, ns.Model, ns.no_grad = root.Variable, root.Model, root.no_grad
    ns.F = importlib.import_module(package + '.functions')
    ns.L = importlib.import_module(package + '.layers')
    ns.models = importlib.import_module(package + '.models')
    ns.optimizers = importlib.import_module(package + '.optimizers')
    return ns


# --- benchmarks: each makes its state once and returns (run_once, ops per run) ---
def chain(op, shape):
    def make(dz):
        rng = np.random.default_rng(0)
        x = dz.Variable(rng.random(shape))
        W = dz.Variable(rng.random((10, 10)) * 0.1)
        step = {'add': lambda h: h + x, 'mul': lambda h: h * x,
                'sin': dz.F.sin, 'matmul': lambda h: dz.F.matmul(h, W)}[op]

        def run():
            x.cleargrad()
            W.cleargrad()
            h = x
            for _ in range(CHAIN):
                h = step(h)
            dz.F.sum(h).backward() if h.ndim else h.backward()
        return run, CHAIN
    return make


def mlp_step(dz):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((30, 2))
    t = rng.integers(0, 3, 30)
    model = dz.models.MLP((10, 3))
    optimizer = dz.optimizers.SGD(1.0).setup(model)

    def run():
        loss = dz.F.softmax_cross_entropy(model(x), t)
        model.cleargrads()
        loss.backward()
        optimizer.update()
    return run, None


def rnn_step(dz):
    class SimpleRNN(dz.Model):
        def __init__(self):
            super().__init__()
            self.rnn = dz.L.RNN(100)
            self.fc = dz.L.Linear(1)

        def __call__(self, x):
            return self.fc(self.rnn(x))

    np.random.seed(0)   # DeZero's layers draw their weights from NumPy's global state
    xs = np.sin(np.linspace(0, 2 * np.pi, 31))
    model = SimpleRNN()
    optimizer = dz.optimizers.Adam().setup(model)

    def run():
        model.rnn.reset_state()
        loss = 0
        for x, t in zip(xs[:-1], xs[1:]):
            loss += dz.F.mean_squared_error(model(x.reshape(1, 1)), np.array([[t]]))
        model.cleargrads()
        loss.backward()
        loss.unchain_backward()
        optimizer.update()
    return run, None


BENCHMARKS = {
    'chain_add_scalar': (chain('add', ()), 50),
    'chain_mul_scalar': (chain('mul', ()), 50),
    'chain_sin_scalar': (chain('sin', ()), 50),
    'chain_add_1x10': (chain('add', (1, 10)), 50),
    'chain_sin_1x10': (chain('sin', (1, 10)), 50),
    'chain_matmul_1x10': (chain('matmul', (1, 10)), 50),
    'mlp_step': (mlp_step, 300),
    'rnn_step': (rnn_step, 20),
}   # name: (maker, repetitions per sample)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--dezero', help="folder holding DeZero's dezero package")
    parser.add_argument('--rounds', type=int_at_least(1), default=7)
    parser.add_argument('--benchmarks', type=names_from(BENCHMARKS), default=list(BENCHMARKS))
    parser.add_argument('--out', default='dezero_ops',
                        help='results name: bench/results/OUT.json and OUT.md')
    args = parser.parse_args()
    unset = [k for k in ('OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE') if k in os.environ]
    if unset:
        print(f"warning: {', '.join(unset)} set; rerun with `env -u` as in the docstring")
    frameworks = load_frameworks(args.dezero)
    names = list(frameworks)
    runs = {(b, fw): BENCHMARKS[b][0](frameworks[fw]) for b in args.benchmarks for fw in names}
    for run, _ in runs.values():
        run()   # warm-up: lazily made weights, first allocations
    samples = {key: [] for key in runs}
    for r in range(args.rounds):
        for b in args.benchmarks:
            for fw in rotated(names, r):
                run, _ = runs[b, fw]
                reps = BENCHMARKS[b][1]
                start = time.perf_counter()
                for _ in range(reps):
                    run()
                samples[b, fw].append((time.perf_counter() - start) / reps)
        print(f'round {r + 1}/{args.rounds} done', file=sys.stderr)
    results = {'rounds': args.rounds, 'load_average': os.getloadavg(),
               'numpy': np.__version__, 'benchmarks': {}}
    for b in args.benchmarks:
        results['benchmarks'][b] = {
            fw: {'median_s': statistics.median(samples[b, fw]), 'samples_s': samples[b, fw],
                 'ops': runs[b, fw][1]} for fw in names}
    table = render(results, names)
    print(table)
    write_results(args.out, results, table)


def render(results, names):
    per = lambda row: (row['median_s'] / row['ops'] * 1e6, 'us/op') if row['ops'] \
        else (row['median_s'] * 1e3, 'ms/step')
    head = '| benchmark | unit | ' + ' | '.join(names) + \
        (' | deepzero / DeZero |' if 'dezero' in names else ' |')
    lines = [head, '|' + '---|' * (head.count('|') - 1)]
    for b, rows in results['benchmarks'].items():
        values = {fw: per(rows[fw]) for fw in names}
        unit = values[names[-1]][1]
        cells = [f'{values[fw][0]:.3g}' for fw in names]
        if 'dezero' in names:
            cells.append(f"{rows['deepzero']['median_s'] / rows['dezero']['median_s']:.2f}")
        lines.append(f'| {b} | {unit} | ' + ' | '.join(cells) + ' |')
    load = ', '.join(f'{v:.2f}' for v in results['load_average'])
    lines.append(f"\nMedians of {results['rounds']} rounds; load average at the end: {load}.")
    return '\n'.join(lines) + '\n'


if __name__ == '__main__':
    main()
