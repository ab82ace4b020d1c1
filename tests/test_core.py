"""The engine itself: Variable's operators and properties, backprop
(accumulation, retained grads, higher order, ordering, graph freeing), the
thread-local config, dtypes, and the core ops (getitem, matmul, reshape,
transpose, sum, broadcast_to, sum_to) against PyTorch and finite differences."""
import gc
import re
import threading
import weakref

import numpy as np
import pytest
import torch

import deepzero.functions as F
import deepzero
from deepzero import (Parameter, Variable, as_array, as_variable, config, no_grad,
                      using_config)
from deepzero.core.operators import cast
from deepzero.utils import check_gradients, check_second_order
from op_checks import check_float32
from torch_oracle import compare_with_torch


def grads(fn, *arrays):
    """Values and gradients of ``sum(fn(*xs))`` for fresh Variables."""
    xs = [Variable(np.asarray(a, dtype=np.float64)) for a in arrays]
    y = fn(*xs)
    y.sum().backward()
    return y.data, [x.grad.data for x in xs]


# --- operators with arrays and scalars on either side -----------------------------
OPERATOR_CASES = {
    'x + c': (lambda x, c: x + c, lambda x, c: x + c, lambda x, c: np.ones_like(x)),
    'c + x': (lambda x, c: c + x, lambda x, c: c + x, lambda x, c: np.ones_like(x)),
    'x - c': (lambda x, c: x - c, lambda x, c: x - c, lambda x, c: np.ones_like(x)),
    'c - x': (lambda x, c: c - x, lambda x, c: c - x, lambda x, c: -np.ones_like(x)),
    'x * c': (lambda x, c: x * c, lambda x, c: x * c, lambda x, c: np.broadcast_to(c, x.shape)),
    'c * x': (lambda x, c: c * x, lambda x, c: c * x, lambda x, c: np.broadcast_to(c, x.shape)),
    'x / c': (lambda x, c: x / c, lambda x, c: x / c,
              lambda x, c: np.broadcast_to(1 / c, x.shape)),
    'c / x': (lambda x, c: c / x, lambda x, c: c / x, lambda x, c: -c / x ** 2),
    'x ** c': (lambda x, c: x ** c, lambda x, c: x ** c, lambda x, c: c * x ** (c - 1)),
    'c ** x': (lambda x, c: c ** x, lambda x, c: c ** x, lambda x, c: c ** x * np.log(c)),
    '-x': (lambda x, c: -x, lambda x, c: -x, lambda x, c: -np.ones_like(x)),
}


@pytest.mark.parametrize('constant', [2.5, 3, np.float64(1.5), np.array([1.5, 2.0, 3.0])],
                         ids=['float', 'int', 'np.float64', 'array'])
@pytest.mark.parametrize('name', OPERATOR_CASES)
def test_operators_with_constants_on_either_side(name, constant):
    op, np_op, np_grad = OPERATOR_CASES[name]
    x = np.array([0.5, 1.0, 2.0])
    y, (gx,) = grads(lambda v: op(v, constant), x)
    np.testing.assert_allclose(y, np_op(x, constant), rtol=1e-12)
    np.testing.assert_allclose(gx, np_grad(x, constant), rtol=1e-12)


def test_pow_with_variable_exponent_matches_torch_and_finite_differences(rng):
    x, p = rng.uniform(0.5, 2.0, (2, 3)), rng.uniform(-1, 2, (3,))
    check_gradients(lambda a, b: a ** b, x, p)
    check_second_order(lambda a, b: a ** b, x, p)
    for dtype in (np.float32, np.float64):
        compare_with_torch(lambda a, b: a ** b, lambda a, b: a ** b, x, p, dtype=dtype)


def test_comparisons_give_bool_arrays_and_equality_is_identity():
    x = Variable(np.array([-1.0, 0.0, 2.0]))
    for result, want in [(x > 0, [False, False, True]), (x >= 0, [False, True, True]),
                         (x < Variable(np.zeros(3)), [True, False, False]),
                         (x <= np.array([-1.0, -1.0, 3.0]), [True, False, True])]:
        assert isinstance(result, np.ndarray) and result.dtype == bool
        np.testing.assert_array_equal(result, want)
    other = Variable(x.data.copy())
    assert x == x and x != other and len({x, other}) == 2


def test_properties_repr_len_and_T():
    x = Variable(np.arange(6.0).reshape(2, 3), name='w')
    assert (x.shape, x.ndim, x.size, x.dtype, len(x)) == ((2, 3), 2, 6, np.float64, 2)
    assert repr(x) == "variable([[0. 1. 2.]\n          [3. 4. 5.]], name='w')"
    assert repr(Variable(np.array([1.0]))) == 'variable([1.])'
    assert repr(Variable(None)) == 'variable(None)'
    np.testing.assert_array_equal(x.T.data, x.data.T)
    x.T.sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.ones((2, 3)))


def test_requires_grad_defaults_and_int_data_opts_in():
    assert Variable(np.zeros(2)).requires_grad
    labels = Variable(np.array([1, 2]))
    assert not labels.requires_grad
    with pytest.raises(RuntimeError, match='does not require a gradient'):
        (labels * 2).backward()
    with pytest.raises(TypeError, match='already a Variable'):
        Variable(labels)


@pytest.mark.parametrize('data', [np.arange(4), np.array([True, False])], ids=['int', 'bool'])
def test_int_and_bool_data_cannot_require_a_gradient(data):
    message = rf"Variable 'v' holds {data.dtype} data; gradients need floating-point"
    with pytest.raises(TypeError, match=message):
        Variable(data, name='v', requires_grad=True)
    v = Variable(data, name='v')
    assert not v.requires_grad
    with pytest.raises(TypeError, match=message):
        v.requires_grad = True
    assert not v.requires_grad
    v.requires_grad = False
    placeholder = Variable(None, requires_grad=True)  # no data yet: nothing to check
    assert placeholder.requires_grad


def test_a_class_allowing_int_grads_gets_exact_int_gradients():
    # the one opt-in, which the DeZero face's Variable uses; DeZero's book:
    # the gradient of a sum over int data is int ones
    class IntGradVariable(Variable):
        int_grads_allowed = True

    x = IntGradVariable(np.array([[1, 2, 3], [4, 5, 6]]), requires_grad=True)
    y = (x * x).sum()
    assert y.requires_grad and y.dtype == np.int64
    y.backward()
    assert x.grad.dtype == np.int64
    np.testing.assert_array_equal(x.grad.data, 2 * x.data)
    x.requires_grad = False
    x.requires_grad = True   # the setter allows it too


def test_backward_seed_may_be_an_array():
    x = Variable(np.array([1.0, 2.0]))
    y = x * 3.0
    y.grad = np.array([1.0, 10.0])
    y.backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 30.0])


def test_backward_seed_needs_the_output_shape_and_takes_its_dtype():
    x = Variable(np.array([1.0, 2.0, 3.0], np.float32))
    y = x * x
    y.name = 'y'
    for bad in (np.ones((2, 3), np.float32), np.ones(1, np.float32), np.float32(1)):
        y.grad = bad
        with pytest.raises(ValueError, match=re.escape(
                f"Variable 'y'.grad (the seed of backward()) has shape {bad.shape}, "
                "but Variable 'y' has shape (3,)")):
            y.backward(retain_grad=True)
        assert x.grad is None
    y.grad = np.array([1.0, 10.0, 100.0])   # float64: cast, float32 stays float32
    y.backward(retain_grad=True)
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.data, [2.0, 40.0, 600.0])
    y.grad = np.ones(3, np.complex64)
    with pytest.raises(TypeError, match=r"has dtype complex64, which does not cast safely "
                                        r"to Variable 'y''s dtype float32"):
        y.backward()


def test_grad_seeds_need_their_outputs_shape_and_take_their_dtype():
    x = Variable(np.arange(3, dtype=np.float32))
    y0, y1 = x * x, (x * 2.0).sum()
    with pytest.raises(ValueError, match=re.escape(
            "grad: grad_outputs[1] has shape (3,), but outputs[1] has shape ()")):
        deepzero.grad([y0, y1], x, grad_outputs=[None, np.ones(3, np.float32)])
    with pytest.raises(ValueError, match=re.escape(
            "grad: grad_outputs[0] has shape (2, 3), but outputs[0] has shape (3,)")):
        deepzero.grad(y0, x, grad_outputs=[np.ones((2, 3), np.float32)])
    with pytest.raises(ValueError, match=re.escape("grad_outputs[0] has shape (1,)")):
        deepzero.grad(y0, x, grad_outputs=[np.ones(1, np.float32)])   # no broadcasting
    g, = deepzero.grad([y0, y1], x, grad_outputs=[np.ones(3), 1])  # float64 and int seeds
    assert g.dtype == np.float32
    np.testing.assert_array_equal(g.data, [2.0, 4.0, 6.0])
    with pytest.raises(TypeError, match=r"grad: grad_outputs\[0\] has dtype complex128"):
        deepzero.grad(y0, x, grad_outputs=[np.ones(3, np.complex128)])
    # a seed that requires a gradient is cast in the graph: d(seed . dy/dx)/d(seed)
    seed = Variable(np.array([1.0, 2.0, 3.0]))   # float64
    g, = deepzero.grad(y0, x, grad_outputs=[seed], create_graph=True)
    assert g.dtype == np.float32
    g.sum().backward()
    assert seed.grad.dtype == np.float64
    np.testing.assert_array_equal(seed.grad.data, 2 * x.data)


@pytest.mark.parametrize('data, dtype', [
    ('abc', '<U3'), (np.array(['a', 'bc']), '<U2'), (b'raw', '|S3'), (object(), 'object'),
    ([1.0, None], 'object'), (np.array(['2024-01-01'], 'datetime64[D]'), 'datetime64'),
])
def test_non_numeric_data_is_refused_naming_its_dtype(data, dtype):
    with pytest.raises(TypeError, match=rf"Variable\(data\): data has dtype "
                                        rf"{re.escape(dtype)}.*not numeric"):
        Variable(data)


def test_bool_numeric_and_placeholder_data_are_kept():
    for data in (np.array([True, False]), np.arange(3, dtype=np.uint8), np.arange(3),
                 np.ones(2, np.float16), np.ones(2, np.complex64), 1, 2.5, True, [1, 2]):
        assert Variable(data).dtype.kind in 'biufc'
    placeholder = Variable(None, name='W')  # DeZero's lazy parameters start as None
    assert placeholder.data is None and placeholder.requires_grad is False
    placeholder.data = np.zeros(2, np.float32)
    assert placeholder.shape == (2,)


def test_backward_of_a_constant_explains():
    with no_grad():
        y = Variable(np.ones(2)) * 2
    with pytest.raises(RuntimeError, match='does not require a gradient'):
        y.backward()


def test_parameter_is_a_variable_that_gets_gradients():
    w = Parameter(np.array([1.0, 2.0]), name='w')
    assert isinstance(w, Variable) and w.requires_grad
    (w * w).sum().backward()
    np.testing.assert_array_equal(w.grad.data, [2.0, 4.0])


def test_as_array_and_as_variable():
    assert as_array(1.5).dtype == np.float32 and as_array(1.5).shape == ()
    assert as_array(1.5, np.float64).dtype == np.float64
    assert as_array(3).dtype.kind == 'i'
    assert as_array([1.0, 2.0]).dtype == np.float32  # float lists: float32
    a = np.zeros(2, dtype=np.float64)
    assert as_array(a) is a
    v = Variable(a)
    assert as_variable(v) is v
    c = as_variable(a)
    assert isinstance(c, Variable) and c.data is a and not c.requires_grad
    assert as_variable(2.0, np.float64).dtype == np.float64
    assert Variable(1.0).dtype == np.float32 and Variable([1.0, 2.0]).dtype == np.float32


# --- backprop ------------------------------------------------------------------------
def test_gradients_accumulate_until_cleargrad():
    x = Variable(np.array([3.0]))
    for _ in range(2):
        (x * x).backward()
    np.testing.assert_array_equal(x.grad.data, [12.0])
    x.cleargrad()
    (x * x).backward()
    np.testing.assert_array_equal(x.grad.data, [6.0])


def test_retain_grad_keeps_intermediate_gradients():
    x = Variable(np.array([2.0]))
    a = x * x
    y = a * 3
    y.backward()
    assert a.grad is None and y.grad is None and x.grad is not None
    x.cleargrad()
    y = (x * x) * 3
    a = y.creator.inputs[0]
    y.backward(retain_grad=True)
    np.testing.assert_array_equal(a.grad.data, [3.0])
    np.testing.assert_array_equal(y.grad.data, [1.0])


@pytest.mark.parametrize('create_graph', [False, True])
def test_retain_grad_twice_matches_torch(create_graph):
    """Retained gradients of intermediates add up across calls, as in PyTorch,
    but only this call's gradient flows on down: the leaf gets exactly twice."""
    values = np.array([0.5, -1.5, 2.0])
    x = Variable(values.copy())
    a = x * x
    b = F.sin(a)
    y = (b * 3.0).sum()
    tx = torch.tensor(values, requires_grad=True)
    ta = tx * tx
    tb = torch.sin(ta)
    for t in (ta, tb):
        t.retain_grad()
    ty = (tb * 3.0).sum()
    for _ in range(2):
        y.backward(retain_grad=True, create_graph=create_graph)
        ty.backward(retain_graph=True)
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.data, 2 * 6 * values * np.cos(values ** 2), rtol=1e-12)
    np.testing.assert_allclose(a.grad.data, ta.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(b.grad.data, tb.grad.numpy(), rtol=1e-12)
    np.testing.assert_array_equal(y.grad.data, 1.0)  # the seed, not a sum


def test_backward_after_retain_grad_sends_only_its_own_gradient_down():
    x = Variable(np.array([3.0]))
    y = (x * x) * 2
    y.backward(retain_grad=True)
    y.backward()  # the retained intermediate gradient must not flow down again
    np.testing.assert_array_equal(x.grad.data, [24.0])


def test_fourth_derivative_of_x_to_the_fourth():
    x = Variable(np.array([1.5]))
    y = x ** 4
    want = [4 * 1.5 ** 3, 12 * 1.5 ** 2, 24 * 1.5, 24.0]
    for order in range(4):
        y.backward(create_graph=True)
        g = x.grad
        x.cleargrad()
        np.testing.assert_allclose(g.data, [want[order]], rtol=1e-12)
        y = g


def test_higher_derivatives_of_tanh_match_torch():
    x = Variable(np.array([0.3, -1.2]))
    tx = torch.tensor(x.data, requires_grad=True)
    y, ty = F.tanh(x), torch.tanh(tx)
    for _ in range(3):
        y.sum().backward(create_graph=True)
        (tg,) = torch.autograd.grad(ty.sum(), tx, create_graph=True)
        y, ty = x.grad, tg
        x.cleargrad()
        np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-12)


def test_without_create_graph_the_gradient_is_a_constant():
    x = Variable(np.array([2.0]))
    (x ** 3).backward()
    assert x.grad.creator is None and not x.grad.requires_grad


def test_unchain_backward_cuts_the_graph():
    x = Variable(np.array([2.0]))
    h = x * x
    h.unchain_backward()
    assert h.creator is None
    y = h * 3
    y.backward()
    assert x.grad is None
    np.testing.assert_array_equal(h.grad.data, [3.0])


def test_diamond_graph_gets_the_right_gradient():
    # x feeds a short branch and a long one: x's creator must wait for both.
    x = Variable(np.array([2.0]))
    a = x ** 2
    short = a * 3
    long = F.exp(F.log(a) * 0.5) ** 2 * 1.0 + 0.0  # = a, through five ops
    y = short + long  # = 4 x^2
    y.backward()
    np.testing.assert_allclose(x.grad.data, [16.0], rtol=1e-12)
    # the classic DeZero diamond: y = (x^2)^2 + (x^2)^2 = 2 x^4
    x = Variable(np.array([2.0]))
    a = x ** 2
    y = a ** 2 + a ** 2
    y.backward()
    np.testing.assert_allclose(x.grad.data, [64.0], rtol=1e-12)


class _Recorder:
    """grad_ready callback: records each leaf handed over with a copy of its
    gradient then, and which of ``watched`` had no gradient yet at that moment."""

    def __init__(self, watched=()):
        self.watched, self.calls = watched, []

    def __call__(self, leaf):
        self.calls.append((leaf.name, leaf.grad.data.copy(),
                           {w.name for w in self.watched if w.grad is None}))

    def names(self):
        return [name for name, _, _ in self.calls]


def test_grad_ready_hands_over_each_leaf_while_backward_goes_on():
    w1, w2, w3 = (Parameter(np.full((2, 2), v), name=n) for v, n in
                  ((0.5, 'w1'), (0.25, 'w2'), (2.0, 'w3')))
    x = Variable(np.ones((1, 2)), requires_grad=False)
    record = _Recorder(watched=(w1, w2, w3))
    F.tanh(F.tanh(F.tanh(x @ w1) @ w2) @ w3).sum().backward(grad_ready=record)
    assert record.names() == ['w3', 'w2', 'w1']        # the last layer first
    by_name = {'w1': w1, 'w2': w2, 'w3': w3}
    for name, grad, _ in record.calls:   # each gradient was complete when handed over
        np.testing.assert_array_equal(grad, by_name[name].grad.data)
    # w3 came while w1 and w2 had no gradient yet: backward was still going on
    assert record.calls[0][2] == {'w1', 'w2'} and record.calls[1][2] == {'w1'}


def test_grad_ready_waits_for_every_use_of_a_shared_leaf():
    shared, head = Parameter(np.array([0.5, -1.0]), name='shared'), \
        Parameter(np.array([3.0, 1.0]), name='head')
    x = Variable(np.array([1.0, 2.0]), requires_grad=False)
    record = _Recorder(watched=(head,))
    h = F.tanh(x * shared)            # first use
    y = (F.tanh(h * shared) * head * shared).sum()   # two more uses, the last of them late
    y.backward(grad_ready=record)
    assert record.names() == ['head', 'shared']      # head's one use runs before shared's first
    [(_, grad, _)] = [c for c in record.calls if c[0] == 'shared']
    np.testing.assert_array_equal(grad, shared.grad.data)   # complete when handed over
    # torch agrees on the total: every use contributed before the hand-over
    t = torch.tensor([0.5, -1.0], dtype=torch.float64, requires_grad=True)
    xt, ht = torch.tensor([1.0, 2.0], dtype=torch.float64), torch.tensor([3.0, 1.0],
                                                                         dtype=torch.float64)
    (torch.tanh(torch.tanh(xt * t) * t) * ht * t).sum().backward()
    np.testing.assert_allclose(grad, t.grad.numpy(), rtol=1e-12)
    # a leaf used twice by one function (x * x) is handed over once
    z = Parameter(np.array([3.0]), name='z')
    record = _Recorder()
    (z * z).sum().backward(grad_ready=record)
    assert record.names() == ['z'] and record.calls[0][1] == [6.0]


class _FirstOnly(deepzero.Function):
    """a + b whose backward sends nothing to b: b's branch is never walked."""

    def forward(self, a, b):
        return a + b

    def backward(self, gy):
        return gy, None


def test_grad_ready_hands_over_a_leaf_with_unreached_uses_at_the_end_once():
    w = Parameter(np.array([1.0, 2.0]), name='w')
    unreached = Parameter(np.array([5.0, 5.0]), name='unreached')
    last = Parameter(np.array([2.0, 2.0]), name='last')
    record = _Recorder(watched=(last,))
    # w: one use reached (through _FirstOnly's a), one not (w * unreached -> b)
    y = (_FirstOnly()(w, w * unreached) * last).sum()
    y.backward(grad_ready=record)
    assert record.names() == ['last', 'w']           # never 'unreached': no gradient
    np.testing.assert_array_equal(record.calls[1][1], [2.0, 2.0])
    assert unreached.grad is None


def test_a_dropped_loss_frees_its_graph():
    gc.collect()
    gc.disable()  # reference counting alone must free it: no cycles in the graph
    try:
        x = Variable(np.ones(3))
        hidden = F.tanh(x * 2)
        hidden_ref, creator_ref = weakref.ref(hidden), weakref.ref(hidden.creator)
        loss = (hidden * hidden).sum()
        del hidden
        assert hidden_ref() is not None  # the loss's graph holds it
        loss.backward()
        del loss
        assert hidden_ref() is None and creator_ref() is None
    finally:
        gc.enable()


def test_unused_output_of_a_multi_output_op_gets_zero_gradient():
    x = Variable(np.arange(4.0))
    first, second = F.split(x, 2)
    (first * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 2.0, 0.0, 0.0])


# --- config ---------------------------------------------------------------------------
def test_no_grad_and_test_mode_switch_and_restore():
    x = Variable(np.ones(2))
    with no_grad():
        assert not config.enable_backprop
        y = x * 2
        assert y.creator is None and not y.requires_grad
    assert config.enable_backprop and (x * 2).creator is not None
    with deepzero.test_mode():
        assert not config.train
    assert config.train
    with pytest.raises(AttributeError, match="using_config: unknown setting 'trian'"):
        with using_config('trian', False):
            pass


def test_config_is_thread_local():
    seen = {}
    entered, checked = threading.Event(), threading.Event()

    def worker():
        entered.wait(timeout=10)
        seen['worker'] = (config.enable_backprop, config.train)
        with no_grad():
            seen['worker_inside'] = config.enable_backprop
            checked.set()

    thread = threading.Thread(target=worker)
    thread.start()
    with no_grad(), deepzero.test_mode():
        entered.set()  # the worker looks while the main thread has both switched off
        checked.wait(timeout=10)
        seen['main'] = (config.enable_backprop, config.train)
    thread.join()
    assert seen == {'worker': (True, True), 'worker_inside': False, 'main': (False, False)}
    assert config.enable_backprop


# --- dtypes ------------------------------------------------------------------------------
@pytest.mark.parametrize('expr', [
    lambda x: x * np.float64(2), lambda x: np.float64(2) * x, lambda x: x + 1,
    lambda x: x / 3, lambda x: 1 - x, lambda x: np.sqrt(2) * x, lambda x: 2.0 ** x,
    lambda x: x ** np.float64(0.5), lambda x: x ** 2, lambda x: -x / np.float32(2),
], ids=['x*f64', 'f64*x', 'x+1', 'x/3', '1-x', 'sqrt2*x', '2**x', 'x**f64', 'x**2', '-x/f32'])
def test_float32_is_never_promoted_by_scalars(expr):
    check_float32(expr, np.array([0.5, 1.0, 2.0]))


def test_core_ops_keep_float32(rng):
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    check_float32(lambda u, v: u @ v, a, b)
    check_float32(lambda u: u[[0, 0, 1], 1:], a)
    check_float32(lambda u: u.reshape(3, 2).T.sum(axis=0), a)
    check_float32(lambda u: F.sum_to(F.broadcast_to(u, (4, 2, 3)), (2, 1)), a)
    check_float32(lambda u, v: F.exp(u) + F.log(v * v), a, b[:2, :3])


# --- core ops vs PyTorch and finite differences ---------------------------------------
GETITEM_INDEXES = {
    'int': 1, 'slice': (slice(None), slice(1, None, 2)), 'negative': (-1, slice(None, -1)),
    'newaxis_ellipsis': (Ellipsis, None, 0), 'int_array': np.array([2, 0]),
    'repeated': np.array([1, 1, 2, 1]),
    'repeated_pairs': (np.array([0, 0, 2]), np.array([1, 1, 3])),
    'bool_mask': np.array([True, False, True]), 'mixed': (slice(None), np.array([3, 3, 0])),
}


@pytest.mark.parametrize('name', GETITEM_INDEXES)
def test_getitem(name, rng):
    index = GETITEM_INDEXES[name]
    x = rng.standard_normal((3, 4))
    check_gradients(lambda v: v[index] ** 2, x)
    check_second_order(lambda v: v[index] ** 2, x)
    torch_index = tuple(torch.tensor(i) if isinstance(i, np.ndarray) else i
                        for i in (index if isinstance(index, tuple) else (index,)))
    for dtype in (np.float32, np.float64):
        compare_with_torch(lambda v: v[index], lambda t: t[torch_index], x, dtype=dtype)


def test_getitem_repeated_indices_add_up():
    x = Variable(np.zeros(3))
    x[np.array([0, 0, 2, 0])].sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 0.0, 1.0])


MATMUL_SHAPES = {
    '2d': ((2, 3), (3, 4)), 'batched': ((2, 2, 3), (2, 3, 4)),
    'broadcast_batch': ((2, 1, 2, 3), (3, 3, 2)), 'shared_weight': ((2, 2, 3), (3, 4)),
    'vec_mat': ((3,), (3, 4)), 'mat_vec': ((2, 3), (3,)), 'vec_vec': ((3,), (3,)),
    'batched_vec': ((2, 2, 3), (3,)),
}


@pytest.mark.parametrize('name', MATMUL_SHAPES)
def test_matmul(name, rng):
    a_shape, b_shape = MATMUL_SHAPES[name]
    a, b = rng.standard_normal(a_shape), rng.standard_normal(b_shape)
    np.testing.assert_allclose((Variable(a) @ Variable(b)).data, a @ b, rtol=1e-12)
    check_gradients(lambda u, v: u @ v, a, b)
    check_second_order(lambda u, v: u @ v, a, b)
    check_second_order(lambda u, v: (u @ v) ** 2, a, b)
    for dtype in (np.float32, np.float64):
        compare_with_torch(lambda u, v: u @ v, torch.matmul, a, b, dtype=dtype)


def test_matmul_with_a_constant_array_and_bad_shapes():
    w = Variable(np.ones((3, 2)))
    y = np.ones((4, 3)) @ w
    y.sum().backward()
    np.testing.assert_array_equal(w.grad.data, np.full((3, 2), 4.0))
    with pytest.raises(ValueError, match=r'matmul: shapes \(2, 3\) and \(4, 5\) are not aligned'):
        Variable(np.ones((2, 3))) @ Variable(np.ones((4, 5)))


# name: (deepzero op, torch op, input shape)
SHAPE_OPS = {
    'reshape': (lambda x: x.reshape(3, 4), lambda t: t.reshape(3, 4), (2, 6)),
    'reshape_-1': (lambda x: F.reshape(x, (-1, 2)), lambda t: t.reshape(-1, 2), (2, 3, 2)),
    'transpose': (lambda x: x.transpose(), lambda t: t.permute(2, 1, 0), (2, 3, 4)),
    'transpose_axes': (lambda x: x.transpose(1, 2, 0), lambda t: t.permute(1, 2, 0), (2, 3, 4)),
    'sum_all': (lambda x: x.sum(), lambda t: t.sum(), (2, 3)),
    'sum_axis': (lambda x: x.sum(axis=1), lambda t: t.sum(dim=1), (2, 3, 2)),
    'sum_axes_keepdims': (lambda x: x.sum(axis=(0, 2), keepdims=True),
                          lambda t: t.sum(dim=(0, 2), keepdim=True), (2, 3, 2)),
    'sum_negative': (lambda x: x.sum(axis=-1), lambda t: t.sum(dim=-1), (2, 3)),
    'broadcast_to': (lambda x: F.broadcast_to(x, (2, 3, 4)), lambda t: t.expand(2, 3, 4),
                     (3, 1)),
    'sum_to': (lambda x: F.sum_to(x, (3, 1)), lambda t: t.sum(dim=(0, 2)).reshape(3, 1),
               (2, 3, 4)),
    'sum_to_middle': (lambda x: F.sum_to(x, (1, 3, 1)), lambda t: t.sum(dim=(0, 2), keepdim=True),
                      (2, 3, 4)),
}


@pytest.mark.parametrize('name', SHAPE_OPS)
def test_shape_ops(name, rng):
    op, torch_op, shape = SHAPE_OPS[name]
    x = rng.standard_normal(shape)
    check_gradients(lambda v: op(v) ** 2, x)
    check_second_order(lambda v: op(v) ** 2, x)
    for dtype in (np.float32, np.float64):
        compare_with_torch(op, torch_op, x, dtype=dtype)


def test_broadcasting_arithmetic_gradients(rng):
    a, b = rng.uniform(0.5, 2, (2, 3, 1)), rng.uniform(0.5, 2, (3, 4))
    for op in (lambda u, v: u + v, lambda u, v: u - v, lambda u, v: u * v,
               lambda u, v: u / v):
        check_gradients(op, a, b)
        check_second_order(lambda u, v: op(u, v) ** 2, a, b)
        compare_with_torch(op, op, a, b, dtype=np.float32)


def test_core_errors_name_the_op_and_shapes():
    with pytest.raises(ValueError, match=r'add: shapes \(2,\) and \(3,\) cannot be broadcast'):
        Variable(np.ones(2)) + Variable(np.ones(3))
    with pytest.raises(ValueError, match=r'reshape: cannot reshape \(2, 3\) \(6 elements\) '
                                         r'into \(4,\)'):
        Variable(np.ones((2, 3))).reshape(4)
    with pytest.raises(ValueError, match=r'broadcast_to: cannot broadcast shape \(2,\) to \(3,\)'):
        F.broadcast_to(Variable(np.ones(2)), (3,))


@pytest.mark.parametrize('target', [(3, 1), (4, 2, 3), (2,), (3, 3), (2, -3), (0, 3)])
def test_sum_to_an_unreachable_shape_names_both_shapes(target):
    """sum_to(x, shape) exists only where ``shape`` broadcasts to ``x.shape``;
    (2, 3) -> (3, 1) used to give a (2, 1) result."""
    x = Variable(np.ones((2, 3)))
    message = rf"sum_to: cannot sum shape \(2, 3\) to {re.escape(str(target))}"
    with pytest.raises(ValueError, match=message):
        F.sum_to(x, target)
    with pytest.raises(ValueError, match=message):
        F.sum_to(x.data, target)  # an array, as broadcasting ops' backward passes


@pytest.mark.parametrize('target', [(3, 2), (3,), (-1, 3), (1, 3)])
def test_broadcast_to_an_unreachable_shape_names_both_shapes(target):
    with pytest.raises(ValueError, match=rf"broadcast_to: cannot broadcast shape \(2, 3\) "
                                         rf"to {re.escape(str(target))}"):
        F.broadcast_to(Variable(np.ones((2, 3))), target)


def test_sum_to_and_broadcast_to_take_an_int_shape_as_numpy_does():
    x = Variable(np.arange(3.0))
    np.testing.assert_array_equal(F.broadcast_to(x, 3).data, np.broadcast_to(x.data, 3))
    np.testing.assert_array_equal(F.sum_to(F.broadcast_to(x, (2, 3)), 3).data, 2 * x.data)
    assert F.sum_to(Variable(np.ones((0, 3))), (1, 3)).shape == (1, 3)  # (1, 3) -> (0, 3)


def test_cast_keeps_the_graph_and_sends_the_gradient_back_in_the_input_dtype():
    x = Variable(np.array([1.0, -2.0, 3.0]))
    y = cast(x, 'float32')
    assert y.dtype == np.float32 and y.creator is not None
    (y * y).sum().backward(create_graph=True)
    assert x.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad.data, [2.0, -4.0, 6.0])
    gx = x.grad
    x.cleargrad()
    gx.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 2.0, 2.0])
    assert cast(x, np.float64) is x


def test_zero_d_arrays_adapt_like_scalars():
    """A 0-d int64 or float64 array (what NumPy reductions return) must not
    promote float32 data, on either side of the operator."""
    x = Variable(np.ones(3, np.float32))
    for y in (x * np.array(3), np.array(2.0) - x, x / np.array(4, np.int64),
              np.float64(2.0) - x, x + np.array(1.5)):
        assert y.dtype == np.float32


class _Tagged(deepzero.Function):
    """Identity that logs its tag when its backward runs."""

    def __init__(self, tag, log):
        self.tag, self.log = tag, log

    def forward(self, x):
        return x.copy()

    def backward(self, gy):
        self.log.append(self.tag)
        return gy


@pytest.mark.parametrize('grad_call', ['backward', 'grad'])
def test_functions_of_one_generation_run_in_the_same_order_whatever_their_addresses(grad_call):
    """Ties in generation are broken by push order, not by memory address (which
    changes between runs and so changed the order gradients were summed in)."""
    orders = []
    for address_order in (False, True):
        log = []
        # tags follow the addresses upwards in one run, downwards in the other
        functions = sorted((_Tagged(None, log) for _ in range(12)), key=id, reverse=address_order)
        for tag, f in enumerate(functions):
            f.tag = tag
        x = Variable(np.ones(3))
        total = functions[0](x)
        for f in functions[1:]:
            total = total + f(x)
        if grad_call == 'backward':
            total.backward()
        else:
            deepzero.grad(total, x)
        orders.append(log)
    assert orders[0] == orders[1] and sorted(orders[0]) == list(range(12))
