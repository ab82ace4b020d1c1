"""The workspace pool and the parallel passes: a pooled array is handed out
again only when nothing refers to it (Variables, views, saved op state), and
the hot ops give the same results whether their passes run split over threads
or not."""
import sys
import sysconfig
import types

import numpy as np
import pytest

import deepzero.functions as F
from deepzero import Parameter, Variable, no_grad
from deepzero.kernels.cpu import im2col
from deepzero.core import parallel, runtime, workspace
from deepzero.core.workspace import MIN_POOLED_BYTES, Workspace

BIG = (MIN_POOLED_BYTES // 4 + 1024,)  # float32 elements: pooled


def test_free_buffer_is_reused():
    pool = Workspace()
    a = pool.empty(BIG, np.float32)
    address = a.__array_interface__['data'][0]
    del a
    b = pool.empty(BIG, np.float32)
    assert b.__array_interface__['data'][0] == address
    assert b.dtype == np.float32 and b.shape == BIG and b.flags.c_contiguous


def test_small_arrays_are_not_pooled():
    pool = Workspace()
    a = pool.empty((8,), np.float32)
    assert pool.held_bytes == 0 and a.shape == (8,)


@pytest.mark.parametrize('hold', [
    lambda a: Variable(a),                                        # a live Variable
    lambda a: a[10:],                                             # a view
    lambda a: a.reshape(-1, 4).T,                                 # a view of a view
    lambda a: np.lib.stride_tricks.as_strided(a, (4,), (4,)),     # a strided view
    lambda a: memoryview(a),                                      # a buffer export
])
def test_held_buffer_is_never_handed_out_again(hold):
    pool = Workspace()
    a = pool.empty(BIG, np.float32)
    a[:] = 1.0
    address = a.__array_interface__['data'][0]
    holder = hold(a)
    del a
    b = pool.empty(BIG, np.float32)
    assert b.__array_interface__['data'][0] != address
    b[:] = 2.0
    held = holder.data if isinstance(holder, Variable) else np.asarray(holder)
    assert np.all(held == 1.0)
    del holder, held
    c = pool.empty(BIG, np.float32)  # released now: reused (b is still held)
    assert c.__array_interface__['data'][0] == address


def test_default_budget_is_bounded():
    budget = runtime.default_pool_bytes()
    assert 0 < budget <= 4 << 30
    assert Workspace().max_bytes == budget


def test_budget_overflow_still_gives_fresh_arrays():
    pool = Workspace(max_bytes=MIN_POOLED_BYTES * 2)
    arrays = [pool.empty(BIG, np.float32) for _ in range(4)]
    assert len({a.__array_interface__['data'][0] for a in arrays}) == 4
    assert pool.held_bytes <= pool.max_bytes


def test_eviction_drops_only_free_arrays():
    pool = Workspace(max_bytes=3 * BIG[0] * 4)
    kept = pool.empty(BIG, np.float32)
    kept[:] = 7.0
    free = pool.empty(BIG, np.float32)
    del free
    other = pool.empty((BIG[0] * 2,), np.float32)  # needs room: evicts `free`
    other[:] = 0.0
    assert np.all(kept == 7.0)


def test_no_reuse_where_reference_counts_are_not_exact(monkeypatch):
    monkeypatch.setattr(workspace, 'REFCOUNT_REUSE', False)
    pool = Workspace()
    a = pool.empty(BIG, np.float32)
    del a
    b = pool.empty(BIG, np.float32)
    assert b.shape == BIG and pool.held_bytes == 0  # nothing kept, nothing handed out again


def test_reference_counts_are_exact_only_on_cpython_with_the_gil(monkeypatch):
    free_threaded = bool(sysconfig.get_config_var('Py_GIL_DISABLED'))
    assert workspace.refcounts_are_exact() == (sys.implementation.name == 'cpython'
                                               and not free_threaded)
    monkeypatch.setattr(sys, 'implementation', types.SimpleNamespace(name='pypy'))
    assert not workspace.refcounts_are_exact()
    monkeypatch.undo()
    monkeypatch.setattr(sysconfig, 'get_config_var',
                        lambda name: 1 if name == 'Py_GIL_DISABLED' else None)
    assert not workspace.refcounts_are_exact()


def _small_net(x, kernel, bias):
    return F.sum(F.max_pool2d(F.relu(F.conv2d(x, kernel, bias)), 2) ** 2)


@pytest.fixture
def conv_inputs(monkeypatch):
    # every array of any size comes from the pool: the strictest test of reuse
    monkeypatch.setattr(workspace, 'MIN_POOLED_BYTES', 0)
    rng = np.random.default_rng(0)
    x = [rng.standard_normal((4, 20, 20, 8)).astype(np.float32) for _ in range(2)]
    kernel = Parameter(rng.standard_normal((3, 3, 8, 32)).astype(np.float32) * 0.1)
    bias = Parameter(rng.standard_normal(32).astype(np.float32) * 0.1)
    return x, kernel, bias


def _grads(x, kernel, bias):
    kernel.cleargrad()
    bias.cleargrad()
    xv = Variable(x)
    _small_net(xv, kernel, bias).backward()
    return xv.grad.data.copy(), kernel.grad.data.copy(), bias.grad.data.copy()


def test_two_live_graphs_do_not_share_buffers(conv_inputs):
    """Saved state (ReLU outputs, pool winners) of a graph that
    is still alive is never reused by a second graph built before its backward."""
    (x0, x1), kernel, bias = conv_inputs
    expected = [_grads(x, kernel, bias) for x in (x0, x1)]
    kernel.cleargrad()
    bias.cleargrad()
    xs = [Variable(x) for x in (x0, x1)]
    losses = [_small_net(xv, kernel, bias) for xv in xs]  # both graphs alive
    for xv, loss, (gx, gk, gb) in zip(xs, losses, expected):
        kernel.cleargrad()
        bias.cleargrad()
        loss.backward()
        np.testing.assert_allclose(xv.grad.data, gx, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(kernel.grad.data, gk, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(bias.grad.data, gb, rtol=1e-5, atol=1e-5)


def test_results_survive_later_steps(conv_inputs):
    (x0, x1), kernel, bias = conv_inputs
    y0 = F.relu(F.conv2d(Variable(x0), kernel, bias))
    before = y0.data.copy()
    for x in (x1, x0 * 2):  # same shapes: the pool would like to reuse y0's buffer
        F.relu(F.conv2d(Variable(x), kernel, bias))
    np.testing.assert_array_equal(y0.data, before)


def test_parallel_passes_match_serial(conv_inputs, monkeypatch):
    (x0, _), kernel, bias = conv_inputs
    monkeypatch.setattr(parallel, 'MIN_PARALLEL_BYTES', 1 << 40)
    monkeypatch.setattr(parallel, 'MIN_PARALLEL_MACS', 1 << 60)
    serial = _grads(x0, kernel, bias)
    monkeypatch.setattr(parallel, 'MIN_PARALLEL_BYTES', 0)
    monkeypatch.setattr(parallel, 'MIN_PARALLEL_MACS', 0)
    monkeypatch.setattr(parallel, 'THREADS', 3)  # uneven parts, even on 1 core
    split = _grads(x0, kernel, bias)
    # Copies split exactly; a GEMM split by rows may round a few products
    # differently (OpenBLAS picks other kernels for a part's edge rows).
    for a, b in zip(serial, split):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6 * np.abs(a).max())


@pytest.mark.parametrize('padding', ['same', 'valid'])
def test_parallel_pooling_and_padding_match_serial(monkeypatch, padding):
    monkeypatch.setattr(workspace, 'MIN_POOLED_BYTES', 0)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 9, 7, 3)).astype(np.float32)

    def run():
        xv = Variable(x)
        y_max, y_avg = F.max_pool2d(xv, 3, 2, padding), F.avg_pool2d(xv, 2, 1, padding)
        (F.sum(y_max * y_max) + F.sum(y_avg * y_avg)).backward()
        return y_max.data.copy(), y_avg.data.copy(), xv.grad.data.copy()
    monkeypatch.setattr(parallel, 'MIN_PARALLEL_BYTES', 1 << 40)
    serial = run()
    monkeypatch.setattr(parallel, 'MIN_PARALLEL_BYTES', 0)
    monkeypatch.setattr(parallel, 'THREADS', 2)
    for a, b in zip(serial, run()):
        np.testing.assert_array_equal(a, b)


def test_over_batch_runs_every_part_once(monkeypatch):
    monkeypatch.setattr(parallel, 'MIN_PARALLEL_BYTES', 0)
    monkeypatch.setattr(parallel, 'THREADS', 3)
    out = np.zeros((7, 3))
    parallel.over_batch(lambda o: o.__iadd__(1.0), out)
    assert np.all(out == 1.0)


def test_over_batch_raises_a_part_error(monkeypatch):
    monkeypatch.setattr(parallel, 'MIN_PARALLEL_BYTES', 0)
    monkeypatch.setattr(parallel, 'THREADS', 2)

    def fail(part):
        if part[0, 0] == 1.0:  # only the second part, run on a worker thread
            raise RuntimeError('part failed')
    with pytest.raises(RuntimeError, match='part failed'):
        parallel.over_batch(fail, np.repeat(np.arange(2.0), 2).reshape(4, 1))


@pytest.mark.parametrize('chunk_bytes', [1, 3000, 7000])  # rows of one image / whole images
@pytest.mark.parametrize('groups, strides, padding', [(1, 1, 'valid'), (2, 2, 'same')])
@pytest.mark.parametrize('threads', [2, 3])
def test_chunked_conv_matches_one_chunk(monkeypatch, chunk_bytes, groups, strides, padding,
                                        threads):
    """The forward conv and the kernel gradient run im2col + GEMM chunk by
    chunk, each core on its own run of chunks (uneven when 3 cores share 3
    images), and give the values of one whole im2col matrix."""
    monkeypatch.setattr(parallel, 'THREADS', threads)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 9, 8, 4)).astype(np.float32)
    kernel = Parameter(rng.standard_normal((3, 3, 4 // groups, 6)).astype(np.float32))
    bias = Parameter(rng.standard_normal(6).astype(np.float32))

    def run():
        kernel.cleargrad()
        y = F.conv2d(Variable(x), kernel, bias, strides, padding, groups=groups)
        F.sum(y * y).backward()
        with no_grad():
            y_inference = F.conv2d(x, kernel, bias, strides, padding, groups=groups)
        return y.data.copy(), kernel.grad.data.copy(), y_inference.data.copy()
    monkeypatch.setattr(im2col, 'CHUNK_BYTES', 1 << 40)
    whole = run()
    monkeypatch.setattr(im2col, 'CHUNK_BYTES', chunk_bytes)
    for a, b in zip(whole, run()):  # float32 sums in another order
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6 * np.abs(a).max())
    np.testing.assert_array_equal(whole[0], whole[2])


@pytest.mark.parametrize('kernel_shape, groups', [
    ((3, 3, 4, 6), 1),     # K = 36 window columns >= 6 output channels
    ((1, 1, 2, 8), 1),     # K = 2 < 8
    ((3, 3, 1, 24), 2),    # grouped, K = 9 < 12 per group
])
def test_kernel_gradient_matches_einsum(kernel_shape, groups):
    rng = np.random.default_rng(3)
    c_in = kernel_shape[2] * groups
    x = rng.standard_normal((2, 6, 5, c_in))
    kernel = Parameter(rng.standard_normal(kernel_shape))
    y = F.conv2d(Variable(x), kernel, groups=groups)
    gy = rng.standard_normal(y.shape)
    y.grad = Variable(gy)
    y.backward()
    kh, kw, cg, c_out = kernel_shape
    windows = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(1, 2))
    expected = np.empty(kernel_shape)
    for g in range(groups):  # windows: (N, OH, OW, C, KH, KW)
        w = windows[:, :, :, g * cg:(g + 1) * cg]
        out = slice(g * c_out // groups, (g + 1) * c_out // groups)
        expected[..., out] = np.einsum('nijcab,nijo->abco', w, gy[..., out])
    np.testing.assert_allclose(kernel.grad.data, expected, rtol=1e-10, atol=1e-10)


def test_parallel_matmul_matches_numpy(monkeypatch):
    """Split by rows (uneven parts), with a broadcast batch axis as the
    conv input gradient uses."""
    monkeypatch.setattr(parallel, 'MIN_PARALLEL_MACS', 0)
    monkeypatch.setattr(parallel, 'THREADS', 3)
    rng = np.random.default_rng(2)
    a = rng.standard_normal((1, 7, 5)).astype(np.float32)
    b = rng.standard_normal((4, 5, 3)).astype(np.float32)
    out = np.empty((4, 7, 3), np.float32)
    parallel.matmul(a, b, out)
    np.testing.assert_allclose(out, a @ b, rtol=1e-6, atol=1e-6)


def test_scratch_buffers_serve_any_smaller_shape():
    """A free scratch buffer serves later requests of other shapes up to
    SCRATCH_SLACK times smaller (the smallest that fits), while one in use
    is never handed out; a request too small for any gets its own."""
    pool = Workspace()
    n = 8 * BIG[0]
    big = pool.scratch((4 * n,), np.float32)
    address = big.__array_interface__['data'][0]
    del big
    a = pool.scratch((2, n), np.float32)            # fits in the free big one
    assert a.shape == (2, n) and a.flags.c_contiguous
    assert a.__array_interface__['data'][0] == address
    b = pool.scratch((n,), np.float32)              # the big one is in use: a new one
    small = b.__array_interface__['data'][0]
    assert small != address
    del a, b
    c = pool.scratch((n,), np.float32)              # the smallest free one that fits
    assert c.__array_interface__['data'][0] == small
    tiny = pool.scratch((1024,), np.float32)       # under MIN_POOLED_BYTES: not pooled
    assert tiny.base is None
    held = pool.held_bytes
    del c
    pool.scratch((n // 5,), np.float32)             # > 4x smaller than every free one
    assert pool.held_bytes == held + (n // 5) * 4
