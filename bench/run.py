"""Engine benchmark: deepzero against Keras on TensorFlow and PyTorch, in one run.

    bash bench/setup_keras_tf.sh     # once: Keras/TF's environment, .venv-bench-tf/
    python bench/run.py [--rounds 5] [--workloads W1_train,W1_infer,W2_vgg_fwd,W3_finetune]
                        [--frameworks keras_tf,deepzero_keras,deepzero,torch,torch_channels_last]
                        [--conditions default,keep] [--worker-per-workload] [--out engine]

Frameworks: keras_tf (Keras 3 on TensorFlow, in .venv-bench-tf/'s Python) and
deepzero_keras (deepzero.keras) run the same Keras code (bench/workloads_keras.py);
deepzero runs the workloads with its engine ops (bench/workloads_deepzero.py);
torch and torch_channels_last run them in PyTorch (bench/workloads_torch.py).
Each framework runs in its own long-lived worker process (bench/worker.py); rounds
visit every workload and every worker in rotated order, so slow drifts of this
shared machine hit all frameworks alike. With --worker-per-workload, each workload
gets fresh workers of its own (its rounds run before the next workload's), so the
peak RSS column is that workload's alone; otherwise it is the worker's peak over all
the workloads it ran. Two conditions are run: "default" and "keep" (glibc told to
keep freed memory, which removes page faults; see docs/performance.md).
OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are removed from the workers' environment
(they slow NumPy's BLAS on this machine).
Results: bench/results/engine.json (``--out`` names another) and a Markdown
table on stdout and in bench/results/engine.md; times are compared to Keras/TF's,
then to PyTorch NCHW's, in the same run.
"""
import argparse
import json
import statistics
import subprocess
import sys

from harness import (HERE, environment, int_at_least, names_from, python_for, rotated,
                     write_results)

KEEP = ('glibc.malloc.mmap_threshold=4294967296:'
        'glibc.malloc.trim_threshold=17179869184')
CONDITIONS = {'default': {}, 'keep': {'GLIBC_TUNABLES': KEEP}}
FRAMEWORKS = ['keras_tf', 'deepzero_keras', 'deepzero', 'torch', 'torch_channels_last']
# The table's ratio columns, in this order: (framework, column title).
BASELINES = [('keras_tf', 'vs Keras/TF'), ('torch', 'vs torch NCHW')]
CALLS = {'W1_train': 3, 'W1_infer': 3, 'W2_vgg_fwd': 1, 'W3_finetune': 1}
IMAGES = {'W1_train': 32, 'W1_infer': 32, 'W2_vgg_fwd': 20, 'W3_finetune': 20}
# FLOPs per call (2 per multiply-add) of the direct convolutions, from the per-layer
# im2col GEMM shapes; the training step skips the first conv's input gradient (see
# docs/performance.md). A worker that multiplies less (Winograd) reports its own
# count as the step fact mults_gflop (bench/worker.py).
GFLOP = {'W1_train': 44.119, 'W1_infer': 15.110, 'W2_vgg_fwd': 264.620, 'W3_finetune': 303.092}


class Worker:
    def __init__(self, framework, extra_env):
        self.framework = framework
        self.proc = subprocess.Popen([python_for(framework), str(HERE / 'worker.py'), framework],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     env=environment(framework, extra_env), text=True)
        self.info = json.loads(self._reply())

    def ask(self, request):
        self.proc.stdin.write(json.dumps(request) + '\n')
        self.proc.stdin.flush()
        return json.loads(self._reply())

    def _reply(self):
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f'the {self.framework} worker exited with status '
                             f'{self.proc.wait()} (its error is above)')
        return line

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


def quartiles(values):
    q = statistics.quantiles(values, n=4) if len(values) > 1 else values * 3
    return q[0], statistics.median(values), q[2]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--rounds', type=int_at_least(1), default=5)
    parser.add_argument('--workloads', type=names_from(CALLS), default=list(CALLS))
    parser.add_argument('--conditions', type=names_from(CONDITIONS), default=list(CONDITIONS))
    parser.add_argument('--frameworks', type=names_from(FRAMEWORKS), default=FRAMEWORKS)
    parser.add_argument('--worker-per-workload', action='store_true',
                        help='fresh workers for each workload, so that peak RSS is per workload')
    parser.add_argument('--out', default='engine',
                        help='results name: bench/results/OUT.json and OUT.md')
    args = parser.parse_args()
    for fw in args.frameworks:
        python_for(fw)  # a missing environment stops the run here, in one line
    print('OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset in the benchmark workers.')
    groups = [[name] for name in args.workloads] if args.worker_per_workload else [args.workloads]
    results = {'rounds': args.rounds, 'worker_per_workload': args.worker_per_workload,
               'conditions': {}}
    for cond in args.conditions:
        rows = {}
        for group in groups:
            workers = {fw: Worker(fw, CONDITIONS[cond]) for fw in args.frameworks}
            if 'workers' not in results:
                results['workers'] = {fw: w.info for fw, w in workers.items()}
                rates = [w.info['sgemm_gflops'] for w in workers.values()]
                results['numpy_sgemm_gflops'] = next(filter(None, rates), None)
            rows.update(run_rounds(workers, group, args.rounds, cond))
            for w in workers.values():
                w.close()
        results['conditions'][cond] = rows
    table = render(results, args.workloads, args.frameworks)
    print(table)
    write_results(args.out, results, table)


def run_rounds(workers, workloads, rounds, cond):
    """Time ``workloads`` on every worker for ``rounds`` rounds; returns
    {workload: {framework: row}} with the medians and the workers' peak RSS."""
    frameworks = list(workers)
    samples = {(name, fw): [] for name in workloads for fw in frameworks}
    replies = {}
    for r in range(rounds):
        for name in workloads:
            for fw in rotated(frameworks, r):
                replies[name, fw] = workers[fw].ask({'workload': name, 'calls': CALLS[name]})
                samples[name, fw] += replies[name, fw]['samples']
        print(f'[{cond}] {",".join(workloads)}: round {r + 1}/{rounds} done', file=sys.stderr)
    # A worker's peak RSS is read after its last request, so that in one shared
    # worker every row shows the peak over all the workloads it ran.
    last = {fw: replies[workloads[-1], fw] for fw in frameworks}
    rows = {}
    for (name, fw), ss in samples.items():
        p25, med, p75 = quartiles([s['s'] for s in ss])
        rows.setdefault(name, {})[fw] = {
            'median_s': med, 'p25_s': p25, 'p75_s': p75,
            'faults_per_call': statistics.median(s['faults'] for s in ss),
            'cores_busy': statistics.median(s['cpu'] / s['s'] for s in ss),
            'max_rss_mb': last[fw]['max_rss_mb'],
            'facts': replies[name, fw]['facts'], 'samples_s': [s['s'] for s in ss]}
    return rows


def render(results, workloads, frameworks):
    """The Markdown table of ``results`` (as main() saves them)."""
    rate = results.get('numpy_sgemm_gflops')
    rss = ('peak RSS: of a worker that ran only that workload' if results['worker_per_workload']
           else 'peak RSS: of the worker, over all the workloads it ran')
    lines = [f'NumPy sgemm 4096^2: {rate:.0f} GFLOP/s' if rate else 'NumPy sgemm: not measured',
             '', 'direct-conv GFLOP/s: the direct convolutions\' FLOPs per second; mult GFLOP/s: '
             'the FLOPs of the multiplications the framework reports it did, per second '
             f'(- where it reports none); {rss}.',
             '', '| condition | workload | framework | median s | p25..p75 | img/s | '
             + ''.join(f'{title} | ' for _, title in BASELINES)
             + 'direct-conv GFLOP/s | mult GFLOP/s | faults/call | peak RSS MB |',
             '|---|---|---|---|---|---|' + '---|' * len(BASELINES) + '---|---|---|---|']
    for cond, rows in results['conditions'].items():
        for name in workloads:
            for fw in frameworks:
                r = rows[name][fw]
                ratios = ''
                for base, _ in BASELINES:
                    base_s = rows[name].get(base, {}).get('median_s')
                    ratios += f"{r['median_s'] / base_s:.2f} | " if base_s else '- | '
                mults_gflop = r['facts'].get('mults_gflop')
                mults = f"{mults_gflop / r['median_s']:.0f}" if mults_gflop else '-'
                lines.append(f"| {cond} | {name} | {fw} | {r['median_s']:.3f} | "
                             f"{r['p25_s']:.3f}..{r['p75_s']:.3f} | "
                             f"{IMAGES[name] / r['median_s']:.1f} | {ratios}"
                             f"{GFLOP[name] / r['median_s']:.0f} | {mults} | "
                             f"{r['faults_per_call']:.0f} | {r['max_rss_mb']:.0f} |")
    return '\n'.join(lines) + '\n'


if __name__ == '__main__':
    main()
