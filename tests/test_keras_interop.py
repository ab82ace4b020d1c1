"""Files cross between real Keras 3 (test-only oracle, torch backend) and
deepzero in both directions and both formats, giving the same predictions.

Models: the book's chapter-5 convnet (at 64x64 to stay fast, once at the
book's 150x150) and a functional model with BatchNormalization, Add and
Concatenate.
"""
import os

import numpy as np
import pytest

from deepzero import layers, optimizers, saving
from deepzero.kernels.cpu import winograd
from deepzero.models import Model, Sequential

TOLERANCE = 1e-5
FORMATS = ['h5', 'keras']


@pytest.fixture(scope='module')
def keras():
    os.environ.setdefault('KERAS_BACKEND', 'torch')
    keras = pytest.importorskip('keras')
    import logging
    logging.getLogger('absl').setLevel(logging.ERROR)  # "HDF5 is legacy" notices
    return keras


def random_weights(weights, rng):
    """Non-trivial values; variances (BN moving_variance) stay positive."""
    return [np.abs(rng.standard_normal(w.shape)).astype('f4') + 0.5
            if 'variance' in w.name else
            (0.1 * rng.standard_normal(w.shape)).astype('f4') for w in weights]


# --- the two architectures, in Keras and in deepzero -------------------------------------
def book_convnet(lib, size):
    L = lib.layers
    return lib.Sequential([
        L.Input((size, size, 3)),
        L.Conv2D(32, (3, 3), activation='relu'), L.MaxPooling2D((2, 2)),
        L.Conv2D(64, (3, 3), activation='relu'), L.MaxPooling2D((2, 2)),
        L.Conv2D(128, (3, 3), activation='relu'), L.MaxPooling2D((2, 2)),
        L.Conv2D(128, (3, 3), activation='relu'), L.MaxPooling2D((2, 2)),
        L.Flatten(), L.Dropout(0.5),
        L.Dense(512, activation='relu'), L.Dense(1, activation='sigmoid')])


def merge_model(lib):
    L = lib.layers
    inputs = L.Input((12, 12, 3))
    a = L.Conv2D(8, 3, padding='same', activation='relu')(inputs)
    b = L.BatchNormalization()(L.Conv2D(8, 3, padding='same')(a))
    c = L.Add()([a, b])
    d = L.Concatenate()([c, inputs])
    e = L.GlobalAveragePooling2D()(L.MaxPooling2D(2)(d))
    return lib.Model(inputs, L.Dense(3, activation='softmax')(e))


class DeepzeroLib:
    """deepzero under the names the Keras code above uses."""
    layers = layers
    Sequential = Sequential
    Model = Model


def compile_and_step(model, optimizer, x, y, loss):
    model.compile(optimizer=optimizer, loss=loss, metrics=['acc'])
    model.train_on_batch(x, y)
    return model


def data(rng, size, n=2, classes=None):
    x = rng.random((n, size, size, 3), dtype=np.float32)
    if classes is None:
        y = (rng.random((n, 1)) > 0.5).astype('f4')
    else:
        y = np.eye(classes, dtype='f4')[rng.integers(0, classes, n)]
    return x, y


def deepzero_predict(model, x):
    return model(x, training=False).data


def keras_predict(model, x):
    return np.asarray(model.predict(x, verbose=0))


def assert_close(a, b):
    assert a.shape == b.shape
    assert np.max(np.abs(a - b)) < TOLERANCE


# --- Keras writes, deepzero reads ---------------------------------------------------------
@pytest.fixture(scope='module')
def keras_files(keras, tmp_path_factory):
    """Convnet and merge model built, compiled, stepped once and saved by Keras."""
    rng = np.random.default_rng(1)
    folder = tmp_path_factory.mktemp('from_keras')
    made = {}
    for name, build, loss, shape in [
            ('convnet', lambda: book_convnet(keras, 64), 'binary_crossentropy', (64, None)),
            ('merge', lambda: merge_model(keras), 'categorical_crossentropy', (12, 3))]:
        model = build()
        model.set_weights(random_weights(model.weights, rng))
        x, y = data(rng, shape[0], classes=shape[1])
        compile_and_step(model, keras.optimizers.RMSprop(learning_rate=1e-4), x, y, loss)
        # .keras first: Keras's .h5 save drops the optimizer from the model's
        # compile config, so a later .keras save would lack it
        for fmt in reversed(FORMATS):
            model.save(folder / f'{name}.{fmt}')
        made[name] = (folder, x, keras_predict(model, x), model)
    return made


@pytest.mark.parametrize('fmt', FORMATS)
@pytest.mark.parametrize('name', ['convnet', 'merge'])
def test_deepzero_loads_keras_files(keras_files, name, fmt):
    folder, x, expected, keras_model = keras_files[name]
    model = saving.load_model(folder / f'{name}.{fmt}')
    assert_close(deepzero_predict(model, x), expected)
    assert [l.name for l in model.layers] == [l.name for l in keras_model.layers]
    # compile state and optimizer state came along
    assert type(model.optimizer).__name__ == 'RMSprop'
    assert model.optimizer.learning_rate == pytest.approx(1e-4)
    assert model.optimizer.iterations == 1
    keras_state = [np.asarray(v) for v in keras_model.optimizer.variables]
    assert len(model.optimizer.variables) == len(keras_state)
    for ours, theirs in zip(model.optimizer.variables[2:], keras_state[2:]):
        np.testing.assert_allclose(ours.data, theirs, rtol=1e-6, atol=1e-9)


def test_deepzero_loads_keras_weights_files(keras, keras_files, tmp_path):
    folder, x, expected, keras_model = keras_files['merge']
    keras_model.save_weights(tmp_path / 'merge.weights.h5')
    model = merge_model(DeepzeroLib)
    model.load_weights(tmp_path / 'merge.weights.h5')
    assert_close(deepzero_predict(model, x), expected)
    other = merge_model(DeepzeroLib)
    other.load_weights(folder / 'merge.h5')  # full legacy file, positional
    assert_close(deepzero_predict(other, x), expected)


# --- deepzero writes, Keras reads -----------------------------------------------------------
@pytest.fixture(scope='module')
def deepzero_files(tmp_path_factory):
    rng = np.random.default_rng(2)
    folder = tmp_path_factory.mktemp('from_deepzero')
    made = {}
    for name, build, loss, shape in [
            ('convnet', lambda: book_convnet(DeepzeroLib, 64), 'binary_crossentropy', (64, None)),
            ('merge', lambda: merge_model(DeepzeroLib), 'categorical_crossentropy', (12, 3))]:
        model = build()
        model.set_weights(random_weights(model.weights, rng))
        x, y = data(rng, shape[0], classes=shape[1])
        compile_and_step(model, optimizers.RMSprop(learning_rate=1e-4), x, y, loss)
        for fmt in FORMATS:
            model.save(folder / f'{name}.{fmt}')
        model.save_weights(folder / f'{name}.weights.h5')
        model.save_weights(folder / f'{name}_legacy.h5')
        made[name] = (folder, x, deepzero_predict(model, x), model)
    return made


@pytest.mark.parametrize('fmt', FORMATS)
@pytest.mark.parametrize('name', ['convnet', 'merge'])
def test_keras_loads_deepzero_files(keras, deepzero_files, name, fmt):
    folder, x, expected, model = deepzero_files[name]
    loaded = keras.models.load_model(folder / f'{name}.{fmt}')  # compile=True
    assert_close(keras_predict(loaded, x), expected)
    assert type(loaded.optimizer).__name__ == 'RMSprop'
    assert float(loaded.optimizer.learning_rate) == pytest.approx(1e-4)
    assert int(loaded.optimizer.iterations) == 1
    theirs = [np.asarray(v) for v in loaded.optimizer.variables]
    for ours, value in zip(model.optimizer.variables[2:], theirs[2:]):
        np.testing.assert_allclose(value, ours.data, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize('name', ['convnet', 'merge'])
def test_keras_loads_deepzero_weight_files(keras, deepzero_files, name):
    folder, x, expected, _ = deepzero_files[name]
    build = (lambda: book_convnet(keras, 64)) if name == 'convnet' else (lambda: merge_model(keras))
    for filename in [f'{name}.weights.h5', f'{name}_legacy.h5']:
        model = build()
        model.load_weights(folder / filename)
        assert_close(keras_predict(model, x), expected)


# --- the book's size, once ----------------------------------------------------------------------
def test_book_convnet_at_150x150_both_ways(keras, tmp_path, monkeypatch):
    """Also: deepzero's convs 2-4 run Winograd's F(4x4,3x3) here (the 'auto'
    choice) and still predict what Keras predicts within TOLERANCE."""
    winograd_convs = []  # the tile size of each Winograd conv that runs
    conv = winograd.each_output_chunk

    def counting_conv(x, kernel, pads, m, *args):
        winograd_convs.append(m)
        return conv(x, kernel, pads, m, *args)
    monkeypatch.setattr(winograd, 'each_output_chunk', counting_conv)
    rng = np.random.default_rng(3)
    theirs = book_convnet(keras, 150)
    theirs.set_weights(random_weights(theirs.weights, rng))
    theirs.compile(optimizer=keras.optimizers.RMSprop(learning_rate=1e-4),
                   loss='binary_crossentropy', metrics=['acc'])
    x = rng.random((2, 150, 150, 3), dtype=np.float32)
    theirs.save(tmp_path / 'keras_150.h5')
    ours = saving.load_model(tmp_path / 'keras_150.h5')
    expected = keras_predict(theirs, x)
    assert_close(deepzero_predict(ours, x), expected)
    assert winograd_convs == [4, 4, 4]
    assert sum(w.size for w in ours.get_weights()) == 3_453_121  # the book's summary
    ours.save(tmp_path / 'deepzero_150.keras')
    assert_close(keras_predict(keras.models.load_model(tmp_path / 'deepzero_150.keras'), x),
                 expected)


# --- compile arguments given as objects ---------------------------------------------------------
def dense_model(lib):
    L = lib.layers
    return lib.Sequential([L.Input((6,)), L.Dense(5, activation='relu'), L.Dense(1)])


@pytest.mark.parametrize('fmt', FORMATS)
def test_compile_objects_cross_both_ways(keras, tmp_path, fmt):
    """Adam, a Loss object and Metric objects survive the trip either way."""
    from deepzero import losses, metrics
    rng = np.random.default_rng(4)
    x = rng.random((8, 6), dtype=np.float32)
    y = (rng.random((8, 1)) > 0.5).astype('f4')
    theirs = dense_model(keras)
    theirs.compile(optimizer=keras.optimizers.Adam(learning_rate=2e-3),
                   loss=keras.losses.BinaryCrossentropy(from_logits=True),
                   metrics=[keras.metrics.BinaryAccuracy(threshold=0.3), 'acc'])
    theirs.train_on_batch(x, y)
    theirs.save(tmp_path / f'keras.{fmt}')
    ours = saving.load_model(tmp_path / f'keras.{fmt}')
    assert type(ours.optimizer).__name__ == 'Adam'
    assert ours.optimizer.learning_rate == pytest.approx(2e-3)
    assert isinstance(ours.loss, losses.BinaryCrossentropy)
    assert ours.loss.get_config()['from_logits'] is True
    assert_close(deepzero_predict(ours, x), keras_predict(theirs, x))
    # both take the same next step from the restored Adam state
    theirs.train_on_batch(x, y)
    ours.train_on_batch(x, y)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-5, atol=1e-6)

    mine = dense_model(DeepzeroLib)
    mine.compile(optimizer=optimizers.Adam(learning_rate=2e-3),
                 loss=losses.BinaryCrossentropy(from_logits=True),
                 metrics=[metrics.BinaryAccuracy(threshold=0.3), 'acc'])
    mine.train_on_batch(x, y)
    mine.save(tmp_path / f'deepzero.{fmt}')
    loaded = keras.models.load_model(tmp_path / f'deepzero.{fmt}')
    assert type(loaded.optimizer).__name__ == 'Adam'
    assert loaded.loss.get_config()['from_logits'] is True
    assert_close(keras_predict(loaded, x), deepzero_predict(mine, x))
    for ours_var, theirs_var in zip(mine.optimizer.variables, loaded.optimizer.variables):
        np.testing.assert_allclose(np.asarray(theirs_var), ours_var.data, rtol=1e-6)
    if fmt == 'h5':
        return  # Keras 3.15 cannot train after loading any legacy .h5 ("Unknown variable")
    loaded.train_on_batch(x, y)
    mine.train_on_batch(x, y)
    for a, b in zip(mine.get_weights(), loaded.get_weights()):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('fmt', FORMATS)
def test_compiled_but_untrained_keras_model(keras, tmp_path, fmt):
    """Saved before any step, the optimizer state is iteration and
    learning_rate only; it loads without building slots or warnings."""
    import warnings
    theirs = dense_model(keras)
    theirs.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05, momentum=0.9),
                   loss='binary_crossentropy')
    theirs.save(tmp_path / f'untrained.{fmt}')
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        ours = saving.load_model(tmp_path / f'untrained.{fmt}')
    assert not [w for w in caught if 'optimizer state' in str(w.message)]
    assert type(ours.optimizer).__name__ == 'SGD'
    assert ours.optimizer.iterations == 0
    assert ours.optimizer.learning_rate == pytest.approx(0.05)
    assert ours.optimizer.get_config()['momentum'] == pytest.approx(0.9)


def transfer_model(lib):
    """The book's feature-extraction setup: a frozen functional conv base
    inside a Sequential, with a dense classifier on top."""
    L = lib.layers
    inputs = L.Input((16, 16, 3))
    x = L.Conv2D(8, 3, activation='relu', name='block1_conv1')(inputs)
    x = L.BatchNormalization(name='block1_bn')(x)
    conv_base = lib.Model(inputs, L.MaxPooling2D(2, name='block1_pool')(x), name='conv_base')
    conv_base.trainable = False
    return lib.Sequential([conv_base, L.Flatten(), L.Dense(4, activation='relu'),
                           L.Dense(1, activation='sigmoid')])


@pytest.mark.parametrize('fmt', FORMATS)
def test_frozen_conv_base_crosses_both_ways(keras, tmp_path, fmt):
    rng = np.random.default_rng(5)
    x, y = data(rng, 16, n=4)
    for lib, opt in [(keras, keras.optimizers.RMSprop(learning_rate=2e-5)),
                     (DeepzeroLib, optimizers.RMSprop(learning_rate=2e-5))]:
        model = transfer_model(lib)
        model.set_weights(random_weights(model.weights, rng))
        compile_and_step(model, opt, x, y, 'binary_crossentropy')
        path = tmp_path / f'{lib.__name__}.{fmt}'
        model.save(path)
        expected = (keras_predict if lib is keras else deepzero_predict)(model, x)
        ours = saving.load_model(path)
        theirs = keras.models.load_model(path)
        assert_close(deepzero_predict(ours, x), expected)
        assert_close(keras_predict(theirs, x), expected)
        assert ours.layers[0].trainable is False
        assert len(ours.trainable_weights) == 4
        assert ours.optimizer.iterations == 1
