"""bench/distributed.py's scaling model, on made-up facts (nothing is timed):
the ring allreduce's alpha-beta cost, the bucket pipeline behind backward,
efficiency and the batch that keeps 90% of it."""
import importlib.util
import pathlib

import pytest

BENCH = pathlib.Path(__file__).resolve().parent.parent / 'bench'


@pytest.fixture
def bench(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))   # it imports bench/harness.py
    spec = importlib.util.spec_from_file_location('bench_distributed', BENCH / 'distributed.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_ring_allreduce_is_2_p_minus_1_over_p_n_over_b_plus_2_p_minus_1_alpha(bench):
    # 8 nodes, 100 MB at 1 GB/s, alpha 10 us: 2*7/8*0.1 s + 14 * 10 us
    assert bench.ring_allreduce_seconds(100e6, 8, 1e9, 10e-6) == pytest.approx(0.175 + 140e-6)
    assert bench.ring_allreduce_seconds(100e6, 1, 1e9, 10e-6) == 0.0
    # the bandwidth term tends to 2 n / B as p grows
    assert bench.ring_allreduce_seconds(1e9, 10 ** 6, 1e9, 0.0) == pytest.approx(2.0, rel=1e-5)


def test_buckets_run_one_after_another_from_when_they_are_ready(bench):
    # ready 0.5 s and 0.1 s before backward's end, 0.3 s each: the first ends
    # at -0.2, the second starts at -0.1 and ends at 0.2
    assert bench.exposed_seconds([0.5, 0.1], [0.3, 0.3]) == pytest.approx(0.2)
    # the second ready before the first is done: it queues behind it
    assert bench.exposed_seconds([0.5, 0.45], [0.3, 0.3]) == pytest.approx(0.1)
    assert bench.exposed_seconds([1.0], [0.3]) == 0.0          # all hidden
    assert bench.exposed_seconds([0.0], [0.3]) == pytest.approx(0.3)   # nothing hidden


FACTS = {'batch_measured': 10, 'forward_s': 1.0, 'backward_s': 2.0, 'update_s': 0.5,
         'bucket_bytes': [250e6, 250e6], 'bucket_ready': [0.5, 1.0]}


def test_project_step_scales_compute_with_the_batch_and_hides_what_backward_covers(bench):
    gbit, alpha = 8, 0.0        # 8 Gb/s at LINK_EFFICIENCY 0.8: 0.8e9 B/s
    step = bench.project_step(FACTS, 2, gbit, alpha, batch=20)
    # compute: (1 + 2) * 2 + 0.5; each bucket: 2 * 1/2 * 250e6 / 0.8e9 = 0.3125 s
    assert step['compute_s'] == pytest.approx(6.5)
    assert step['allreduce_s'] == pytest.approx(0.625)
    # the first bucket is ready halfway through the 4 s backward (2 s left),
    # the second at its end: 0.3125 s exposed
    assert step['exposed_s'] == pytest.approx(0.3125)
    assert step['efficiency'] == pytest.approx(6.5 / 6.8125)
    faster = bench.project_step(FACTS, 2, gbit, alpha, batch=20, speedup=100)
    assert faster['compute_s'] == pytest.approx(0.065)
    assert faster['exposed_s'] == pytest.approx(0.625 - 0.02)   # 0.02 s of backward hides


def test_batch_for_efficiency_is_the_smallest_that_reaches_it(bench):
    for nodes, speedup in ((8, 1), (64, 1), (64, 100)):
        b = bench.batch_for_efficiency(FACTS, nodes, 25, 30e-6, speedup)
        assert bench.project_step(FACTS, nodes, 25, 30e-6, b, speedup)['efficiency'] >= 0.9
        if b > 1:
            assert bench.project_step(FACTS, nodes, 25, 30e-6, b - 1,
                                      speedup)['efficiency'] < 0.9
    assert bench.batch_for_efficiency(FACTS, 1, 25, 30e-6) == 1       # no communication
    # an allreduce no batch can hide: the exposed time grows with nothing
    huge = dict(FACTS, bucket_bytes=[1e15], bucket_ready=[1.0])
    assert bench.batch_for_efficiency(huge, 64, 25, 30e-6, speedup=1e9) is None


def test_workload_facts_lay_out_buckets_as_the_gradient_reducer_does(bench):
    # Parameters made in the order 0, 1, 2: buckets of 100 bytes from the last
    run = {'batch_per_rank': 16, 'forward_s': 1.0, 'backward_s': 2.0, 'update_s': 0.1,
           'param_bytes': [4, 8, 100], 'ready_fraction': [1.0, 0.25, 0.5]}
    facts = bench.workload_facts(run, 100)
    assert facts['bucket_bytes'] == [100, 12]
    assert facts['bucket_ready'] == [0.5, 1.0]     # a bucket is complete with its last one
    assert (facts['batch_measured'], facts['backward_s']) == (16, 2.0)
