"""keras.backend (K) and keras.ops over deepzero, the book's section 5.4 API.

Against real Keras 3 (test-only oracle, torch backend): the ops give Keras's
values on the same arrays, symbolic slicing and ops give Keras's shapes, and
K.function / K.gradients on a model give what the same model with the same
weights gives in Keras, its gradients taken by torch autograd (Keras 3 has
no K.gradients). Finite differences check core.grad and the composite ops.
"""
import os

import numpy as np
import pytest

import deepzero
from deepzero import Variable, runtime
from deepzero.keras import backend as K
from deepzero.keras import ops
from deepzero.layers import Conv2D, Input
from deepzero.models import Model
from deepzero.saving.serialization import KERAS_VERSION
from deepzero.utils.gradient_check import check_gradients


@pytest.fixture(scope='module')
def keras():
    os.environ.setdefault('KERAS_BACKEND', 'torch')
    keras = pytest.importorskip('keras')
    if keras.backend.backend() != 'torch':
        pytest.skip(f"the oracle needs Keras's torch backend, got {keras.backend.backend()}")
    return keras


def values(x):
    return np.asarray(x.data if isinstance(x, Variable) else x)


# --- keras.ops against Keras's -----------------------------------------------------------
X = np.random.default_rng(0).uniform(-2, 2, (2, 3, 4)).astype('float32')
POS = np.abs(X) + 0.1
Y = np.random.default_rng(1).uniform(-2, 2, (2, 4, 5)).astype('float32')

OP_CASES = {
    'mean': lambda o: o.mean(X, axis=(0, 2), keepdims=True),
    'sum': lambda o: o.sum(X, axis=1),
    'max': lambda o: o.max(X, axis=-1),
    'min': lambda o: o.min(X),
    'std': lambda o: o.std(X, axis=1),
    'var': lambda o: o.var(X),
    'square': lambda o: o.square(X),
    'sqrt': lambda o: o.sqrt(POS),
    'abs': lambda o: o.abs(X),
    'exp': lambda o: o.exp(X),
    'log': lambda o: o.log(POS),
    'matmul': lambda o: o.matmul(X, Y),
    'reshape': lambda o: o.reshape(X, (-1, 4)),
    'transpose': lambda o: o.transpose(X, (2, 0, 1)),
    'concatenate': lambda o: o.concatenate([X, X], axis=1),
    'stack': lambda o: o.stack([X, X], axis=-1),
    'expand_dims': lambda o: o.expand_dims(X, 1),
    'squeeze': lambda o: o.squeeze(o.expand_dims(X, 0)),
    'relu': lambda o: o.relu(X),
    'sigmoid': lambda o: o.sigmoid(X),
    'softmax': lambda o: o.softmax(X, axis=1),
    'tanh': lambda o: o.tanh(X),
    'clip': lambda o: o.clip(X, -0.5, 0.7),
    'maximum': lambda o: o.maximum(X, 0.3),
    'minimum': lambda o: o.minimum(X, X[:, :, ::-1]),
    'argmax': lambda o: o.argmax(X, axis=1),
    'argmax_keepdims': lambda o: o.argmax(X, axis=-1, keepdims=True),
    'where': lambda o: o.where(X > 0, X, -X),
    'normalize': lambda o: o.normalize(X, axis=-1),
    'cast': lambda o: o.cast(X * 3, 'int32'),
    'power': lambda o: o.power(POS, 1.5),
    'divide': lambda o: o.divide(X, POS),
}


@pytest.mark.parametrize('case', sorted(OP_CASES))
def test_ops_give_keras_values(keras, case):
    ours, theirs = OP_CASES[case](ops), OP_CASES[case](keras.ops)
    theirs = keras.ops.convert_to_numpy(theirs)
    assert isinstance(ours, Variable)
    assert values(ours).shape == theirs.shape
    assert values(ours).dtype == theirs.dtype, case
    np.testing.assert_allclose(values(ours), theirs, rtol=1e-6, atol=1e-6)


def test_ops_on_variables_are_differentiable():
    x = Variable(X.copy())
    y = ops.sum(ops.square(ops.normalize(x)) * ops.convert_to_tensor(POS))
    y.backward()
    assert x.grad is not None and x.grad.shape == X.shape


def test_conversions():
    t = ops.convert_to_tensor([1.0, 2.0])
    assert isinstance(t, Variable) and t.dtype == np.float32 and not t.requires_grad
    assert ops.convert_to_tensor(np.arange(3), dtype='float32').dtype == np.float32
    a = ops.convert_to_numpy(Variable(X))
    assert isinstance(a, np.ndarray) and np.array_equal(a, X)
    with pytest.raises(ValueError, match='symbolic'):
        ops.convert_to_numpy(Input((3,)))
    assert ops.shape(Input((5, 2))) == (None, 5, 2)


# --- K (Keras 2's backend names) ------------------------------------------------------------
def test_backend_math_matches_keras_ops(keras):
    k = keras.ops
    pairs = [
        (K.mean(X, axis=1), k.mean(X, axis=1)),
        (K.sum(X), k.sum(X)),
        (K.max(X, axis=-1, keepdims=True), k.max(X, axis=-1, keepdims=True)),
        (K.square(X), k.square(X)),
        (K.sqrt(POS), k.sqrt(POS)),
        (K.abs(X), k.abs(X)),
        (K.concatenate([X, X]), k.concatenate([X, X], axis=-1)),
        (K.expand_dims(X), k.expand_dims(X, -1)),
        (K.argmax(X), k.argmax(X, axis=-1)),
        (K.batch_flatten(X), k.reshape(X, (2, -1))),
    ]
    for ours, theirs in pairs:
        np.testing.assert_allclose(values(ours), k.convert_to_numpy(theirs), rtol=1e-6)


def test_backend_sqrt_clips_at_zero_as_tensorflow_keras():
    np.testing.assert_array_equal(values(K.sqrt(np.array([-4.0, 4.0], 'float32'))), [0, 2])


def test_backend_settings_and_values():
    assert K.epsilon() == 1e-7 and K.floatx() == 'float32'
    assert K.image_data_format() == 'channels_last'
    with runtime.settings(image_data_format='channels_first', epsilon=1e-4):
        assert K.image_data_format() == 'channels_first' and K.epsilon() == 1e-4
        assert Conv2D(2, 3).data_format == 'channels_first'
    assert Conv2D(2, 3).data_format == 'channels_last'
    with pytest.raises(ValueError, match='image_data_format'):
        K.set_image_data_format('channels_middle')
    v = K.variable(np.ones((2, 2)))
    assert v.dtype == np.float32 and K.int_shape(v) == (2, 2)
    K.set_value(v, np.full((2, 2), 3.0))
    got = K.get_value(v)
    assert np.array_equal(got, np.full((2, 2), 3.0)) and got is not v.data
    with pytest.raises(ValueError, match='shape'):
        K.set_value(v, np.zeros(3))
    assert K.int_shape(Input((7, 3))) == (None, 7, 3)
    assert K.is_keras_tensor(K.placeholder((None, 4))) and not K.is_keras_tensor(v)


def test_clear_session_restarts_names():
    K.clear_session()
    first = Conv2D(1, 1).name
    K.clear_session()
    assert Conv2D(1, 1).name == first == 'conv2d'


def test_versions():
    import deepzero.keras
    assert deepzero.keras.__version__ == KERAS_VERSION
    assert deepzero.__version__


# --- symbolic tensors: shapes against Keras's -------------------------------------------------
SYMBOLIC_CASES = {
    'class_column': lambda o, t: t[:, 3],
    'channel': lambda o, t: t[:, :, :, 2],
    'first_sample': lambda o, t: t[0],
    'ellipsis': lambda o, t: t[..., 1:3],
    'step': lambda o, t: t[:, ::2, 1:, ::-1],
    'mean_hw': lambda o, t: o.mean(t, axis=(1, 2)),
    'mean_all': lambda o, t: o.mean(t),
    'max_keepdims': lambda o, t: o.max(t, axis=-1, keepdims=True),
    'arith': lambda o, t: (t * 2.0 + 1.0) / (o.sqrt(o.mean(o.square(t))) + 1e-5),
    'reshape': lambda o, t: o.reshape(t, (-1, 6 * 6, 5)),
    'transpose': lambda o, t: o.transpose(t, (0, 3, 1, 2)),
    'concatenate': lambda o, t: o.concatenate([t, t], axis=-1),
    'stack': lambda o, t: o.stack([t, t], axis=1),
    'argmax': lambda o, t: o.argmax(t, axis=-1),
    'expand_squeeze': lambda o, t: o.squeeze(o.expand_dims(t, 1), 1),
}


@pytest.mark.parametrize('case', sorted(SYMBOLIC_CASES))
def test_symbolic_shapes_match_keras(keras, case):
    ours = SYMBOLIC_CASES[case](ops, Input((6, 6, 5)))
    theirs = SYMBOLIC_CASES[case](keras.ops, keras.Input((6, 6, 5)))
    assert ours.shape == tuple(theirs.shape)
    assert ours.dtype == theirs.dtype


def test_ops_on_symbolic_tensors_run_in_models():
    x = Input((3, 4))
    y = ops.softmax(ops.mean(x, axis=1) * 2.0)[:, 1:]
    model = Model(x, [y, x[:, 0] - 1.0])
    data = np.random.default_rng(0).standard_normal((5, 3, 4)).astype('float32')
    got, shifted = model(data, training=False)
    scores = np.exp(2 * data.mean(1))
    np.testing.assert_allclose(got.data, (scores / scores.sum(-1, keepdims=True))[:, 1:],
                               rtol=1e-5)
    np.testing.assert_allclose(shifted.data, data[:, 0] - 1)
    with pytest.raises(NotImplementedError, match='cannot be saved'):
        model.get_config()


@pytest.mark.parametrize('name', ['vgg16', 'mobilenet', 'resnet50'])
def test_preprocess_input_on_symbolic_input_as_keras(keras, name):
    import importlib
    ours = importlib.import_module(f'deepzero.keras.applications.{name}')
    theirs = getattr(keras.applications, name)
    data = np.random.default_rng(0).uniform(0, 255, (2, 5, 5, 3)).astype('float32')
    x, kx = Input((5, 5, 3)), keras.Input((5, 5, 3))
    got = Model(x, ours.preprocess_input(x))(data, training=False).data
    want = keras.Model(kx, theirs.preprocess_input(kx))(data)
    np.testing.assert_allclose(got, keras.ops.convert_to_numpy(want), rtol=1e-6)
    np.testing.assert_allclose(got, ours.preprocess_input(data.copy()), rtol=1e-6)


# --- K.function and K.gradients against Keras + torch autograd ---------------------------------
def small_convnet(lib):
    L = lib.layers
    x = L.Input((12, 12, 3))
    h = L.Conv2D(6, 3, activation='relu', name='conv_a')(x)
    h = L.MaxPooling2D(2, name='pool_a')(h)
    h = L.Conv2D(8, 3, activation='tanh', name='conv_b')(h)
    h = L.Flatten(name='flat')(h)
    y = L.Dense(4, activation='softmax', name='scores')(h)
    return lib.Model(x, y)


@pytest.fixture(scope='module')
def twin_models(keras):
    import deepzero.keras as dk
    ours, theirs = small_convnet(dk), small_convnet(keras)
    rng = np.random.default_rng(0)
    weights = [(0.3 * rng.standard_normal(w.shape)).astype('float32') for w in ours.weights]
    ours.set_weights(weights)
    theirs.set_weights(weights)
    image = rng.uniform(0, 1, (2, 12, 12, 3)).astype('float32')
    return ours, theirs, image


def torch_grad(keras, model, outputs_of, image, wrt_layer=None, weights=False):
    """Torch autograd through the Keras model: d(sum of outputs_of(...))/d(what)."""
    import torch
    x = torch.tensor(image, requires_grad=True)
    if wrt_layer is None:
        result = model(x)
        target = outputs_of(result)
        wrt = [v.value for v in model.trainable_weights] if weights else [x]
    else:
        split = keras.Model(model.input, [model.get_layer(wrt_layer).output, model.output])
        middle, result = split(x)
        target, wrt = outputs_of(result), [middle]
    return [g.detach().numpy() for g in torch.autograd.grad(target.sum(), wrt)]


def test_function_gives_keras_outputs(keras, twin_models):
    ours, theirs, image = twin_models
    run = K.function([ours.input], [ours.get_layer('conv_b').output, ours.output])
    conv_b, scores = run([image])
    split = keras.Model(theirs.input, [theirs.get_layer('conv_b').output, theirs.output])
    want = [keras.ops.convert_to_numpy(t) for t in split(image)]
    np.testing.assert_allclose(conv_b, want[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(scores, want[1], rtol=1e-5, atol=1e-6)


def test_gradients_wrt_input_filter_visualisation(keras, twin_models):
    """The book's filter loss: mean of one channel of a conv layer's output."""
    ours, theirs, image = twin_models
    loss = K.mean(ours.get_layer('conv_b').output[:, :, :, 5])
    grads = K.gradients(loss, ours.input)[0]
    assert grads.shape == (None, 12, 12, 3)
    normalized = grads / (K.sqrt(K.mean(K.square(grads))) + 1e-5)
    loss_value, grads_value, normalized_value = K.function(
        [ours.input], [loss, grads, normalized])([image])
    conv_model = keras.Model(theirs.input, theirs.get_layer('conv_b').output)
    want = torch_grad(keras, conv_model, lambda out: out[:, :, :, 5].mean(), image)[0]
    np.testing.assert_allclose(grads_value, want, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(
        normalized_value, want / (np.sqrt(np.mean(want ** 2)) + 1e-5), rtol=1e-4, atol=1e-6)
    assert all(w.grad is None for w in ours.weights)  # only the input's gradient was made


def test_gradients_wrt_layer_output_grad_cam(keras, twin_models):
    """The book's Grad-CAM: gradient of a class score by the last conv output."""
    ours, theirs, image = twin_models
    class_output = ours.output[:, 2]
    assert class_output.shape == (None,)
    last_conv = ours.get_layer('conv_b')
    grads = K.gradients(class_output, last_conv.output)[0]
    pooled_grads = K.mean(grads, axis=(0, 1, 2))
    pooled, conv_value = K.function([ours.input], [pooled_grads, last_conv.output[0]])([image])
    want = torch_grad(keras, theirs, lambda out: out[:, 2], image, wrt_layer='conv_b')[0]
    np.testing.assert_allclose(pooled, want.mean(axis=(0, 1, 2)), rtol=1e-4, atol=1e-7)
    assert conv_value.shape == (3, 3, 8)


def test_gradients_wrt_weights(keras, twin_models):
    ours, theirs, image = twin_models
    grads = K.gradients(K.sum(ours.output[:, 1]), ours.trainable_weights)
    got = K.function([ours.input], grads)([image])
    want = torch_grad(keras, theirs, lambda out: out[:, 1], image, weights=True)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-6)


def test_gradients_of_unconnected_tensor_is_none():
    a, b = Input((3,)), Input((3,))
    assert K.gradients(K.sum(a * 2.0), [b, a])[0] is None
    with pytest.raises(ValueError, match='None'):
        K.function([a, b], K.gradients(K.sum(a), b))


# --- core.grad ---------------------------------------------------------------------------------
def test_grad_matches_finite_differences_and_leaves_grad_alone():
    rng = np.random.default_rng(0)
    w = Variable(rng.standard_normal((4, 3)))
    x0 = rng.standard_normal((2, 4))

    def f(x):
        hidden = deepzero.functions.tanh(x @ w)
        return ops.mean(ops.square(hidden), axis=1) * ops.std(hidden)

    def via_grad(x):
        # the gradient by x of f as a function of x: check its own gradient
        return deepzero.grad(ops.sum(f(x)), x, create_graph=True)[0]

    x = Variable(x0.copy())
    hidden_in = x @ w
    g_x, g_mid = deepzero.grad(ops.sum(deepzero.functions.tanh(hidden_in)), [x, hidden_in])
    assert x.grad is None and w.grad is None and hidden_in.grad is None
    np.testing.assert_allclose(g_mid.data, 1 - np.tanh(x0 @ w.data) ** 2)
    np.testing.assert_allclose(g_x.data, g_mid.data @ w.data.T)
    check_gradients(f, x0)
    check_gradients(via_grad, x0, atol=1e-4)


@pytest.mark.parametrize('fn', [ops.normalize, ops.std, ops.var, K.l2_normalize, K.sqrt,
                                lambda x: K.relu(x, alpha=0.1, max_value=1.5)],
                         ids=['normalize', 'std', 'var', 'l2_normalize', 'sqrt', 'relu'])
def test_composite_ops_gradients(fn):
    x = np.random.default_rng(0).uniform(0.2, 2.0, (3, 4)) * np.array([1, -1, 1, -1])
    if fn is K.sqrt:
        x = np.abs(x)
    check_gradients(fn, x)


def test_grad_input_checks():
    with pytest.raises(TypeError, match='Variables'):
        deepzero.grad(Variable(np.ones(2)), np.ones(2))
    with pytest.raises(TypeError, match='symbolic'):
        K.gradients(Variable(np.ones(2)), Input((2,)))


# --- the second edition's way (tf.GradientTape), as docs/visualizing.md writes it ---------------
def test_second_edition_grad_cam_with_deepzero_grad(twin_models):
    """Two models, the last conv output watched as a leaf Variable,
    ``deepzero.grad`` for ``tape.gradient``: the same pooled gradients as
    the book's K.gradients graph."""
    import deepzero.keras as keras
    ours, _, image = twin_models
    last_conv_layer = ours.get_layer('conv_b')
    last_conv_layer_model = keras.Model(ours.inputs, last_conv_layer.output)
    classifier_input = keras.Input(shape=last_conv_layer.output.shape[1:])
    x = classifier_input
    for layer_name in ['flat', 'scores']:
        x = ours.get_layer(layer_name)(x)
    classifier_model = keras.Model(classifier_input, x)

    img_array = image[:1]
    last_conv_layer_output = Variable(last_conv_layer_model(img_array).data)  # tape.watch
    preds = classifier_model(last_conv_layer_output)
    top_pred_index = int(ops.argmax(preds[0]).data)
    top_class_channel = preds[:, top_pred_index]
    grads = deepzero.grad(top_class_channel, last_conv_layer_output)[0]
    pooled_grads = ops.convert_to_numpy(ops.mean(grads, axis=(0, 1, 2)))

    symbolic = K.gradients(ours.output[:, top_pred_index], last_conv_layer.output)[0]
    want = K.function([ours.input], [K.mean(symbolic, axis=(0, 1, 2))])([img_array])[0]
    np.testing.assert_allclose(pooled_grads, want, rtol=1e-5, atol=1e-8)


def test_second_edition_filter_ascent_step_with_deepzero_grad(twin_models):
    import deepzero.keras as keras
    ours, _, image = twin_models
    feature_extractor = keras.Model(ours.input, ours.get_layer('conv_b').output)

    def compute_loss(image, filter_index):
        activation = feature_extractor(image)
        return ops.mean(activation[:, 1:-1, 1:-1, filter_index])

    def gradient_ascent_step(image, filter_index, learning_rate):
        image = Variable(image)                               # tape.watch(image)
        loss = compute_loss(image, filter_index)
        grads = deepzero.grad(loss, image)[0]                 # tape.gradient(loss, image)
        grads = ops.normalize(grads, axis=None)               # tf.math.l2_normalize(grads)
        return image.data + learning_rate * grads.data

    start = image[:1].copy()
    stepped = gradient_ascent_step(start, 3, 10.0)
    loss = K.mean(ours.get_layer('conv_b').output[:, 1:-1, 1:-1, 3])
    raw = K.function([ours.input], K.gradients(loss, ours.input))([start])[0]
    np.testing.assert_allclose(stepped, start + 10.0 * raw / np.linalg.norm(raw), rtol=1e-5,
                               atol=1e-6)
    assert all(w.grad is None for w in ours.weights)


def test_grad_asks_no_weight_gradient(monkeypatch):
    """While core.grad runs, each op is told which inputs need a gradient:
    only those on a path to what is asked for; afterwards the op's own flags
    are back, so a later backward() still reaches the weights."""
    from deepzero.functions.linear import Linear
    seen = []
    original = Linear.backward

    def recording(self, gy):
        seen.append(self.needs_input_grad)
        return original(self, gy)

    monkeypatch.setattr(Linear, 'backward', recording)
    w, b = Variable(np.ones((3, 2))), Variable(np.zeros(2))
    x = Variable(np.arange(6.0).reshape(2, 3))
    y = ops.sum(deepzero.functions.linear(x, w, b))
    (gx,) = deepzero.grad(y, [x])
    assert seen == [(True, False, False)]
    np.testing.assert_allclose(gx.data, np.full((2, 3), 2.0))
    y.backward()
    assert seen[-1] == (True, True, True) and w.grad is not None


def test_learning_phase_input_picks_the_mode():
    from deepzero.layers import Dropout
    x = Input((200,))
    y = Dropout(0.5, seed=1)(x)
    run = K.function([x, K.learning_phase()], [y])
    data = np.ones((2, 200), 'float32')
    np.testing.assert_array_equal(run([data, 0])[0], data)
    trained = run([data, 1])[0]
    assert set(np.unique(trained)) == {0.0, 2.0}
    np.testing.assert_array_equal(K.function([x], [y])([data])[0], data)


def test_symbolic_tensors_are_not_iterable():
    with pytest.raises(TypeError, match='cannot be iterated'):
        list(Input((3,)))


def test_symbolic_ops_with_weights_reach_them():
    """The Grad-CAM listing's score: K.dot of a symbolic tensor and a layer's
    kernel is the layer's pre-activation; its gradient reaches the kernel."""
    from deepzero.layers import Dense
    x = Input((3,))
    dense = Dense(2, activation='sigmoid')
    probability = dense(x)
    logit = K.dot(x, dense.kernel) + dense.bias
    data = np.random.default_rng(0).standard_normal((4, 3)).astype('float32')
    got_logit, got_probability, kernel_grad = K.function(
        [x], [logit, probability, K.gradients(K.sum(logit[:, 1]), dense.kernel)[0]])([data])
    np.testing.assert_allclose(1 / (1 + np.exp(-got_logit)), got_probability, rtol=1e-6)
    want = np.zeros((3, 2), 'float32')
    want[:, 1] = data.sum(axis=0)
    np.testing.assert_allclose(kernel_grad, want, rtol=1e-6)
