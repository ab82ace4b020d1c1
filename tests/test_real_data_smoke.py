"""End to end on real images: the loader of examples/train_cats_dogs_arrays.py
(Pillow, 150x150, /255) feeding ``fit`` of a tiny convnet for 2 epochs."""
import importlib.util
import pathlib

import numpy as np
import pytest

from deepzero.keras import layers, models, optimizers
from deepzero.utils import set_random_seed

EXAMPLE = pathlib.Path(__file__).resolve().parents[1] / 'examples' / 'train_cats_dogs_arrays.py'


@pytest.fixture(scope='module')
def example():
    spec = importlib.util.spec_from_file_location('train_cats_dogs_arrays', EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_loader_and_fit_on_64_cats_and_64_dogs(shared_data, example):
    set_random_seed(0)
    root = shared_data / 'cats_and_dogs_small'
    x_train, y_train = example.load_split(root / 'train', per_class=64)
    x_val, y_val = example.load_split(root / 'validation', per_class=16)

    assert x_train.shape == (128, 150, 150, 3) and x_train.dtype == np.float32
    assert 0.0 <= x_train.min() and x_train.max() <= 1.0 and x_train.std() > 0.1
    assert y_train.dtype == np.float32
    assert list(y_train) == [0.0] * 64 + [1.0] * 64  # cats first, then dogs
    assert x_val.shape == (32, 150, 150, 3)

    model = models.Sequential([
        layers.Conv2D(4, 3, strides=2, activation='relu', input_shape=(150, 150, 3)),
        layers.MaxPooling2D(4),
        layers.Flatten(),
        layers.Dense(1, activation='sigmoid')])
    model.compile(optimizer=optimizers.RMSprop(learning_rate=1e-3),
                  loss='binary_crossentropy', metrics=['acc'])
    loss_before = model.evaluate(x_train, y_train, batch_size=32, verbose=0)[0]
    history = model.fit(x_train, y_train, batch_size=16, epochs=2,
                        validation_data=(x_val, y_val), verbose=0)
    loss_after = model.evaluate(x_train, y_train, batch_size=32, verbose=0)[0]

    assert sorted(history.history) == ['acc', 'loss', 'val_acc', 'val_loss']
    assert history.epoch == [0, 1]
    assert all(np.isfinite(values).all() for values in history.history.values())
    assert all(0.0 <= a <= 1.0 for a in history.history['acc'] + history.history['val_acc'])
    assert loss_after < loss_before
