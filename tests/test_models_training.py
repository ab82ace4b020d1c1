"""Models as define-by-run programs: freezing, nesting, custom training loops."""
import numpy as np
import pytest

import deepzero.layers as L
from deepzero import functions as F
from deepzero.models import Model, Sequential
from deepzero.utils import set_random_seed


@pytest.fixture(autouse=True)
def seeded_initializers():
    """Initializers without a seed draw from the runtime's generators."""
    set_random_seed(0)


def vgg16_like(input_shape=(32, 32, 3)):
    """VGG16's convolutional base (include_top=False): 13 convs in 5 blocks."""
    inputs = L.Input(input_shape)
    x = inputs
    for block, (convs, filters) in enumerate([(2, 4), (2, 4), (3, 8), (3, 8), (3, 8)], 1):
        for i in range(1, convs + 1):
            x = L.Conv2D(filters, 3, padding='same', activation='relu',
                         name=f'block{block}_conv{i}')(x)
        x = L.MaxPooling2D(2, strides=2, name=f'block{block}_pool')(x)
    return Model(inputs, x, name='vgg16')


def test_book_freezing_counts():
    conv_base = vgg16_like()
    model = Sequential([conv_base, L.Flatten(), L.Dense(256, activation='relu'),
                        L.Dense(1, activation='sigmoid')])
    assert model.built and model.output_shape == (None, 1)
    assert len(model.trainable_weights) == 30
    conv_base.trainable = False
    assert len(model.trainable_weights) == 4
    assert len(model.non_trainable_weights) == 26
    assert not any(w.requires_grad for w in conv_base.weights)

    conv_base.trainable = True
    set_trainable = False
    for layer in conv_base.layers:
        if layer.name == 'block5_conv1':
            set_trainable = True
        layer.trainable = set_trainable
    assert len(model.trainable_weights) == 10
    assert [w.path for w in model.trainable_weights[:2]] == ['block5_conv1/kernel',
                                                              'block5_conv1/bias']
    assert len(model.weights) == 30  # order and count do not depend on freezing


def test_trainable_is_recursive_from_the_outer_model():
    conv_base = vgg16_like()
    model = Sequential([conv_base, L.Flatten(), L.Dense(1)])
    model.trainable = False
    assert model.trainable_weights == [] and not conv_base.layers[1].trainable
    model.trainable = True
    assert len(model.trainable_weights) == 28


def test_frozen_parameters_get_no_gradient(rng):
    model = Sequential([L.Dense(4, activation='relu', input_shape=(3,)), L.Dense(1)])
    model.layers[0].trainable = False
    loss = F.sum(model(rng.standard_normal((5, 3)).astype('float32')))
    loss.backward()
    assert model.layers[0].kernel.grad is None
    assert model.layers[1].kernel.grad is not None


def _sgd_loop(model, x, y, steps=30, lr=0.05):
    losses = []
    for _ in range(steps):
        prediction = model(x, training=True)
        loss = F.sum((prediction - y) ** 2) / float(len(x)) + sum(model.losses, 0.0)
        for w in model.trainable_weights:
            w.cleargrad()
        loss.backward()
        for w in model.trainable_weights:
            w.data -= lr * w.grad.data
        losses.append(float(loss.data))
    return losses


def test_custom_loop_on_a_functional_model_lowers_the_loss(rng):
    inputs = L.Input((6, 6, 2))
    x = L.Conv2D(4, 3, padding='same', kernel_regularizer='l2')(inputs)
    x = L.BatchNormalization()(x)
    x = L.Activation('relu')(x)
    shortcut = L.Conv2D(4, 1)(inputs)
    x = L.Add()([x, shortcut])
    x = L.Concatenate()([x, shortcut])
    x = L.GlobalAveragePooling2D()(x)
    model = Model(inputs, L.Dense(1)(x))
    x = rng.standard_normal((16, 6, 6, 2)).astype('float32')
    y = 5 * x.mean(axis=(1, 2, 3))[:, None].astype('float32')
    moving_mean_before = model.layers[2].moving_mean.data.copy()
    losses = _sgd_loop(model, x, y)
    assert losses[-1] < 0.5 * losses[0]
    assert len(model.losses) == 1 and model.losses[0].shape == ()
    assert not np.allclose(model.layers[2].moving_mean.data, moving_mean_before)
    assert all(w.dtype == np.float32 for w in model.weights)


def test_custom_loop_on_a_subclassed_model(rng):
    class TwoLayer(Model):
        def __init__(self):
            super().__init__()
            self.hidden = L.Dense(8, activation='tanh')
            self.out = L.Dense(1)

        def call(self, inputs, training=None):
            return self.out(self.hidden(inputs))

    model = TwoLayer()
    x = rng.standard_normal((32, 3)).astype('float32')
    y = (x @ np.array([[1.0], [-2.0], [0.5]], dtype='float32'))
    losses = _sgd_loop(model, x, y, steps=60, lr=0.1)
    assert losses[-1] < 0.2 * losses[0]
    assert [layer.name for layer in model.layers] == [model.hidden.name, model.out.name]
    assert len(model.trainable_weights) == 4


def test_frozen_batch_norm_runs_in_inference_mode(rng):
    bn = L.BatchNormalization()
    x = (rng.standard_normal((8, 3)) * 4 + 2).astype('float32')
    bn(x, training=True)
    bn.trainable = False
    moving = [w.copy() for w in bn.get_weights()]
    y = bn(x, training=True)
    expected = (x - moving[2]) / np.sqrt(moving[3] + 1e-3) * moving[0] + moving[1]
    np.testing.assert_allclose(y.data, expected, rtol=1e-5, atol=1e-5)
    for before, after in zip(moving, bn.get_weights()):
        np.testing.assert_array_equal(before, after)


def test_dropout_follows_training_flag_and_config(rng):
    import deepzero
    layer = L.Dropout(0.5, seed=1)
    x = np.ones((4, 100), 'float32')
    assert np.array_equal(layer(x, training=False).data, x)
    dropped = layer(x, training=True).data
    assert set(np.unique(dropped)) == {0.0, 2.0}
    with deepzero.test_mode():
        assert np.array_equal(layer(x).data, x)


def test_nested_functional_called_symbolically_in_functional(rng):
    inner_in = L.Input((4,))
    inner = Model(inner_in, L.Dense(3, activation='relu')(inner_in), name='inner')
    outer_in = L.Input((4,))
    outer = Model(outer_in, L.Dense(2)(inner(outer_in)))
    assert outer.output_shape == (None, 2)
    assert [layer.name for layer in outer.layers][1] == 'inner'
    x = rng.standard_normal((5, 4)).astype('float32')
    expected = outer.layers[2](inner(x))
    np.testing.assert_allclose(outer(x).data, expected.data, rtol=1e-6)


def test_multiple_inputs_and_outputs(rng):
    a, b = L.Input((3,), name='a'), L.Input((2,), name='b')
    joined = L.Concatenate()([a, b])
    model = Model([a, b], [L.Dense(1)(joined), L.Dense(2)(joined)])
    assert model.input_shape == [(None, 3), (None, 2)]
    assert model.output_shape == [(None, 1), (None, 2)]
    out1, out2 = model([rng.standard_normal((4, 3)), rng.standard_normal((4, 2))])
    assert out1.shape == (4, 1) and out2.shape == (4, 2)
    config = model.get_config()
    assert config['input_layers'] == [['a', 0, 0], ['b', 0, 0]]
    again = Model.from_config(config)
    assert again.output_shape == [(None, 1), (None, 2)]


def test_shared_layer_runs_twice(rng):
    shared = L.Dense(2)
    a, b = L.Input((3,)), L.Input((3,))
    model = Model([a, b], L.Add()([shared(a), shared(b)]))
    assert len(model.trainable_weights) == 2
    x1, x2 = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    expected = shared(x1).data + shared(x2).data
    np.testing.assert_allclose(model([x1, x2]).data, expected, rtol=1e-6)
    again = Model.from_config(model.get_config())
    assert len(again.layers[2]._inbound_nodes) == 2


def test_new_head_on_a_base_output(rng):
    """The transfer-learning idiom: Model(base.input, head(base.output))."""
    base = vgg16_like()
    x = L.GlobalAveragePooling2D()(base.output)
    model = Model(base.input, L.Dense(2, activation='softmax')(x))
    assert len(model.layers) == len(base.layers) + 2
    y = model(rng.standard_normal((2, 32, 32, 3)).astype('float32'))
    np.testing.assert_allclose(y.data.sum(axis=1), 1.0, rtol=1e-5)


def test_subclassed_model_builds_from_a_shape():
    class Small(Model):
        def __init__(self):
            super().__init__(name='small')
            self.conv = L.Conv2D(2, 3)
            self.flat = L.Flatten()

        def call(self, inputs, training=None):
            return self.flat(self.conv(inputs))

    model = Small()
    model.build((None, 5, 5, 1))
    assert model.built and model.count_params() == 20
    assert model.compute_output_shape((None, 5, 5, 1)) == (None, 18)
