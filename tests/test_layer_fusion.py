"""Models run Conv2D + MaxPooling2D as one op (models/layer_fusion.py) only
where that is exact, with the values, gradients and losses of the two layers."""
import inspect

import numpy as np
import pytest

import deepzero.layers as L
from deepzero import Variable, activations, functions as F, regularizers, saving
from deepzero.models import Model, Sequential
from deepzero.models.layer_fusion import FusedConvPool
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
    fused = {(step.conv.name, step.pool.name) for step in model._fusion_plan.steps()
             if isinstance(step, FusedConvPool)}
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
def test_which_pairs_fuse(conv, pool, expected, rng):
    model = Sequential([L.Input((8, 8, 8)), conv, pool])
    fused = isinstance(model(rng.random((2, 8, 8, 8), dtype=np.float32)).creator,
                       F.Conv2DMaxPool)
    assert fused is expected
    if isinstance(conv, L.Conv2D):
        assert conv.can_call_pooled(pool) is expected


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


def test_a_layer_changed_after_a_sequential_was_built_is_seen(rng):
    model = book_convnet((12, 12, 3))
    conv = model.layers[0]
    x = rng.random((2, 12, 12, 3), dtype=np.float32)
    model(x)
    conv.activation = activations.tanh
    y = model(x)
    np.testing.assert_allclose(y.data, layer_by_layer(model, x).data, rtol=1e-6)
    assert sum(isinstance(f, F.Conv2DMaxPool) for f in ops_of(y)) == 1  # the second pair
    conv.activation = activations.relu  # fusable again
    assert sum(isinstance(f, F.Conv2DMaxPool) for f in ops_of(model(x))) == 2


def ops_of(y):
    """The Functions that made ``y``."""
    seen, stack = {}, [y.creator]
    while stack:
        f = stack.pop()
        if f is not None and id(f) not in seen:
            seen[id(f)] = f
            stack.extend(v.creator for v in f.inputs)
    return list(seen.values())


def conv_pool_head(pool_regularizer=None, conv_regularizer=None):
    return [L.Conv2D(4, 3, activation='relu', activity_regularizer=conv_regularizer),
            L.MaxPooling2D(activity_regularizer=pool_regularizer), L.Flatten(), L.Dense(2)]


@pytest.mark.parametrize('kind', ['sequential', 'functional'])
def test_the_pools_activity_regularizer_counts_when_fused(kind, rng):
    """It used to be lost: the fused op ran the pool's math but not its call."""
    layers = conv_pool_head(pool_regularizer=regularizers.l2(0.1))
    if kind == 'sequential':
        model = Sequential([L.Input((9, 9, 3))] + layers)
    else:
        x = inputs = L.Input((9, 9, 3))
        for layer in layers:
            x = layer(x)
        model = Model(inputs, x)
    x = rng.random((2, 9, 9, 3), dtype=np.float32)
    y = model(x, training=True)
    assert any(isinstance(f, F.Conv2DMaxPool) for f in ops_of(y))
    losses = model.losses
    assert len(losses) == 1
    (y.sum() + losses[0]).backward()  # the penalty is part of the graph
    assert layers[0].kernel.grad is not None
    pooled = layers[1](layers[0](x))  # the layers' own calls (they set the layers' losses)
    np.testing.assert_allclose(losses[0].data, 0.1 * np.sum(pooled.data ** 2) / 2, rtol=1e-6)


def test_a_conv_activity_regularizer_runs_the_pair_apart_and_losses_stay_fresh(rng):
    """The conv's penalty is on its full-size output, which the fused op never
    makes; dropping the regularizer fuses again, and no stale penalty stays."""
    conv_penalty, pool_penalty = regularizers.l1(0.01), regularizers.l2(0.1)
    layers = conv_pool_head(pool_penalty, conv_penalty)
    model = Sequential([L.Input((9, 9, 3))] + layers)
    x = rng.random((2, 9, 9, 3), dtype=np.float32)
    y = model(x)
    assert not any(isinstance(f, F.Conv2DMaxPool) for f in ops_of(y))
    full = layers[0](x)
    expected = [0.01 * np.abs(full.data).sum() / 2,
                0.1 * np.sum(layers[1](full).data ** 2) / 2]
    np.testing.assert_allclose([loss.data for loss in model.losses], expected, rtol=1e-6)
    layers[0].activity_regularizer = None
    x2 = rng.random((2, 9, 9, 3), dtype=np.float32)
    assert any(isinstance(f, F.Conv2DMaxPool) for f in ops_of(model(x2)))
    assert len(model.losses) == 1
    np.testing.assert_allclose(model.losses[0].data,
                               0.1 * np.sum(layers[1](layers[0](x2)).data ** 2) / 2, rtol=1e-6)
    layers[1].activity_regularizer = None
    model(x2)
    assert model.losses == []


def test_training_reaches_the_layers_around_a_fused_pair(rng):
    model = Sequential([L.Input((10, 10, 3)), L.Conv2D(4, 3, activation='relu'),
                        L.MaxPooling2D(), L.Dropout(0.5), L.Flatten()])
    x = rng.random((2, 10, 10, 3), dtype=np.float32)
    inference = model(x, training=False).data
    assert any(isinstance(f, F.Conv2DMaxPool) for f in ops_of(model(x)))
    np.testing.assert_array_equal(model(x).data, inference)
    dropped = model(x, training=True).data
    assert (dropped == 0).sum() > (inference == 0).sum()
    np.testing.assert_allclose(dropped[dropped != 0], 2 * inference[dropped != 0], rtol=1e-6)


def test_call_pooled_is_the_conv_then_the_pool_and_refuses_what_is_not(rng):
    conv, pool = L.Conv2D(3, 3, activation='relu'), L.MaxPooling2D()
    x = rng.random((2, 8, 8, 3), dtype=np.float32)
    fused = conv.call_pooled(x, pool)
    assert isinstance(fused.creator, F.Conv2DMaxPool)
    np.testing.assert_array_equal(fused.data, pool(conv(x)).data)
    with pytest.raises(ValueError, match=r"Conv2D '.*': call_pooled.*AveragePooling2D"):
        conv.call_pooled(x, L.AveragePooling2D())
    with pytest.raises(TypeError, match='concrete inputs'):
        conv.call_pooled(L.Input((8, 8, 3)), pool)
    assert list(inspect.signature(L.Conv2D.call).parameters) == ['self', 'inputs']  # Keras's


def test_call_pooled_gives_the_pool_the_penalty_of_this_call_only(rng):
    conv = L.Conv2D(3, 3, activation='relu')
    pool = L.MaxPooling2D(activity_regularizer=regularizers.l2(0.1))
    x = rng.random((2, 8, 8, 3), dtype=np.float32)
    for _ in range(2):   # direct calls, outside any model
        conv.call_pooled(x, pool)
        assert len(pool.losses) == 1
    fused = float(pool.losses[0].data)
    pool(conv(x))
    assert [float(v.data) for v in pool.losses] == [fused]


def test_a_saved_and_loaded_model_fuses_the_same(rng, tmp_path):
    model = book_convnet()
    x = rng.random((2, 30, 30, 3), dtype=np.float32)
    model.save(tmp_path / 'convnet.keras')
    loaded = saving.load_model(tmp_path / 'convnet.keras')
    assert loaded.get_config() == model.get_config()
    y = loaded(x)
    np.testing.assert_array_equal(y.data, model(x).data)
    assert sum(isinstance(f, F.Conv2DMaxPool) for f in ops_of(y)) == 2
