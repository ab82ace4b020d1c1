"""The Keras face on a device (issue 13): weights made on the runtime's device,
fit / evaluate / predict fed from any input through the DeviceFeeder, host
values back, saving the same bytes from either device, the optimizers'
updates on the device, and the demo's device line.

Each test runs on the CPU; those parametrized over ``device`` also run on the
GPU where CuPy and a CUDA GPU are present, and skip there with the reason
otherwise."""
import os
import subprocess
import sys
from unittest import mock

import numpy as np
import pytest

import deepzero.keras as keras
from deepzero.core import cuda, runtime
from deepzero.models.device_feeder import DeviceFeeder

NO_GPU = 'needs CuPy and a CUDA GPU (pip install deepzero[gpu])'
needs_gpu = pytest.mark.skipif(not cuda.is_available(), reason=NO_GPU)
DEVICES = ['cpu', pytest.param('gpu', marks=needs_gpu)]


def small_model(device, seed=0):
    """A small convnet made on ``device`` (no Dropout: its masks come from
    each device's own generator, so training would differ)."""
    with runtime.settings(device=device):
        keras.utils.set_random_seed(seed)
        # fixed names: two such models save the same weight paths
        model = keras.Sequential([keras.layers.Input((8, 8, 3)),
                                  keras.layers.Conv2D(4, 3, activation='relu', name='conv'),
                                  keras.layers.MaxPooling2D(2, name='pool'),
                                  keras.layers.Flatten(name='flatten'),
                                  keras.layers.Dense(1, activation='sigmoid', name='out')],
                                 name='small')
    model.compile(loss='binary_crossentropy', metrics=['acc'],
                  optimizer=keras.optimizers.RMSprop(learning_rate=1e-2, name='rmsprop'))
    return model


def data(n=40, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 8, 8, 3), dtype=np.float32)
    y = (x[:, :4].mean(axis=(1, 2, 3)) > x[:, 4:].mean(axis=(1, 2, 3))).astype(np.float32)
    return x, y[:, None]


# --- where the weights are ----------------------------------------------------------------
@pytest.mark.parametrize('device', DEVICES)
def test_weights_and_optimizer_slots_are_made_on_the_runtime_device(device):
    model = small_model(device)
    assert {w.device for w in model.weights} == {device}
    x, y = data()
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    slots = [v.data for v in model.optimizer.variables if v.data.ndim]
    assert slots and {cuda.device_of(s) for s in slots} == {device}
    assert all(isinstance(w, np.ndarray) for w in model.get_weights())


def test_the_device_setting_is_read_when_weights_are_made_not_later():
    with runtime.settings(device='cpu'):
        layer = keras.layers.Dense(3)
    layer.build((None, 2))   # built outside the block: the setting then applies
    assert layer.kernel.device == runtime.resolved_device()


def test_deepzero_device_cpu_in_the_environment_keeps_a_model_on_the_cpu():
    code = ('import deepzero.keras as keras\n'
            'm = keras.Sequential([keras.layers.Input((2,)), keras.layers.Dense(1)])\n'
            'print(sorted({w.device for w in m.weights}))\n')
    done = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          env=dict(os.environ, DEEPZERO_DEVICE='cpu'), check=True)
    assert done.stdout.strip() == "['cpu']"


@pytest.mark.skipif(cuda.is_available(), reason='a GPU is present here')
def test_asking_for_the_gpu_without_one_is_a_clear_error():
    with runtime.settings(device='gpu'), pytest.raises(RuntimeError, match='DEEPZERO_DEVICE'):
        keras.layers.Dense(2).build((None, 3))


# --- fit / evaluate / predict -------------------------------------------------------------
@pytest.mark.parametrize('device', DEVICES)
def test_training_on_the_device_matches_the_cpu(device):
    x, y = data()
    runs = {}
    for where in ('cpu', device):
        model = small_model(where)
        with runtime.settings(device=where):
            keras.utils.set_random_seed(3)   # the same shuffles
            history = model.fit(x, y, batch_size=16, epochs=2, validation_split=0.25,
                                verbose=0)
        runs[where] = (history.history, model.predict(x, verbose=0),
                       model.evaluate(x, y, verbose=0), model.get_weights())
    (history, predictions, evaluation, weights), (history_d, predictions_d, evaluation_d,
                                                  weights_d) = runs['cpu'], runs[device]
    assert type(predictions_d) is np.ndarray and predictions_d.dtype == np.float32
    assert all(type(v) is float for values in history_d.values() for v in values)
    assert all(type(v) is float for v in evaluation_d)
    np.testing.assert_allclose(predictions_d, predictions, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(evaluation_d, evaluation, rtol=1e-4)
    for got, expected in zip(weights_d, weights):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)
    for key in history:
        np.testing.assert_allclose(history_d[key], history[key], rtol=1e-4)


class Batches:
    """A PyDataset-like input: __len__ and __getitem__."""

    def __init__(self, x, y, batch_size):
        self.x, self.y, self.batch_size = x, y, batch_size

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, i):
        part = slice(i * self.batch_size, (i + 1) * self.batch_size)
        return self.x[part], self.y[part]


def generator(x, y, batch_size):
    while True:
        for start in range(0, len(x), batch_size):
            yield x[start:start + batch_size], y[start:start + batch_size]


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('source', ['arrays', 'generator', 'dataset', 'image_iterator'])
def test_fit_evaluate_predict_take_batches_from_any_input(device, source):
    x, y = data(32)
    model = small_model(device)
    inputs = {'arrays': lambda: dict(x=x, y=y, batch_size=8),
              'generator': lambda: dict(x=generator(x, y, 8), steps_per_epoch=4),
              'dataset': lambda: dict(x=Batches(x, y, 8)),
              'image_iterator': lambda: dict(x=keras.preprocessing.image.ImageDataGenerator()
                                             .flow(x, y, batch_size=8, shuffle=False))}
    history = model.fit(**inputs[source](), epochs=1, verbose=0)
    assert np.isfinite(history.history['loss'][0])
    evaluation = model.evaluate(**{k: v for k, v in inputs[source]().items()
                                   if k != 'steps_per_epoch'},
                                **({'steps': 4} if source == 'generator' else {}), verbose=0)
    assert all(type(v) is float for v in evaluation)
    data_in = inputs[source]()
    predictions = model.predict(data_in.pop('x'), steps=4 if source == 'generator' else None,
                                verbose=0)
    assert type(predictions) is np.ndarray and predictions.shape == (32, 1)


@pytest.mark.parametrize('device', DEVICES)
def test_single_batch_methods_return_host_values(device):
    x, y = data(16)
    model = small_model(device)
    assert type(model.train_on_batch(x, y)[0]) is float
    assert all(type(v) is float for v in model.test_on_batch(x, y))
    out = model.predict_on_batch(x)
    assert type(out) is np.ndarray and out.shape == (16, 1)
    assert type(model(x).data) is (np.ndarray if device == 'cpu' else cuda.cupy.ndarray)


# --- the feeder -------------------------------------------------------------------------------
def test_the_feeder_is_the_identity_on_the_cpu():
    feeder = DeviceFeeder('cpu')
    batches = iter([(0, (np.ones(2), None, None))])
    assert feeder.feed(batches) is batches
    x = [np.zeros(3), np.ones(1)]
    assert feeder.to_device(x) is x


def test_the_feeder_names_a_device_it_does_not_know():
    with pytest.raises(ValueError, match="device must be 'cpu' or 'gpu', got 'tpu'"):
        DeviceFeeder('tpu')


@needs_gpu
def test_the_feeder_moves_every_batch_in_order_to_the_gpu():
    rng = np.random.default_rng(0)
    batches = [(step, ([rng.random((4, 3), dtype=np.float32), np.arange(4)],
                       rng.random((4 - step % 2, 1)), None if step % 2 else np.ones(4)))
               for step in range(5)]
    moved = list(DeviceFeeder('gpu').feed(iter(batches)))
    assert [step for step, _ in moved] == list(range(5))
    for (_, expected), (_, got) in zip(batches, moved):
        (x0, x1), y, w = got
        assert all(isinstance(a, cuda.cupy.ndarray) for a in (x0, x1, y))
        np.testing.assert_array_equal(cuda.as_numpy(x0), expected[0][0])
        np.testing.assert_array_equal(cuda.as_numpy(x1), expected[0][1])
        np.testing.assert_array_equal(cuda.as_numpy(y), expected[1])
        assert (w is None) == (expected[2] is None)


# --- saving ---------------------------------------------------------------------------------
@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('filename', ['m.keras', 'm.h5', 'm.weights.h5'])
def test_a_model_on_the_device_saves_what_a_cpu_model_saves_and_loads_back_there(
        device, filename, tmp_path):
    x, y = data(16)
    files = {}
    for where in ('cpu', device):
        model = small_model(where)
        with runtime.settings(device=where):
            keras.utils.set_random_seed(3)
            model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
        path = tmp_path / where / filename
        path.parent.mkdir(exist_ok=True)
        if filename.endswith('.weights.h5'):
            model.save_weights(path)
        else:
            model.save(path)
        files[where] = path
    # the weights differ by float rounding between devices, so the files are
    # compared as they are read back: the same arrays, within float32 tolerance
    saved = {where: small_model('cpu') for where in files}
    for where, model in saved.items():
        model.load_weights(files[where])
    for got, expected in zip(saved[device].get_weights(), saved['cpu'].get_weights()):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)
    if device == 'cpu' or filename.endswith('.weights.h5'):
        return
    with runtime.settings(device=device):
        loaded = keras.models.load_model(files[device])
    assert {w.device for w in loaded.weights} == {device}
    np.testing.assert_allclose(loaded.predict(x, verbose=0),
                               saved[device].predict(x, verbose=0), rtol=1e-4, atol=1e-6)


def test_the_same_weights_save_the_same_bytes_from_either_device(tmp_path):
    """The file's bytes come from the host copy of each weight: set on any
    device, the same values give the same file."""
    devices = ['cpu', 'cpu'] + (['gpu'] if cuda.is_available() else [])
    weights = small_model('cpu', seed=5).get_weights()
    contents = []
    for i, where in enumerate(devices):
        model = small_model(where)
        model.set_weights(weights)
        model.save_weights(tmp_path / f'{i}.weights.h5')
        contents.append((tmp_path / f'{i}.weights.h5').read_bytes())
    assert len(set(contents)) == 1


# --- the optimizers on the device -------------------------------------------------------------
OPTIMIZERS = [('SGD', dict(momentum=0.9, nesterov=True)), ('RMSprop', dict(centered=True)),
              ('Adam', dict(amsgrad=True)), ('AdamW', {}), ('Nadam', {}), ('Adagrad', {}),
              ('Adadelta', {}), ('RMSprop', dict(momentum=0.5, clipnorm=0.1))]


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('name, kwargs', OPTIMIZERS)
def test_optimizer_steps_on_the_device_match_the_cpu(device, name, kwargs):
    rng = np.random.default_rng(0)
    values = [rng.standard_normal(shape).astype(np.float32) for shape in [(5, 3), (3,)]]
    grads = [[rng.standard_normal(v.shape).astype(np.float32) for v in values]
             for _ in range(3)]
    results = {}
    for where in ('cpu', device):
        with runtime.settings(device=where):
            layer = keras.layers.Dense(3)
            layer.build((None, 5))
        layer.set_weights(values)
        optimizer = getattr(keras.optimizers, name)(learning_rate=0.1, **kwargs)
        for step in grads:
            move = cuda.as_cupy if where == 'gpu' else np.asarray
            optimizer.apply([move(g) for g in step], layer.trainable_weights)
        results[where] = layer.get_weights() + optimizer.get_weights()
    for got, expected in zip(results[device], results['cpu']):
        assert type(got) is np.ndarray
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_the_update_of_host_arrays_goes_through_update_in_pieces():
    optimizer = keras.optimizers.SGD(learning_rate=0.5)
    variable = keras.layers.Dense(1)
    variable.build((None, 2))
    with mock.patch('deepzero.optimizers.optimizer.update_in_pieces',
                    wraps=__import__('deepzero.optimizers.optimizer', fromlist=['x'])
                    .update_in_pieces) as pieces, \
            mock.patch.object(type(optimizer), 'update_on_device') as on_device:
        optimizer.apply([np.ones((2, 1), np.float32), np.ones(1, np.float32)],
                        variable.trainable_weights)
    assert pieces.call_count == 2 and on_device.call_count == 0


def test_a_gradient_on_another_device_than_its_variable_is_named():
    if not cuda.is_available():
        pytest.skip(NO_GPU)
    layer = keras.layers.Dense(1)
    with runtime.settings(device='cpu'):
        layer.build((None, 2))
    optimizer = keras.optimizers.SGD()
    with pytest.raises(ValueError, match='gradient .* is on gpu, the variable on cpu'):
        optimizer.apply([cuda.as_cupy(np.ones((2, 1), np.float32)), np.ones(1, np.float32)],
                        layer.trainable_weights)


# --- the demo ---------------------------------------------------------------------------------
def test_describe_device_says_where_and_why():
    from deepzero.demo import describe_device
    with runtime.settings(device='cpu'):
        assert describe_device() == 'device: cpu (DEEPZERO_DEVICE=cpu)'
    with runtime.settings(device='auto'):
        line = describe_device()
    if cuda.is_available():
        assert line.startswith('device: gpu (') and line.endswith(')')
    else:
        reason = 'CuPy is not installed' if cuda.cupy is None else 'no CUDA GPU'
        assert line == f'device: cpu (DEEPZERO_DEVICE=auto; {reason})'


def test_the_demo_prints_its_device_line(tmp_path, capsys):
    from deepzero import demo
    with mock.patch.object(demo, 'data_generators', side_effect=KeyboardInterrupt), \
            pytest.raises(KeyboardInterrupt):
        demo.run_demo(data=tmp_path, out=tmp_path / 'out')
    assert capsys.readouterr().out.splitlines()[1] == demo.describe_device()
