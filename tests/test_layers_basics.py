"""Layer API: names, arguments, weights, configs, errors; activations,
initializers and regularizers."""
import json

import numpy as np
import pytest

import deepzero
import deepzero.layers as L
from deepzero import activations, initializers, regularizers
from deepzero.models import Model, Sequential
from deepzero.optimizers import RMSprop
from deepzero.saving.serialization import deserialize_layer, serialize_layer


@pytest.fixture(autouse=True)
def fresh_names():
    L.reset_names()


ALL_LAYERS = [
    (L.Dense, dict(units=3, activation='relu', kernel_regularizer='l2'), (2, 5)),
    (L.Conv2D, dict(filters=2, kernel_size=3, strides=2, padding='same'), (2, 6, 6, 3)),
    (L.SeparableConv2D, dict(filters=2, kernel_size=3, depth_multiplier=2), (2, 6, 6, 3)),
    (L.DepthwiseConv2D, dict(kernel_size=3, use_bias=False), (2, 6, 6, 3)),
    (L.Conv2DTranspose, dict(filters=2, kernel_size=3, strides=2, output_padding=1),
     (2, 6, 6, 3)),
    (L.MaxPooling2D, dict(pool_size=3, strides=2, padding='same'), (2, 6, 6, 3)),
    (L.AveragePooling2D, dict(pool_size=2), (2, 6, 6, 3)),
    (L.GlobalAveragePooling2D, dict(keepdims=True), (2, 6, 6, 3)),
    (L.GlobalMaxPooling2D, dict(), (2, 6, 6, 3)),
    (L.ZeroPadding2D, dict(padding=((0, 1), (0, 1))), (2, 6, 6, 3)),
    (L.Flatten, dict(), (2, 6, 6, 3)),
    (L.Reshape, dict(target_shape=(-1, 3)), (2, 6, 6, 3)),
    (L.Dropout, dict(rate=0.25, seed=3), (2, 5)),
    (L.BatchNormalization, dict(momentum=0.9, scale=False), (2, 6, 6, 3)),
    (L.Activation, dict(activation='softmax'), (2, 5)),
    (L.ReLU, dict(max_value=6.0), (2, 5)),
    (L.LeakyReLU, dict(negative_slope=0.1), (2, 5)),
    (L.Softmax, dict(axis=-1), (2, 5)),
    (L.Rescaling, dict(scale=1 / 255.0), (2, 5)),
]


@pytest.mark.parametrize('cls, kwargs, shape', ALL_LAYERS,
                         ids=[c.__name__ for c, _, _ in ALL_LAYERS])
def test_config_round_trip_gives_the_same_layer(cls, kwargs, shape, rng):
    layer = cls(**kwargs)
    x = rng.standard_normal(shape).astype('float32')
    y = layer(x, training=False)
    assert y.dtype == np.float32
    config = json.loads(json.dumps(layer.get_config()))
    assert config['name'] == layer.name and config['trainable'] is True
    assert config['dtype']['config']['name'] == 'float32'
    copy = cls.from_config(config)
    assert copy.get_config() == layer.get_config()
    entry = json.loads(json.dumps(serialize_layer(layer)))
    rebuilt = deserialize_layer(entry)
    assert rebuilt.built == layer.built
    if layer.weights:
        rebuilt.set_weights(layer.get_weights())
    np.testing.assert_array_equal(rebuilt(x, training=False).data, y.data)


def test_merge_config_round_trip():
    for cls in (L.Add, L.Multiply, L.Concatenate):
        layer = cls()
        assert cls.from_config(layer.get_config()).get_config() == layer.get_config()


def test_auto_names_are_keras_style():
    names = [L.Conv2D(1, 1).name, L.Conv2D(1, 1).name, L.Dense(1).name,
             L.BatchNormalization().name, L.ReLU().name, L.LeakyReLU().name,
             L.MaxPooling2D().name, L.GlobalAveragePooling2D().name,
             L.Dense(1, name='custom').name, L.Dense(1).name]
    assert names == ['conv2d', 'conv2d_1', 'dense', 'batch_normalization', 're_lu',
                     'leaky_re_lu', 'max_pooling2d', 'global_average_pooling2d', 'custom',
                     'dense_1']
    assert Sequential().name == 'sequential'
    assert L.Input((2,)).keras_history[0].name == 'input_layer'


def test_names_follow_keras_rules_and_reset_together():
    """One snake_case rule and one set of counters (Keras's naming), which
    reset_names (keras.backend.clear_session) restarts for every kind."""
    from keras.src.utils.naming import to_snake_case as keras_to_snake_case
    from deepzero.core.naming import to_snake_case
    for class_name in ('Conv2D', 'BatchNormalization', 'ReLU', 'RMSprop', 'SGD',
                       'GlobalAveragePooling2D', 'BinaryAccuracy', 'AUC', 'Functional'):
        assert to_snake_case(class_name) == keras_to_snake_case(class_name)
    L.reset_names()
    first = [L.Dense(1).name, RMSprop().name]
    assert [L.Dense(1).name, RMSprop().name] == ['dense_1', 'rm_sprop_1']
    L.reset_names()
    assert [L.Dense(1).name, RMSprop().name] == first == ['dense', 'rm_sprop']


def test_unknown_keyword_is_a_type_error():
    with pytest.raises(TypeError, match=r"Dense: unexpected keyword argument\(s\) \['unitz'\]"):
        L.Dense(3, unitz=4)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="padding must be 'valid' or 'same'"):
        L.Conv2D(2, 3, padding='full')
    with pytest.raises(ValueError, match='units must be a positive int'):
        L.Dense(0)
    with pytest.raises(ValueError, match='rate must be in'):
        L.Dropout(1.5)
    with pytest.raises(ValueError, match='Unknown activation'):
        L.Dense(2, activation='relux')


def test_wrong_input_size_error_names_the_layer(rng):
    model = Sequential([L.Flatten(input_shape=(28, 28, 8)), L.Dense(10)])
    model(np.zeros((2, 28, 28, 8), 'float32'))
    with pytest.raises(ValueError, match=r"Layer 'dense' expects input with last dimension "
                                         r"6272, got 512; input shape \(32, 512\)"):
        model.layers[1](np.zeros((32, 512), 'float32'))
    conv = L.Conv2D(4, 3)
    conv(np.zeros((1, 8, 8, 3), 'float32'))
    with pytest.raises(ValueError, match=r"Layer 'conv2d' expects input with last "
                                         r"dimension 3, got 4"):
        conv(np.zeros((1, 8, 8, 4), 'float32'))
    with pytest.raises(ValueError, match=r"expects 4-dimensional input, got 3"):
        conv(np.zeros((8, 8, 3), 'float32'))
    with pytest.raises(ValueError, match=r"Layer 'add' \(Add\) needs inputs of the same "
                                         r"shape"):
        L.Add()([np.zeros((2, 3)), np.zeros((2, 4))])


def test_functional_errors_are_clear():
    a = L.Input((3,))
    with pytest.raises(ValueError, match='Graph disconnected'):
        Model(L.Input((3,)), L.Dense(2)(a))
    model = Model(a, L.Dense(2)(a))
    with pytest.raises(ValueError, match=r"expects input shape \(None, 3\), got \(4, 5\)"):
        model(np.zeros((4, 5)))
    with pytest.raises(ValueError, match=r"No such layer: nope\."):
        model.get_layer('nope')


def test_weights_order_and_set_weights_errors(rng):
    bn = L.BatchNormalization()
    bn(rng.standard_normal((4, 3)).astype('float32'))
    assert [w.name for w in bn.weights] == ['gamma', 'beta', 'moving_mean', 'moving_variance']
    assert [w.path for w in bn.trainable_weights] == ['batch_normalization/gamma',
                                                      'batch_normalization/beta']
    assert [w.requires_grad for w in bn.weights] == [True, True, False, False]
    assert bn.count_params() == 12
    with pytest.raises(ValueError, match=r"weight 'beta' has shape \(3,\), but the value "
                                         r"given has shape \(4,\)"):
        bn.set_weights([np.ones(3), np.ones(4), np.ones(3), np.ones(3)])
    with pytest.raises(ValueError, match='set_weights got 1 arrays but the layer has 4'):
        bn.set_weights([np.ones(3)])
    with pytest.raises(ValueError, match="Layer 'dense' is not built yet"):
        L.Dense(2).set_weights([])


def test_weights_argument_and_input_dim():
    kernel, bias = np.ones((3, 2), 'float32'), np.zeros(2, 'float32')
    model = Sequential([L.Dense(2, input_dim=3, weights=[kernel, bias])])
    np.testing.assert_array_equal(model.layers[0].kernel.data, kernel)
    assert model.input_shape == (None, 3)


def test_sequential_add_pop_get_layer():
    model = Sequential()
    model.add(L.Input((4,)))
    model.add(L.Dense(3, name='first'))
    assert model.built and model.output_shape == (None, 3)
    model.add(L.Dense(2))
    assert model.output_shape == (None, 2)
    assert model.get_layer('first') is model.layers[0]
    assert model.get_layer(index=-1).units == 2
    popped = model.pop()
    assert popped.units == 2 and model.output_shape == (None, 3)
    with pytest.raises(ValueError, match="Name 'first' is already the name"):
        model.add(L.Dense(1, name='first'))


def test_sequential_without_input_shape_builds_on_first_call(rng):
    model = Sequential([L.Dense(4), L.Dense(1)])
    assert not model.built and model.weights == []
    y = model(rng.standard_normal((3, 5)).astype('float32'))
    assert y.shape == (3, 1) and model.built and len(model.weights) == 4
    assert model.input_shape == (None, 5)


def test_symbolic_tensors_carry_shapes():
    x = L.Input((32, 32, 3))
    y = L.Conv2D(8, 3, strides=2, padding='same')(x)
    assert y.shape == (None, 16, 16, 8)
    assert isinstance(y, L.KerasTensor) and y.keras_history[0].name == 'conv2d'


def test_activations_by_name(rng):
    x = deepzero.Variable(rng.standard_normal((3, 4)).astype('float32'))
    for name in ['relu', 'sigmoid', 'softmax', 'tanh', 'linear', 'elu', 'softplus', 'relu6',
                 'leaky_relu', 'swish', 'silu', 'selu', 'hard_sigmoid', 'softsign',
                 'exponential', 'log_softmax']:
        fn = activations.get(name)
        y = fn(x)
        assert y.shape == (3, 4) and y.dtype == np.float32, name
        assert activations.get(activations.serialize(fn)) is fn
    assert activations.get(None) is activations.linear
    np.testing.assert_allclose(activations.relu(x, negative_slope=0.5, max_value=1.0,
                                                threshold=0.2).data,
                               np.where(x.data >= 0.2, np.minimum(x.data, 1.0),
                                        0.5 * (x.data - 0.2)), rtol=1e-6)


def test_initializers_follow_keras():
    for name in ['glorot_uniform', 'glorot_normal', 'he_normal', 'he_uniform', 'lecun_normal',
                 'lecun_uniform', 'zeros', 'ones', 'random_normal', 'random_uniform',
                 'truncated_normal', 'orthogonal']:
        init = initializers.get(name)
        values = init((3, 3, 16, 32))
        assert values.dtype == np.float32 and values.shape == (3, 3, 16, 32), name
        again = initializers.get(initializers.serialize(init))
        assert type(again) is type(init) and again.get_config() == init.get_config()
    limit = np.sqrt(6 / (3 * 3 * 16 + 3 * 3 * 32))
    values = initializers.GlorotUniform()((3, 3, 16, 32))
    assert np.abs(values).max() <= limit and np.abs(values).max() > 0.9 * limit
    he = initializers.HeNormal(seed=0)((400, 300))
    assert abs(he.std() - np.sqrt(2 / 400)) < 0.1 * np.sqrt(2 / 400)
    assert np.abs(he).max() <= 2 * np.sqrt(2 / 400) / 0.87962566103423978 + 1e-6
    np.testing.assert_array_equal(initializers.RandomNormal(seed=3)((4,)),
                                  initializers.RandomNormal(seed=3)((4,)))
    q = initializers.Orthogonal(seed=1)((6, 4))
    np.testing.assert_allclose(q.T @ q, np.eye(4), atol=1e-5)
    assert initializers.Constant(2.5)((2,)).tolist() == [2.5, 2.5]


def test_regularizers_add_differentiable_penalties(rng):
    w = deepzero.Variable(rng.standard_normal((3, 2)).astype('float32'))
    for reg, expected in [(regularizers.get('l1'), 0.01 * np.abs(w.data).sum()),
                          (regularizers.get('l2'), 0.01 * (w.data ** 2).sum()),
                          (regularizers.L1L2(l1=0.1, l2=0.2),
                           0.1 * np.abs(w.data).sum() + 0.2 * (w.data ** 2).sum())]:
        penalty = reg(w)
        assert penalty.shape == () and penalty.dtype == np.float32
        np.testing.assert_allclose(penalty.data, expected, rtol=1e-5)
        assert regularizers.get(regularizers.serialize(reg)).get_config() == reg.get_config()
    layer = L.Dense(2, kernel_regularizer=regularizers.l2(0.5), activity_regularizer='l1')
    y = layer(rng.standard_normal((4, 3)).astype('float32'))
    assert len(layer.losses) == 2
    np.testing.assert_allclose(layer.losses[0].data, 0.5 * (layer.kernel.data ** 2).sum(),
                               rtol=1e-5)
    np.testing.assert_allclose(layer.losses[1].data, 0.01 * np.abs(y.data).sum() / 4,
                               rtol=1e-5)


def test_eager_call_keeps_float32_and_accepts_ints():
    layer = L.Dense(2)
    y = layer(np.arange(6).reshape(2, 3))
    assert y.dtype == np.float32 and layer.kernel.dtype == np.float32
    y = L.Rescaling(1 / 255.0)(np.full((1, 2), 255, np.uint8))
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.data, 1.0, rtol=1e-6)


def test_keras2_configs_load():
    """Book-era files: bare-list Sequential configs with batch_input_shape, and
    functional inbound nodes as [[name, node, tensor, kwargs]]."""
    sequential = Sequential.from_config([
        {'class_name': 'Dense', 'config': {'name': 'dense_1', 'units': 4, 'activation': 'relu',
                                           'batch_input_shape': [None, 3], 'dtype': 'float32',
                                           'trainable': True}},
        {'class_name': 'Dense', 'config': {'name': 'dense_2', 'units': 1}}])
    assert sequential.built and sequential.output_shape == (None, 1)
    functional = Model.from_config({
        'name': 'model_1',
        'layers': [
            {'class_name': 'InputLayer', 'name': 'input_1', 'inbound_nodes': [],
             'config': {'batch_input_shape': [None, 4, 4, 2], 'dtype': 'float32',
                        'sparse': False, 'name': 'input_1'}},
            {'class_name': 'Conv2D', 'name': 'conv', 'inbound_nodes': [[['input_1', 0, 0, {}]]],
             'config': {'name': 'conv', 'filters': 3, 'kernel_size': [3, 3],
                        'padding': 'same'}},
            {'class_name': 'BatchNormalization', 'name': 'bn',
             'inbound_nodes': [[['conv', 0, 0, {}]]], 'config': {'name': 'bn', 'axis': [3]}},
            {'class_name': 'Add', 'name': 'add',
             'inbound_nodes': [[['conv', 0, 0, {}], ['bn', 0, 0, {}]]],
             'config': {'name': 'add'}}],
        'input_layers': [['input_1', 0, 0]], 'output_layers': [['add', 0, 0]]})
    assert [layer.name for layer in functional.layers] == ['input_1', 'conv', 'bn', 'add']
    assert functional.output_shape == (None, 4, 4, 3)


def test_custom_layer_in_keras3_style(rng):
    class Scale(L.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],), initializer='ones')
            self.b = self.add_weight(shape=(1,), initializer='zeros', trainable=False)

        def call(self, inputs):
            return inputs * self.w + self.b

    layer = Scale()
    x = rng.standard_normal((2, 3)).astype('float32')
    np.testing.assert_array_equal(layer(x).data, x)
    assert [w.name for w in layer.weights] == ['variable', 'variable_1']
    assert len(layer.trainable_weights) == 1
    model = Sequential([L.Input((3,)), layer, L.Dense(1)])
    assert model.count_params() == 8


@pytest.mark.parametrize('dtype', ['int32', 'bool'])
def test_a_trainable_weight_needs_float_data(dtype):
    class Counter(L.Layer):
        def build(self, input_shape):
            self.count = self.add_weight(name='count', shape=(), dtype=dtype,
                                         initializer='zeros', trainable=True)

        def call(self, inputs):
            return inputs

    with pytest.raises(TypeError, match=rf"Layer 'counter': weight 'count' has dtype "
                                        rf"{dtype} and trainable=True; gradients need "
                                        "floating-point data"):
        Counter(name='counter')(np.ones((2, 3), 'float32'))
    layer = L.Layer(name='plain')
    count = layer.add_weight(name='count', shape=(), dtype=dtype, initializer='zeros',
                             trainable=False)
    assert not count.requires_grad and layer.trainable_weights == []
    layer.trainable = True    # a weight created non-trainable stays so
    assert not count.requires_grad


# --- training mode -------------------------------------------------------------------

def test_explicit_training_of_a_layer_does_not_leak_to_its_siblings():
    """The mode a call inherits is its enclosing call's; a sibling's explicit
    ``training=False`` does not change it (Keras 3 lets it leak)."""
    class Model2(Model):
        def __init__(self):
            super().__init__()
            self.frozen, self.free = L.Dropout(0.5), L.Dropout(0.5)

        def call(self, inputs):
            return self.free(self.frozen(inputs, training=False))

    x = np.ones((8, 16), 'float32')
    assert set(np.unique(Model2()(x, training=True).data)) == {0.0, 2.0}
    np.testing.assert_array_equal(Model2()(x).data, x)


def test_fit_trains_while_evaluate_predict_and_building_infer(rng):
    model = Sequential([L.Input((3,)), L.BatchNormalization(), L.Dense(1)])
    model.compile(optimizer='sgd', loss='mse')
    bn = model.layers[0]
    x = rng.standard_normal((16, 3)).astype('float32') + 5
    y = np.zeros((16, 1), 'float32')
    model.evaluate(x, y, verbose=0)
    model.predict(x, verbose=0)
    model(x)
    np.testing.assert_array_equal(bn.moving_mean.data, np.zeros(3))
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    np.testing.assert_allclose(bn.moving_mean.data, 0.01 * x.mean(axis=0), rtol=1e-5)


def test_a_subclassed_model_built_inside_a_training_call_builds_in_inference():
    """Building runs the model once on zeros; those must not reach the
    moving statistics even when the enclosing call trains."""
    class Inner(Model):
        def __init__(self):
            super().__init__()
            self.bn = L.BatchNormalization(momentum=0.5)

        def call(self, inputs):
            return self.bn(inputs)

    class Outer(Model):
        def __init__(self):
            super().__init__()
            self.inner = Inner()

        def call(self, inputs):
            return self.inner(inputs)

    outer = Outer()
    x = np.full((4, 2), 3.0, 'float32')
    outer(x, training=True)
    np.testing.assert_allclose(outer.inner.bn.moving_mean.data, [1.5, 1.5])
    np.testing.assert_allclose(outer.inner.bn.moving_variance.data, [0.5, 0.5])


# --- seeded dropout ----------------------------------------------------------------------

def test_seeded_dropout_draws_a_new_mask_each_step_and_repeats_across_layers():
    """Keras 3's SeedGenerator: the layer owns its generator, seeded once."""
    x = np.ones((4, 32), 'float32')
    first, twin = L.Dropout(0.5, seed=3), L.Dropout(0.5, seed=3)
    masks = [first(x, training=True).data for _ in range(3)]
    assert not np.array_equal(masks[0], masks[1])
    assert not np.array_equal(masks[1], masks[2])
    for mask in masks:
        np.testing.assert_array_equal(twin(x, training=True).data, mask)
    # a layer rebuilt from its config starts the sequence again
    rebuilt = L.Dropout.from_config(first.get_config())
    np.testing.assert_array_equal(rebuilt(x, training=True).data, masks[0])
    assert not np.array_equal(L.Dropout(0.5, seed=4)(x, training=True).data, masks[0])
    assert set(np.unique(L.Dropout(0.5, seed=-1)(x, training=True).data)) == {0.0, 2.0}


def test_unseeded_dropout_layers_draw_different_masks():
    x = np.ones((4, 32), 'float32')
    layer = L.Dropout(0.5)
    assert not np.array_equal(layer(x, training=True).data, layer(x, training=True).data)
    assert not np.array_equal(L.Dropout(0.5)(x, training=True).data,
                              L.Dropout(0.5)(x, training=True).data)


def test_dropout_seed_must_be_an_integer():
    with pytest.raises(ValueError, match="Dropout 'drop': seed must be an integer"):
        L.Dropout(0.5, seed='3', name='drop')
    with pytest.raises(ValueError, match='seed must be an integer'):
        L.Dropout(0.5, seed=1.5)


# --- explicit build ----------------------------------------------------------------------

@pytest.mark.parametrize('make, shape', [
    (lambda: L.Dense(3), (None, 4)),
    (lambda: L.Conv2D(2, 3), (None, 5, 5, 1)),
    (lambda: Sequential([L.Dense(3, name='hidden'), L.Dense(1)]), (None, 4)),
])
def test_explicit_build_marks_the_layer_built(make, shape, rng):
    """``layer.build(shape)`` by hand is a build: weights can be set, and the
    first call uses them instead of creating new ones."""
    layer = make()
    layer.build(shape)
    assert layer.built
    assert layer.get_build_config() == {'input_shape': list(shape)}
    values = [rng.standard_normal(w.shape).astype('float32') for w in layer.weights]
    layer.set_weights(values)
    x = rng.standard_normal((2,) + shape[1:]).astype('float32')
    layer(x)
    for now, given in zip(layer.get_weights(), values):
        np.testing.assert_array_equal(now, given)


def test_build_of_a_subclass_finishes_after_the_whole_build(rng):
    """``weights=`` are set once the outermost build returns, not when a
    subclass's ``super().build`` does (the subclass adds weights after it)."""
    class DenseWithScale(L.Dense):
        def build(self, input_shape):
            super().build(input_shape)
            assert not self.built
            self.scale = self.add_weight('scale', (self.units,), 'ones')

        def call(self, inputs, training=None):
            return super().call(inputs) * self.scale

    values = [np.ones((2, 3), 'float32'), np.zeros(3, 'float32'), np.full(3, 2.0, 'float32')]
    layer = DenseWithScale(3, weights=values)
    layer.build((None, 2))
    assert layer.built
    np.testing.assert_array_equal(layer(np.ones((1, 2), 'float32')).data, [[4.0, 4.0, 4.0]])
