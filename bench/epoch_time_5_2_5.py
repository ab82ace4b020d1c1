"""Epoch time of the book's listing 5.2.5 setup (augmentation + dropout convnet,
flow_from_directory at batch 32 on cats_and_dogs_small), deepzero or Keras 3.

    python bench/epoch_time_5_2_5.py deepzero
    python bench/epoch_time_5_2_5.py keras-tf     # in an environment with tensorflow-cpu

Keras 3 ends an epoch when its iterator's 63 batches run out, so both run 62
training steps and 31 validation steps per epoch (the listing's 100 and 50 are
more than one pass in Keras 3). Prints each epoch's wall time. Run it with
OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset, as the other benchmarks.
"""
import os
import sys
import time

FRAMEWORK = sys.argv[1] if len(sys.argv) > 1 else 'deepzero'
if FRAMEWORK == 'keras-tf':
    os.environ['KERAS_BACKEND'] = 'tensorflow'
    import keras
    from keras import layers, models, optimizers
    from keras.src.legacy.preprocessing.image import ImageDataGenerator
else:
    import deepzero.keras as keras
    from deepzero.keras import layers, models, optimizers
    from deepzero.keras.preprocessing.image import ImageDataGenerator

DATA = os.path.join(os.environ.get('DEEPZERO_DATA', '../shared/data'), 'cats_and_dogs_small')


class EpochTimer(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        print(f'{FRAMEWORK} epoch {epoch + 1}: {time.perf_counter() - self.start:.1f} s',
              flush=True)


def main(epochs=3):
    model = models.Sequential([
        layers.Input((150, 150, 3)),
        layers.Conv2D(32, 3, activation='relu'), layers.MaxPooling2D(2),
        layers.Conv2D(64, 3, activation='relu'), layers.MaxPooling2D(2),
        layers.Conv2D(128, 3, activation='relu'), layers.MaxPooling2D(2),
        layers.Conv2D(128, 3, activation='relu'), layers.MaxPooling2D(2),
        layers.Flatten(), layers.Dropout(0.5), layers.Dense(512, activation='relu'),
        layers.Dense(1, activation='sigmoid')])
    model.compile(loss='binary_crossentropy', metrics=['acc'],
                  optimizer=optimizers.RMSprop(learning_rate=1e-4))
    augment = dict(rotation_range=40, width_shift_range=0.2, height_shift_range=0.2,
                   shear_range=0.2, zoom_range=0.2, horizontal_flip=True)
    flow = dict(target_size=(150, 150), batch_size=32, class_mode='binary')
    train = ImageDataGenerator(rescale=1 / 255, **augment).flow_from_directory(
        os.path.join(DATA, 'train'), **flow)
    val = ImageDataGenerator(rescale=1 / 255).flow_from_directory(
        os.path.join(DATA, 'validation'), **flow)
    model.fit(train, steps_per_epoch=62, epochs=epochs, validation_data=val,
              validation_steps=31, callbacks=[EpochTimer()], verbose=2)


if __name__ == '__main__':
    main()
