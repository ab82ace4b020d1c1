"""DeZero's optimizers (deepzero.dezero.optimizers): each update rule against
a step computed by hand in float64, DeZero's defaults, the hooks, and float32
parameters staying float32."""
import math

import numpy as np
import pytest

from deepzero.dezero import Parameter, Variable
from deepzero.dezero import optimizers


class Params:
    """A stand-in target: anything with ``params()`` can be set up."""

    def __init__(self, *params):
        self._params = params

    def params(self):
        yield from self._params


def param(values, grad=None, dtype=np.float64):
    p = Parameter(np.array(values, dtype=dtype))
    if grad is not None:
        p.grad = Variable(np.array(grad, dtype=dtype))
    return p


W0, G1, G2 = np.array([1.0, -2.0, 0.5]), np.array([0.5, -1.0, 2.0]), np.array([-0.3, 0.2, 1.0])


def two_steps(optimizer):
    """W after two updates with gradients G1 then G2."""
    p = param(W0, G1)
    optimizer.setup(Params(p))
    optimizer.update()
    p.grad = Variable(G2.copy())
    optimizer.update()
    return p.data


def test_defaults_are_dezeros():
    assert optimizers.SGD().lr == 0.01
    m = optimizers.MomentumSGD()
    assert (m.lr, m.momentum) == (0.01, 0.9)
    a = optimizers.AdaGrad()
    assert (a.lr, a.eps) == (0.001, 1e-8)
    d = optimizers.AdaDelta()
    assert (d.rho, d.eps) == (0.95, 1e-6)
    adam = optimizers.Adam()
    assert (adam.alpha, adam.beta1, adam.beta2, adam.eps, adam.t) == (0.001, 0.9, 0.999, 1e-8, 0)


def test_setup_returns_the_optimizer_and_checks_its_target():
    opt = optimizers.SGD()
    assert opt.setup(Params()) is opt
    with pytest.raises(TypeError, match='params'):
        optimizers.SGD().setup(object())
    with pytest.raises(RuntimeError, match='setup'):
        optimizers.SGD().update()


def test_sgd():
    w = W0 - 0.01 * G1
    w = w - 0.01 * G2
    np.testing.assert_allclose(two_steps(optimizers.SGD()), w, rtol=1e-15)


def test_momentum_sgd():
    v = -0.1 * G1
    w = W0 + v
    v = 0.5 * v - 0.1 * G2
    w = w + v
    np.testing.assert_allclose(two_steps(optimizers.MomentumSGD(lr=0.1, momentum=0.5)), w,
                               rtol=1e-15)


def test_adagrad():
    h = G1 ** 2
    w = W0 - 0.1 * G1 / (np.sqrt(h) + 1e-8)
    h = h + G2 ** 2
    w = w - 0.1 * G2 / (np.sqrt(h) + 1e-8)
    np.testing.assert_allclose(two_steps(optimizers.AdaGrad(lr=0.1)), w, rtol=1e-14)


def test_adadelta():
    rho, eps = 0.95, 1e-6
    msg, msdx, w = np.zeros(3), np.zeros(3), W0.copy()
    for g in (G1, G2):
        msg = rho * msg + (1 - rho) * g * g
        dx = np.sqrt((msdx + eps) / (msg + eps)) * g
        msdx = rho * msdx + (1 - rho) * dx * dx
        w = w - dx
    np.testing.assert_allclose(two_steps(optimizers.AdaDelta()), w, rtol=1e-14)


def test_adam_with_its_bias_corrected_step():
    b1, b2, eps, alpha = 0.9, 0.999, 1e-8, 0.01
    m, v, w = np.zeros(3), np.zeros(3), W0.copy()
    for t, g in enumerate((G1, G2), start=1):
        m = m + (1 - b1) * (g - m)
        v = v + (1 - b2) * (g * g - v)
        lr = alpha * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        w = w - lr * m / (np.sqrt(v) + eps)
    adam = optimizers.Adam(alpha=alpha)
    np.testing.assert_allclose(two_steps(adam), w, rtol=1e-14)
    assert adam.t == 2
    assert adam.lr == pytest.approx(alpha * math.sqrt(1 - b2 ** 2) / (1 - b1 ** 2))


@pytest.mark.parametrize('make', [optimizers.SGD, optimizers.MomentumSGD, optimizers.AdaGrad,
                                  optimizers.AdaDelta, optimizers.Adam])
def test_float32_parameters_stay_float32_and_in_place(make):
    p = param(W0, G1, dtype=np.float32)
    data = p.data
    make().setup(Params(p)).update()
    assert p.data is data and p.data.dtype == np.float32
    assert not np.array_equal(p.data, W0.astype(np.float32))


def test_parameters_without_a_gradient_are_left_alone():
    with_grad, without = param(W0, G1), param(W0)
    optimizers.SGD(lr=1.0).setup(Params(with_grad, without)).update()
    np.testing.assert_array_equal(without.data, W0)
    np.testing.assert_allclose(with_grad.data, W0 - G1)


def test_weight_decay_adds_rate_times_w_to_the_gradient():
    p = param(W0, G1)
    opt = optimizers.SGD(lr=0.1).setup(Params(p))
    opt.add_hook(optimizers.WeightDecay(0.5))
    opt.update()
    np.testing.assert_allclose(p.data, W0 - 0.1 * (G1 + 0.5 * W0), rtol=1e-15)


def test_weight_decay_does_not_reach_a_gradient_shared_with_another_variable():
    shared = Variable(G1.copy())
    p, q = param(W0), param(W0)
    p.grad = q.grad = shared   # as `x + b` hands one gy to both inputs
    opt = optimizers.SGD(lr=1.0).setup(Params(p))
    opt.add_hook(optimizers.WeightDecay(1.0))
    opt.update()
    np.testing.assert_array_equal(q.grad.data, G1)


def test_clip_grad_scales_by_the_global_norm():
    p, q = param([0.0, 0.0], [3.0, 0.0]), param([0.0], [4.0])   # global norm 5
    opt = optimizers.SGD(lr=1.0).setup(Params(p, q))
    opt.add_hook(optimizers.ClipGrad(1.0))
    opt.update()
    rate = 1.0 / (5.0 + 1e-6)
    np.testing.assert_allclose(p.data, [-3.0 * rate, 0.0], rtol=1e-15)
    np.testing.assert_allclose(q.data, [-4.0 * rate], rtol=1e-15)


def test_clip_grad_leaves_small_gradients():
    p = param([0.0, 0.0], [0.3, 0.4])
    opt = optimizers.SGD(lr=1.0).setup(Params(p))
    opt.add_hook(optimizers.ClipGrad(1.0))
    opt.update()
    np.testing.assert_allclose(p.data, [-0.3, -0.4], rtol=1e-15)


def test_freeze_param_keeps_frozen_parameters():
    frozen, free = param(W0, G1), param(W0, G1)
    opt = optimizers.MomentumSGD().setup(Params(frozen, free))
    opt.add_hook(optimizers.FreezeParam(Params(frozen)))   # a layer: its params()
    opt.update()   # DeZero's update crashed here on the cleared gradient
    np.testing.assert_array_equal(frozen.data, W0)
    assert not np.array_equal(free.data, W0)
    opt2 = optimizers.SGD().setup(Params(frozen, free))
    opt2.add_hook(optimizers.FreezeParam(frozen))          # or a Parameter itself
    frozen.grad = Variable(G1.copy())
    opt2.update()
    np.testing.assert_array_equal(frozen.data, W0)


def test_hooks_run_in_the_order_added():
    p = param(W0, G1)
    opt = optimizers.SGD(lr=1.0).setup(Params(p))
    opt.add_hook(optimizers.WeightDecay(1.0))   # grad = G1 + W0 = [1.5, -3, 2.5]
    opt.add_hook(optimizers.ClipGrad(1.0))      # then scaled to norm 1
    opt.update()
    g = G1 + W0
    np.testing.assert_allclose(p.data, W0 - g / (np.linalg.norm(g) + 1e-6), rtol=1e-14)
