"""The training loop (compile / fit / evaluate / predict) on a stand-in
model: a Trainer subclass with one dense layer written with raw ops, so
these tests do not depend on deepzero.layers."""
import io
import warnings

import numpy as np
import pytest

import deepzero.functions as F
from deepzero import optimizers
from deepzero.callbacks import Callback
from deepzero.core import Parameter, Variable, config
from deepzero.models.epoch_iterator import EpochIterator
from deepzero.callbacks.progbar import Progbar
from deepzero.models.trainer import Trainer


class TinyModel(Trainer):
    """Dense(units, activation) as a Trainer: ``W`` (n_in, units), ``b``."""

    def __init__(self, n_in=4, units=1, activation='sigmoid', seed=0, l2=0.0):
        rng = np.random.default_rng(seed)
        self.kernel = Parameter(rng.standard_normal((n_in, units)).astype(np.float32) * 0.1,
                                name='kernel')
        self.bias = Parameter(np.zeros(units, np.float32), name='bias')
        self.kernel.path, self.bias.path = 'dense/kernel', 'dense/bias'
        self.activation = activation
        self.l2 = l2
        self.built = True
        self.losses = []
        self.trainable = True
        self.calls = []          # (training flag, config.train, input requires_grad)
        self.saved = []

    @property
    def trainable_weights(self):
        return [self.kernel, self.bias] if self.trainable else []

    def __call__(self, x, training=None):
        self.calls.append((training, config.train, x.requires_grad))
        y = F.matmul(x, self.kernel) + self.bias
        self.losses = [self.l2 * F.sum(self.kernel * self.kernel)] if self.l2 else []
        if self.activation == 'sigmoid':
            return F.sigmoid(y)
        if self.activation == 'softmax':
            return F.softmax(y)
        return y

    def get_weights(self):
        return [self.kernel.data.copy(), self.bias.data.copy()]

    def set_weights(self, weights):
        self.kernel.data[...], self.bias.data[...] = weights

    def save(self, path):
        self.saved.append(('model', path))

    def save_weights(self, path):
        self.saved.append(('weights', path))


def binary_data(n=64, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4)).astype(np.float32)
    y = (x[:, :1] + 0.5 * x[:, 1:2] > 0).astype(np.float32)
    return x, y


class BatchIterator:
    """Keras-style data iterator: len(), it[i], next() (endless, reshuffling
    passes with a partial last batch), on_epoch_end()."""

    def __init__(self, x, y, batch_size):
        self.x, self.y, self.batch_size = x, y, batch_size
        self.n = len(x)
        self.drawn = 0
        self.epoch_ends = 0
        self._position = 0

    def __len__(self):
        return -(-self.n // self.batch_size)

    def __getitem__(self, i):
        part = slice(i * self.batch_size, (i + 1) * self.batch_size)
        return self.x[part], self.y[part]

    def __next__(self):
        if self._position >= self.n:
            self._position = 0
        part = slice(self._position, self._position + self.batch_size)
        self._position += self.batch_size
        self.drawn += 1
        return self.x[part], self.y[part]

    def __iter__(self):
        return self

    def on_epoch_end(self):
        self.epoch_ends += 1


def fitted(model=None, **compile_kwargs):
    model = model or TinyModel()
    kwargs = dict(optimizer=optimizers.RMSprop(learning_rate=0.05),
                  loss='binary_crossentropy', metrics=['acc'])
    kwargs.update(compile_kwargs)
    model.compile(**kwargs)
    return model


# --- compile / fit basics ----------------------------------------------------------
def test_fit_learns_and_history_keys_follow_metric_names():
    x, y = binary_data()
    model = fitted()
    history = model.fit(x, y, epochs=15, batch_size=16, validation_split=0.25, verbose=0)
    assert list(history.history) == ['loss', 'acc', 'val_loss', 'val_acc']
    assert history.epoch == list(range(15))
    assert history.params == {'verbose': 0, 'epochs': 15, 'steps': 3}
    assert history.model is model and model.history is history
    assert history.history['loss'][-1] < history.history['loss'][0]
    assert history.history['acc'][-1] > 0.8
    model2 = fitted(metrics=['accuracy'])
    keys = model2.fit(x, y, epochs=1, validation_data=(x, y), verbose=0).history
    assert set(keys) == {'loss', 'accuracy', 'val_loss', 'val_accuracy'}


def test_accuracy_resolution_follows_output_shape():
    x = np.random.default_rng(0).standard_normal((12, 4)).astype(np.float32)
    labels = np.arange(12) % 3
    sparse = fitted(TinyModel(units=3, activation='softmax'),
                    loss='sparse_categorical_crossentropy', metrics=['acc'])
    sparse.fit(x, labels, epochs=1, verbose=0)
    assert type(sparse.compiled_metrics.metrics[0]).__name__ == 'SparseCategoricalAccuracy'
    onehot = fitted(TinyModel(units=3, activation='softmax'),
                    loss='categorical_crossentropy', metrics=['accuracy'])
    onehot.fit(x, np.eye(3, dtype=np.float32)[labels], epochs=1, verbose=0)
    assert type(onehot.compiled_metrics.metrics[0]).__name__ == 'CategoricalAccuracy'
    binary = fitted()
    binary.fit(*binary_data(), epochs=1, verbose=0)
    assert type(binary.compiled_metrics.metrics[0]).__name__ == 'BinaryAccuracy'


def test_training_step_matches_a_manual_step():
    """fit on one batch == forward, weighted mean loss, backward, optimizer."""
    x, y = binary_data(8)
    w = np.linspace(0.5, 2, 8).astype(np.float32)
    model = fitted(optimizer=optimizers.SGD(learning_rate=0.1))
    manual = TinyModel()
    model.fit(x, y, sample_weight=w, batch_size=8, epochs=1, shuffle=False, verbose=0)
    p = manual(Variable(x, requires_grad=False))
    losses = F.binary_crossentropy(p, y, reduction='none')
    loss = F.sum(losses * w) / 8
    loss.backward()
    np.testing.assert_allclose(model.kernel.data, manual.kernel.data - 0.1 * manual.kernel.grad.data,
                               rtol=1e-5)
    assert model.kernel.dtype == np.float32 and model.kernel.grad is None


def test_inputs_are_constants_and_modes_are_set():
    x, y = binary_data(16)
    model = fitted()
    model.fit(x, y, epochs=1, batch_size=16, validation_data=(x, y), verbose=0)
    train_call, val_call = model.calls
    assert train_call == (True, True, False)
    assert val_call == (False, False, False)
    model.calls.clear()
    model.predict(x, verbose=0)
    assert model.calls == [(False, False, False)]


def test_regularization_losses_are_added():
    x, y = binary_data(16)
    plain = fitted()
    regular = fitted(TinyModel(l2=10.0))
    assert regular.evaluate(x, y, verbose=0)[0] > plain.evaluate(x, y, verbose=0)[0]


def test_metrics_are_running_means_over_the_epoch():
    x, y = binary_data(40)
    seen = []

    class Record(Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(logs['loss'])

    model = fitted(optimizer=optimizers.SGD(learning_rate=0.0))  # weights stay put
    history = model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0,
                        callbacks=[Record()])
    per_batch = [model.test_on_batch(x[s], y[s])[0]
                 for s in (slice(0, 16), slice(16, 32), slice(32, 40))]
    expected = np.cumsum(np.array(per_batch) * [16, 16, 8]) / np.array([16, 32, 40])
    np.testing.assert_allclose(seen, expected, rtol=1e-5)
    assert history.history['loss'][0] == pytest.approx(expected[-1], rel=1e-5)


def test_class_weight_scales_the_loss():
    x, y = binary_data(32)
    model = fitted()
    base = model.evaluate(x, y, verbose=0, batch_size=32)[0]
    loss = model.train_on_batch(x, y, class_weight={0: 2.0, 1: 2.0})[0]
    assert loss == pytest.approx(2 * base, rel=1e-5)


# --- iterators and generators ----------------------------------------------------------
def test_fit_with_iterator_draws_steps_per_epoch_beyond_its_length():
    x, y = binary_data(50)
    it = BatchIterator(x, y, batch_size=16)        # len 4
    val = BatchIterator(x, y, batch_size=25)       # len 2
    model = fitted()
    history = model.fit(it, steps_per_epoch=10, epochs=2, validation_data=val,
                        validation_steps=3, verbose=0)
    assert it.drawn == 20 and val.drawn == 6
    assert history.params['steps'] == 10
    it2 = BatchIterator(x, y, batch_size=16)
    model.fit(it2, epochs=3, verbose=0)
    assert it2.drawn == 12                       # len(it) per epoch


def test_fit_with_python_generator_and_sequence():
    x, y = binary_data(32)

    def gen():
        while True:
            for i in range(0, 32, 8):
                yield x[i:i + 8], y[i:i + 8]

    model = fitted()
    history = model.fit(gen(), steps_per_epoch=4, epochs=2, verbose=0,
                        validation_data=gen(), validation_steps=2)
    assert len(history.history['val_acc']) == 2

    class Sequence:
        def __init__(self):
            self.ends = 0

        def __len__(self):
            return 4

        def __getitem__(self, i):
            return x[i * 8:(i + 1) * 8], y[i * 8:(i + 1) * 8]

        def on_epoch_end(self):
            self.ends += 1

    seq = Sequence()
    model.fit(seq, epochs=2, verbose=0)
    assert seq.ends == 2


def test_finite_generator_runs_out_with_warning():
    x, y = binary_data(16)
    model = fitted()
    gen = ((x[i:i + 4], y[i:i + 4]) for i in range(0, 16, 4))
    with pytest.warns(UserWarning, match='ran out of data'):
        history = model.fit(gen, epochs=3, verbose=0)
    assert len(history.epoch) == 1


def test_no_samples_is_an_error_naming_the_input(capsys):
    x, y = binary_data(8)
    model = fitted()

    def no_batches():
        return
        yield

    class EmptySequence:
        def __len__(self):
            return 0

        def __getitem__(self, i):
            raise IndexError(i)

    generator = r'x: the generator has no batches \(0 samples\); a generator that was already'
    cases = [((x[:0], y[:0]), None, r'x has 0 samples \(shape \(0, 4\)\)'),
             ((no_batches(),), None, generator),
             ((no_batches(),), 3, generator),
             ((BatchIterator(x[:0], y[:0], 4),), None,
              r'x: the data iterator has no batches \(0 samples\)'),
             ((EmptySequence(),), 3, r'x: the dataset has no batches \(0 samples\)')]
    for args, steps, message in cases:
        with pytest.raises(ValueError, match=message):
            model.fit(*args, steps_per_epoch=steps, epochs=2)
        with pytest.raises(ValueError, match=message):
            model.evaluate(*args, steps=steps)
        with pytest.raises(ValueError, match=message):
            model.predict(args[0], steps=steps)
    with pytest.raises(ValueError, match='validation_data has 0 samples'):
        model.fit(x, y, validation_data=(x[:0], y[:0]))
    with pytest.raises(ValueError, match='validation_data: the generator has no batches'):
        model.fit(x, y, validation_data=no_batches())
    with pytest.raises(ValueError, match='x has 0 samples'):
        model.train_on_batch(x[:0], y[:0])
    assert capsys.readouterr().out == ''   # refused before any "Epoch 1/2"


def test_evaluate_and_predict_with_generators():
    x, y = binary_data(40)
    model = fitted()
    it = BatchIterator(x, y, batch_size=10)
    loss, acc = model.evaluate(it, steps=4, verbose=0)
    ref_loss, ref_acc = model.evaluate(x, y, batch_size=10, verbose=0)
    assert loss == pytest.approx(ref_loss, rel=1e-5) and acc == pytest.approx(ref_acc)
    pred = model.predict(BatchIterator(x, y, batch_size=10), steps=4, verbose=0)
    assert pred.shape == (40, 1) and pred.dtype == np.float32
    np.testing.assert_allclose(pred, model.predict(x, batch_size=7, verbose=0), rtol=1e-6)
    assert model.evaluate(x, y, verbose=0, return_dict=True).keys() == {'loss', 'acc'}


def test_deprecated_generator_methods():
    x, y = binary_data(32)
    model = fitted()
    with pytest.warns(DeprecationWarning, match='fit_generator` is deprecated'):
        history = model.fit_generator(BatchIterator(x, y, 8), steps_per_epoch=5, epochs=1,
                                      verbose=0)
    assert len(history.history['loss']) == 1
    with pytest.warns(DeprecationWarning, match='use `Model.evaluate`'.replace('use', 'Please use')):
        model.evaluate_generator(BatchIterator(x, y, 8), steps=4)
    with pytest.warns(DeprecationWarning, match='predict_generator'):
        assert model.predict_generator(BatchIterator(x, y, 8), steps=4).shape == (32, 1)


def test_epoch_iterator_array_batches_and_shuffle():
    x = np.arange(10, dtype=np.float64)[:, None]
    it = EpochIterator(x, x, batch_size=4, shuffle=True)
    assert it.steps == 3
    batches = [b for _, b in it]
    assert [len(b[0]) for b in batches] == [4, 4, 2]
    assert batches[0][0].dtype == np.float32
    assert sorted(np.concatenate([b[0] for b in batches]).ravel()) == list(range(10))


def test_validation_split_takes_last_fraction():
    x, y = binary_data(10)
    seen = []

    class Model(TinyModel):
        def __call__(self, xb, training=None):
            if not training:
                seen.append(xb.data.copy())
            return super().__call__(xb, training)

    model = fitted(Model())
    model.fit(x, y, validation_split=0.3, epochs=1, verbose=0)
    np.testing.assert_array_equal(np.concatenate(seen), x[7:])


# --- train/test/predict on batch -------------------------------------------------------
def test_on_batch_methods():
    x, y = binary_data(8)
    model = fitted(metrics=None)
    before = model.kernel.data.copy()
    loss = model.train_on_batch(x, y)
    assert isinstance(loss, float) and not np.array_equal(before, model.kernel.data)
    assert isinstance(model.test_on_batch(x, y), float)
    assert model.predict_on_batch(x).shape == (8, 1)
    assert model.train_on_batch(x, y, return_dict=True).keys() == {'loss'}


# --- errors --------------------------------------------------------------------------
def test_errors_are_clear():
    x, y = binary_data(8)
    model = TinyModel()
    with pytest.raises(ValueError, match=r'must call `compile\(\)` before calling `fit\(\)`'):
        model.fit(x, y)
    with pytest.raises(ValueError, match="Unknown loss.*binary_crossentropy"):
        model.compile('rmsprop', loss='binary_crossentropyy')
    with pytest.raises(ValueError, match="Unknown metric"):
        model.compile('rmsprop', loss='mse', metrics=['acuracy'])
    with pytest.raises(ValueError, match="Unknown optimizer.*rmsprop"):
        model.compile('rmsprp', loss='mse')
    model.compile('rmsprop', loss='mse')
    with pytest.raises(ValueError, match="'x' has 8 samples, 'y' has 7 samples"):
        model.fit(x, y[:7], verbose=0)
    with pytest.raises(TypeError, match='unrecognized'):
        model.fit(x, y, epoch=3)


def test_trainable_change_after_compile_warns_once_and_waits_for_recompile():
    x, y = binary_data(16)
    model = fitted()
    model.trainable = False
    with pytest.warns(UserWarning, match=r"must|recompile your model.*Changed layers: \['dense'\]"):
        model.fit(x, y, epochs=1, verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        model.evaluate(x, y, verbose=0)      # warned once per compile
    frozen = fitted(TinyModel())
    frozen.trainable = False
    frozen.compile(optimizer='sgd', loss='binary_crossentropy')
    frozen.trainable = True                  # unfrozen after compile: not trained
    before = frozen.kernel.data.copy()
    with pytest.warns(UserWarning, match='trainable'):
        frozen.fit(x, y, epochs=1, verbose=0)
    np.testing.assert_array_equal(frozen.kernel.data, before)
    frozen.compile(optimizer='sgd', loss='binary_crossentropy')
    frozen.fit(x, y, epochs=1, verbose=0)
    assert not np.array_equal(frozen.kernel.data, before)


# --- progress output ------------------------------------------------------------------
def test_progress_output_verbose_1_and_2(capsys):
    x, y = binary_data(64)
    model = fitted()
    model.fit(x, y, epochs=2, batch_size=16, validation_data=(x, y), verbose=1)
    out = capsys.readouterr().out
    assert 'Epoch 1/2\n' in out and 'Epoch 2/2\n' in out
    final = [line for line in out.splitlines() if line.startswith('4/4 [====')]
    assert len(final) == 2
    assert '[==============================] - ' in final[0]
    assert 'ms/step - loss: ' in final[0] or 'us/step - loss: ' in final[0]
    for key in (' - acc: ', ' - val_loss: ', ' - val_acc: '):
        assert key in final[0]
    model.fit(x, y, epochs=2, batch_size=16, verbose=2)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == 'Epoch 1/2' and lines[1].startswith('4/4 - ') and '- loss: ' in lines[1]
    assert len(lines) == 4
    model.fit(x, y, epochs=1, verbose=0)
    assert capsys.readouterr().out == ''


def test_progbar_in_place_on_terminal():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    stream = Terminal()
    bar = Progbar(100, stream=stream, interval=0.0)
    bar.update(7, [('loss', 0.61234), ('acc', 0.665)])
    bar.update(100, [('loss', 0.0001234), ('acc', 0.7)])
    text = stream.getvalue()
    assert text.startswith('\r  7/100 [=>' + '.' * 28 + '] - ETA: 0s - loss: 0.6123 - acc: 0.6650')
    assert text.endswith(' - loss: 1.2340e-04 - acc: 0.7000\n')
    assert '\r100/100 [==============================] - ' in text


# --- with the real layers ----------------------------------------------------------------
def test_sequential_convnet_trains_from_a_generator_and_freezes_on_recompile():
    from deepzero import layers
    from deepzero.models import Sequential
    rng = np.random.default_rng(0)
    model = Sequential([layers.Conv2D(4, (3, 3), activation='relu', input_shape=(12, 12, 3)),
                        layers.MaxPooling2D((2, 2)), layers.Flatten(),
                        layers.Dense(1, activation='sigmoid')])
    with pytest.warns(DeprecationWarning):
        optimizer = optimizers.RMSprop(lr=1e-3)
    model.compile(loss='binary_crossentropy', optimizer=optimizer, metrics=['acc'])
    x = rng.random((40, 12, 12, 3)).astype(np.float32)
    y = (x.mean(axis=(1, 2, 3)) > 0.5).astype(np.float32)
    history = model.fit(BatchIterator(x, y, 16), steps_per_epoch=4, epochs=2,
                        validation_data=BatchIterator(x, y, 20), validation_steps=2, verbose=0)
    assert set(history.history) == {'loss', 'acc', 'val_loss', 'val_acc'}
    assert optimizer.iterations == 8
    assert [v.name for v in optimizer.variables][2] == 'conv2d_kernel_velocity'.replace(
        'conv2d', model.layers[0].name)
    conv_kernel = model.layers[0].weights[0]
    model.layers[0].trainable = False
    model.compile(loss='binary_crossentropy', optimizer='rmsprop', metrics=['acc'])
    before = conv_kernel.data.copy()
    model.fit(x, y, epochs=1, verbose=0)
    np.testing.assert_array_equal(conv_kernel.data, before)
    assert model.predict(x, verbose=0).shape == (40, 1)
