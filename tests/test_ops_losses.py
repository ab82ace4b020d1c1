"""Losses: gradients (in both arguments), PyTorch and Keras agreement, and the
DeZero traps (BCE clipped at 0.999, sigmoid crossentropy inf on saturated
logits, MSE divided by the batch size instead of the element count)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import deepzero.functions as F
from deepzero import Variable
from deepzero.utils import check_gradients, check_second_order
from torch_oracle import compare_with_torch

EPS = 1e-7
REDUCTIONS = ['mean', 'sum', 'none']


def torch_reduce(per_element, reduction, class_axis=None):
    """Per-sample mean over the non-batch axes (after summing the class axis),
    then the reduction."""
    if class_axis is not None:
        per_element = per_element.sum(dim=class_axis)
    per_sample = per_element.reshape(per_element.shape[0], -1).mean(dim=1)
    return {'mean': per_sample.mean(), 'sum': per_sample.sum(), 'none': per_sample}[reduction]


def torch_cce_probabilities(y, t, axis=-1):
    p = torch.clamp(y / y.sum(dim=axis, keepdim=True), EPS, 1 - EPS)
    return -t * torch.log(p)


# name -> (deepzero loss, torch per-element loss, class axis or None, input kind)
CASES = {
    'mse': (F.mean_squared_error, lambda y, t: (y - t) ** 2, None, 'real'),
    'mae': (F.mean_absolute_error, lambda y, t: (y - t).abs(), None, 'real'),
    'bce': (F.binary_crossentropy,
            lambda y, t: TF.binary_cross_entropy(torch.clamp(y, EPS, 1 - EPS), t,
                                                 reduction='none'), None, 'prob'),
    'bce_logits': (lambda y, t, **kw: F.binary_crossentropy(y, t, from_logits=True, **kw),
                   lambda z, t: TF.binary_cross_entropy_with_logits(z, t, reduction='none'),
                   None, 'real'),
    'hinge': (F.hinge, lambda y, t: torch.clamp(1 - (2 * t - 1) * y, min=0), None, 'real'),
    'cce': (F.categorical_crossentropy, torch_cce_probabilities, -1, 'positive'),
    'cce_logits': (lambda y, t, **kw: F.categorical_crossentropy(y, t, from_logits=True, **kw),
                   lambda z, t: -t * TF.log_softmax(z, dim=-1), -1, 'real'),
}


def make_inputs(rng, kind, shape, class_axis):
    """Predictions of the kind a loss expects and matching float targets:
    one-hot along the class axis for crossentropies, 0/1 otherwise."""
    y = {'real': rng.standard_normal(shape) * 2,
         'prob': rng.uniform(0.02, 0.98, shape),
         'positive': rng.uniform(0.1, 2.0, shape)}[kind]
    if class_axis is None:
        t = rng.integers(0, 2, shape).astype(np.float64)
    else:
        classes = rng.integers(0, shape[class_axis], shape[:-1])
        t = np.eye(shape[class_axis])[classes]
    return y, t


@pytest.mark.parametrize('reduction', REDUCTIONS)
@pytest.mark.parametrize('shape', [(4, 3), (2, 3, 4)])
@pytest.mark.parametrize('name', sorted(CASES))
def test_gradients(rng, name, shape, reduction):
    loss, _, class_axis, kind = CASES[name]
    y, t = make_inputs(rng, kind, shape, class_axis)
    check_gradients(lambda y: loss(y, t, reduction=reduction), y)


def soft_targets(rng, name, shape, class_axis):
    """Targets away from the label values: distributions along the class
    axis, values in (-1, 1) for hinge (so that nudging one never switches its
    {0, 1} -> {-1, 1} label mapping on), in (0, 1) otherwise."""
    if class_axis is not None:
        t = rng.uniform(0.1, 1.0, shape)
        return t / t.sum(axis=class_axis, keepdims=True)
    return rng.uniform(-1.0, 1.0, shape) if name == 'hinge' else rng.uniform(0.0, 1.0, shape)


@pytest.mark.parametrize('reduction', REDUCTIONS)
@pytest.mark.parametrize('name', sorted(CASES))
def test_gradients_in_both_arguments(rng, name, reduction):
    """A target Variable that requires a gradient gets the right one."""
    loss, _, class_axis, kind = CASES[name]
    y, _ = make_inputs(rng, kind, (3, 2, 4), class_axis)
    t = soft_targets(rng, name, y.shape, class_axis)
    check_gradients(lambda y, t: loss(y, t, reduction=reduction), y, t)


@pytest.mark.parametrize('name', ['mse', 'bce', 'bce_logits', 'cce', 'cce_logits'])
def test_second_order_in_both_arguments(rng, name):
    loss, _, class_axis, kind = CASES[name]
    y, _ = make_inputs(rng, kind, (3, 4), class_axis)
    check_second_order(lambda y, t: loss(y, t), y, soft_targets(rng, name, y.shape, class_axis))


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('reduction', REDUCTIONS)
@pytest.mark.parametrize('name', sorted(CASES))
def test_matches_torch_in_both_arguments(rng, name, reduction, dtype):
    loss, torch_loss, class_axis, kind = CASES[name]
    y, t = make_inputs(rng, kind, (5, 2, 4), class_axis)
    compare_with_torch(lambda y, t: loss(y, t, reduction=reduction),
                       lambda y, t: torch_reduce(torch_loss(y, t), reduction, class_axis),
                       y, t, dtype=dtype, grad_inputs=[0, 1])


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_mse_in_either_argument_order_matches_torch_mse_loss(rng, dtype):
    """mean_squared_error(target, prediction) must train the prediction too."""
    a, b = rng.standard_normal((6, 3)), rng.standard_normal((6, 3))
    compare_with_torch(F.mean_squared_error, TF.mse_loss, a, b, dtype=dtype)
    compare_with_torch(lambda a, b: F.mean_squared_error(b, a),
                       lambda a, b: TF.mse_loss(b, a), a, b, dtype=dtype)
    compare_with_torch(lambda a, b: F.mean_squared_error(a, b, reduction='none'),
                       lambda a, b: TF.mse_loss(a, b, reduction='none').mean(dim=1),
                       a, b, dtype=dtype)


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
@pytest.mark.parametrize('from_logits', [False, True])
def test_sparse_matches_torch(rng, from_logits, dtype):
    y = rng.uniform(0.1, 2.0, (6, 5))
    labels = rng.integers(0, 5, 6)

    def torch_loss(y, labels):
        log_p = TF.log_softmax(y, dim=-1) if from_logits else torch.log(
            torch.clamp(y / y.sum(dim=-1, keepdim=True), EPS, 1 - EPS))
        return TF.nll_loss(log_p, labels)
    compare_with_torch(lambda y, t: F.sparse_categorical_crossentropy(y, t, from_logits),
                       torch_loss, y, labels, dtype=dtype, grad_inputs=[0])


@pytest.mark.parametrize('from_logits', [False, True])
def test_categorical_on_channels_first_axis(rng, from_logits):
    y = rng.uniform(0.1, 2.0, (2, 3, 2, 2))  # (N, C, H, W)
    labels = rng.integers(0, 3, (2, 2, 2))
    one_hot = np.moveaxis(np.eye(3)[labels], -1, 1)
    dense = F.categorical_crossentropy(y, one_hot, from_logits, axis=1, reduction='none')
    sparse = F.sparse_categorical_crossentropy(y, labels, from_logits, axis=1,
                                               reduction='none')
    ty = torch.tensor(y)
    log_p = TF.log_softmax(ty, dim=1) if from_logits else torch.log(ty / ty.sum(1, True))
    expected = TF.nll_loss(log_p, torch.tensor(labels), reduction='none').mean(dim=(1, 2))
    np.testing.assert_allclose(dense.data, expected.numpy(), rtol=1e-10)
    np.testing.assert_allclose(sparse.data, expected.numpy(), rtol=1e-10)
    check_gradients(lambda y: F.sparse_categorical_crossentropy(y, labels, from_logits,
                                                                axis=1), y)


# --- the DeZero traps ---------------------------------------------------------------
def test_bce_confident_wrong_prediction_still_has_a_gradient():
    p = Variable(np.array([[0.9995]], np.float32))
    loss = F.binary_crossentropy(p, np.array([[0.0]], np.float32))
    loss.backward()
    tp = torch.tensor([[0.9995]], requires_grad=True)
    expected = TF.binary_cross_entropy(torch.clamp(tp, EPS, 1 - EPS), torch.zeros(1, 1))
    expected.backward()
    assert p.grad.data[0, 0] > 1000  # 1 / (1 - p) = 2000, not DeZero's 0
    np.testing.assert_allclose(loss.data, expected.item(), rtol=1e-5)
    np.testing.assert_allclose(p.grad.data, tp.grad.numpy(), rtol=1e-4)


def test_bce_clips_at_keras_epsilon():
    p = Variable(np.array([0.0, 1.0, 1.0]))
    loss = F.binary_crossentropy(p, np.array([1.0, 0.0, 1.0]), reduction='none')
    np.testing.assert_allclose(loss.data, [-np.log(EPS), -np.log(EPS), -np.log1p(-EPS)])
    loss.backward()
    np.testing.assert_array_equal(p.grad.data, 0)  # outside the clip range: flat


def test_sigmoid_crossentropy_on_saturated_logits_is_finite():
    z = Variable(np.array([100.0, -100.0, 100.0, -100.0, 0.0], np.float32))
    t = np.array([0.0, 1.0, 1.0, 0.0, 1.0], np.float32)
    loss = F.binary_crossentropy(z, t, from_logits=True, reduction='none')
    np.testing.assert_allclose(loss.data, [100, 100, 0, 0, np.log(2)], rtol=1e-6, atol=1e-6)
    loss.backward()
    sigmoid = np.array([1.0, 0.0, 1.0, 0.0, 0.5], np.float32)
    np.testing.assert_allclose(z.grad.data, sigmoid - t, atol=1e-7)
    assert np.all(np.isfinite(z.grad.data)) and z.grad.dtype == np.float32


def test_mse_is_an_element_mean():
    loss = F.mean_squared_error(np.zeros((4, 3), np.float32), np.ones((4, 3)))
    assert loss.data == 1.0  # DeZero gives 3.0: sum / batch size
    assert loss.shape == () and loss.dtype == np.float32


# --- dtypes, labels and shapes ---------------------------------------------------------
@pytest.mark.parametrize('name', sorted(CASES))
def test_float32_stays_float32_with_int_labels(rng, name):
    loss, _, class_axis, kind = CASES[name]
    y, t = make_inputs(rng, kind, (4, 3), class_axis)
    y = Variable(y.astype(np.float32))
    out = loss(y, t.astype(np.int64))
    out.backward()
    assert out.dtype == y.grad.dtype == np.float32
    assert loss(y, t.astype(np.int64), reduction='none').dtype == np.float32


def test_sparse_float32_and_label_shapes(rng):
    y = Variable(rng.uniform(0.1, 1, (4, 3)).astype(np.float32))
    labels = np.array([0, 2, 1, 2])
    flat = F.sparse_categorical_crossentropy(y, labels, reduction='none')
    column = F.sparse_categorical_crossentropy(y, labels[:, None].astype(np.float32),
                                               reduction='none')
    np.testing.assert_array_equal(flat.data, column.data)
    assert flat.shape == (4,) and flat.dtype == np.float32


def test_constant_targets_get_no_gradient(rng):
    y = Variable(rng.uniform(0.1, 0.9, (3, 2)))
    t = Variable(rng.uniform(0, 1, (3, 2)), requires_grad=False)
    F.binary_crossentropy(y, t).backward()
    assert y.grad is not None and t.grad is None


@pytest.mark.parametrize('t_dtype', [np.float32, np.float64])
def test_a_target_that_requires_a_gradient_gets_it_in_its_own_shape_and_dtype(rng, t_dtype):
    y = rng.standard_normal((5, 1)).astype(np.float32)
    t = Variable(rng.standard_normal(5).astype(t_dtype))  # (N,) against (N, 1)
    loss = F.mean_squared_error(y, t)
    loss.backward()
    assert loss.dtype == np.float32  # y_pred's dtype, as for constant targets
    assert t.grad.shape == t.shape and t.grad.dtype == t_dtype
    np.testing.assert_allclose(t.grad.data, 2 * (t.data - y[:, 0]) / 5, rtol=1e-6)


def test_sparse_class_indices_that_require_a_gradient_are_refused():
    y = Variable(np.full((2, 3), 1 / 3))
    with pytest.raises(TypeError, match=r"sparse_categorical_crossentropy: y_true holds "
                                        r"class indices, which have no gradient"):
        F.sparse_categorical_crossentropy(y, Variable(np.array([0.0, 2.0])))
    for labels in (np.array([0, 2]), Variable(np.array([0, 2])),
                   Variable(np.array([0.0, 2.0]), requires_grad=False)):
        assert F.sparse_categorical_crossentropy(y, labels).shape == ()


def test_rank_one_labels_against_one_unit_predictions(rng):
    """flow_from_directory(class_mode='binary') yields (N,) labels for a (N, 1) sigmoid."""
    y = rng.uniform(0.1, 0.9, (5, 1))
    t = rng.integers(0, 2, 5)
    np.testing.assert_allclose(F.binary_crossentropy(y, t, reduction='none').data,
                               F.binary_crossentropy(y, t[:, None], reduction='none').data)
    assert F.binary_crossentropy(y[:, 0], t[:, None], reduction='none').shape == (5,)


def test_hinge_keeps_labels_that_are_already_signed(rng):
    y = rng.standard_normal((3, 4))
    signed = rng.choice([-1.0, 1.0], (3, 4))
    np.testing.assert_allclose(F.hinge(y, signed).data, np.maximum(1 - signed * y, 0).mean())
    np.testing.assert_allclose(F.hinge(y, (signed + 1) / 2).data,
                               np.maximum(1 - signed * y, 0).mean())


@pytest.mark.parametrize('loss', [F.mean_squared_error, F.mean_absolute_error,
                                  F.binary_crossentropy, F.categorical_crossentropy,
                                  F.hinge])
def test_shape_mismatch_names_the_loss_and_both_shapes(loss):
    with pytest.raises(ValueError, match=rf"{loss.__name__}: y_pred shape \(4, 3\) and "
                                         r"y_true shape \(4, 2\) do not match"):
        loss(np.full((4, 3), 0.5), np.zeros((4, 2)))


def test_sparse_label_errors():
    y = np.full((4, 3), 1 / 3)
    with pytest.raises(ValueError, match=r"sparse_categorical_crossentropy: y_true shape "
                                         r"\(3,\) does not match y_pred shape \(4, 3\)"):
        F.sparse_categorical_crossentropy(y, np.zeros(3, int))
    with pytest.raises(ValueError, match=r"labels must be whole numbers in \[0, 3\), "
                                         r"got values from 0 to 3"):
        F.sparse_categorical_crossentropy(y, np.array([0, 1, 2, 3]))
    with pytest.raises(ValueError, match=r"categorical_crossentropy: axis 0 is not a "
                                         r"class axis"):
        F.categorical_crossentropy(y, y, axis=0)


def test_unknown_reduction():
    with pytest.raises(ValueError, match=r"mean_squared_error: reduction must be one of"):
        F.mean_squared_error(np.zeros((2, 2)), np.zeros((2, 2)), reduction='avg')


# --- against real Keras ------------------------------------------------------------------
@pytest.fixture(scope='module')
def keras():
    return pytest.importorskip('keras')


@pytest.mark.filterwarnings('ignore::DeprecationWarning')  # inside keras's torch backend
def test_matches_keras_losses(rng, keras):
    to_numpy = keras.ops.convert_to_numpy
    probs = rng.uniform(0.0, 1.0, (8, 5)).astype(np.float32)
    probs[0, 0], probs[1, 1] = 0.0, 1.0  # clipped values
    logits = rng.standard_normal((8, 5)).astype(np.float32) * 3
    binary = rng.integers(0, 2, (8, 5)).astype(np.float32)
    classes = rng.integers(0, 5, 8)
    one_hot = np.eye(5, dtype=np.float32)[classes]
    pairs = [
        (F.mean_squared_error(logits, binary, reduction='none'),
         keras.losses.mean_squared_error(binary, logits)),
        (F.mean_absolute_error(logits, binary, reduction='none'),
         keras.losses.mean_absolute_error(binary, logits)),
        (F.binary_crossentropy(probs, binary, reduction='none'),
         keras.losses.binary_crossentropy(binary, probs)),
        (F.binary_crossentropy(logits, binary, from_logits=True, reduction='none'),
         keras.losses.binary_crossentropy(binary, logits, from_logits=True)),
        (F.categorical_crossentropy(probs, one_hot, reduction='none'),
         keras.losses.categorical_crossentropy(one_hot, probs)),
        (F.categorical_crossentropy(logits, one_hot, from_logits=True, reduction='none'),
         keras.losses.categorical_crossentropy(one_hot, logits, from_logits=True)),
        (F.sparse_categorical_crossentropy(probs, classes, reduction='none'),
         keras.losses.sparse_categorical_crossentropy(classes, probs)),
        (F.hinge(logits, binary, reduction='none'), keras.losses.hinge(binary, logits)),
        (F.binary_crossentropy(probs[:, :1], binary[:, 0]),  # (N,) labels, mean reduction
         keras.losses.BinaryCrossentropy()(binary[:, 0], probs[:, :1])),
        (F.categorical_crossentropy(logits, one_hot, from_logits=True, reduction='sum'),
         keras.losses.CategoricalCrossentropy(from_logits=True, reduction='sum')(
             one_hot, logits)),
    ]
    for i, (ours, theirs) in enumerate(pairs):
        assert ours.dtype == np.float32
        np.testing.assert_allclose(ours.data, to_numpy(theirs), rtol=2e-5, atol=1e-6,
                                   err_msg=f'pair {i}')


@pytest.mark.parametrize('shapes', [((4, 3), (4, 3)), ((4, 1), (4, 3)), ((2, 3, 2), (2, 3, 2))])
def test_sum_squared_error_over_batch_gradients(rng, shapes):
    check_gradients(F.sum_squared_error_over_batch, *(rng.standard_normal(s) for s in shapes))


@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_sum_squared_error_over_batch_matches_torch(rng, dtype):
    """mse_loss summed, over the batch size (DeZero's mean_squared_error)."""
    a, b = rng.standard_normal((6, 3, 2)), rng.standard_normal((6, 3, 2))
    compare_with_torch(F.sum_squared_error_over_batch,
                       lambda a, b: TF.mse_loss(a, b, reduction='sum') / len(a),
                       a, b, dtype=dtype)
