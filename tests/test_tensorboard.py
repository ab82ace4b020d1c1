"""keras.callbacks.TensorBoard: the event files a fit writes, read back with
TensorBoard's own readers (its EventAccumulator, its event-file loader and
its Graphs dashboard's code), against History, the batch logs, the learning
rate and the weights.

Keras 3's own TensorBoard callback needs TensorFlow's summary API
(``import tensorflow.summary``) and cannot run on the torch backend, so the
folder layout and tag names are checked against Keras 3's documented and
coded names; the model graph is checked against Keras itself: TensorBoard's
Graphs dashboard turns deepzero's ``model.to_json()`` into the same layer
graph as Keras's ``to_json()`` of the same model.

tensorboardX (the writer, extra ``tensorboard``) and tensorboard (the
reader) are optional: tests that need them skip, saying so, where they are
missing; the ImportError test runs everywhere.
"""
import io
import json
import sys

import numpy as np
import pytest

import deepzero.keras as keras
from deepzero.callbacks import LambdaCallback, LearningRateScheduler, TensorBoard
from deepzero.callbacks.tensorboard import weight_image
from deepzero.core import cuda, runtime

NEEDS = "pip install 'deepzero[tensorboard]' tensorboard (the test extra has both)"
needs_gpu = pytest.mark.skipif(not cuda.is_available(),
                               reason='needs CuPy and a CUDA GPU (pip install deepzero[gpu])')
DEVICES = ['cpu', pytest.param('gpu', marks=needs_gpu)]


@pytest.fixture
def event_accumulator():
    pytest.importorskip('tensorboardX', reason=f'tensorboardX is not installed: {NEEDS}')
    return pytest.importorskip('tensorboard.backend.event_processing.event_accumulator',
                               reason=f'tensorboard is not installed: {NEEDS}')


def read_run(event_accumulator, folder):
    """All events of one run folder (train/ or validation/), none sampled away."""
    acc = event_accumulator.EventAccumulator(
        str(folder), size_guidance={kind: 0 for kind in (
            event_accumulator.SCALARS, event_accumulator.HISTOGRAMS,
            event_accumulator.IMAGES, event_accumulator.TENSORS)})
    acc.Reload()
    return acc


def scalars(acc, tag):
    return [(event.step, event.value) for event in acc.Scalars(tag)]


def classifier(device='cpu', seed=0):
    with runtime.settings(device=device):
        keras.utils.set_random_seed(seed)
        model = keras.Sequential([keras.layers.Input((6,), name='x'),
                                  keras.layers.Dense(5, activation='relu', name='hidden'),
                                  keras.layers.Dense(3, activation='softmax', name='out')],
                                 name='classifier')
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.2), metrics=['accuracy'],
                  loss='sparse_categorical_crossentropy')
    return model


def class_data(n, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 6), dtype=np.float32)
    return x, np.argmax(x[:, :3], axis=1)


def float32s(values):
    return [float(np.float32(v)) for v in values]


# --- scalars ------------------------------------------------------------------------------
@pytest.mark.parametrize('device', DEVICES)
def test_epoch_scalars_are_historys_values_and_the_learning_rate(
        event_accumulator, tmp_path, device):
    model = classifier(device)
    x, y = class_data(40)
    halving = LearningRateScheduler(lambda epoch, lr: 0.2 * 0.5 ** epoch)
    history = model.fit(x[:32], y[:32], batch_size=8, epochs=3, verbose=0,
                        validation_data=(x[32:], y[32:]),
                        callbacks=[halving, TensorBoard(tmp_path)])

    assert sorted(p.name for p in tmp_path.iterdir()) == ['train', 'validation']
    train = read_run(event_accumulator, tmp_path / 'train')
    validation = read_run(event_accumulator, tmp_path / 'validation')
    assert sorted(train.Tags()['scalars']) == [
        'epoch_accuracy', 'epoch_learning_rate', 'epoch_loss']
    for name in ('loss', 'accuracy'):
        assert scalars(train, f'epoch_{name}') == list(
            enumerate(float32s(history.history[name])))
        assert scalars(validation, f'epoch_{name}') == list(
            enumerate(float32s(history.history[f'val_{name}'])))
    assert scalars(train, 'epoch_learning_rate') == list(enumerate(float32s([0.2, 0.1, 0.05])))
    # each validation, at the optimizer's step count (4 batches an epoch)
    assert sorted(validation.Tags()['scalars']) == [
        'epoch_accuracy', 'epoch_loss', 'evaluation_accuracy_vs_iterations',
        'evaluation_loss_vs_iterations']
    assert scalars(validation, 'evaluation_loss_vs_iterations') == list(
        zip([4, 8, 12], float32s(history.history['val_loss'])))


@pytest.mark.parametrize('update_freq, steps', [('batch', list(range(1, 10))),
                                                 (2, [2, 4, 6, 8])])
def test_batch_scalars_every_update_freq_batches_counted_from_the_start_of_fit(
        event_accumulator, tmp_path, update_freq, steps):
    model = classifier()
    x, y = class_data(24)
    batch_logs = []   # (loss, accuracy) after each of the 3 x 3 batches
    record = LambdaCallback(on_train_batch_end=lambda batch, logs: batch_logs.append(
        (float(logs['loss']), float(logs['accuracy']))))
    model.fit(x, y, batch_size=8, epochs=3, verbose=0,
              callbacks=[record, TensorBoard(tmp_path, update_freq=update_freq)])

    train = read_run(event_accumulator, tmp_path / 'train')
    assert sorted(train.Tags()['scalars']) == [
        'batch_accuracy', 'batch_loss', 'epoch_accuracy', 'epoch_learning_rate', 'epoch_loss']
    for index, name in enumerate(('loss', 'accuracy')):
        assert scalars(train, f'batch_{name}') == [
            (step, float(np.float32(batch_logs[step - 1][index]))) for step in steps]
    assert not (tmp_path / 'validation').exists()


def test_steps_per_second_are_written_when_asked(event_accumulator, tmp_path):
    model = classifier()
    x, y = class_data(16)
    model.fit(x, y, batch_size=8, epochs=2, verbose=0,
              callbacks=[TensorBoard(tmp_path, update_freq='batch',
                                     write_steps_per_second=True)])
    train = read_run(event_accumulator, tmp_path / 'train')
    assert [step for step, _ in scalars(train, 'epoch_steps_per_second')] == [0, 1]
    assert [step for step, _ in scalars(train, 'batch_steps_per_second')] == [1, 2, 3, 4]
    assert all(value > 0 for tag in ('epoch_steps_per_second', 'batch_steps_per_second')
               for _, value in scalars(train, tag))


def test_evaluate_alone_writes_its_results_at_the_optimizers_step(event_accumulator, tmp_path):
    model = classifier()
    x, y = class_data(16)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    loss, accuracy = model.evaluate(x, y, batch_size=8, verbose=0,
                                    callbacks=[TensorBoard(tmp_path, write_graph=False)])
    validation = read_run(event_accumulator, tmp_path / 'validation')
    assert scalars(validation, 'evaluation_loss_vs_iterations') == [(2, float(np.float32(loss)))]
    assert scalars(validation, 'evaluation_accuracy_vs_iterations') == [
        (2, float(np.float32(accuracy)))]
    assert not (tmp_path / 'train').exists()


# --- weights ------------------------------------------------------------------------------
def image_model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.layers.Input((6, 6, 1), name='image'),
                              keras.layers.Conv2D(4, 3, name='conv1'),        # kernel 3x3x1x4
                              keras.layers.Conv2D(2, 3, name='conv2'),        # kernel 3x3x4x2
                              keras.layers.Flatten(name='flatten'),
                              keras.layers.Dense(3, name='out')], name='convnet')
    model.compile(optimizer='sgd', loss='mse')
    return model


def test_weight_histograms_every_histogram_freq_epochs_hold_the_weights(
        event_accumulator, tmp_path):
    model = image_model()
    rng = np.random.default_rng(0)
    x, y = rng.random((8, 6, 6, 1), dtype=np.float32), rng.random((8, 3), dtype=np.float32)
    model.fit(x, y, batch_size=4, epochs=3, verbose=0,
              callbacks=[TensorBoard(tmp_path, histogram_freq=2)])

    train = read_run(event_accumulator, tmp_path / 'train')
    paths = [w.path for layer in model.layers for w in layer.weights]
    assert paths == ['conv1/kernel', 'conv1/bias', 'conv2/kernel', 'conv2/bias',
                     'out/kernel', 'out/bias']
    assert sorted(train.Tags()['histograms']) == sorted(f'{p}/histogram' for p in paths)
    for weight in model.weights:
        events = train.Histograms(f'{weight.path}/histogram')
        assert [event.step for event in events] == [0, 2]    # epochs 0 and 2 of 0..2
        last = events[-1].histogram_value                    # the weights fit ends with
        values = weight.data.astype(np.float64)
        assert last.num == values.size
        assert last.min == pytest.approx(values.min()) and last.max == pytest.approx(
            values.max())
        assert last.sum == pytest.approx(values.sum(), abs=1e-5)
        assert sum(last.bucket) == values.size
    assert train.Tags()['images'] == []


def png_pixels(image_event):
    from PIL import Image
    return np.asarray(Image.open(io.BytesIO(image_event.encoded_image_string)))[..., 0]


def test_write_images_draws_the_weights_as_keras_does(event_accumulator, tmp_path):
    model = image_model()
    rng = np.random.default_rng(0)
    x, y = rng.random((8, 6, 6, 1), dtype=np.float32), rng.random((8, 3), dtype=np.float32)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0,
              callbacks=[TensorBoard(tmp_path, histogram_freq=1, write_images=True)])

    train = read_run(event_accumulator, tmp_path / 'train')
    # conv2's 4-D kernel is not drawn (Keras draws at most 3-D weights)
    assert sorted(train.Tags()['images']) == [
        'conv1/bias/image', 'conv1/kernel/image', 'conv2/bias/image', 'out/bias/image',
        'out/kernel/image']
    shapes = {tag: (train.Images(tag)[0].height, train.Images(tag)[0].width)
              for tag in train.Tags()['images']}
    assert shapes == {'conv1/kernel/image': (3, 4 * 3),  # the 4 filters' 3x3 tiles in a row
                      'conv1/bias/image': (4, 1), 'conv2/bias/image': (2, 1),
                      'out/kernel/image': (3, 8),        # (8, 3) transposed: wider than tall
                      'out/bias/image': (3, 1)}
    kernel = model.get_layer('conv1').kernel.data[:, :, 0, :]
    pixels = png_pixels(train.Images('conv1/kernel/image')[0])
    for f in range(4):
        expected = np.round(np.clip(kernel[:, :, f], 0, 1) * 255)
        np.testing.assert_array_equal(pixels[:, 3 * f:3 * f + 3], expected)
    dense = model.get_layer('out').kernel.data
    np.testing.assert_array_equal(png_pixels(train.Images('out/kernel/image')[0]),
                                  np.round(np.clip(dense.T, 0, 1) * 255))


def test_weight_image_shapes():
    assert weight_image(np.zeros((5,))).shape == (1, 5, 1, 1)
    assert weight_image(np.zeros((2, 7))).shape == (1, 2, 7, 1)
    assert weight_image(np.zeros((7, 2))).shape == (1, 2, 7, 1)
    assert weight_image(np.zeros((3, 3, 1, 8))).shape == (8, 3, 3, 1)
    assert weight_image(np.zeros((3, 3, 2, 8))) is None
    assert weight_image(np.array([-1.0, 0.5, 2.0])).ravel().tolist() == [0, 128, 255]


# --- the model graph ----------------------------------------------------------------------
def graph_dashboard(logdir):
    """TensorBoard's Graphs dashboard on ``logdir``: (its run/tag listing,
    the layer graph it draws for train/keras as {node: (class, inputs)})."""
    pytest.importorskip('tensorboard.plugins.graph.graphs_plugin',
                        reason=f'tensorboard is not installed: {NEEDS}')
    from google.protobuf import text_format
    from tensorboard import context
    from tensorboard.backend.event_processing import data_provider
    from tensorboard.backend.event_processing import plugin_event_multiplexer
    from tensorboard.compat.proto import graph_pb2
    from tensorboard.plugins import base_plugin
    from tensorboard.plugins.graph import graphs_plugin
    multiplexer = plugin_event_multiplexer.EventMultiplexer()
    multiplexer.AddRunsFromDirectory(str(logdir))
    multiplexer.Reload()
    provider = data_provider.MultiplexerDataProvider(multiplexer, str(logdir))
    plugin = graphs_plugin.GraphsPlugin(base_plugin.TBContext(logdir=str(logdir),
                                                              data_provider=provider))
    ctx = context.RequestContext()
    info = plugin.info_impl(ctx, experiment='')
    if 'train' not in info:
        return info, None
    body, _ = plugin.graph_impl(ctx, 'train', 'keras', is_conceptual=True, experiment='')
    return info, nodes_of(text_format.Parse(body, graph_pb2.GraphDef()))


def nodes_of(graph_def):
    return {node.name: (node.attr['keras_class'].s.decode(), list(node.input))
            for node in graph_def.node}


def keras_layer_graph(model):
    """The layer graph TensorBoard draws for a Keras model's JSON."""
    from tensorboard.plugins.graph import keras_util
    return nodes_of(keras_util.keras_model_to_graph_def(json.loads(model.to_json())))


def branching(k):
    """A functional model with a fork and a merge, in ``k`` (keras or deepzero.keras)."""
    inputs = k.Input((4,), name='x')
    left = k.layers.Dense(3, name='left')(inputs)
    right = k.layers.Dense(3, name='right')(inputs)
    merged = k.layers.Concatenate(name='merge')([left, right])
    return k.Model(inputs, k.layers.Dense(1, name='out')(merged), name='forked')


def stacked(k):
    return k.Sequential([k.Input((4,), name='x'), k.layers.Dense(3, name='hidden'),
                         k.layers.Dense(1, name='out')], name='stack')


@pytest.mark.parametrize('build', [branching, stacked])
def test_the_graph_dashboard_draws_the_same_layer_graph_as_for_keras(
        event_accumulator, tmp_path, build):
    import keras as real_keras
    model = build(keras)
    model.compile(optimizer='sgd', loss='mse')
    x = np.ones((4, 4), np.float32)
    model.fit(x, x[:, :1], verbose=0, callbacks=[TensorBoard(tmp_path)])
    info, nodes = graph_dashboard(tmp_path)
    assert info['train']['tags']['keras']['conceptual_graph']
    assert nodes == keras_layer_graph(build(real_keras))
    assert len(nodes) == len(model.layers) + (build is stacked)   # + Sequential's input
    # written once, at step 0
    train = read_run(event_accumulator, tmp_path / 'train')
    assert [event.step for event in train.Tensors('keras')] == [0]


def test_no_graph_for_a_subclassed_model_or_without_write_graph(event_accumulator, tmp_path):
    class Subclassed(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(1)

        def call(self, x):
            return self.dense(x)

    x = np.ones((4, 4), np.float32)
    for model, folder, write_graph in ((Subclassed(), 'sub', True), (stacked(keras), 'off', False)):
        model.compile(optimizer='sgd', loss='mse')
        model.fit(x, x[:, :1], verbose=0,
                  callbacks=[TensorBoard(tmp_path / folder, write_graph=write_graph)])
        assert read_run(event_accumulator, tmp_path / folder / 'train').Tags()['tensors'] == []
        assert graph_dashboard(tmp_path / folder)[0] == {}


def test_to_json_is_a_config_keras_loads():
    import keras as real_keras
    model = branching(keras)
    loaded = real_keras.models.model_from_json(model.to_json())
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    assert json.loads(model.to_json())['class_name'] == 'Functional'


# --- files, arguments, the optional dependency ----------------------------------------------
def test_every_event_file_loads_with_tensorboards_reader(event_accumulator, tmp_path):
    from tensorboard.backend.event_processing import event_file_loader
    model = classifier()
    x, y = class_data(24)
    model.fit(x, y, batch_size=8, epochs=2, verbose=0, validation_split=0.25,
              callbacks=[TensorBoard(tmp_path, histogram_freq=1, update_freq='batch',
                                     write_images=True)])
    files = sorted(tmp_path.rglob('events.out.tfevents.*'))
    assert [f.parent.name for f in files] == ['train', 'validation']
    for path in files:
        events = list(event_file_loader.EventFileLoader(str(path)).Load())
        assert events[0].file_version == 'brain.Event:2'
        assert len(events) > 1


@pytest.mark.parametrize('arguments, message', [
    ({'profile_batch': 2}, 'profiling is not available'),
    ({'profile_batch': (2, 4)}, 'profiling is not available'),
    ({'update_freq': 'sometimes'}, 'update_freq must be'),
    ({'update_freq': 0}, 'update_freq must be'),
    ({'histogram_freq': -1}, 'histogram_freq must be'),
    ({'embeddings_freq': 1}, 'embedding projector is not supported')])
def test_unsupported_arguments_are_refused(event_accumulator, arguments, message):
    with pytest.raises(ValueError, match=message):
        TensorBoard(**arguments)


def test_without_tensorboardx_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, 'tensorboardX', None)   # `import tensorboardX` fails
    with pytest.raises(ImportError, match=r"pip install 'deepzero\[tensorboard\]'"):
        TensorBoard('logs')
