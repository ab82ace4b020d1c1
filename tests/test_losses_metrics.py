"""Loss classes and metric classes against keras.losses / keras.metrics
(torch backend) on the same data, plus by-name lookup and errors."""
import numpy as np
import pytest

from deepzero import losses, metrics
from deepzero.core import Variable

keras = pytest.importorskip('keras')
pytestmark = pytest.mark.filterwarnings('ignore::DeprecationWarning')


def knp(x):
    return float(keras.ops.convert_to_numpy(x))


@pytest.fixture
def binary(rng):
    y_true = (rng.random((16, 1)) > 0.5).astype(np.float32)
    y_pred = rng.random((16, 1)).astype(np.float32)
    weights = rng.random(16).astype(np.float32)
    return y_true, y_pred, weights


@pytest.fixture
def categorical(rng):
    labels = rng.integers(0, 5, 12)
    logits = rng.standard_normal((12, 5)).astype(np.float32)
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return labels, np.eye(5, dtype=np.float32)[labels], logits, probs.astype(np.float32)


@pytest.mark.parametrize('name,kwargs', [
    ('BinaryCrossentropy', {}), ('BinaryCrossentropy', {'label_smoothing': 0.1}),
    ('MeanSquaredError', {}), ('MeanAbsoluteError', {}), ('Hinge', {}),
    ('BinaryCrossentropy', {'reduction': 'sum'}),
])
def test_binary_losses_match_keras(name, kwargs, binary):
    y_true, y_pred, weights = binary
    ours = getattr(losses, name)(**kwargs)
    theirs = getattr(keras.losses, name)(**kwargs)
    for sw in (None, weights):
        value = ours(y_true, y_pred, sample_weight=sw)
        assert isinstance(value, Variable) and value.dtype == np.float32
        np.testing.assert_allclose(float(value.data), knp(theirs(y_true, y_pred,
                                                                 sample_weight=sw)),
                                   rtol=1e-5)
    assert ours.get_config() == theirs.get_config()


def test_binary_crossentropy_from_logits_and_none_reduction(binary):
    y_true, y_pred, _ = binary
    logits = (y_pred - 0.5) * 8
    ours = losses.BinaryCrossentropy(from_logits=True, reduction='none')(y_true, logits)
    theirs = keras.losses.BinaryCrossentropy(from_logits=True, reduction='none')(y_true,
                                                                                 logits)
    assert ours.shape == (16,)
    np.testing.assert_allclose(ours.data, keras.ops.convert_to_numpy(theirs), rtol=1e-5)


@pytest.mark.parametrize('from_logits', [False, True])
def test_categorical_losses_match_keras(from_logits, categorical):
    labels, one_hot, logits, probs = categorical
    y_pred = logits if from_logits else probs
    for name, y in [('CategoricalCrossentropy', one_hot),
                    ('SparseCategoricalCrossentropy', labels)]:
        ours = getattr(losses, name)(from_logits=from_logits)(y, y_pred)
        theirs = getattr(keras.losses, name)(from_logits=from_logits)(y, y_pred)
        np.testing.assert_allclose(float(ours.data), knp(theirs), rtol=1e-5)
    smooth = losses.CategoricalCrossentropy(label_smoothing=0.2)(one_hot, probs)
    k_smooth = keras.losses.CategoricalCrossentropy(label_smoothing=0.2)(one_hot, probs)
    np.testing.assert_allclose(float(smooth.data), knp(k_smooth), rtol=1e-5)


def test_loss_backpropagates(binary):
    y_true, y_pred, weights = binary
    p = Variable(y_pred)
    losses.BinaryCrossentropy()(y_true, p, sample_weight=weights).backward()
    assert p.grad.shape == p.shape and p.grad.dtype == np.float32


def test_loss_lookup_by_name_and_errors():
    assert losses.get('mse') is losses.mean_squared_error
    assert losses.get('binary_crossentropy') is losses.binary_crossentropy
    assert isinstance(losses.get('BinaryCrossentropy'), losses.BinaryCrossentropy)
    with pytest.raises(ValueError, match="Unknown loss.*binary_crossentropy"):
        losses.get('binary_crossentropyy')
    with pytest.raises(ValueError, match='reduction'):
        losses.MeanSquaredError(reduction='avg')


@pytest.mark.parametrize('name,kwargs,kind', [
    ('BinaryAccuracy', {}, 'binary'), ('BinaryAccuracy', {'threshold': 0.7}, 'binary'),
    ('AUC', {}, 'binary'), ('AUC', {'curve': 'PR'}, 'binary'),
    ('AUC', {'summation_method': 'minoring'}, 'binary'),
    ('AUC', {'num_thresholds': 7}, 'binary'),
    ('Precision', {}, 'binary'), ('Recall', {}, 'binary'),
    ('Precision', {'thresholds': 0.3}, 'binary'),
    ('CategoricalAccuracy', {}, 'onehot'), ('TopKCategoricalAccuracy', {'k': 2}, 'onehot'),
    ('SparseCategoricalAccuracy', {}, 'sparse'),
    ('SparseTopKCategoricalAccuracy', {'k': 3}, 'sparse'),
    ('MeanSquaredError', {}, 'binary'), ('MeanAbsoluteError', {}, 'binary'),
])
def test_metrics_match_keras_over_batches(name, kwargs, kind, rng, binary, categorical):
    ours, theirs = getattr(metrics, name)(**kwargs), getattr(keras.metrics, name)(**kwargs)
    if kind == 'binary':
        y_true, y_pred, weights = binary
    else:
        labels, one_hot, _, y_pred = categorical
        y_true, weights = (one_hot if kind == 'onehot' else labels), rng.random(12)
    half = len(y_pred) // 2
    for part in (slice(0, half), slice(half, None)):   # running state across batches
        ours.update_state(y_true[part], y_pred[part], sample_weight=weights[part])
        theirs.update_state(y_true[part], y_pred[part], sample_weight=weights[part])
    np.testing.assert_allclose(ours.result(), knp(theirs.result()), rtol=1e-5, atol=1e-7)
    assert theirs.name.split('_1')[0].startswith(ours.name)  # Keras numbers repeated AUCs
    ours.reset_state()
    ours.update_state(y_true, y_pred)
    theirs.reset_state()
    theirs.update_state(y_true, y_pred)
    np.testing.assert_allclose(ours.result(), knp(theirs.result()), rtol=1e-5, atol=1e-7)


def test_auc_config_matches_keras():
    ours = metrics.AUC(name='auc').get_config()
    theirs = keras.metrics.AUC(name='auc').get_config()
    assert ours == theirs


def test_mean_metric_weighted():
    m = metrics.Mean()
    m.update_state(np.array([1.0, 3.0]), sample_weight=np.array([1.0, 3.0]))
    assert m.result() == pytest.approx(2.5)


def test_metric_lookup_by_name():
    acc = metrics.get('binary_accuracy')
    assert acc.name == 'binary_accuracy' and acc._direction == 'up'
    assert metrics.get('mae')._direction == 'down'
    assert isinstance(metrics.get('AUC'), metrics.AUC)
    assert isinstance(metrics.get('precision'), metrics.Precision)
    with pytest.raises(ValueError, match="Unknown metric.*binary_accuracy"):
        metrics.get('binary_acuracy')


@pytest.mark.parametrize('name', ['binary_crossentropy', 'categorical_crossentropy'])
def test_label_smoothing_keeps_a_target_variables_gradient(name, categorical):
    """Smoothing is linear in the target, so the smoothed loss's gradient in
    y_true is (1 - s) times the plain loss's at the smoothed target."""
    _, one_hot, _, probs = categorical
    s = 0.2
    toward = 0.5 if name == 'binary_crossentropy' else 1 / one_hot.shape[1]
    smooth_target = one_hot * (1 - s) + toward * s
    t = Variable(one_hot.astype(np.float64))
    getattr(losses, name)(t, probs, label_smoothing=s).backward()
    t_smooth = Variable(smooth_target.astype(np.float64))
    getattr(losses, name)(t_smooth, probs).backward()
    assert t.grad is not None
    np.testing.assert_allclose(t.grad.data, (1 - s) * t_smooth.grad.data, rtol=1e-6)
