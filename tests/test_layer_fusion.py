"""Models run Conv2D + MaxPooling2D as one op (models/layer_fusion.py) only
where that is exact, with the values and gradients of the two layers."""
import numpy as np
import pytest

import deepzero.layers as L
from deepzero import Variable, activations, functions as F, regularizers
from deepzero.models import Model, Sequential
from deepzero.models.layer_fusion import fusable
from deepzero.utils import set_random_seed


@pytest.fixture(autouse=True)
def seeded_initializers():
    set_random_seed(5)


def book_convnet(input_shape=(30, 30, 3)):
    return Sequential([L.Input(input_shape),
                       L.Conv2D(8, 3, activation='relu'), L.MaxPooling2D((2, 2)),
                       L.Conv2D(16, 3, activation='relu'), L.MaxPooling2D((2, 2)),
                       L.Flatten(), L.Dense(1, activation='sigmoid')])


def layer_by_layer(model, x):
    for layer in model.layers:
        x = layer(x, training=True)
    return x


def values_and_gradients(run, model, x):
    for weight in model.trainable_weights:
        weight.cleargrad()
    y = run(x)
    (y * y).sum().backward()
    return [y.data] + [w.grad.data.copy() for w in model.trainable_weights]


def test_sequential_fuses_and_matches_the_layers(rng):
    model = book_convnet()
    x = rng.random((4, 30, 30, 3), dtype=np.float32)
    fused = values_and_gradients(lambda x: model(x, training=True), model, x)
    plain = values_and_gradients(lambda x: layer_by_layer(model, x), model, x)
    np.testing.assert_array_equal(fused[0], plain[0])
    for a, b in zip(fused, plain):  # the first kernel's gradient sums in another order
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    pair = Sequential(model.layers[:2])
    assert isinstance(pair(x).creator, F.Conv2DMaxPool)


def test_functional_fuses_only_where_the_conv_output_goes_only_to_the_pool(rng):
    inputs = L.Input((20, 20, 3))
    a = L.Conv2D(4, 3, activation='relu', name='a')(inputs)
    pooled_a = L.MaxPooling2D(name='pool_a')(a)
    b = L.Conv2D(4, 3, name='b')(inputs)             # linear: fusable, but b is also an output
    pooled_b = L.MaxPooling2D(name='pool_b')(b)
    c = L.Conv2D(4, 3, activation='relu', name='c')(inputs)  # c feeds two layers
    pooled_c = L.MaxPooling2D(name='pool_c')(c)
    summed = L.Add()([pooled_a, pooled_b, pooled_c, L.MaxPooling2D()(L.ReLU()(c))])
    model = Model(inputs, [summed, b])
    fused = {(conv.layer.name, pool.layer.name) for conv, pool in model._only_readers.items()
             if fusable(conv.layer, pool.layer)}
    assert fused == {('a', 'pool_a')}
    x = rng.random((2, 20, 20, 3), dtype=np.float32)
    outputs = model(x)
    layers = {layer.name: layer for layer in model.layers}
    expected_b = layers['b'](x)
    c_value = layers['c'](x)
    expected = (layers['pool_a'](layers['a'](x)).data + layers['pool_b'](expected_b).data +
                layers['pool_c'](c_value).data + F.max_pool2d(F.relu(c_value), 2).data)
    np.testing.assert_allclose(outputs[0].data, expected, rtol=1e-6)
    np.testing.assert_array_equal(outputs[1].data, expected_b.data)


@pytest.mark.parametrize('conv, pool, expected', [
    (L.Conv2D(2, 3, activation='relu'), L.MaxPooling2D(), True),
    (L.Conv2D(2, 3), L.MaxPooling2D((2, 3)), True),
    (L.Conv2D(2, 3, activation='sigmoid'), L.MaxPooling2D(), False),
    (L.Conv2D(2, 3, activation='relu', activity_regularizer=regularizers.l2(0.1)),
     L.MaxPooling2D(), False),
    (L.Conv2D(2, 3, activation='relu'), L.MaxPooling2D(padding='same'), False),
    (L.Conv2D(2, 3, activation='relu'), L.MaxPooling2D(3, strides=2), False),
    (L.Conv2D(2, 3, activation='relu', data_format='channels_first'), L.MaxPooling2D(), False),
    (L.Conv2D(2, 3, activation='relu'), L.AveragePooling2D(), False),
    (L.DepthwiseConv2D(3, activation='relu'), L.MaxPooling2D(), False),
])
def test_which_pairs_fuse(conv, pool, expected):
    assert fusable(conv, pool) is expected


def test_fused_training_step_matches_in_channels_first(rng):
    layers = [L.Conv2D(4, 3, activation='relu', data_format='channels_first'),
              L.MaxPooling2D(data_format='channels_first'), L.Flatten(), L.Dense(2)]
    model = Sequential([L.Input((3, 11, 12))] + layers)
    x = Variable(rng.random((3, 3, 11, 12), dtype=np.float32))
    fused = values_and_gradients(lambda x: model(x, training=True), model, x)
    plain = values_and_gradients(lambda x: layer_by_layer(model, x), model, x)
    for a, b in zip(fused, plain):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_a_layer_changed_after_the_model_was_built_is_seen(rng):
    inputs = L.Input((10, 10, 2))
    conv = L.Conv2D(3, 3, activation='relu')
    model = Model(inputs, L.MaxPooling2D()(conv(inputs)))
    x = rng.standard_normal((2, 10, 10, 2)).astype(np.float32)
    assert isinstance(model(x).creator, F.Conv2DMaxPool)
    conv.activation = activations.sigmoid  # an activation the fused op does not run
    y = model(x)
    assert not isinstance(y.creator, F.Conv2DMaxPool)
    np.testing.assert_array_equal(y.data, F.max_pool2d(conv(x), 2).data)
