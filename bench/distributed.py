"""Data-parallel training on MPI (deepzero.distributed): measured on this
machine, then projected to clusters by the ring-allreduce cost model.

    python bench/distributed.py [--rounds 5] [--out distributed]   # measure (runs mpirun)
    python bench/distributed.py --project [--out distributed]      # project, from OUT.json

Measuring (Open MPI's mpirun, ranks not bound to cores since the machine is
shared; OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset in the ranks'
environment, as in every benchmark here):

- allreduce: W1's and W3's gradients (their trainable Parameters' shapes,
  float32) in the buckets of the default ``allreduce_bucket_bytes``, reduced
  between 2 ranks by MPI (one Iallreduce per bucket), and a 4-byte allreduce
  (the latency); time, algorithm bandwidth n/t and bus bandwidth
  2(p-1)/p * n/t (the bytes each rank sends, per second); and the time of
  GradientReducer.reduce on them, which adds the copies into and out of the
  buckets.
- W1's training step (the book's convnet, global batch 32, RMSprop) at
  ``-np 1`` (batch 32, 2 threads) and ``-np 2`` (batch 16 per rank, 1 thread
  each; gradients averaged by GradientReducer while backward runs) with
  25 MiB buckets (the default: W1's 13.8 MB make one) and 4 MiB ones. Per
  step: forward, backward, the wait for the reduction after backward, the
  update. The rank that ends backward last waits only for the communication
  that backward did not hide (exposed); the other waits for it as well
  (imbalance: the difference of the two waits). The same buckets' MPI
  allreduce timed alone (``allreduce_alone_s``; the gradients' copies into
  the buckets happen during backward) gives the overlap, 1 - exposed /
  alone; the communication share is exposed / step.
- W3's training step (VGG16 fine-tuning, batch 20) at ``-np 1`` (2 threads):
  its compute time and when backward completes each gradient.

Each measurement is the median of ``--rounds`` steps after one warm-up step.
bench/results/OUT.json holds it all, OUT.md the tables (with the machine's
load average: it is shared with other work).

Projecting (``--project``, nothing is timed): for p nodes, each running one
rank with a per-node batch b whose compute time is the measured one scaled
linearly with b, the buckets (the same layout as here) become ready when the
measured hand-over times say; each bucket's ring allreduce takes
2(p-1)/p * n/B + 2(p-1) * alpha and they run one after another on the link
as they become ready; the step ends when the last one and the backward pass
have ended (exposed communication: what is left after backward). Efficiency =
compute / step. Printed for 8, 32 and 64 nodes on 25 and 100 Gb/s networks,
with the smallest per-node batch that keeps 90% efficiency, for a node as fast
as this machine and one 100 times faster (a GPU). Results:
bench/results/OUT_projection.json and .md.
"""
import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time

from harness import HERE, REPO, environment, int_at_least, write_results

MIB = 1 << 20
# the bucket sizes measured and projected: the default allreduce_bucket_bytes and 4 MiB
BUCKET_SIZES = {'25MiB': 25 * MIB, '4MiB': 4 * MIB}
GLOBAL_BATCH = {'W1': 32, 'W3': 20}

# --- the projection's assumptions -------------------------------------------------------------
NODES = (8, 32, 64)
# line rate (Gb/s) -> per-message latency alpha (s): TCP over 25 Gb/s Ethernet,
# RDMA (InfiniBand / RoCE) at 100 Gb/s
NETWORKS = {25: 30e-6, 100: 3e-6}
LINK_EFFICIENCY = 0.8        # the share of the line rate an MPI ring allreduce reaches
NODE_SPEEDUPS = (1, 100)     # a node as fast as this machine, and one 100x faster
TARGET_EFFICIENCY = 0.9
MAX_BATCH = 1 << 16


# --- the cost model (pure arithmetic; tests/test_bench_distributed.py checks it) -------------
def ring_allreduce_seconds(nbytes, nodes, bytes_per_s, alpha):
    """Time of a ring allreduce of ``nbytes`` over ``nodes``: reduce-scatter then
    allgather, 2(p-1) steps each sending n/p bytes: 2(p-1)/p * n/B + 2(p-1) alpha."""
    if nodes == 1:
        return 0.0
    return 2 * (nodes - 1) / nodes * nbytes / bytes_per_s + 2 * (nodes - 1) * alpha


def exposed_seconds(ready, durations):
    """Communication left after backward ends: bucket k becomes ready at
    ``ready[k]`` seconds before backward's end (a fraction of backward, in
    seconds; 0 for the last) and its allreduce takes ``durations[k]``; the
    buckets go one after another on the link, in order."""
    end = -math.inf
    for before_end, duration in zip(ready, durations):
        end = max(end, -before_end) + duration
    return max(0.0, end)


def project_step(workload, nodes, gbit_per_s, alpha, batch, speedup=1.0):
    """One step of ``workload`` on ``nodes`` nodes ``speedup`` times as fast
    as the one measured, with per-node ``batch``: compute, allreduce and
    exposed seconds, efficiency. ``workload``: the measured facts,
    ``forward_s``, ``backward_s`` (both taken as proportional to the batch)
    and ``update_s`` (not) at ``batch_measured``, ``bucket_bytes`` and
    ``bucket_ready`` (the fraction of backward done when each bucket is
    complete)."""
    scale = batch / workload['batch_measured'] / speedup
    backward = workload['backward_s'] * scale
    compute = workload['forward_s'] * scale + backward + workload['update_s'] / speedup
    bytes_per_s = gbit_per_s * 1e9 / 8 * LINK_EFFICIENCY
    durations = [ring_allreduce_seconds(n, nodes, bytes_per_s, alpha)
                 for n in workload['bucket_bytes']]
    ready = [(1 - f) * backward for f in workload['bucket_ready']]
    exposed = exposed_seconds(ready, durations)
    return {'compute_s': compute, 'allreduce_s': sum(durations), 'exposed_s': exposed,
            'efficiency': compute / (compute + exposed)}


def batch_for_efficiency(workload, nodes, gbit_per_s, alpha, speedup=1.0,
                         target=TARGET_EFFICIENCY):
    """The smallest per-node batch (1 to MAX_BATCH) whose projected efficiency
    reaches ``target``; None when none does. Efficiency grows with the batch
    (compute grows, the allreduce does not), so a bisection finds it."""
    def good(b):
        return project_step(workload, nodes, gbit_per_s, alpha, b, speedup)['efficiency'] \
            >= target
    if not good(MAX_BATCH):
        return None
    low, high = 0, MAX_BATCH          # good(high), and low is 0 or not good
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if good(middle) else (middle, high)
    return high


# --- measuring: the ranks' side ---------------------------------------------------------------
def _model(name):
    import numpy as np
    import workloads_deepzero as w
    return w.BookConvnet(0) if name == 'W1' else w.FinetuneVGG16(np.random.default_rng(0))


def _batch(batch, rank):
    import numpy as np
    from deepzero import Variable
    rng = np.random.default_rng(10 + rank)      # each rank its own images
    x = rng.random((batch, 150, 150, 3), dtype=np.float32)
    t = (rng.random((batch, 1)) > 0.5).astype(np.float32)
    return Variable(x, requires_grad=False), t


def _median_seconds(run, rounds, comm):
    times = []
    for _ in range(rounds):
        comm.Barrier()
        begin = time.perf_counter()
        run()
        times.append(time.perf_counter() - begin)
    return statistics.median(times)


def _buckets_allreduce(params, bucket_bytes):
    """A function that reduces, with MPI alone, buckets laid out as
    GradientReducer lays out ``params``' gradients (already packed: no copies
    timed): one Iallreduce per bucket, all started, then waited for."""
    import numpy as np
    from mpi4py import MPI
    from deepzero.distributed import _buckets
    order = params[::-1]
    layout = _buckets([(p.data.nbytes, p.data.dtype) for p in order], bucket_bytes)
    buffers = [np.ones(sum(order[i].data.size for i in members), np.float32)
               for members in layout]

    def run():
        MPI.Request.Waitall([MPI.COMM_WORLD.Iallreduce(MPI.IN_PLACE, b) for b in buffers])
    run()                                                       # warm-up: MPI's buffers
    return run


def rank_allreduce(args):
    """Allreduce times of W1's and W3's gradient layouts and of 4 bytes."""
    import numpy as np
    from mpi4py import MPI
    import deepzero.distributed as hvd
    comm = MPI.COMM_WORLD
    result = {'ranks': hvd.size(), 'gradients': {}}
    for name in ('W1', 'W3'):
        params = _model(name).params
        seconds = _median_seconds(_buckets_allreduce(params, args.bucket_bytes),
                                  args.rounds * 4, comm)
        reducer = hvd.GradientReducer(params)
        grads = [np.ones_like(p.data) for p in params]
        reducer.reduce(grads)
        with_copies = _median_seconds(lambda: reducer.reduce(grads), args.rounds * 4, comm)
        nbytes = sum(g.nbytes for g in grads)
        p = hvd.size()
        result['gradients'][name] = {
            'bytes': nbytes, 'buckets': reducer.buckets, 'median_s': seconds,
            'with_copies_s': with_copies,
            'algorithm_gb_per_s': nbytes / seconds / 1e9,
            'bus_gb_per_s': 2 * (p - 1) / p * nbytes / seconds / 1e9}
    tiny = np.ones(1, np.float32)
    comm.Allreduce(MPI.IN_PLACE, tiny)
    result['latency_4_bytes_s'] = _median_seconds(
        lambda: comm.Allreduce(MPI.IN_PLACE, tiny), 200, comm)
    return result


def rank_step(args):
    """Timed training steps of ``args.workload`` at this world's size."""
    import numpy as np
    from mpi4py import MPI
    import deepzero.distributed as hvd
    import deepzero.functions as F
    from deepzero.core import runtime
    comm = MPI.COMM_WORLD
    runtime.configure(allreduce_bucket_bytes=args.bucket_bytes)
    size, rank = hvd.size(), hvd.rank()
    batch = GLOBAL_BATCH[args.workload] // size
    model = _model(args.workload)
    x, t = _batch(batch, rank)
    reducer = hvd.GradientReducer(model.params)
    position = {id(p): i for i, p in enumerate(model.params)}
    handed = {}

    def hand_over(leaf):                        # backward's grad_ready
        reducer(leaf)
        handed[position[id(leaf)]] = time.perf_counter()
        if reducer.started and 'first_bucket' not in handed:
            handed['first_bucket'] = handed[position[id(leaf)]]

    samples = []
    for step in range(args.rounds + 1):         # the first is a warm-up
        handed.clear()
        comm.Barrier()
        t0 = time.perf_counter()
        loss = F.binary_crossentropy(model(x), t)
        t1 = time.perf_counter()
        loss.backward(grad_ready=hand_over)
        t2 = time.perf_counter()
        reducer.wait()
        t3 = time.perf_counter()
        started_early = reducer.started_early
        model.update()
        t4 = time.perf_counter()
        # the rank that ended backward last waits only for the communication
        # backward left; the others wait for it too (imbalance)
        waits = comm.allgather(t3 - t2)
        if step:
            samples.append({
                'forward_s': t1 - t0, 'backward_s': t2 - t1, 'wait_s': t3 - t2,
                'exposed_s': min(waits), 'imbalance_s': max(waits) - min(waits),
                'started_early': started_early,
                'update_s': t4 - t3, 'step_s': t4 - t0,
                'first_bucket_after_s': handed.get('first_bucket', t2) - t1,
                'ready_fraction': [(handed[i] - t1) / (t2 - t1)
                                   for i in range(len(model.params))]})
    median = {k: statistics.median(s[k] for s in samples) for k in samples[0]
              if k != 'ready_fraction'}
    median['ready_fraction'] = [statistics.median(s['ready_fraction'][i] for s in samples)
                                for i in range(len(model.params))]
    # the same buckets' MPI allreduce alone: what the step would wait without overlap
    alone = _median_seconds(_buckets_allreduce(model.params, args.bucket_bytes),
                            5, comm) if size > 1 else 0.0
    # every rank waits for the slowest: report the slowest rank's medians
    everyone = comm.allgather(median)
    slowest = max(everyone, key=lambda m: m['step_s'])
    return dict(slowest, ranks=size, batch_per_rank=batch, threads=runtime.get('threads'),
                bucket_bytes=args.bucket_bytes, buckets=reducer.buckets,
                allreduce_alone_s=alone,
                param_bytes=[p.data.nbytes for p in model.params],
                samples_step_s=[s['step_s'] for s in samples])


# --- measuring: the driver --------------------------------------------------------------------
def _mpirun(ranks, threads, task, extra):
    mpirun = shutil.which('mpirun')
    if mpirun is None:
        raise SystemExit('mpirun is missing (Open MPI: apt-get install openmpi-bin '
                         'libopenmpi-dev)')
    env = environment('deepzero', {'DEEPZERO_THREADS': str(threads),
                                   'OMPI_ALLOW_RUN_AS_ROOT': '1',
                                   'OMPI_ALLOW_RUN_AS_ROOT_CONFIRM': '1'})
    command = [mpirun, '-np', str(ranks), '--oversubscribe', '--bind-to', 'none',
               '-x', 'PYTHONPATH', '-x', 'DEEPZERO_THREADS', sys.executable, __file__,
               '--rank-task', task] + extra
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode:
        raise SystemExit(f'{" ".join(command)} failed:\n{done.stdout}\n{done.stderr}')
    lines = [line for line in done.stdout.splitlines() if line.startswith('RESULT ')]
    return json.loads(lines[0][len('RESULT '):])


def measure(args):
    print('OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset in the ranks.', file=sys.stderr)
    results = {'rounds': args.rounds, 'load_before': os.getloadavg(), 'cpus': os.cpu_count(),
               'mpirun': '--oversubscribe --bind-to none'}
    runs = [('allreduce', 2, 1, 'allreduce', []),
            ('W1_np1', 1, 2, 'step', ['--workload', 'W1']),
            ('W1_np2', 2, 1, 'step', ['--workload', 'W1']),
            ('W1_np2_4MiB', 2, 1, 'step', ['--workload', 'W1',
                                           '--bucket-bytes', str(BUCKET_SIZES['4MiB'])]),
            ('W3_np1', 1, 2, 'step', ['--workload', 'W3'])]
    for key, ranks, threads, task, extra in runs:
        begin = time.perf_counter()
        results[key] = _mpirun(ranks, threads, task, extra + ['--rounds', str(args.rounds)])
        print(f'{key}: {time.perf_counter() - begin:.0f} s', file=sys.stderr)
    results['load_after'] = os.getloadavg()
    table = render_measured(results)
    print(table)
    write_results(args.out, results, table)


def overlap(run):
    """The share of the reduction's time that backward hid."""
    alone = run['allreduce_alone_s']
    return max(0.0, 1 - run['exposed_s'] / alone) if alone else 0.0


def render_measured(r):
    def loads(values):
        return ', '.join(f'{v:.2f}' for v in values)

    lines = [f"Load average (1, 5, 15 min) before: {loads(r['load_before'])}; after: "
             f"{loads(r['load_after'])} on {r['cpus']} CPUs. Medians of {r['rounds']} steps.",
             '',
             '| gradients | MB | buckets | MPI allreduce ms (2 ranks) | algorithm GB/s | '
             'bus GB/s | with the copies (GradientReducer.reduce) ms |',
             '|---|---|---|---|---|---|---|']
    for name, g in r['allreduce']['gradients'].items():
        lines.append(f"| {name} | {g['bytes'] / 1e6:.1f} | {g['buckets']} | "
                     f"{g['median_s'] * 1e3:.2f} | {g['algorithm_gb_per_s']:.2f} | "
                     f"{g['bus_gb_per_s']:.2f} | {g['with_copies_s'] * 1e3:.2f} |")
    latency = r['allreduce']['latency_4_bytes_s'] * 1e6
    lines += ['', f"4-byte allreduce (latency): {latency:.1f} us",
              '', '| W1 step (global batch 32) | ranks x threads | buckets | step s | img/s | '
              'forward s | backward s | exposed comm s | imbalance s | update s | '
              'reduction alone s | overlap | comm share |',
              '|---|---|---|---|---|---|---|---|---|---|---|---|---|']
    for key, label in (('W1_np1', '-np 1'), ('W1_np2', '-np 2, 25 MiB buckets'),
                       ('W1_np2_4MiB', '-np 2, 4 MiB buckets')):
        s = r[key]
        share = f"{s['exposed_s'] / s['step_s']:.1%}" if s['ranks'] > 1 else '-'
        lap = f"{overlap(s):.0%}" if s['ranks'] > 1 else '-'
        early = f" ({s['started_early']:.0f} in backward)" if s['ranks'] > 1 else ''
        lines.append(f"| {label} | {s['ranks']} x {s['threads']} | {s['buckets']}{early} | "
                     f"{s['step_s']:.3f} | {32 / s['step_s']:.1f} | {s['forward_s']:.3f} | "
                     f"{s['backward_s']:.3f} | {s['exposed_s']:.4f} | "
                     f"{s['imbalance_s']:.4f} | {s['update_s']:.3f} | "
                     f"{s['allreduce_alone_s']:.4f} | {lap} | {share} |")
    w3 = r['W3_np1']
    lines += ['', f"W3 step (batch 20, -np 1, 2 threads): {w3['step_s']:.3f} s (forward "
              f"{w3['forward_s']:.3f}, backward {w3['backward_s']:.3f}, update "
              f"{w3['update_s']:.3f})"]
    return '\n'.join(lines) + '\n'


# --- projecting -------------------------------------------------------------------------------
def workload_facts(run, bucket_bytes):
    """What the projection needs of one measured single-process run: compute
    and backward seconds at its batch, and the buckets of ``bucket_bytes``
    (reverse order of the Parameters, as GradientReducer makes them) with
    the fraction of backward done when each is complete."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    import numpy as np
    from deepzero.distributed import _buckets
    order = list(range(len(run['param_bytes'])))[::-1]
    layout = _buckets([(run['param_bytes'][i], np.dtype(np.float32)) for i in order],
                      bucket_bytes)
    buckets = [[order[j] for j in members] for members in layout]
    return {'batch_measured': run['batch_per_rank'],
            'forward_s': run['forward_s'], 'backward_s': run['backward_s'],
            'update_s': run['update_s'],
            'bucket_bytes': [sum(run['param_bytes'][i] for i in b) for b in buckets],
            'bucket_ready': [max(run['ready_fraction'][i] for i in b) for b in buckets]}


def project(args):
    measured = json.loads((HERE / 'results' / f'{args.out}.json').read_text())
    rows = []
    for name, key in (('W1', 'W1_np1'), ('W3', 'W3_np1')):
        for buckets, bucket_bytes in BUCKET_SIZES.items():
            facts = workload_facts(measured[key], bucket_bytes)
            for speedup in NODE_SPEEDUPS:
                for gbit, alpha in NETWORKS.items():
                    for nodes in NODES:
                        step = project_step(facts, nodes, gbit, alpha,
                                            facts['batch_measured'], speedup)
                        rows.append(dict(
                            step, workload=name, buckets=buckets,
                            bucket_count=len(facts['bucket_bytes']), node_speedup=speedup,
                            gbit_per_s=gbit, alpha_s=alpha, nodes=nodes,
                            batch_per_node=facts['batch_measured'],
                            batch_for_90=batch_for_efficiency(facts, nodes, gbit, alpha,
                                                              speedup)))
    results = {'assumptions': {'networks_gbit_alpha_s': NETWORKS,
                               'link_efficiency': LINK_EFFICIENCY,
                               'node_speedups': NODE_SPEEDUPS, 'bucket_bytes': BUCKET_SIZES,
                               'target_efficiency': TARGET_EFFICIENCY},
               'rows': rows}
    table = render_projection(rows)
    print(table)
    write_results(f'{args.out}_projection', results, table)


def render_projection(rows):
    """Per workload, bucket size, node speed and network: for each node count
    the efficiency at the measured per-node batch and the per-node batch that
    keeps 90%; then the allreduce times."""
    def node(r):
        return 'this machine' if r['node_speedup'] == 1 else f"{r['node_speedup']}x faster"

    def network(r):
        return f"{r['gbit_per_s']} Gb/s, alpha {r['alpha_s'] * 1e6:g} us"

    groups = {}
    for r in rows:
        groups.setdefault((r['workload'], r['buckets'], node(r), network(r)), {})[r['nodes']] = r
    lines = ['Efficiency at the measured per-node batch (W1 32, W3 20) / the per-node batch '
             'that keeps 90%:', '',
             '| workload | buckets | node | network | compute s | '
             + ' | '.join(f'{n} nodes' for n in NODES) + ' |',
             '|---|---|---|---|---|' + '---|' * len(NODES)]
    for (workload, buckets, speed, net), by_nodes in groups.items():
        first = by_nodes[NODES[0]]
        cells = []
        for n in NODES:
            r = by_nodes[n]
            b90 = r['batch_for_90'] if r['batch_for_90'] is not None else f'> {MAX_BATCH}'
            cells.append(f"{r['efficiency']:.1%} / {b90}")
        lines.append(f"| {workload} | {buckets} ({first['bucket_count']}) | {speed} | {net} | "
                     f"{first['compute_s']:.3f} | " + ' | '.join(cells) + ' |')
    lines += ['', 'Ring allreduce of all the gradients (ms; the buckets one after another):',
              '', '| workload | buckets | network | ' + ' | '.join(f'{n} nodes' for n in NODES)
              + ' |', '|---|---|---|' + '---|' * len(NODES)]
    for (workload, buckets, speed, net), by_nodes in groups.items():
        if speed == 'this machine':
            lines.append(f"| {workload} | {buckets} | {net} | " + ' | '.join(
                f"{by_nodes[n]['allreduce_s'] * 1e3:.1f}" for n in NODES) + ' |')
    return '\n'.join(lines) + '\n'


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--rounds', type=int_at_least(1), default=5)
    parser.add_argument('--out', default='distributed',
                        help='results name: bench/results/OUT.json and OUT.md')
    parser.add_argument('--project', action='store_true',
                        help='project OUT.json to clusters (nothing is timed)')
    parser.add_argument('--rank-task', choices=('allreduce', 'step'),
                        help=argparse.SUPPRESS)     # what each rank runs under mpirun
    parser.add_argument('--workload', choices=tuple(GLOBAL_BATCH), help=argparse.SUPPRESS)
    parser.add_argument('--bucket-bytes', type=int, default=BUCKET_SIZES['25MiB'],
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.project:
        project(args)
    elif args.rank_task:
        result = (rank_allreduce if args.rank_task == 'allreduce' else rank_step)(args)
        import deepzero.distributed as hvd
        if hvd.rank() == 0:
            print('RESULT ' + json.dumps(result), flush=True)
    else:
        measure(args)


if __name__ == '__main__':
    main()
