"""Engine benchmark: deepzero against PyTorch (NCHW and channels_last), same run.

    python bench/run.py [--rounds 5] [--workloads W1_train,W1_infer,W2_vgg_fwd,W3_finetune]
                        [--out engine]

Each framework runs in its own long-lived worker process; rounds visit every
workload and every worker in rotated order, so slow drifts of this shared
machine hit all frameworks alike. Two conditions are run: "default" and
"keep" (glibc told to keep freed memory, which removes page faults; see
docs/performance.md). OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are removed from
the workers' environment (they slow NumPy's BLAS on this machine).
Results: bench/results/engine.json (``--out`` names another) and a Markdown
table on stdout and in bench/results/engine.md.
"""
import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent
KEEP = ('glibc.malloc.mmap_threshold=4294967296:'
        'glibc.malloc.trim_threshold=17179869184')
CONDITIONS = {'default': {}, 'keep': {'GLIBC_TUNABLES': KEEP}}
FRAMEWORKS = ['deepzero', 'torch', 'torch_channels_last']
CALLS = {'W1_train': 3, 'W1_infer': 3, 'W2_vgg_fwd': 1, 'W3_finetune': 1}
IMAGES = {'W1_train': 32, 'W1_infer': 32, 'W2_vgg_fwd': 20, 'W3_finetune': 20}
# FLOPs per call (2 per multiply-add), from the per-layer im2col GEMM shapes; the
# training step skips the first conv's input gradient (see docs/performance.md).
GFLOP = {'W1_train': 44.119, 'W1_infer': 15.110, 'W2_vgg_fwd': 264.620, 'W3_finetune': 303.092}


class Worker:
    def __init__(self, framework, extra_env):
        env = {k: v for k, v in os.environ.items()
               if k not in ('OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE')}
        env.update(extra_env)
        env['PYTHONPATH'] = os.pathsep.join([str(HERE), str(REPO), env.get('PYTHONPATH', '')])
        self.proc = subprocess.Popen([sys.executable, str(HERE / 'worker.py'), framework],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
                                     text=True)
        self.info = json.loads(self.proc.stdout.readline())

    def ask(self, request):
        self.proc.stdin.write(json.dumps(request) + '\n')
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


def quartiles(values):
    q = statistics.quantiles(values, n=4) if len(values) > 1 else values * 3
    return q[0], statistics.median(values), q[2]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--workloads', default=','.join(CALLS))
    parser.add_argument('--conditions', default=','.join(CONDITIONS))
    parser.add_argument('--frameworks', default=','.join(FRAMEWORKS))
    parser.add_argument('--out', default='engine',
                        help='results name: bench/results/OUT.json and OUT.md')
    args = parser.parse_args()
    workloads = args.workloads.split(',')
    frameworks = args.frameworks.split(',')
    print('OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset in the benchmark workers.')
    results = {'rounds': args.rounds, 'conditions': {}}
    for cond in args.conditions.split(','):
        workers = {fw: Worker(fw, CONDITIONS[cond]) for fw in frameworks}
        if cond == 'default' and 'deepzero' in workers:
            results['numpy_sgemm_gflops'] = workers['deepzero'].info['sgemm_gflops']
            results['workers'] = {fw: w.info for fw, w in workers.items()}
            print(json.dumps(results['workers']['deepzero']['blas']))
        samples = {(w, fw): [] for w in workloads for fw in frameworks}
        rss = {}
        for r in range(args.rounds):
            for name in workloads:
                order = frameworks[r % len(frameworks):] + frameworks[:r % len(frameworks)]
                for fw in order:
                    reply = workers[fw].ask({'workload': name, 'calls': CALLS[name]})
                    samples[name, fw] += reply['samples']
                    rss[fw] = reply['max_rss_mb']
            print(f'[{cond}] round {r + 1}/{args.rounds} done', file=sys.stderr)
        for w in workers.values():
            w.close()
        rows = {}
        for (name, fw), ss in samples.items():
            p25, med, p75 = quartiles([s['s'] for s in ss])
            rows.setdefault(name, {})[fw] = {
                'median_s': med, 'p25_s': p25, 'p75_s': p75,
                'faults_per_call': statistics.median(s['faults'] for s in ss),
                'cores_busy': statistics.median(s['cpu'] / s['s'] for s in ss),
                'max_rss_mb': rss[fw], 'samples_s': [s['s'] for s in ss]}
        results['conditions'][cond] = rows
    table = render(results, workloads, frameworks)
    print(table)
    (HERE / 'results').mkdir(exist_ok=True)
    _atomic_write(HERE / 'results' / f'{args.out}.json', json.dumps(results, indent=1))
    _atomic_write(HERE / 'results' / f'{args.out}.md', table)


def render(results, workloads, frameworks):
    rate = results.get('numpy_sgemm_gflops')
    lines = [f"NumPy sgemm 4096^2: {rate:.0f} GFLOP/s" if rate else '',
             '', '| condition | workload | framework | median s | p25..p75 | img/s | '
             'vs torch NCHW | x FLOP floor | faults/call | peak RSS MB |',
             '|---|---|---|---|---|---|---|---|---|---|']
    for cond, rows in results['conditions'].items():
        for name in workloads:
            base = rows[name].get('torch', {}).get('median_s')
            for fw in frameworks:
                r = rows[name][fw]
                ratio = f"{r['median_s'] / base:.2f}" if base else '-'
                floor = f"{r['median_s'] / (GFLOP[name] / rate):.1f}" if rate else '-'
                lines.append(f"| {cond} | {name} | {fw} | {r['median_s']:.3f} | "
                             f"{r['p25_s']:.3f}..{r['p75_s']:.3f} | "
                             f"{IMAGES[name] / r['median_s']:.1f} | {ratio} | {floor} | "
                             f"{r['faults_per_call']:.0f} | {r['max_rss_mb']:.0f} |")
    return '\n'.join(lines) + '\n'


def _atomic_write(path, text):
    tmp = path.with_suffix(path.suffix + '.tmp')
    tmp.write_text(text)
    os.replace(tmp, path)


if __name__ == '__main__':
    main()
