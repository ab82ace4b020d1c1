"""Models against Keras 3: summary text, config forms both ways, layer order."""
import contextlib
import io
import json
import warnings

import numpy as np
import pytest

import deepzero
import deepzero.layers as L
from deepzero.models import Model, Sequential

keras = pytest.importorskip('keras')


def _book_convnet(lib, dropout):
    layers = lib.layers
    stack = [layers.Conv2D(32, (3, 3), activation='relu', input_shape=(150, 150, 3))]
    for filters in (64, 128, 128):
        stack += [layers.MaxPooling2D((2, 2)), layers.Conv2D(filters, (3, 3), activation='relu')]
    stack += [layers.MaxPooling2D((2, 2)), layers.Flatten()]
    stack += [layers.Dropout(0.5)] if dropout else []
    stack += [layers.Dense(512, activation='relu'), layers.Dense(1, activation='sigmoid')]
    return stack


def _summary(model):
    """The text either library hands to print_fn (one string in Keras 3)."""
    lines = []
    model.summary(print_fn=lines.append)
    return ''.join(lines)


@pytest.fixture(autouse=True)
def fresh_names():
    keras.backend.clear_session()
    L.reset_names()


@pytest.mark.parametrize('dropout', [False, True])
def test_book_convnet_summary_is_keras_text(dropout):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        keras_model = keras.Sequential(_book_convnet(keras, dropout))
    keras.backend.clear_session()  # same auto names on both sides
    model = Sequential(_book_convnet(deepzero, dropout))
    text = _summary(model)
    assert 'Total params: 3,453,121 (13.17 MB)' in text
    assert text == _summary(keras_model)


def test_summary_prints_to_stdout():
    model = Sequential([L.Dense(2, input_shape=(3,))])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        model.summary()
    assert out.getvalue().startswith('Model: "sequential"\n')
    assert ' Total params: 8 (32.00 B)\n' in out.getvalue()


def _graph(lib, Input, Model):
    layers = lib.layers if hasattr(lib, 'layers') else lib
    inputs = Input((8, 8, 3), name='img')
    x = layers.Conv2D(4, 3, padding='same')(inputs)
    bn = layers.BatchNormalization()(x)
    added = layers.Add()([x, bn])
    x = layers.Concatenate()([added, x])
    x = layers.Flatten()(x)
    return Model(inputs, layers.Dense(2)(x))


def test_functional_summary_is_keras_text():
    keras_model = _graph(keras, keras.Input, keras.Model)
    keras.backend.clear_session()
    L.reset_names()
    model = _graph(L, L.Input, Model)
    assert _summary(model) == _summary(keras_model)


def test_nested_and_unbuilt_summaries_are_keras_text():
    def build(lib, Input, Model, Seq):
        layers = lib.layers if hasattr(lib, 'layers') else lib
        inputs = Input((8, 8, 3))
        x = layers.Conv2D(2, 3, padding='same', name='block1_conv1')(inputs)
        base = Model(inputs, layers.MaxPooling2D(2, name='block1_pool')(x), name='vgg16')
        outer = Seq([base, layers.Flatten(), layers.Dense(1, activation='sigmoid')])
        outer.build((None, 8, 8, 3))
        return base, outer, Seq([layers.Dense(2)])

    theirs = build(keras, keras.Input, keras.Model, keras.Sequential)
    keras.backend.clear_session()
    L.reset_names()
    ours = build(L, L.Input, Model, Sequential)
    for our_model, keras_model in zip(ours, theirs):
        assert _summary(our_model) == _summary(keras_model)


def _as_json(config):
    """The config as a file holds it (tuples become lists)."""
    return json.loads(json.dumps(config))


def test_sequential_config_has_keras_form():
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        keras_model = keras.Sequential(_book_convnet(keras, True))
    keras.backend.clear_session()
    model = Sequential(_book_convnet(deepzero, True))
    assert _as_json(model.get_config()) == _as_json(keras_model.get_config())


def test_functional_config_has_keras_form():
    keras_model = _graph(keras, keras.Input, keras.Model)
    keras.backend.clear_session()
    L.reset_names()
    model = _graph(L, L.Input, Model)
    ours, theirs = _as_json(model.get_config()), _as_json(keras_model.get_config())
    # Keras records BatchNormalization's call with mask=None; deepzero has no masks.
    for layer in theirs['layers']:
        for node in layer['inbound_nodes']:
            node['kwargs'].pop('mask', None)
    assert ours == theirs


def test_keras_rebuilds_our_functional_config_and_we_rebuild_theirs(rng):
    model = _graph(L, L.Input, Model)
    keras_model = keras.Model.from_config(json.loads(json.dumps(model.get_config())))
    keras_model.set_weights(model.get_weights())
    x = rng.standard_normal((2, 8, 8, 3)).astype('float32')
    expected = keras.ops.convert_to_numpy(keras_model(x, training=False))
    np.testing.assert_allclose(model(x, training=False).data, expected, rtol=1e-5, atol=1e-5)

    again = Model.from_config(json.loads(json.dumps(keras_model.get_config())))
    assert [layer.name for layer in again.layers] == [layer.name for layer in keras_model.layers]
    again.set_weights(keras_model.get_weights())
    np.testing.assert_allclose(again(x, training=False).data, expected, rtol=1e-5, atol=1e-5)


def test_keras_rebuilds_our_sequential_config_and_we_rebuild_theirs(rng):
    model = Sequential([L.Input((6, 6, 2)), L.Conv2D(3, 3, activation='relu'), L.Flatten(),
                        L.Dropout(0.5), L.Dense(2, activation='softmax')])
    keras_model = keras.Sequential.from_config(json.loads(json.dumps(model.get_config())))
    keras_model.set_weights(model.get_weights())
    x = rng.standard_normal((2, 6, 6, 2)).astype('float32')
    expected = keras.ops.convert_to_numpy(keras_model(x, training=False))
    np.testing.assert_allclose(model(x, training=False).data, expected, rtol=1e-5, atol=1e-6)

    again = Sequential.from_config(json.loads(json.dumps(keras_model.get_config())))
    assert again.built and [w.shape for w in again.weights] == [w.shape for w in model.weights]
    again.set_weights(keras_model.get_weights())
    np.testing.assert_allclose(again(x, training=False).data, expected, rtol=1e-5, atol=1e-6)


def test_nested_model_config_round_trips_through_keras(rng):
    inputs = L.Input((8, 8, 3))
    base = Model(inputs, L.MaxPooling2D()(L.Conv2D(2, 3, padding='same')(inputs)), name='base')
    model = Sequential([base, L.Flatten(), L.Dense(1, activation='sigmoid')])
    model.build((None, 8, 8, 3))
    keras_model = keras.Sequential.from_config(json.loads(json.dumps(model.get_config())))
    again = Sequential.from_config(json.loads(json.dumps(keras_model.get_config())))
    assert type(again.layers[0]).__name__ == 'Functional'
    assert [w.shape for w in again.weights] == [w.shape for w in model.weights]
    again.set_weights(model.get_weights())
    x = rng.standard_normal((2, 8, 8, 3)).astype('float32')
    np.testing.assert_allclose(again(x).data, model(x).data, rtol=1e-6)


def _resnet_like(lib, Input, Model):
    """Branches of different depths: the layer order depends on Keras's depth rule."""
    layers = lib.layers if hasattr(lib, 'layers') else lib
    inputs = Input((8, 8, 3))
    x = layers.Conv2D(4, 1, name='stem')(inputs)
    long = layers.Conv2D(4, 1, name='a1')(x)
    long = layers.BatchNormalization(name='a1_bn')(long)
    long = layers.Conv2D(4, 3, padding='same', name='a2')(long)
    short = layers.Conv2D(4, 1, name='b1')(x)
    x = layers.Add(name='add1')([long, short])
    other = layers.Conv2D(2, 1, name='c1')(inputs)
    x = layers.Concatenate(name='cat')([layers.Activation('relu', name='act')(x), other])
    return Model(inputs, x)


def test_layer_order_follows_keras():
    keras_model = _resnet_like(keras, keras.Input, keras.Model)
    model = _resnet_like(L, L.Input, Model)
    assert [layer.name for layer in model.layers][1:] == \
        [layer.name for layer in keras_model.layers][1:]
    assert [w.shape for w in model.weights] == [tuple(w.shape) for w in keras_model.weights]


@pytest.mark.parametrize('options', [dict(show_trainable=True), dict(expand_nested=True),
                                     dict(line_length=60)])
def test_summary_options_match_keras(options):
    def build(lib, Input, Model, Seq):
        layers = lib.layers if hasattr(lib, 'layers') else lib
        inputs = Input((8, 8, 3))
        x = layers.Conv2D(2, 3, padding='same', name='block1_conv1')(inputs)
        base = Model(inputs, layers.MaxPooling2D(2, name='block1_pool')(x), name='vgg16')
        model = Seq([base, layers.Flatten(), layers.Dense(1, activation='sigmoid')])
        base.trainable = False
        return model

    keras_model = build(keras, keras.Input, keras.Model, keras.Sequential)
    keras.backend.clear_session()
    L.reset_names()
    model = build(L, L.Input, Model, Sequential)
    lines = []
    model.summary(print_fn=lines.append, **options)
    keras_lines = []
    keras_model.summary(print_fn=keras_lines.append, **options)
    assert lines == keras_lines
