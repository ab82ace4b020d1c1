"""deepzero.keras mirrors Keras's import paths and only re-exports."""
import contextlib
import importlib
import io

import numpy as np
import pytest


HOMES = {'load_model': 'deepzero.saving'}


@pytest.mark.parametrize('path, name', [
    ('deepzero.keras.layers', 'Conv2D'), ('deepzero.keras.layers', 'BatchNormalization'),
    ('deepzero.keras.models', 'Sequential'), ('deepzero.keras.models', 'load_model'),
    ('deepzero.keras.layers', 'Input'), ('deepzero.keras.applications', 'VGG16'),
    ('deepzero.keras.applications.vgg16', 'preprocess_input'),
    ('deepzero.keras.applications.inception_v3', 'decode_predictions'),
    ('deepzero.keras.optimizers', 'RMSprop'), ('deepzero.keras.optimizers', 'schedules'),
    ('deepzero.keras.losses', 'binary_crossentropy'), ('deepzero.keras.metrics', 'AUC'),
    ('deepzero.keras.callbacks', 'ModelCheckpoint'), ('deepzero.keras.callbacks', 'ProgbarLogger'),
    ('deepzero.keras.activations', 'relu'), ('deepzero.keras.initializers', 'HeNormal'),
    ('deepzero.keras.regularizers', 'l2'),
    ('deepzero.keras.preprocessing.image', 'ImageDataGenerator'),
    ('deepzero.keras.preprocessing.image', 'load_img'),
])
def test_keras_name_is_the_deepzero_object(path, name):
    keras_module = importlib.import_module(path)
    home = importlib.import_module(HOMES.get(name, path.replace('deepzero.keras', 'deepzero')))
    assert getattr(keras_module, name) is getattr(home, name)


def test_book_listing_5_1_runs_with_imports_changed():
    """Listing 5.5 of the book (the cats-vs-dogs convnet), imports changed only."""
    from deepzero.keras import layers, models, optimizers

    model = models.Sequential()
    model.add(layers.Conv2D(32, (3, 3), activation='relu', input_shape=(150, 150, 3)))
    model.add(layers.MaxPooling2D((2, 2)))
    model.add(layers.Conv2D(64, (3, 3), activation='relu'))
    model.add(layers.MaxPooling2D((2, 2)))
    model.add(layers.Conv2D(128, (3, 3), activation='relu'))
    model.add(layers.MaxPooling2D((2, 2)))
    model.add(layers.Conv2D(128, (3, 3), activation='relu'))
    model.add(layers.MaxPooling2D((2, 2)))
    model.add(layers.Flatten())
    model.add(layers.Dense(512, activation='relu'))
    model.add(layers.Dense(1, activation='sigmoid'))
    with pytest.warns(DeprecationWarning, match='lr'):
        optimizer = optimizers.RMSprop(lr=1e-4)
    model.compile(loss='binary_crossentropy', optimizer=optimizer, metrics=['acc'])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        model.summary()
    assert 'Total params: 3,453,121' in out.getvalue()
    x = np.random.default_rng(0).random((2, 150, 150, 3), dtype=np.float32)
    y = np.array([0, 1], np.float32)
    logs = model.train_on_batch(x, y, return_dict=True)
    assert set(logs) == {'loss', 'acc'}
