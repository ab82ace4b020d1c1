"""Saving and loading deepzero models: both formats, weights-only files,
compile and optimizer state, atomic writes, and files that must be refused."""
import json
import os
import zipfile

import h5py
import numpy as np
import pytest

from deepzero import layers, saving
from deepzero.models import Model, Sequential
from deepzero.saving import h5_attrs

FORMATS = ['model.h5', 'model.keras']


def convnet(size=16, dropout=True):
    """The book's convnet, scaled down."""
    stack = [layers.Input((size, size, 3)),
             layers.Conv2D(4, 3, activation='relu'), layers.MaxPooling2D(2),
             layers.Conv2D(8, 3, activation='relu'), layers.MaxPooling2D(2),
             layers.Flatten()]
    if dropout:
        stack.append(layers.Dropout(0.5))
    stack += [layers.Dense(6, activation='relu'), layers.Dense(1, activation='sigmoid')]
    return Sequential(stack)


def functional(size=8):
    inputs = layers.Input((size, size, 3))
    a = layers.Conv2D(4, 3, padding='same')(inputs)
    b = layers.BatchNormalization()(a)
    c = layers.Add()([a, b])
    d = layers.Concatenate()([c, inputs])
    e = layers.GlobalAveragePooling2D()(d)
    return Model(inputs, layers.Dense(2, activation='softmax')(e))


def randomize(model, rng):
    """Non-trivial values everywhere (BN moving variance kept positive)."""
    model.set_weights([np.abs(rng.standard_normal(w.shape)).astype(w.dtype) + 0.5
                       if 'variance' in w.name else
                       (0.3 * rng.standard_normal(w.shape)).astype(w.dtype)
                       for w in model.weights])


def predict(model, x):
    return model(x, training=False).data


def compiled_and_stepped(rng, size=16):
    """A compiled convnet whose optimizer took one step (so it has state)."""
    from deepzero import optimizers
    model = convnet(size, dropout=False)
    randomize(model, rng)
    model.compile(optimizer=optimizers.RMSprop(learning_rate=1e-3),
                  loss='binary_crossentropy', metrics=['acc'])
    x = rng.random((4, size, size, 3), dtype=np.float32)
    y = (rng.random((4, 1)) > 0.5).astype(np.float32)
    model.train_on_batch(x, y)
    return model, x, y


# --- full model round trips ---------------------------------------------------------
@pytest.mark.parametrize('filename', FORMATS)
def test_sequential_round_trip(tmp_path, rng, filename):
    model = convnet()
    randomize(model, rng)
    x = rng.random((2, 16, 16, 3), dtype=np.float32)
    model.save(tmp_path / filename)
    loaded = saving.load_model(tmp_path / filename)
    assert type(loaded) is Sequential
    assert [l.name for l in loaded.layers] == [l.name for l in model.layers]
    assert [type(l) for l in loaded.layers] == [type(l) for l in model.layers]
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    np.testing.assert_array_equal(predict(loaded, x), predict(model, x))


@pytest.mark.parametrize('filename', FORMATS)
def test_functional_round_trip(tmp_path, rng, filename):
    model = functional()
    randomize(model, rng)
    x = rng.random((3, 8, 8, 3), dtype=np.float32)
    saving.save_model(model, tmp_path / filename)
    loaded = saving.load_model(tmp_path / filename)
    np.testing.assert_array_equal(predict(loaded, x), predict(model, x))
    bn = loaded.get_layer(model.layers[2].name)
    assert [w.name for w in bn.weights] == ['gamma', 'beta', 'moving_mean', 'moving_variance']


@pytest.mark.parametrize('filename', FORMATS)
def test_nested_model_round_trip(tmp_path, rng, filename):
    base = Sequential([layers.Input((8, 8, 3)), layers.Conv2D(4, 3),
                       layers.BatchNormalization()], name='conv_base')
    base.trainable = False
    model = Sequential([base, layers.Flatten(), layers.Dense(1)])  # the book's conv_base style
    randomize(model, rng)
    x = rng.random((2, 8, 8, 3), dtype=np.float32)
    model.save(tmp_path / filename)
    loaded = saving.load_model(tmp_path / filename)
    np.testing.assert_array_equal(predict(loaded, x), predict(model, x))
    assert loaded.layers[0].trainable is False


def test_h5_layout_is_keras_legacy_layout(tmp_path, rng):
    model, _, _ = compiled_and_stepped(rng)
    model.save(tmp_path / 'm.h5')
    with h5py.File(tmp_path / 'm.h5', 'r') as f:
        assert h5_attrs.read_str(f, 'keras_version') == '3.15.1'
        config = h5_attrs.read_json(f, 'model_config')
        assert config['class_name'] == 'Sequential'
        first = config['config']['layers'][0]
        assert first['class_name'] == 'InputLayer' and set(first) == {'class_name', 'config'}
        training = h5_attrs.read_json(f, 'training_config')
        assert training['loss'] == 'binary_crossentropy'
        assert training['metrics'] == ['acc']
        assert training['optimizer_config']['class_name'] == 'RMSprop'
        assert training['optimizer_config']['config']['learning_rate'] == pytest.approx(1e-3)
        weights = f['model_weights']
        assert h5_attrs.read_str_list(weights, 'layer_names') == [l.name for l in model.layers]
        conv = model.layers[0]
        assert h5_attrs.read_str_list(weights[conv.name], 'weight_names') == [
            w.path for w in conv.weights]
        assert h5_attrs.read_str_list(weights[model.layers[1].name], 'weight_names') == []
        names = h5_attrs.read_str_list(f['optimizer_weights'], 'weight_names')
        opt = model.optimizer.name
        assert names[:2] == [f'{opt}/iteration', f'{opt}/learning_rate']
        assert names[2] == f"{opt}/{conv.weights[0].path.replace('/', '_')}_velocity"
        assert int(f['optimizer_weights'][names[0]][()]) == 1


def test_keras_zip_layout(tmp_path, rng):
    model, _, _ = compiled_and_stepped(rng)
    model.save(tmp_path / 'm.keras')
    with zipfile.ZipFile(tmp_path / 'm.keras') as zf:
        assert zf.namelist() == ['metadata.json', 'config.json', 'model.weights.h5']
        assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())
        config = json.loads(zf.read('config.json'))
        assert json.loads(zf.read('metadata.json'))['keras_version'] == '3.15.1'
        weights = h5py.File(__import__('io').BytesIO(zf.read('model.weights.h5')), 'r')
    assert config['class_name'] == 'Sequential' and config['module'] == 'keras'
    assert config['compile_config']['optimizer']['class_name'] == 'RMSprop'
    assert config['build_config'] == {'input_shape': [None, 16, 16, 3]}
    with weights:
        assert weights['vars'].attrs['name'] == model.name
        assert weights['layers/conv2d/vars/0'].shape == (3, 3, 3, 4)
        assert weights['layers/conv2d_1/vars/0'].shape == (3, 3, 4, 8)
        assert weights['layers/dense_1/vars/1'].shape == (1,)
        assert len(weights['optimizer/vars']) == len(model.optimizer.variables)


class ReversedDense(layers.Dense):
    """Saves its weights under its own keys (bias as '0', kernel as '1'):
    the .keras format leaves each object's variables to the object."""

    def save_own_variables(self, store):
        store['0'], store['1'] = self.bias, self.kernel

    def load_own_variables(self, store):
        self.bias.data[...], self.kernel.data[...] = store['0'], store['1']


def test_keras_zip_objects_save_and_load_their_own_variables(tmp_path, rng):
    model = Sequential([layers.Input((3,)), ReversedDense(2)])
    randomize(model, rng)
    model.save(tmp_path / 'm.keras')
    with zipfile.ZipFile(tmp_path / 'm.keras') as zf:
        with h5py.File(__import__('io').BytesIO(zf.read('model.weights.h5')), 'r') as f:
            assert f['layers/reversed_dense/vars/0'].shape == (2,)
            assert f['layers/reversed_dense/vars/1'].shape == (3, 2)
    loaded = saving.load_model(tmp_path / 'm.keras',
                               custom_objects={'ReversedDense': ReversedDense})
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_loading_without_the_models_package_says_where_the_models_are(tmp_path):
    """saving sits below models and cannot import them: a fresh process that
    imports only deepzero.saving gets an error saying what to import, and
    deepzero.models.load_model loads the file."""
    import subprocess
    import sys
    path = tmp_path / 'm.keras'
    Sequential([layers.Input((3,)), layers.Dense(2)]).save(path)
    script = ("import sys\nfrom deepzero.saving import load_model\n"
              "try:\n    load_model(sys.argv[1])\nexcept ValueError as e:\n    print(e)\n"
              "from deepzero.models import load_model\nprint(type(load_model(sys.argv[1])).__name__)")
    out = subprocess.run([sys.executable, '-c', script, str(path)], capture_output=True,
                         text=True, check=True).stdout
    assert 'deepzero.models.load_model' in out and str(path) in out
    assert out.splitlines()[-1] == 'Sequential'


# --- compile and optimizer state ---------------------------------------------------
@pytest.mark.parametrize('filename', FORMATS)
def test_compile_and_optimizer_state_restored(tmp_path, rng, filename):
    model, x, y = compiled_and_stepped(rng)
    model.save(tmp_path / filename)
    loaded = saving.load_model(tmp_path / filename)
    assert type(loaded.optimizer).__name__ == 'RMSprop'
    assert loaded.optimizer.learning_rate == pytest.approx(1e-3)
    assert loaded.optimizer.iterations == 1
    for a, b in zip(loaded.optimizer.variables, model.optimizer.variables):
        np.testing.assert_array_equal(a.data, b.data)
    # the next step is the same step
    model.train_on_batch(x, y)
    loaded.train_on_batch(x, y)
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    uncompiled = saving.load_model(tmp_path / filename, compile=False)
    assert getattr(uncompiled, 'optimizer', None) is None


@pytest.mark.parametrize('filename', FORMATS)
def test_training_resumes_exactly(tmp_path, rng, filename):
    """Save mid-training, load, continue: the loss curve is the one of an
    uninterrupted run."""
    from deepzero import optimizers
    x = rng.random((32, 16, 16, 3), dtype=np.float32)
    y = (x.mean(axis=(1, 2, 3)) > 0.5).astype(np.float32)[:, None]
    model = convnet(dropout=False)
    randomize(model, rng)
    initial = model.get_weights()

    def fresh():
        m = convnet(dropout=False)
        m.set_weights(initial)
        m.compile(optimizer=optimizers.RMSprop(learning_rate=1e-3),
                  loss='binary_crossentropy', metrics=['acc'])
        return m

    kwargs = dict(batch_size=8, shuffle=False, verbose=0)
    straight = fresh().fit(x, y, epochs=4, **kwargs).history['loss']
    first = fresh()
    head = first.fit(x, y, epochs=2, **kwargs).history['loss']
    first.save(tmp_path / filename)
    resumed = saving.load_model(tmp_path / filename)
    tail = resumed.fit(x, y, epochs=2, **kwargs).history['loss']
    np.testing.assert_allclose(head + tail, straight, rtol=1e-5)


# --- weights-only files ----------------------------------------------------------------
def test_legacy_weights_load_by_position_ignoring_names(tmp_path, rng):
    model = convnet()
    randomize(model, rng)
    model.save_weights(tmp_path / 'w.h5')
    other = convnet()  # same architecture, other auto names
    assert other.layers[0].name != model.layers[0].name
    other.load_weights(tmp_path / 'w.h5')
    x = rng.random((2, 16, 16, 3), dtype=np.float32)
    np.testing.assert_array_equal(predict(other, x), predict(model, x))
    # a full-model file works for load_weights too
    model.save(tmp_path / 'full.h5')
    third = convnet()
    saving.load_weights(third, tmp_path / 'full.h5')
    np.testing.assert_array_equal(predict(third, x), predict(model, x))


def test_legacy_weights_by_name(tmp_path, rng):
    model = Sequential([layers.Input((5,)), layers.Dense(4, name='hidden'),
                        layers.Dense(2, name='out')])
    randomize(model, rng)
    model.save_weights(tmp_path / 'w.h5')
    other = Sequential([layers.Input((5,)), layers.Dense(4, name='hidden'),
                        layers.Dense(3, name='extra'), layers.Dense(2, name='other_out')])
    before = other.get_layer('extra').get_weights()
    saving.load_weights(other, tmp_path / 'w.h5', by_name=True)
    for a, b in zip(other.get_layer('hidden').get_weights(),
                    model.get_layer('hidden').get_weights()):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(other.get_layer('extra').get_weights(), before):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match='layer count mismatch'):
        saving.load_weights(other, tmp_path / 'w.h5')


def test_skip_mismatch(tmp_path, rng):
    model = Sequential([layers.Input((5,)), layers.Dense(4, name='hidden'),
                        layers.Dense(2, name='out')])
    randomize(model, rng)
    model.save_weights(tmp_path / 'w.h5')
    other = Sequential([layers.Input((5,)), layers.Dense(4, name='hidden'),
                        layers.Dense(3, name='out')])
    kept = other.get_layer('out').get_weights()
    with pytest.raises(ValueError, match=r"\(4, 2\).*\(4, 3\)|\(4, 3\).*\(4, 2\)"):
        saving.load_weights(other, tmp_path / 'w.h5')
    with pytest.warns(UserWarning, match='Skipping'):
        saving.load_weights(other, tmp_path / 'w.h5', skip_mismatch=True)
    np.testing.assert_array_equal(other.get_layer('hidden').get_weights()[0],
                                  model.get_layer('hidden').get_weights()[0])
    np.testing.assert_array_equal(other.get_layer('out').get_weights()[0], kept[0])
    with pytest.warns(UserWarning, match='Skipping'):
        saving.load_weights(other, tmp_path / 'w.h5', by_name=True, skip_mismatch=True)


@pytest.mark.parametrize('filename', ['w.weights.h5', 'm.keras'])
def test_keras3_weight_files(tmp_path, rng, filename):
    model = functional()
    randomize(model, rng)
    if filename.endswith('.keras'):
        model.save(tmp_path / filename)
    else:
        model.save_weights(tmp_path / filename)
    other = functional()
    other.load_weights(tmp_path / filename)
    x = rng.random((2, 8, 8, 3), dtype=np.float32)
    np.testing.assert_array_equal(predict(other, x), predict(model, x))
    with pytest.raises(ValueError, match='by_name'):
        saving.load_weights(other, tmp_path / filename, by_name=True)


def test_squeezenet_weights_load_into_a_model(shared_data):
    path = shared_data / 'pretrained/squeezenet_weights_tf_dim_ordering_tf_kernels_notop.h5'
    if not path.exists():
        pytest.skip(f"{path} not found")
    model = squeezenet_base()
    model.load_weights(path)
    with h5py.File(path, 'r') as f:
        np.testing.assert_array_equal(model.get_layer('conv1').weights[0].data,
                                      f['conv1/uniform1'][()])
        np.testing.assert_array_equal(model.get_layer('fire9_expand3x3').weights[1].data,
                                      f['fire9/expand3x3/fire9/expand3x3_b'][()])


def squeezenet_base():
    """SqueezeNet v1.1 without its top (layer names need not match the file's)."""
    def fire(x, k, squeeze, expand):
        s = layers.Conv2D(squeeze, 1, activation='relu', name=f'fire{k}_squeeze1x1')(x)
        left = layers.Conv2D(expand, 1, activation='relu', name=f'fire{k}_expand1x1')(s)
        right = layers.Conv2D(expand, 3, padding='same', activation='relu',
                              name=f'fire{k}_expand3x3')(s)
        return layers.Concatenate()([left, right])

    inputs = layers.Input((227, 227, 3))
    x = layers.Conv2D(64, 3, strides=2, activation='relu', name='conv1')(inputs)
    x = layers.MaxPooling2D(3, strides=2)(x)
    x = fire(fire(x, 2, 16, 64), 3, 16, 64)
    x = layers.MaxPooling2D(3, strides=2)(x)
    x = fire(fire(x, 4, 32, 128), 5, 32, 128)
    x = layers.MaxPooling2D(3, strides=2)(x)
    for k, (squeeze, expand) in enumerate([(48, 192), (48, 192), (64, 256), (64, 256)], 6):
        x = fire(x, k, squeeze, expand)
    return Model(inputs, x)


# --- atomic writes -------------------------------------------------------------------
class _Exploding:
    """A weight value that raises when the saver reads it."""
    shape = (1,)
    dtype = np.dtype('float32')

    def __array__(self, *args, **kwargs):
        raise RuntimeError('weight exploded while saving')


@pytest.mark.parametrize('filename', FORMATS + ['w.h5'])
def test_failed_save_leaves_old_file_intact(tmp_path, rng, monkeypatch, filename):
    model = convnet()
    target = tmp_path / filename
    save = model.save_weights if filename == 'w.h5' else model.save
    save(target)
    before = target.read_bytes()
    # fail in the middle of writing datasets
    calls = {'n': 0}
    real = h5py.Group.create_dataset

    def flaky(self, *args, **kwargs):
        calls['n'] += 1
        if calls['n'] == 3:
            raise RuntimeError('disk full')
        return real(self, *args, **kwargs)

    monkeypatch.setattr(h5py.Group, 'create_dataset', flaky)
    with pytest.raises(RuntimeError, match='disk full'):
        save(target)
    monkeypatch.undo()
    # fail while reading a weight
    model.layers[-1].weights[0].data = _Exploding()
    with pytest.raises(RuntimeError, match='exploded'):
        save(target)
    assert target.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == [filename]


def test_unknown_suffix_is_refused(tmp_path):
    with pytest.raises(ValueError, match='.keras'):
        saving.save_model(convnet(), tmp_path / 'model.bin')


# --- files that must be refused -------------------------------------------------------
@pytest.mark.parametrize('filename', FORMATS)
def test_unknown_layer_class_names_it(tmp_path, filename):
    model = convnet()
    model.save(tmp_path / filename)
    _rename_class(tmp_path / filename, 'Flatten', 'MyFlatten')
    with pytest.raises(ValueError, match=r"MyFlatten.*custom_objects"):
        saving.load_model(tmp_path / filename)
    loaded = saving.load_model(tmp_path / filename,
                               custom_objects={'MyFlatten': layers.Flatten})
    assert isinstance(loaded.layers[4], layers.Flatten)


@pytest.mark.parametrize('filename', FORMATS)
def test_lambda_layers_are_refused(tmp_path, filename):
    model = convnet()
    model.save(tmp_path / filename)
    _rename_class(tmp_path / filename, 'Flatten', 'Lambda')
    with pytest.raises(ValueError, match='Lambda.*code'):
        saving.load_model(tmp_path / filename)


def _rename_class(path, old, new):
    """Edit the class name of a layer inside a saved file."""
    if str(path).endswith('.h5'):
        with h5py.File(path, 'a') as f:
            text = h5_attrs.read_str(f, 'model_config')
            h5_attrs.write_str(f, 'model_config', text.replace(f'"{old}"', f'"{new}"'))
        return
    with zipfile.ZipFile(path) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    members['config.json'] = members['config.json'].replace(f'"{old}"'.encode(),
                                                            f'"{new}"'.encode())
    with zipfile.ZipFile(path, 'w') as zf:
        for name, data in members.items():
            zf.writestr(name, data)


@pytest.mark.parametrize('filename', FORMATS)
def test_truncated_file_error_names_it(tmp_path, filename):
    convnet().save(tmp_path / filename)
    data = (tmp_path / filename).read_bytes()
    cut = tmp_path / ('cut_' + filename)
    cut.write_bytes(data[:len(data) // 2])
    with pytest.raises((OSError, ValueError), match='cut_model'):
        saving.load_model(cut)
    with pytest.raises(FileNotFoundError, match='absent'):
        saving.load_model(tmp_path / 'absent.h5')


def test_weights_only_file_is_not_a_model(tmp_path):
    convnet().save_weights(tmp_path / 'w.h5')
    with pytest.raises(ValueError, match="w.h5.*load_weights"):
        saving.load_model(tmp_path / 'w.h5')


def test_keras2_sequential_config_is_read(tmp_path, rng):
    """Keras 2.0-2.2.2 wrote a Sequential as a bare list of layer dicts with
    batch_input_shape on the first layer."""
    model = Sequential([layers.Input((5,)), layers.Dense(3, name='d1'),
                        layers.Dense(1, name='d2')])
    randomize(model, rng)
    model.save(tmp_path / 'm.h5')
    with h5py.File(tmp_path / 'm.h5', 'a') as f:
        config = h5_attrs.read_json(f, 'model_config')
        entries = [entry for entry in config['config']['layers']
                   if entry['class_name'] != 'InputLayer']
        entries[0]['config']['batch_input_shape'] = [None, 5]
        h5_attrs.write_json(f, 'model_config', {'class_name': 'Sequential',
                                                'config': entries})
    loaded = saving.load_model(tmp_path / 'm.h5')
    x = rng.random((2, 5), dtype=np.float32)
    np.testing.assert_array_equal(predict(loaded, x), predict(model, x))


def test_mismatched_optimizer_state_warns_and_starts_fresh(tmp_path, rng):
    model, _, _ = compiled_and_stepped(rng)
    model.save(tmp_path / 'm.h5')
    with h5py.File(tmp_path / 'm.h5', 'a') as f:
        group = f['optimizer_weights']
        names = h5_attrs.read_str_list(group, 'weight_names')
        h5_attrs.write_str_list(group, 'weight_names', names[:-1])
    with pytest.warns(UserWarning, match=r"m\.h5.*optimizer state"):
        loaded = saving.load_model(tmp_path / 'm.h5')
    assert loaded.optimizer.iterations == 0
    np.testing.assert_array_equal(loaded.get_weights()[0], model.get_weights()[0])


@pytest.mark.parametrize('filename', FORMATS)
def test_compiled_untrained_model_keeps_learning_rate(tmp_path, rng, filename):
    """Before the first step the optimizer state is iteration and
    learning_rate (as Keras writes it); a changed rate survives the trip."""
    from deepzero import optimizers
    model = convnet(dropout=False)
    model.compile(optimizer=optimizers.SGD(learning_rate=0.1), loss='binary_crossentropy')
    model.optimizer.learning_rate = 0.025
    model.save(tmp_path / filename)
    loaded = saving.load_model(tmp_path / filename)
    assert loaded.optimizer.iterations == 0
    assert loaded.optimizer.learning_rate == pytest.approx(0.025)
    x = rng.random((2, 16, 16, 3), dtype=np.float32)
    loaded.train_on_batch(x, np.ones((2, 1), np.float32))
    assert loaded.optimizer.iterations == 1


@pytest.mark.parametrize('filename', ['w.weights.h5', 'm.keras'])
def test_a_layer_holding_layers_stores_each_weight_once(tmp_path, filename):
    """A custom layer that keeps sub-layers in ``self.layers`` saves their
    weights as its own; the file must not hold them a second time below it."""
    class Block(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.layers = [layers.Dense(3), layers.Dense(2)]

        def call(self, inputs):
            return self.layers[1](self.layers[0](inputs))

    x = np.ones((1, 4), np.float32)
    model = Sequential([layers.Input((4,)), Block(name='block')])
    model(x)   # builds the sub-layers
    path = tmp_path / filename
    if filename.endswith('.keras'):
        model.save(path)
        with zipfile.ZipFile(path) as archive:
            archive.extract('model.weights.h5', tmp_path)
        weights_file = tmp_path / 'model.weights.h5'
    else:
        model.save_weights(path)
        weights_file = path
    with h5py.File(weights_file, 'r') as f:
        stored = []
        f.visititems(lambda name, obj: stored.append(name)
                     if isinstance(obj, h5py.Dataset) else None)
    assert len(stored) == 4 and not any('block/layers' in name for name in stored)
    restored = Sequential([layers.Input((4,)), Block(name='block')])
    restored(x)
    restored.load_weights(path)
    for saved, loaded in zip(model.get_weights(), restored.get_weights()):
        np.testing.assert_array_equal(saved, loaded)
