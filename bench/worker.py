"""One benchmark worker process: builds workloads on demand and times calls.

    python bench/worker.py FRAMEWORK    # started by bench/run.py, in harness.python_for's Python

FRAMEWORK is one of: deepzero (engine ops), deepzero_keras (deepzero.keras,
bench/workloads_keras.py), keras_tf (Keras 3 on TensorFlow, the same module),
torch, torch_channels_last.

Protocol (stdin/stdout, one JSON line each): the worker first prints its
environment (and, for deepzero's two workers, NumPy's sgemm rate); then the
driver sends ``{"workload": "W1_train", "calls": 3}`` and gets back per-call
seconds, minor page faults and CPU seconds, the process's peak RSS so far, and
the step's ``facts`` where its workload module gives it some. Among those,
``mults_gflop`` (GFLOP, 2 per multiply-add, that one call actually multiplies,
e.g. fewer than the direct convolutions' count with Winograd) feeds the
"mult GFLOP/s" column of bench/run.py's table. Only one worker computes at a
time, so the workers do not disturb each other's timings. Anything that the
libraries print goes to stderr: stdout carries the protocol only.
"""
import json
import os
import resource
import sys
import time

FRAMEWORK = sys.argv[1]
NUMPY_FRAMEWORKS = ('deepzero', 'deepzero_keras')


def load_workloads():
    if FRAMEWORK == 'deepzero':
        from workloads_deepzero import WORKLOADS
        return WORKLOADS
    if FRAMEWORK in ('deepzero_keras', 'keras_tf'):
        from workloads_keras import configure_tensorflow, workloads
        if FRAMEWORK == 'keras_tf':
            configure_tensorflow()
            import keras
        else:
            import deepzero.keras as keras
        return workloads(keras)
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
    if FRAMEWORK == 'keras_tf':
        import keras
        import tensorflow as tf
        out.update(keras=keras.__version__, tensorflow=tf.__version__,
                   tf_intra_op_threads=tf.config.threading.get_intra_op_parallelism_threads(),
                   tf_inter_op_threads=tf.config.threading.get_inter_op_parallelism_threads())
    elif FRAMEWORK.startswith('torch'):
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


def protocol_channel():
    """A file on the process's original stdout, which then points at stderr, so
    that what TensorFlow, Keras or NumPy print (from Python or C) cannot break
    the protocol."""
    channel = os.fdopen(os.dup(sys.stdout.fileno()), 'w')
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    return channel


def main():
    channel = protocol_channel()
    # Measured before deepzero runs an op: its first split pass makes the process's
    # OpenBLAS calls single-threaded (the blas setting, deepzero/core/runtime.py).
    rate = sgemm_rate() if FRAMEWORK in NUMPY_FRAMEWORKS else None
    workloads = load_workloads()
    steps = {}
    print(json.dumps(dict(info(), sgemm_gflops=rate)), file=channel, flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        name = req['workload']
        if name not in steps:
            make, _ = workloads[name]
            steps[name] = make()
            for _ in range(2):  # warm-up: tracing (Keras/TF), first-touch allocations, caches
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
        print(json.dumps({'samples': samples, 'max_rss_mb': peak_mb,
                          'facts': facts(name, steps[name])}),
              file=channel, flush=True)


def facts(name, step):
    """What the step reports of itself, and for deepzero's workers the
    multiplications its convs did (bench/conv_mults.py)."""
    out = dict(getattr(step, 'facts', {}))
    if FRAMEWORK in NUMPY_FRAMEWORKS:
        from conv_mults import workload_gflop
        out['mults_gflop'] = workload_gflop(name)
    return out


if __name__ == '__main__':
    main()
