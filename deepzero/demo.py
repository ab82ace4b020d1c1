"""``deepzero demo``: the book's section 5.2.5 pipeline, small and quick.

flow_from_directory with the book's data augmentation feeds the book's
convnet (with Dropout), trained with RMSprop and a progress bar; the training
curves are saved as a PNG and the model as a Keras HDF5 file.

Without ``--data`` it runs on a dataset that deepzero draws itself (no
downloads): 150x150 JPEGs of stripes, horizontal in one class and vertical in
the other, with random period, phase, colours and noise. Augmentation rotates
them by up to 40 degrees, so the classes stay apart but the net must learn
oriented edges, as a first conv layer does on photos. ``--data DIR`` takes any
folder with ``train/<class>/`` and ``validation/<class>/`` (or ``val/``), or only
class folders, from which 20% is held out for validation (``split_folders``).
"""
import contextlib
import os
import pathlib
import shutil
import time

import numpy as np

STRIPES_CLASSES = ('horizontal', 'vertical')


def draw_stripes(n, size=150, seed=0):
    """(uint8 images (n, size, size, 3), labels (n,) in {0, 1}): 0 is horizontal."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    coords = np.arange(size, dtype=np.float32)
    period = rng.uniform(10, 30, (n, 1, 1)).astype(np.float32)
    phase = rng.uniform(0, 2 * np.pi, (n, 1, 1)).astype(np.float32)
    rows = np.broadcast_to(coords[None, :, None], (1, size, size))
    along = np.where(labels[:, None, None] == 0, rows, rows.transpose(0, 2, 1))
    wave = 0.5 + 0.5 * np.sin(2 * np.pi * along / period + phase)
    dark = rng.uniform(0, 0.4, (n, 1, 1, 3))
    light = rng.uniform(0.6, 1.0, (n, 1, 1, 3))
    noise = rng.normal(0, 0.08, (n, size, size, 3))
    images = dark + (light - dark) * wave[..., None] + noise
    return (np.clip(images, 0, 1) * 255).astype(np.uint8), labels


def make_stripes_dataset(root, train=320, validation=160, seed=0):
    """Write the stripes dataset as JPEGs under ``root/{train,validation}/<class>/``
    (once; a finished dataset is marked by ``root/.complete``)."""
    from PIL import Image
    root = pathlib.Path(root)
    if (root / '.complete').exists():
        return root
    for split, count, split_seed in (('train', train, seed), ('validation', validation, seed + 1)):
        images, labels = draw_stripes(count, seed=split_seed)
        for i, (img, label) in enumerate(zip(images, labels)):
            folder = root / split / STRIPES_CLASSES[label]
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(folder / f'{STRIPES_CLASSES[label]}.{i}.jpg', quality=90)
    (root / '.complete').touch()
    return root


def default_data_dir():
    home = pathlib.Path(os.environ.get('DEEPZERO_HOME', pathlib.Path.home() / '.deepzero'))
    return make_stripes_dataset(home / 'datasets' / 'stripes')


class DataLayoutError(ValueError):
    """``--data`` names a folder laid out in a way the demos do not read."""


LAYOUTS = ("expected train/<class>/ and validation/<class>/ (or val/<class>/), optionally "
           "test/<class>/, or the class folders only, with exactly 2 classes")


def split_folders(data_dir):
    """The demos' rule for ``--data``: {'train': path, 'validation': path,
    'test': path or None} when ``data_dir`` holds ``train/`` and
    ``validation/`` (or ``val/``, as in PyTorch's hymenoptera_data) and
    optionally ``test/``; None when it holds the class folders only (the
    demos then hold 20% of each class out for validation). Every set of
    class folders must have exactly 2 classes (the demos are binary).

    Raises:
        FileNotFoundError: ``data_dir`` is not a folder.
        DataLayoutError: neither layout (e.g. ``train/`` without
            ``validation/``, or 3 classes); the message says what was found.
    """
    from .preprocessing.image.directory_iterator import list_class_folders
    data_dir = pathlib.Path(data_dir)
    if not data_dir.is_dir():
        raise FileNotFoundError(f'--data: no folder {data_dir}; {LAYOUTS}')
    found = list_class_folders(data_dir)
    validation = next((name for name in ('validation', 'val') if name in found), None)
    split_names = {'train', 'validation', 'val', 'test'}.intersection(found)
    if not split_names:
        folders = None
        class_sets = {data_dir: found}
    elif 'train' in found and validation is not None:
        folders = {'train': data_dir / 'train', 'validation': data_dir / validation,
                   'test': data_dir / 'test' if 'test' in found else None}
        class_sets = {folder: list_class_folders(folder)
                      for folder in folders.values() if folder is not None}
    else:
        raise DataLayoutError(f'--data: {data_dir} has {"/, ".join(sorted(split_names))}/ '
                              f'but not both train/ and validation/ (or val/); {LAYOUTS}')
    for folder, classes in class_sets.items():
        if len(classes) != 2:
            raise DataLayoutError(f'--data: {folder} has {len(classes)} class folder(s) '
                                  f'{classes}; {LAYOUTS}')
    return folders


@contextlib.contextmanager
def output_folder(out):
    """``out`` as a Path, created (with its parents) for the results; if
    writing them fails, the folders created here are removed again, so a
    failed run leaves nothing."""
    out = pathlib.Path(out)
    # The outermost folder that does not exist yet, if any.
    created = next((folder for folder in reversed([out, *out.parents])
                    if not folder.exists()), None)
    out.mkdir(parents=True, exist_ok=True)
    try:
        yield out
    except BaseException:
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        raise


def describe_device():
    """The line the demos print about where the model runs, e.g.
    'device: gpu (NVIDIA H200)' or
    'device: cpu (DEEPZERO_DEVICE=auto; CuPy is not installed)'."""
    from .core import cuda, runtime
    setting = runtime.get('device')
    if runtime.resolved_device() == 'gpu':
        cupy = cuda.cupy
        properties = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
        name = properties['name']
        return f"device: gpu ({name.decode() if isinstance(name, bytes) else name})"
    if setting == 'cpu':
        return 'device: cpu (DEEPZERO_DEVICE=cpu)'
    why = 'CuPy is not installed' if cuda.cupy is None else 'no CUDA GPU'
    return f'device: cpu (DEEPZERO_DEVICE={setting}; {why})'


def book_convnet(input_shape=(150, 150, 3)):
    """The book's listing 5.13 convnet (with Dropout)."""
    from .keras import layers, models
    model = models.Sequential([
        layers.Input(shape=input_shape),
        layers.Conv2D(32, (3, 3), activation='relu'),
        layers.MaxPooling2D((2, 2)),
        layers.Conv2D(64, (3, 3), activation='relu'),
        layers.MaxPooling2D((2, 2)),
        layers.Conv2D(128, (3, 3), activation='relu'),
        layers.MaxPooling2D((2, 2)),
        layers.Conv2D(128, (3, 3), activation='relu'),
        layers.MaxPooling2D((2, 2)),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(512, activation='relu'),
        layers.Dense(1, activation='sigmoid'),
    ])
    return model


def data_generators(data_dir, batch_size, seed):
    """Training iterator with the book's augmentation, validation without
    (the folders of ``split_folders``)."""
    from .keras.preprocessing.image import ImageDataGenerator
    augment = dict(rotation_range=40, width_shift_range=0.2, height_shift_range=0.2,
                   shear_range=0.2, zoom_range=0.2, horizontal_flip=True)
    flow = dict(target_size=(150, 150), batch_size=batch_size, class_mode='binary', seed=seed)
    folders = split_folders(data_dir)
    if folders is not None:
        train = ImageDataGenerator(rescale=1 / 255, **augment).flow_from_directory(
            folders['train'], **flow)
        val = ImageDataGenerator(rescale=1 / 255).flow_from_directory(
            folders['validation'], shuffle=False, **flow)
    else:
        train = ImageDataGenerator(rescale=1 / 255, validation_split=0.2, **augment)\
            .flow_from_directory(data_dir, subset='training', **flow)
        val = ImageDataGenerator(rescale=1 / 255, validation_split=0.2).flow_from_directory(
            data_dir, subset='validation', shuffle=False, **flow)
    return train, val


def run_demo(data=None, epochs=5, out='deepzero-demo', batch_size=32, seed=0,
             learning_rate=1e-4):
    from .keras import optimizers
    from .utils import plot_history, set_random_seed

    set_random_seed(seed)  # initializers, dropout and shuffling
    data_dir = pathlib.Path(data) if data else default_data_dir()
    print(f'deepzero demo: the book\'s section 5.2.5 convnet on {data_dir}')
    print(describe_device())
    train, val = data_generators(data_dir, batch_size, seed)
    model = book_convnet()
    model.compile(loss='binary_crossentropy',
                  optimizer=optimizers.RMSprop(learning_rate=learning_rate), metrics=['acc'])
    start = time.perf_counter()
    history = model.fit(train, epochs=epochs, validation_data=val)
    seconds = time.perf_counter() - start
    with output_folder(out) as out:
        model.save(out / 'model.h5')
        try:
            plot_history(history, to_file=str(out / 'curves.png'))
            curves = f', curves in {out / "curves.png"}'
        except ImportError as err:  # matplotlib is an optional extra
            curves = f' (no curves: {err})'
    waited = getattr(getattr(train, 'stats', None), 'wait_seconds', 0.0)
    print(f'done in {seconds:.0f}s: val_acc {history.history["val_acc"][-1]:.3f}; '
          f'the training step waited {waited / seconds:.1%} of the time for data; '
          f'model in {out / "model.h5"}{curves}')
    return 0
