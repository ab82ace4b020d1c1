"""image_dataset_from_directory: Keras 3's file order, class order, labels
and resized images (compared with Keras's own non-TensorFlow loader), the
dataset protocol, and fit / evaluate / predict on it."""
import os

import numpy as np
import pytest
from PIL import Image

import deepzero.layers as L
from deepzero.keras.utils import image_dataset_from_directory
from deepzero.models import Sequential
from deepzero.preprocessing.image import ImageDataset

CLASS_SIZES = {'cats': 5, 'dogs': 4, 'zebras': 3}


@pytest.fixture(scope='module')
def image_tree(tmp_path_factory):
    """Three class folders of PNGs (lossless, so decoders agree) of mixed
    sizes, one nested folder, one file that is no image and one hidden folder."""
    root = tmp_path_factory.mktemp('images')
    rng = np.random.default_rng(0)
    for name, count in CLASS_SIZES.items():
        (root / name / 'more').mkdir(parents=True)
        for i in range(count):
            height, width = rng.integers(10, 40, 2)
            folder = root / name / ('more' if i == 0 else '')
            Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(
                folder / f'{i}.png')
        (root / name / 'notes.txt').write_text('not an image')
    (root / '.ipynb_checkpoints').mkdir()
    return root


@pytest.fixture(scope='module')
def keras_data():
    keras = pytest.importorskip('keras')
    from keras.src.utils import dataset_utils, image_dataset_utils
    return keras, dataset_utils, image_dataset_utils


def _all(dataset):
    batches = list(dataset)
    return np.concatenate([x for x, _ in batches]), np.concatenate([y for _, y in batches])


@pytest.mark.parametrize('options', [
    dict(),
    dict(interpolation='nearest'),
    dict(interpolation='bicubic'),
    dict(crop_to_aspect_ratio=True),
    dict(pad_to_aspect_ratio=True),
    dict(color_mode='grayscale'),
    dict(color_mode='rgba'),
], ids=str)
def test_images_labels_and_order_match_keras(image_tree, keras_data, options, capsys):
    keras, dataset_utils, image_dataset_utils = keras_data
    dataset = image_dataset_from_directory(image_tree, image_size=(16, 20), batch_size=4,
                                           shuffle=False, **options)
    assert capsys.readouterr().out == 'Found 12 files belonging to 3 classes.\n'
    images, labels = _all(dataset)
    paths, their_labels, class_names = dataset_utils.index_directory(
        str(image_tree), 'inferred', formats=image_dataset_utils.ALLOWLIST_FORMATS,
        shuffle=False)
    assert dataset.class_names == class_names == sorted(CLASS_SIZES)
    assert dataset.file_paths == paths
    np.testing.assert_array_equal(labels, their_labels)
    channels = {'grayscale': 1, 'rgba': 4}.get(options.get('color_mode'), 3)
    theirs = np.stack([keras.ops.convert_to_numpy(image_dataset_utils._load_image_grain(
        path, (16, 20), channels, options.get('interpolation', 'bilinear'), 'channels_last',
        options.get('crop_to_aspect_ratio', False), options.get('pad_to_aspect_ratio', False)))
        for path in paths])
    assert images.shape == theirs.shape == (12, 16, 20, channels)
    assert images.dtype == np.float32 and labels.dtype == np.int32
    np.testing.assert_allclose(images, theirs, atol=1e-3)


def test_seeded_shuffle_and_split_are_kerass(image_tree, keras_data):
    _, dataset_utils, image_dataset_utils = keras_data
    paths, labels, _ = dataset_utils.index_directory(
        str(image_tree), 'inferred', formats=image_dataset_utils.ALLOWLIST_FORMATS,
        shuffle=True, seed=42)
    train, validation = image_dataset_from_directory(
        image_tree, image_size=(8, 8), validation_split=0.25, subset='both', seed=42)
    assert train.file_paths == paths[:-3] and validation.file_paths == paths[-3:]
    only_validation = image_dataset_from_directory(
        image_tree, image_size=(8, 8), validation_split=0.25, subset='validation', seed=42)
    assert only_validation.file_paths == paths[-3:]
    _, validation_labels = _all(validation)  # not reshuffled: Keras's order
    np.testing.assert_array_equal(validation_labels, labels[-3:])


def test_label_modes_and_unbatched(image_tree):
    kwargs = dict(image_size=(8, 8), shuffle=False, verbose=False)
    _, categorical = _all(image_dataset_from_directory(image_tree, label_mode='categorical',
                                                       **kwargs))
    assert categorical.shape == (12, 3) and categorical.dtype == np.float32
    np.testing.assert_array_equal(categorical.argmax(1), [0] * 5 + [1] * 4 + [2] * 3)
    two = image_dataset_from_directory(image_tree, class_names=['dogs', 'cats'],
                                       label_mode='binary', **kwargs)
    assert two.class_names == ['dogs', 'cats']
    _, binary = _all(two)
    assert binary.shape == (9, 1) and binary.dtype == np.float32
    np.testing.assert_array_equal(binary[:, 0], [0] * 4 + [1] * 5)
    unlabelled = image_dataset_from_directory(image_tree, labels=None, **kwargs)
    batch = next(iter(unlabelled))
    assert isinstance(batch, np.ndarray) and batch.shape == (12, 8, 8, 3)
    assert unlabelled.class_names is None
    given = [7, 3] * 6  # one label per file, in sorted path order
    listed = image_dataset_from_directory(image_tree, labels=given, **kwargs)
    assert listed.class_names == ['3', '7']
    np.testing.assert_array_equal(_all(listed)[1], given)
    single = image_dataset_from_directory(image_tree, batch_size=None, **kwargs)
    image, label = next(iter(single))
    assert image.shape == (8, 8, 3) and label.shape == () and len(single) == 12


def test_passes_take_map_and_reshuffle(image_tree):
    dataset = image_dataset_from_directory(image_tree, image_size=(8, 8), batch_size=5,
                                           seed=3, verbose=False)
    assert isinstance(dataset, ImageDataset) and len(dataset) == 3
    first = [y for _, y in dataset]
    second = [y for _, y in dataset]
    assert [len(y) for y in first] == [5, 5, 2]
    assert not all(np.array_equal(a, b) for a, b in zip(first, second))  # reshuffled
    again = image_dataset_from_directory(image_tree, image_size=(8, 8), batch_size=5, seed=3,
                                         verbose=False)
    np.testing.assert_array_equal(np.concatenate([y for _, y in again]),
                                  np.concatenate(first))
    for _ in dataset.take(1):  # an unfinished pass: the next iter starts a new one
        break
    assert len(list(dataset)) == 3 and len(dataset.take(2)) == 2
    flip = L.RandomFlip('horizontal', seed=0)
    mapped = dataset.map(lambda x, y: (flip(x), y)).take(1)
    x, y = next(iter(mapped))
    assert isinstance(x, np.ndarray) and x.shape == (5, 8, 8, 3)


def test_fit_evaluate_predict_take_a_dataset(image_tree):
    kwargs = dict(image_size=(8, 8), batch_size=4, label_mode='binary', verbose=False,
                  class_names=['cats', 'dogs'])
    train = image_dataset_from_directory(image_tree, seed=0, **kwargs)
    validation = image_dataset_from_directory(image_tree, shuffle=False, **kwargs)
    model = Sequential([L.Input((8, 8, 3)), L.RandomFlip('horizontal'), L.Rescaling(1 / 255),
                        L.Flatten(), L.Dense(1, activation='sigmoid')])
    model.compile(optimizer='rmsprop', loss='binary_crossentropy', metrics=['accuracy'])
    history = model.fit(train, epochs=2, validation_data=validation, verbose=0)
    assert set(history.history) == {'loss', 'accuracy', 'val_loss', 'val_accuracy'}
    assert len(history.history['loss']) == 2
    history = model.fit(train, epochs=2, steps_per_epoch=4, verbose=0)  # runs into a new pass
    assert len(history.history['loss']) == 2
    loss, accuracy = model.evaluate(validation, verbose=0)
    assert 0 <= accuracy <= 1 and np.isfinite(loss)
    assert model.predict(validation, verbose=0).shape == (9, 1)


def test_bad_arguments_are_named(image_tree):
    with pytest.raises(ValueError, match='exactly 2 classes'):
        image_dataset_from_directory(image_tree, label_mode='binary', verbose=False)
    with pytest.raises(ValueError, match='seed'):
        image_dataset_from_directory(image_tree, validation_split=0.2, subset='training')
    with pytest.raises(ValueError, match='interpolation'):
        image_dataset_from_directory(image_tree, interpolation='lanczos3')
    with pytest.raises(ValueError, match='class_names'):
        image_dataset_from_directory(image_tree, class_names=['cats', 'lions'])
    with pytest.raises(FileNotFoundError, match='not a folder'):
        image_dataset_from_directory(os.path.join(image_tree, 'missing'))


FILES = sum(CLASS_SIZES.values())


@pytest.mark.parametrize('options, message', [
    (dict(batch_size=0), r'batch_size must be an int >= 1 or None .*, got 0'),
    (dict(batch_size=-2), r'batch_size must be an int >= 1 or None .*, got -2'),
    (dict(batch_size=2.5), r'batch_size must be an int >= 1 or None .*, got 2\.5'),
    (dict(image_size=(0, 5)), r'image_size must be a tuple of 2 positive ints.*\(0, 5\)'),
    (dict(image_size=(-3, 5)), r'image_size must be a tuple of 2 positive ints.*\(-3, 5\)'),
    (dict(image_size=(4,)), r'image_size must be a tuple of 2 positive ints.*\(4,\)'),
    (dict(image_size=2.5), r'image_size must be a tuple of 2 positive ints.*2\.5'),
    (dict(labels=[0.7, 1.9] * (FILES // 2)), r'labels must be a flat list/tuple of integer'),
    (dict(labels=[[0, 1]] * FILES), r'labels must be a flat list/tuple of integer'),
    (dict(labels=[-1] + [0] * (FILES - 1)), r'labels must be non-negative ints, got -1'),
    (dict(labels=[0, 2] * (FILES // 2), label_mode='categorical'),
     r"label_mode='categorical', labels must be class indices.*\[0, 2\]\), got 2"),
    (dict(labels=[0, 1] * FILES), rf'labels has {2 * FILES} labels but .* holds {FILES} image'),
    (dict(validation_split=0.05, subset='validation', seed=1),
     rf'validation_split=0.05 leaves no file for validation: int\(0.05 \* {FILES} files\) = 0'),
    (dict(validation_split=0.05, subset='both', seed=1), r'leaves no file for validation'),
], ids=str)
def test_bad_arguments_are_refused_up_front(image_tree, options, message):
    # each used to give a wrong dataset or a bare error at the first batch
    with pytest.raises(ValueError, match=message):
        image_dataset_from_directory(image_tree, verbose=False, **options)


def test_explicit_labels_encode_as_class_indices(image_tree):
    given = [2, 0, 1] * (FILES // 3)
    dataset = image_dataset_from_directory(image_tree, labels=given, label_mode='categorical',
                                           image_size=(4, 4), shuffle=False, verbose=False)
    assert dataset.class_names == ['0', '1', '2']
    np.testing.assert_array_equal(_all(dataset)[1], np.eye(3, dtype=np.float32)[given])


def test_the_books_folders(shared_data):
    """The real cats-vs-dogs validation folder, a few batches."""
    dataset = image_dataset_from_directory(shared_data / 'cats_and_dogs_small' / 'validation',
                                           image_size=(180, 180), batch_size=32, seed=0)
    assert dataset.class_names == ['cats', 'dogs'] and len(dataset.file_paths) == 1000
    images, labels = next(iter(dataset.take(1)))
    assert images.shape == (32, 180, 180, 3) and images.dtype == np.float32
    assert 0 <= images.min() and images.max() <= 255 and set(labels) <= {0, 1}


class _Passes:
    """A minimal tf.data-style dataset: ``len`` batches per ``iter``, each
    pass numbered in its batches' labels."""

    def __init__(self):
        self.passes = 0

    def __len__(self):
        return 3

    def __iter__(self):
        self.passes += 1
        for _ in range(3):
            yield np.ones((2, 4), np.float32), np.full((2, 1), self.passes, np.float32)


def test_models_take_any_dataset_one_pass_per_epoch():
    from deepzero.models.epoch_iterator import EpochIterator
    data = _Passes()
    epochs = EpochIterator(data)
    assert epochs.steps == 3
    for epoch in (1, 2):
        assert [int(y[0, 0]) for _, (_, y, _) in epochs] == [epoch] * 3
    stream = EpochIterator(_Passes(), steps_per_epoch=2)  # passes run on across epochs
    labels = [int(y[0, 0]) for _ in range(3) for _, (_, y, _) in stream]
    assert labels == [1, 1, 1, 2, 2, 2]
    with pytest.raises(ValueError, match='y and sample_weight must come from it'):
        EpochIterator(_Passes(), y=np.zeros(3))
