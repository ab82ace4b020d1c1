"""batch_norm: Keras BatchNormalization semantics (momentum 0.99 = weight of the
old running value, biased batch variance in the running update)."""
import numpy as np
import pytest
import torch

import deepzero
import deepzero.functions as F
from deepzero import Variable
from deepzero.utils import check_gradients, check_second_order
from torch_oracle import compare_with_torch

# (x shape, channel axis): channels_last, channels_first (NCHW), dense (N, C)
LAYOUTS = [((2, 3, 3, 4), -1), ((2, 4, 3, 3), 1), ((6, 4), -1), ((2, 3, 4), 1)]


def stats(channels, rng, dtype=np.float64):
    """gamma, beta, moving_mean, moving_variance."""
    return (rng.uniform(0.5, 1.5, channels).astype(dtype),
            rng.standard_normal(channels).astype(dtype),
            rng.standard_normal(channels).astype(dtype),
            rng.uniform(0.5, 2.0, channels).astype(dtype))


def torch_batch_norm(axis, training, moving_mean, moving_variance, epsilon=1e-3):
    """torch's batch_norm wants channels on axis 1: move them there and back."""
    def run(x, gamma, beta):
        moved = torch.movedim(x, axis, 1)
        y = torch.nn.functional.batch_norm(
            moved, torch.tensor(moving_mean), torch.tensor(moving_variance), gamma, beta,
            training=training, momentum=0.0, eps=epsilon)
        return torch.movedim(y, 1, axis)
    return run


@pytest.mark.parametrize('training', [True, False])
@pytest.mark.parametrize('shape,axis', LAYOUTS)
def test_gradients(rng, shape, axis, training):
    gamma, beta, mm, mv = stats(shape[axis], rng)
    weights = rng.standard_normal(shape)  # a non-uniform upstream gradient

    def f(x, gamma, beta):
        return F.batch_norm(x, gamma, beta, mm.copy(), mv.copy(), axis=axis,
                            training=training) * weights
    check_gradients(f, rng.standard_normal(shape), gamma, beta)


@pytest.mark.parametrize('training', [True, False])
def test_second_order(rng, training):
    gamma, beta, mm, mv = stats(3, rng)
    check_second_order(lambda x, g, b: F.batch_norm(x, g, b, mm.copy(), mv.copy(),
                                                    training=training) ** 3,
                       rng.standard_normal((4, 3)), gamma, beta)


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('training', [True, False])
@pytest.mark.parametrize('shape,axis', LAYOUTS[:2])
def test_matches_torch(rng, shape, axis, training, dtype):
    gamma, beta, mm, mv = stats(shape[axis], rng, dtype)
    x = rng.standard_normal(shape) * 3 + 1
    compare_with_torch(
        lambda x, g, b: F.batch_norm(x, g, b, mm.copy(), mv.copy(), axis=axis,
                                     training=training),
        torch_batch_norm(axis, training, mm, mv), x, gamma, beta, dtype=dtype)


def test_moving_stats_update_in_place_with_biased_variance(rng):
    x = rng.standard_normal((5, 3, 2, 2)).astype(np.float32)
    gamma, beta, mm, mv = stats(3, rng, np.float32)
    moving_mean, moving_variance = mm.copy(), Variable(mv.copy())  # array and Variable
    F.batch_norm(x, gamma, beta, moving_mean, moving_variance, momentum=0.9, axis=1,
                 training=True)
    batch_mean, batch_var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))  # biased
    np.testing.assert_allclose(moving_mean, mm * 0.9 + batch_mean * 0.1, rtol=1e-6)
    np.testing.assert_allclose(moving_variance.data, mv * 0.9 + batch_var * 0.1, rtol=1e-6)
    assert moving_mean.dtype == moving_variance.dtype == np.float32


@pytest.mark.filterwarnings('ignore::DeprecationWarning')  # inside keras's torch backend
def test_matches_keras_layer_output_and_moving_stats(rng):
    keras = pytest.importorskip('keras')
    x = rng.standard_normal((4, 3, 5, 2)).astype(np.float32) * 2 + 0.5
    gamma, beta, mm, mv = stats(3, rng, np.float32)
    layer = keras.layers.BatchNormalization(axis=1, momentum=0.9, epsilon=1e-3)
    layer.build(x.shape)
    layer.set_weights([gamma, beta, mm, mv])
    expected = keras.ops.convert_to_numpy(layer(x, training=True))
    moving_mean, moving_variance = mm.copy(), mv.copy()
    y = F.batch_norm(x, gamma, beta, moving_mean, moving_variance, momentum=0.9, axis=1,
                     training=True)
    np.testing.assert_allclose(y.data, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(moving_mean, layer.moving_mean.numpy(), rtol=1e-6)
    np.testing.assert_allclose(moving_variance, layer.moving_variance.numpy(), rtol=1e-6)
    inference = keras.ops.convert_to_numpy(layer(x, training=False))
    y = F.batch_norm(x, gamma, beta, moving_mean, moving_variance, axis=1, training=False)
    np.testing.assert_allclose(y.data, inference, rtol=1e-5, atol=1e-5)


def test_training_none_follows_config_train(rng):
    x = rng.standard_normal((4, 2))
    gamma, beta, mm, mv = stats(2, rng)
    moving_mean, moving_variance = mm.copy(), mv.copy()
    with deepzero.test_mode():
        y = F.batch_norm(x, gamma, beta, moving_mean, moving_variance)
    np.testing.assert_array_equal(moving_mean, mm)  # no update in inference
    np.testing.assert_allclose(y.data, gamma * (x - mm) / np.sqrt(mv + 1e-3) + beta)
    y = F.batch_norm(x, gamma, beta, moving_mean, moving_variance)
    np.testing.assert_allclose(y.data.mean(axis=0), beta, atol=1e-12)  # batch stats
    assert not np.array_equal(moving_mean, mm)


def test_gamma_and_beta_may_be_none(rng):
    x = Variable(rng.standard_normal((8, 3)).astype(np.float32))
    y = F.batch_norm(x, None, None, np.zeros(3, np.float32), np.ones(3, np.float32),
                     training=True)
    np.testing.assert_allclose(y.data.mean(axis=0), 0, atol=1e-6)
    np.testing.assert_allclose(y.data.var(axis=0), x.data.var(axis=0)
                               / (x.data.var(axis=0) + 1e-3), rtol=1e-5)
    (y * y).sum().backward()
    assert y.dtype == x.grad.dtype == np.float32


@pytest.mark.parametrize('training', [True, False])
def test_float32_stays_float32(rng, training):
    x = Variable(rng.standard_normal((2, 4, 4, 3)).astype(np.float32))
    gamma, beta = (Variable(a) for a in stats(3, rng, np.float32)[:2])
    mm, mv = stats(3, rng, np.float32)[2:]
    y = F.batch_norm(x, gamma, beta, mm, mv, training=training)
    y.backward()
    assert y.dtype == x.grad.dtype == gamma.grad.dtype == beta.grad.dtype == np.float32
    assert mm.dtype == mv.dtype == np.float32


def test_bad_shapes_name_the_op_and_shapes():
    x = np.zeros((2, 4, 4, 16), np.float32)
    with pytest.raises(ValueError, match=r"batch_norm: x has 16 channels on axis -1 but "
                                         r"gamma has shape \(8,\) \(x \(2, 4, 4, 16\)\)"):
        F.batch_norm(x, np.ones(8), None, np.zeros(16), np.ones(16))
    with pytest.raises(ValueError, match=r"batch_norm: x has 4 channels on axis 1 but "
                                         r"moving_variance has shape \(16,\)"):
        F.batch_norm(x, None, None, np.zeros(4), np.ones(16), axis=1)
    with pytest.raises(ValueError, match=r"batch_norm: axis 4 is not a channel axis"):
        F.batch_norm(x, None, None, np.zeros(16), np.ones(16), axis=4)
    with pytest.raises(TypeError, match=r"batch_norm: x must be a floating-point array, "
                                        r"got int64 \(x \(2, 4, 4, 16\)\)"):
        F.batch_norm(x.astype(np.int64), None, None, np.zeros(16), np.ones(16))


def test_inference_backward_uses_the_stats_of_its_forward(rng):
    x = Variable(rng.standard_normal((4, 2)))
    gamma, beta, mm, mv = stats(2, rng)
    moving_mean, moving_variance = mm.copy(), mv.copy()
    y = F.batch_norm(x, gamma, beta, moving_mean, moving_variance, training=False)
    F.batch_norm(x.data * 5, gamma, beta, moving_mean, moving_variance, training=True)
    y.backward()  # after the moving stats moved
    np.testing.assert_allclose(x.grad.data, np.broadcast_to(gamma / np.sqrt(mv + 1e-3),
                                                            (4, 2)))


@pytest.mark.parametrize('constants', [(), ('gamma', 'beta')])
@pytest.mark.parametrize('training', [True, False])
@pytest.mark.parametrize('shape,axis', LAYOUTS + [((1, 4, 3, 3), 1)])
def test_first_order_kernel_matches_the_differentiable_backward(rng, shape, axis, training,
                                                                constants):
    """A first-order backward runs the fused kernel; with create_graph=True the
    same gradients come from differentiable ops (the path of every higher order)."""
    gamma, beta, mm, mv = stats(shape[axis], rng)
    x = rng.standard_normal(shape) * 3 + 1
    gy = rng.standard_normal(shape)
    grads = []
    for create_graph in (False, True):
        inputs = [Variable(x.copy()), gamma.copy(), beta.copy()]
        for i, name in ((1, 'gamma'), (2, 'beta')):
            if name not in constants:
                inputs[i] = Variable(inputs[i])
        y = F.batch_norm(*inputs, mm.copy(), mv.copy(), axis=axis, training=training)
        y.grad = Variable(gy)
        y.backward(create_graph=create_graph)
        grads.append([v.grad.data if isinstance(v, Variable) else None for v in inputs])
    for fused, differentiable in zip(*grads):
        if differentiable is None:
            assert fused is None
        else:
            np.testing.assert_allclose(fused, differentiable, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize('training', [True, False])
def test_frozen_batch_norm_gives_only_the_input_gradient(rng, training):
    """gamma and beta constants (a frozen Keras layer): x's gradient only, and
    in inference it is gy * gamma / sqrt(var + epsilon)."""
    gamma, beta, mm, mv = (a.astype(np.float32) for a in stats(3, rng))
    x = Variable(rng.standard_normal((4, 5, 5, 3)).astype(np.float32))
    gy = rng.standard_normal(x.shape).astype(np.float32)
    y = F.batch_norm(x, gamma, beta, mm, mv, training=training)
    y.grad = Variable(gy)
    y.backward()
    assert x.grad.dtype == np.float32
    if training:  # the batch mean's direction is projected out
        np.testing.assert_allclose(x.grad.data.sum(axis=(0, 1, 2)), 0, atol=1e-4)
    else:
        np.testing.assert_allclose(x.grad.data, gy * (gamma / np.sqrt(mv + np.float32(1e-3))),
                                   rtol=1e-6)
