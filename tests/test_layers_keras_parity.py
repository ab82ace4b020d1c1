"""Same weights -> same outputs as Keras 3 (torch backend) for every layer type.

Each case builds the layer in Keras and in deepzero from the same config,
copies Keras's weights into deepzero with set_weights, and compares outputs
on random input, in inference and (where it differs) training mode.
"""
import numpy as np
import pytest

import deepzero.layers as L
from deepzero.core import Variable
from deepzero.models import Model, Sequential

keras = pytest.importorskip('keras')

IMAGE = (2, 9, 9, 4)
CASES = [
    ('Dense', dict(units=5, activation='relu'), (3, 7)),
    ('Dense', dict(units=3, use_bias=False), (2, 4, 6)),
    ('Conv2D', dict(filters=6, kernel_size=3, activation='relu'), IMAGE),
    ('Conv2D', dict(filters=6, kernel_size=(3, 2), strides=2, padding='same'), IMAGE),
    ('Conv2D', dict(filters=4, kernel_size=3, dilation_rate=2, use_bias=False), IMAGE),
    ('Conv2D', dict(filters=6, kernel_size=1, groups=2), IMAGE),
    ('SeparableConv2D', dict(filters=5, kernel_size=3, padding='same', depth_multiplier=2),
     IMAGE),
    ('SeparableConv2D', dict(filters=5, kernel_size=3, strides=2, use_bias=False), IMAGE),
    ('DepthwiseConv2D', dict(kernel_size=3, strides=2, use_bias=False), IMAGE),
    ('DepthwiseConv2D', dict(kernel_size=3, padding='same', depth_multiplier=2), IMAGE),
    ('Conv2DTranspose', dict(filters=3, kernel_size=3, strides=2), IMAGE),
    ('Conv2DTranspose', dict(filters=3, kernel_size=3, strides=2, padding='same'), IMAGE),
    ('MaxPooling2D', dict(pool_size=2), IMAGE),
    ('MaxPooling2D', dict(pool_size=3, strides=2, padding='same'), IMAGE),
    ('AveragePooling2D', dict(pool_size=3, strides=1, padding='same'), IMAGE),
    ('AveragePooling2D', dict(pool_size=2), IMAGE),
    ('GlobalAveragePooling2D', dict(), IMAGE),
    ('GlobalMaxPooling2D', dict(keepdims=True), IMAGE),
    ('ZeroPadding2D', dict(padding=((0, 1), (2, 1))), IMAGE),
    ('ZeroPadding2D', dict(padding=3), IMAGE),
    ('Flatten', dict(), IMAGE),
    ('Reshape', dict(target_shape=(-1, 12)), IMAGE),
    ('Dropout', dict(rate=0.5), IMAGE),
    ('BatchNormalization', dict(), IMAGE),
    ('BatchNormalization', dict(scale=False, epsilon=1.001e-5), IMAGE),
    ('BatchNormalization', dict(axis=1, center=False), (4, 3, 5)),
    ('Activation', dict(activation='softmax'), (3, 6)),
    ('Activation', dict(activation='elu'), (3, 6)),
    ('Activation', dict(activation='selu'), (3, 6)),
    ('Activation', dict(activation='swish'), (3, 6)),
    ('Activation', dict(activation='softplus'), (3, 6)),
    ('Activation', dict(activation='hard_sigmoid'), (3, 6)),
    ('ReLU', dict(max_value=6.0), IMAGE),
    ('ReLU', dict(max_value=1.0, negative_slope=0.1, threshold=0.5), IMAGE),
    ('LeakyReLU', dict(), IMAGE),
    ('Softmax', dict(axis=1), (3, 5, 2)),
    ('Rescaling', dict(scale=1 / 255.0, offset=-1.0), IMAGE),
]


def _random_weights(keras_layer, rng):
    """Random values in place of the initial ones (moving variance > 0), so
    that every weight matters in the comparison."""
    values = []
    for w in keras_layer.weights:
        shape = tuple(w.shape)
        values.append((rng.uniform(0.5, 1.5, shape) if 'variance' in w.path
                       else rng.standard_normal(shape) * 0.5).astype('float32'))
    keras_layer.set_weights(values)
    return values


def _compare(ours, theirs):
    ours = np.asarray(ours.data)
    theirs = keras.ops.convert_to_numpy(theirs)
    assert ours.shape == theirs.shape
    assert ours.dtype == np.float32
    scale = max(1.0, float(np.abs(theirs).max()))
    assert np.abs(ours - theirs).max() < 1e-5 * scale


@pytest.mark.parametrize('class_name, kwargs, shape', CASES,
                         ids=[f'{c}-{i}' for i, (c, _, _) in enumerate(CASES)])
def test_layer_matches_keras(class_name, kwargs, shape, rng):
    keras_layer = getattr(keras.layers, class_name)(**kwargs)
    layer = getattr(L, class_name)(**kwargs)
    x = rng.standard_normal(shape).astype('float32') * 3
    keras_layer(x, training=False)
    layer(x, training=False)  # builds the weights
    assert [w.shape for w in layer.weights] == [tuple(w.shape) for w in keras_layer.weights]
    layer.set_weights(_random_weights(keras_layer, rng))
    _compare(layer(x, training=False), keras_layer(x, training=False))


@pytest.mark.parametrize('class_name, kwargs, shape', CASES,
                         ids=[f'{c}-{i}' for i, (c, _, _) in enumerate(CASES)])
def test_symbolic_shape_matches_keras(class_name, kwargs, shape):
    keras_out = getattr(keras.layers, class_name)(**kwargs)(keras.Input(shape[1:]))
    ours = getattr(L, class_name)(**kwargs)(L.Input(shape[1:]))
    assert ours.shape == tuple(keras_out.shape)


def test_batch_norm_training_matches_keras(rng):
    """Batch statistics and the moving-average update, as Keras does them."""
    keras_layer = keras.layers.BatchNormalization(momentum=0.9)
    layer = L.BatchNormalization(momentum=0.9)
    x = rng.standard_normal(IMAGE).astype('float32') * 2 + 1
    keras_layer(x, training=False)
    layer(x, training=False)
    layer.set_weights(_random_weights(keras_layer, rng))
    _compare(layer(x, training=True), keras_layer(x, training=True))
    for ours, theirs in zip(layer.get_weights(), keras_layer.get_weights()):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_merge_layers_match_keras(rng):
    a, b, c = (rng.standard_normal((2, 4, 4, 3)).astype('float32') for _ in range(3))
    for class_name in ('Add', 'Multiply', 'Concatenate'):
        _compare(getattr(L, class_name)()([a, b, c]), getattr(keras.layers, class_name)()([a, b, c]))
    _compare(L.Concatenate(axis=1)([a, b]), keras.layers.Concatenate(axis=1)([a, b]))


def _copy_model_weights(keras_model, model, rng):
    values = [(rng.uniform(0.5, 1.5, tuple(w.shape)) if 'variance' in w.path
               else rng.standard_normal(tuple(w.shape)) * 0.2).astype('float32')
              for w in keras_model.weights]
    keras_model.set_weights(values)
    model.set_weights(values)


def _book_convnet(lib, dropout):
    layers = lib.layers
    stack = [layers.Conv2D(32, (3, 3), activation='relu', input_shape=(150, 150, 3))]
    for filters in (64, 128, 128):
        stack += [layers.MaxPooling2D((2, 2)), layers.Conv2D(filters, (3, 3), activation='relu')]
    stack += [layers.MaxPooling2D((2, 2)), layers.Flatten()]
    stack += [layers.Dropout(0.5)] if dropout else []
    stack += [layers.Dense(512, activation='relu'), layers.Dense(1, activation='sigmoid')]
    return stack


def test_book_convnet_matches_keras(rng):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        keras_model = keras.Sequential(_book_convnet(keras, dropout=True))
    import deepzero
    model = Sequential(_book_convnet(deepzero, dropout=True))
    _copy_model_weights(keras_model, model, rng)
    x = rng.uniform(0, 1, (2, 150, 150, 3)).astype('float32')
    _compare(model(x, training=False), keras_model(x, training=False))


def _dag(lib, Input, Model):
    layers = lib.layers if hasattr(lib, 'layers') else lib
    inputs = Input((8, 8, 3))
    x = layers.Conv2D(4, 3, padding='same', use_bias=False)(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.Activation('relu')(x)
    branch = layers.Conv2D(4, 1)(x)
    branch = layers.BatchNormalization(scale=False)(branch)
    x = layers.Add()([x, branch])
    pooled = layers.AveragePooling2D(3, strides=1, padding='same')(x)
    x = layers.Concatenate()([x, pooled, branch])
    x = layers.GlobalAveragePooling2D()(x)
    return Model(inputs, layers.Dense(3, activation='softmax')(x))


def test_functional_dag_matches_keras(rng):
    keras_model = _dag(keras, keras.Input, keras.Model)
    model = _dag(L, L.Input, Model)
    assert [type(layer).__name__ for layer in model.layers] == \
        [type(layer).__name__ for layer in keras_model.layers]
    _copy_model_weights(keras_model, model, rng)
    x = rng.standard_normal((2, 8, 8, 3)).astype('float32')
    _compare(model(x, training=False), keras_model(x, training=False))
    _compare(model(x, training=True), keras_model(x, training=True))


# --- training mode: Keras 3's rule for calls without ``training`` ----------------

def _numpy(y):
    """An output or weight of either library as an array."""
    return y.data if isinstance(y, Variable) else keras.ops.convert_to_numpy(y)


@pytest.mark.parametrize('lib', ['keras', 'deepzero'])
def test_direct_call_runs_in_inference_mode(lib):
    """A model or layer called without ``training`` (outside fit) infers:
    Dropout is the identity and BatchNormalization uses, and keeps, its
    moving statistics."""
    layers, model_cls = (keras.layers, keras.Sequential) if lib == 'keras' else (L, Sequential)
    x = np.ones((4, 8), 'float32')
    model = model_cls([layers.Input((8,)), layers.Dropout(0.5)])
    np.testing.assert_array_equal(_numpy(model(x)), x)
    np.testing.assert_array_equal(_numpy(layers.Dropout(0.5)(x)), x)
    bn = layers.BatchNormalization()
    y = _numpy(bn(x * 3 + 1))
    np.testing.assert_allclose(y, (x * 3 + 1) / np.sqrt(1 + 1e-3), rtol=1e-6)
    np.testing.assert_array_equal(_numpy(bn.moving_mean), np.zeros(8))


def _bn_models(lib, Input, Model):
    """The same BatchNormalization reached three ways: in a Sequential, in a
    functional model, and in a subclassed model whose call passes no
    ``training`` to its layers; all three nested in an outer Sequential."""
    layers = lib.layers if hasattr(lib, 'layers') else lib

    class Wrapper(Model):
        def __init__(self):
            super().__init__()
            self.bn = layers.BatchNormalization(momentum=0.5)

        def call(self, inputs):
            return self.bn(inputs)

    inputs = Input((3,))
    functional = Model(inputs, layers.BatchNormalization(momentum=0.5)(inputs))
    sequential = (keras.Sequential if lib is keras else Sequential)(
        [layers.Input((3,)), layers.BatchNormalization(momentum=0.5)])
    wrapper = Wrapper()
    wrapper(np.zeros((1, 3), 'float32'), training=False)   # built, statistics untouched
    outer = (keras.Sequential if lib is keras else Sequential)(
        [layers.Input((3,)), sequential, functional, wrapper])
    return outer, [sequential.layers[-1], functional.layers[-1], wrapper.bn]


def test_nested_layers_inherit_the_training_argument(rng):
    """``model(x, training=True)`` trains every layer inside, however deep
    and whether or not the model passes ``training`` on; the moving
    statistics move as Keras's do."""
    x = rng.standard_normal((6, 3)).astype('float32') * 2 + 1
    keras_outer, keras_bns = _bn_models(keras, keras.Input, keras.Model)
    outer, bns = _bn_models(L, L.Input, Model)
    _compare(outer(x, training=True), keras_outer(x, training=True))
    for bn, keras_bn in zip(bns, keras_bns):
        assert not np.array_equal(bn.moving_mean.data, np.zeros(3))
        np.testing.assert_allclose(bn.moving_mean.data,
                                   keras.ops.convert_to_numpy(keras_bn.moving_mean),
                                   rtol=1e-5, atol=1e-6)
    moved = [bn.get_weights() for bn in bns]
    _compare(outer(x), keras_outer(x))                      # inference again
    for bn, weights in zip(bns, moved):
        for now, before in zip(bn.get_weights(), weights):
            np.testing.assert_array_equal(now, before)


@pytest.mark.parametrize('lib', ['keras', 'deepzero'])
def test_call_signature_default_sets_the_mode(lib):
    """Without an argument or an enclosing mode, a layer whose ``call``
    defaults ``training=True`` trains, also inside a model."""
    layers, model_cls = (keras.layers, keras.Sequential) if lib == 'keras' else (L, Sequential)

    class DoublesWhileTraining(layers.Layer):
        def call(self, inputs, training=True):
            return inputs * 2 if training else inputs

    x = np.ones((2, 3), 'float32')
    np.testing.assert_array_equal(_numpy(DoublesWhileTraining()(x)), 2 * x)
    model = model_cls([layers.Input((3,)), DoublesWhileTraining()])
    np.testing.assert_array_equal(_numpy(model(x)), 2 * x)
    np.testing.assert_array_equal(_numpy(model(x, training=False)), x)


def shared_dense_model(lib):
    """A Dense with weight and activity penalties, called twice in one model."""
    layers = lib.layers
    inputs = layers.Input((4,))
    shared = layers.Dense(3, kernel_regularizer=lib.regularizers.l2(0.1),
                          activity_regularizer=lib.regularizers.l1(0.01))
    first = shared(inputs)
    second = shared(layers.Dense(4)(inputs))
    model = lib.Model(inputs, layers.Add()([first, second]))
    model.set_weights([np.random.default_rng(i).standard_normal(w.shape).astype('f4')
                       for i, w in enumerate(model.get_weights())])
    return model


def test_a_shared_layer_adds_the_activity_penalty_of_each_call(rng):
    """Keras counts a weight's penalty once and a shared layer's activity
    penalty once per call; a second model call starts afresh."""
    import deepzero.keras as dk
    x = rng.standard_normal((5, 4)).astype('f4')
    theirs, ours = shared_dense_model(keras), shared_dense_model(dk)
    theirs(x)
    expected = sorted(float(keras.ops.convert_to_numpy(v)) for v in theirs.losses)
    for _ in range(2):
        ours(x)
        got = sorted(float(v.data) for v in ours.losses)
        assert len(got) == len(expected) == 3
        np.testing.assert_allclose(got, expected, rtol=1e-5)
