"""Callbacks driven by a real fit() on the stand-in model of test_trainer."""
import csv
import math

import numpy as np
import pytest

from deepzero import optimizers
from deepzero.callbacks import (CSVLogger, Callback, EarlyStopping, LambdaCallback,
                                LearningRateScheduler, ModelCheckpoint, ReduceLROnPlateau,
                                TerminateOnNaN)

from test_trainer import TinyModel, binary_data, fitted


def run_with_values(callback, values, key='val_loss', model=None):
    """Call the epoch hooks directly with scripted logs; returns epochs run."""
    model = model or fitted()
    callback.set_model(model)
    callback.set_params({'epochs': len(values), 'steps': 1, 'verbose': 0})
    model.stop_training = False
    callback.on_train_begin()
    epochs = 0
    for epoch, value in enumerate(values):
        callback.on_epoch_begin(epoch)
        model.kernel.data[...] = value       # so restore_best_weights is visible
        callback.on_epoch_end(epoch, {key: value})
        epochs += 1
        if model.stop_training:
            break
    callback.on_train_end()
    return epochs, model


def test_hook_order_during_fit():
    x, y = binary_data(32)
    events = []
    names = ['on_train_begin', 'on_epoch_begin', 'on_train_batch_begin', 'on_train_batch_end',
             'on_test_begin', 'on_test_batch_end', 'on_test_end', 'on_epoch_end',
             'on_train_end']
    hooks = {name: (lambda *a, _n=name: events.append(_n)) for name in names}
    fitted().fit(x, y, batch_size=32, epochs=1, validation_data=(x, y), verbose=0,
                 callbacks=[LambdaCallback(**hooks)])
    assert events == ['on_train_begin', 'on_epoch_begin', 'on_train_batch_begin',
                      'on_train_batch_end', 'on_test_begin', 'on_test_batch_end',
                      'on_test_end', 'on_epoch_end', 'on_train_end']
    with pytest.raises(TypeError, match='unknown hook'):
        LambdaCallback(on_epoch_finish=print)


def test_callback_receives_model_and_params():
    x, y = binary_data(32)
    seen = {}

    class Spy(Callback):
        def on_train_begin(self, logs=None):
            seen['model'], seen['params'] = self.model, self.params

    model = fitted()
    model.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=[Spy()])
    assert seen['model'] is model
    assert seen['params'] == {'verbose': 0, 'epochs': 2, 'steps': 4}


def test_early_stopping_patience_and_restore_best():
    epochs, model = run_with_values(EarlyStopping(patience=2, restore_best_weights=True),
                                    [1.0, 0.5, 0.6, 0.7, 0.4])
    assert epochs == 4
    assert np.all(model.kernel.data == 0.5)
    epochs, _ = run_with_values(EarlyStopping(patience=1, min_delta=0.2),
                                [1.0, 0.9, 0.85, 0.1])
    assert epochs == 2
    epochs, _ = run_with_values(EarlyStopping(monitor='val_acc', patience=0),
                                [0.5, 0.6, 0.55, 0.9], key='val_acc')
    assert epochs == 3          # 'acc' is maximised in mode auto
    epochs, _ = run_with_values(EarlyStopping(patience=1, baseline=0.3),
                                [1.0, 1.1, 1.2, 1.3])
    assert epochs == 2          # the first value never beat the baseline
    epochs, _ = run_with_values(EarlyStopping(patience=0, start_from_epoch=2),
                                [1.0, 2.0, 3.0, 4.0])
    assert epochs == 4          # epochs 0 and 1 are ignored


def test_early_stopping_in_fit_stops_training():
    x, y = binary_data(32)
    model = fitted(optimizer=optimizers.SGD(learning_rate=0.0))  # val_loss never improves
    history = model.fit(x, y, epochs=10, validation_data=(x, y), verbose=0,
                        callbacks=[EarlyStopping(patience=2)])
    assert len(history.epoch) == 3


def test_model_checkpoint_templates_and_best_only(tmp_path):
    cb = ModelCheckpoint(str(tmp_path / 'w.{epoch:02d}-{val_loss:.2f}.h5'),
                         save_best_only=True)
    _, model = run_with_values(cb, [0.9, 0.95, 0.5])
    assert model.saved == [('model', str(tmp_path / 'w.01-0.90.h5')),
                           ('model', str(tmp_path / 'w.03-0.50.h5'))]
    cb = ModelCheckpoint(str(tmp_path / 'sub' / 'best.h5'), monitor='val_acc',
                         save_weights_only=True, save_best_only=True, mode='max')
    _, model = run_with_values(cb, [0.5, 0.4, 0.7], key='val_acc')
    assert [s[0] for s in model.saved] == ['weights', 'weights']
    assert (tmp_path / 'sub').is_dir()
    every = ModelCheckpoint(str(tmp_path / 'e{epoch}.h5'))
    _, model = run_with_values(every, [1.0, 2.0])
    assert [s[1][-5:] for s in model.saved] == ['e1.h5', 'e2.h5']
    with pytest.raises(KeyError, match='val_acc'):
        run_with_values(ModelCheckpoint(str(tmp_path / '{val_acc}.h5')), [1.0])


def test_model_checkpoint_in_fit(tmp_path):
    x, y = binary_data(32)
    model = fitted()
    model.fit(x, y, epochs=2, validation_data=(x, y), verbose=0,
              callbacks=[ModelCheckpoint(str(tmp_path / 'm.{epoch:02d}.h5'))])
    assert [p for _, p in model.saved] == [str(tmp_path / 'm.01.h5'),
                                          str(tmp_path / 'm.02.h5')]


def test_model_checkpoint_best_only_never_takes_nan_as_best(tmp_path):
    """A NaN first value must not become "best" (every comparison with NaN is
    false, so nothing later would be saved); NaN is never an improvement."""
    template = str(tmp_path / 'w.{epoch:02d}.h5')
    _, model = run_with_values(ModelCheckpoint(template, save_best_only=True),
                               [math.nan, 0.9, math.nan, 0.5])
    assert [path for _, path in model.saved] == [str(tmp_path / 'w.02.h5'),
                                                str(tmp_path / 'w.04.h5')]
    _, model = run_with_values(ModelCheckpoint(template, save_best_only=True, mode='max',
                                               monitor='val_acc'),
                               [math.nan, 0.4, 0.7], key='val_acc')
    assert [path for _, path in model.saved] == [str(tmp_path / 'w.02.h5'),
                                                str(tmp_path / 'w.03.h5')]
    cb = ModelCheckpoint(template, save_best_only=True)
    _, model = run_with_values(cb, [math.nan, math.nan])
    assert model.saved == [] and cb.best is None


def test_early_stopping_restores_the_best_finite_epoch_after_nan():
    epochs, model = run_with_values(
        EarlyStopping(patience=5, restore_best_weights=True), [math.nan, 0.8, 0.6, math.nan])
    assert epochs == 4
    assert np.all(model.kernel.data == 0.6)
    stopper = EarlyStopping(patience=1, restore_best_weights=True)
    epochs, model = run_with_values(stopper, [math.nan, math.nan, math.nan])
    assert epochs == 2                  # NaN epochs count as epochs without improvement
    assert stopper.best is None and stopper.best_weights is None
    assert np.isnan(model.kernel.data).all()    # the last weights stay: none was the best


def test_reduce_lr_on_plateau_recovers_from_nan_best():
    model = fitted(optimizer=optimizers.RMSprop(learning_rate=1.0))
    cb = ReduceLROnPlateau(factor=0.5, patience=2)
    run_with_values(cb, [math.nan, 1.0, 0.9, 0.8], model=model)
    assert cb.best == 0.8
    assert model.optimizer.learning_rate == pytest.approx(1.0)   # it kept improving


def test_reduce_lr_on_plateau():
    model = fitted(optimizer=optimizers.RMSprop(learning_rate=1.0))
    cb = ReduceLROnPlateau(factor=0.5, patience=1, min_lr=0.2, cooldown=2)
    run_with_values(cb, [1.0, 1.0], model=model)       # no improvement: reduce
    assert model.optimizer.learning_rate == pytest.approx(0.5)
    model.optimizer.learning_rate = 1.0
    run_with_values(cb, [1.0, 1.0, 1.0, 1.0], model=model)   # cooldown delays the second
    assert model.optimizer.learning_rate == pytest.approx(0.25)
    run_with_values(cb, [1.0] * 8, model=model)
    assert model.optimizer.learning_rate == pytest.approx(0.2)   # min_lr
    with pytest.raises(ValueError, match='factor >= 1.0'):
        ReduceLROnPlateau(factor=1.5)


def test_learning_rate_scheduler_and_logs():
    x, y = binary_data(16)
    model = fitted()
    history = model.fit(x, y, epochs=3, verbose=0,
                        callbacks=[LearningRateScheduler(lambda epoch, lr: 0.1 / (epoch + 1))])
    np.testing.assert_allclose(history.history['learning_rate'], [0.1, 0.05, 0.1 / 3],
                               rtol=1e-6)
    model.fit(x, y, epochs=1, verbose=0, callbacks=[LearningRateScheduler(lambda e: 0.01)])
    assert model.optimizer.learning_rate == pytest.approx(0.01)


def test_csv_logger(tmp_path):
    x, y = binary_data(16)
    path = tmp_path / 'log.csv'
    model = fitted()
    model.fit(x, y, epochs=2, validation_data=(x, y), verbose=0, callbacks=[CSVLogger(path)])
    model.fit(x, y, epochs=1, validation_data=(x, y), verbose=0,
              callbacks=[CSVLogger(path, append=True)])
    rows = list(csv.DictReader(open(path)))
    assert [r['epoch'] for r in rows] == ['0', '1', '0']
    assert list(rows[0]) == ['epoch', 'acc', 'loss', 'val_acc', 'val_loss']
    assert float(rows[0]['loss']) > 0


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_terminate_on_nan():
    x, y = binary_data(32)
    model = fitted(TinyModel(activation=None), optimizer=optimizers.SGD(learning_rate=1e30),
                   loss='mse')
    x = x * 1e20
    history = model.fit(x, y, epochs=5, batch_size=8, verbose=0, callbacks=[TerminateOnNaN()])
    assert len(history.epoch) == 1
    assert not math.isfinite(history.history['loss'][0])


def test_monitor_mode_auto_unknown_metric_raises():
    with pytest.raises(ValueError, match="mode='max'"):
        run_with_values(EarlyStopping(monitor='val_f1'), [1.0], key='val_f1')
