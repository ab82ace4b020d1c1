"""Deep Learning with Python, section 5.2 without data augmentation: the small
convnet (listing 5.5) trained on 2000 cats and dogs, validated on 1000.

The book feeds ``flow_from_directory`` generators; here the images are loaded
once into arrays with Pillow (resized to 150x150 with nearest-neighbour
sampling, as ``flow_from_directory`` does by default; scaled by 1/255) and
passed to ``fit``. 100 steps of 20 per epoch = the 2000 training images.

    python examples/train_cats_dogs_arrays.py --data ../shared/data --epochs 30

(About an hour of CPU time on 2 cores. On a machine busy with other work, set
OPENBLAS_NUM_THREADS=1: idle BLAS threads spin while they wait for a core.)

Writes ``<out>/cats_dogs_arrays_history.json`` (per-epoch logs and epoch
times) and ``<out>/cats_dogs_arrays_curves.png`` (the book's two figures).
"""
import argparse
import json
import os
import pathlib
import platform
import time

import numpy as np
from PIL import Image

from deepzero.keras import layers, models, optimizers
from deepzero.keras.callbacks import Callback
from deepzero.utils import plot_history, set_random_seed

IMAGE_SIZE = (150, 150)
CLASSES = ('cats', 'dogs')  # label 0, label 1 (flow_from_directory's alphabetical order)


def load_split(folder, per_class=None, size=IMAGE_SIZE):
    """Images of ``folder/cats`` and ``folder/dogs`` -> (x, y).

    x: float32 (n, height, width, 3) in [0, 1]; y: float32 (n,), 0 = cat,
    1 = dog. ``per_class`` keeps the first files of each class (sorted by name).
    """
    images, labels = [], []
    for label, name in enumerate(CLASSES):
        files = sorted((pathlib.Path(folder) / name).glob('*.jpg'))[:per_class]
        if not files:
            raise FileNotFoundError(f"load_split: no .jpg files in {pathlib.Path(folder) / name}")
        for path in files:
            with Image.open(path) as img:
                img = img.convert('RGB').resize((size[1], size[0]), Image.NEAREST)
                images.append(np.asarray(img, dtype=np.uint8))
        labels += [label] * len(files)
    x = np.stack(images).astype(np.float32) * np.float32(1 / 255)
    return x, np.asarray(labels, dtype=np.float32)


def build_model():
    """Listing 5.5, compiled as in listing 5.6."""
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
    model.compile(loss='binary_crossentropy', optimizer=optimizers.RMSprop(learning_rate=1e-4),
                  metrics=['acc'])
    return model


class EpochTimer(Callback):
    """Records the wall-clock seconds of each epoch (training + validation)."""

    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def parse_args():
    default_data = os.environ.get(
        'DEEPZERO_DATA', pathlib.Path(__file__).resolve().parents[2] / 'shared' / 'data')
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data', type=pathlib.Path, default=pathlib.Path(default_data),
                        help='folder holding cats_and_dogs_small/ (default: $DEEPZERO_DATA '
                             'or ../shared/data)')
    parser.add_argument('--epochs', type=int, default=30)
    parser.add_argument('--batch-size', type=int, default=20)
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of NumPy\'s global generator (weights and shuffling)')
    parser.add_argument('--out', type=pathlib.Path,
                        default=pathlib.Path(__file__).resolve().parents[1] / 'docs' / 'results')
    return parser.parse_args()


def main():
    args = parse_args()
    set_random_seed(args.seed)
    root = args.data / 'cats_and_dogs_small'
    start = time.perf_counter()
    x_train, y_train = load_split(root / 'train')
    x_val, y_val = load_split(root / 'validation')
    print(f"loaded {len(x_train)} training and {len(x_val)} validation images "
          f"in {time.perf_counter() - start:.1f} s", flush=True)

    model = build_model()
    model.summary()
    timer = EpochTimer()
    history = model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs,
                        validation_data=(x_val, y_val), callbacks=[timer], verbose=2)

    args.out.mkdir(parents=True, exist_ok=True)
    logs = {name: [float(v) for v in values] for name, values in history.history.items()}
    val_acc = logs['val_acc']
    best = int(np.argmax(val_acc))
    record = {
        'history': logs,
        'epoch_seconds': timer.seconds,
        'best_val_acc': val_acc[best], 'best_epoch': best + 1,
        'final_val_acc': val_acc[-1],
        'args': {name: str(value) for name, value in vars(args).items()},
        'machine': f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
    }
    history_path = args.out / 'cats_dogs_arrays_history.json'
    temp_path = history_path.with_suffix('.json.tmp')
    temp_path.write_text(json.dumps(record, indent=1))
    os.replace(temp_path, history_path)
    plot_history(history, to_file=str(args.out / 'cats_dogs_arrays_curves.png'))
    print(f"best val_acc {val_acc[best]:.4f} at epoch {best + 1}; final {val_acc[-1]:.4f}; "
          f"median epoch {np.median(timer.seconds):.1f} s")


if __name__ == '__main__':
    main()
