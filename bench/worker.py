"""One benchmark worker process: builds workloads on demand and times calls.

Protocol (stdin/stdout, one JSON line each): the worker first prints its
environment (and, for deepzero, NumPy's sgemm rate); then the driver sends
``{"workload": "W1_train", "calls": 3}`` and gets back per-call seconds, minor
page faults and CPU seconds, plus the process's peak RSS. Only one worker
computes at a time, so the workers do not disturb each other's timings.
"""
import json
import resource
import sys
import time

FRAMEWORK = sys.argv[1]  # deepzero | torch | torch_channels_last


def load_workloads():
    if FRAMEWORK == 'deepzero':
        from workloads_deepzero import WORKLOADS
        return WORKLOADS
    import torch
    torch.set_num_threads(2)
    from workloads_torch import workloads
    return workloads(channels_last=(FRAMEWORK == 'torch_channels_last'))


def info():
    from threadpoolctl import threadpool_info
    import numpy
    blas = [{k: p.get(k) for k in ('internal_api', 'version', 'architecture', 'num_threads')}
            for p in threadpool_info() if p.get('user_api') == 'blas']
    out = {'framework': FRAMEWORK, 'numpy': numpy.__version__, 'blas': blas}
    if FRAMEWORK != 'deepzero':
        import torch
        out['torch'] = torch.__version__
        out['torch_threads'] = torch.get_num_threads()
    return out


def sgemm_rate(n=4096, repeats=5):
    import numpy as np
    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    out = np.empty_like(a)
    np.matmul(a, a, out=out)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        np.matmul(a, a, out=out)
        times.append(time.perf_counter() - t)
    return 2 * n ** 3 / sorted(times)[len(times) // 2] / 1e9


def main():
    # Measured before deepzero runs an op: its first split pass makes the process's
    # OpenBLAS calls single-threaded (the blas setting, deepzero/core/runtime.py).
    rate = sgemm_rate() if FRAMEWORK == 'deepzero' else None
    workloads = load_workloads()
    steps = {}
    print(json.dumps(dict(info(), sgemm_gflops=rate)), flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        name = req['workload']
        if name not in steps:
            make, _ = workloads[name]
            steps[name] = make()
            for _ in range(2):  # warm-up: first-touch allocations, caches
                steps[name]()
        samples = []
        for _ in range(req['calls']):
            r0 = resource.getrusage(resource.RUSAGE_SELF)
            t0 = time.perf_counter()
            steps[name]()
            t1 = time.perf_counter()
            r1 = resource.getrusage(resource.RUSAGE_SELF)
            samples.append({'s': t1 - t0, 'faults': r1.ru_minflt - r0.ru_minflt,
                            'cpu': (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)})
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps({'samples': samples, 'max_rss_mb': peak_mb}), flush=True)


if __name__ == '__main__':
    main()
