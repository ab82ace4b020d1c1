"""The iterators: Keras's contract, determinism, prefetch threads, directories,
data frames and bad input."""
import gc
import threading
import time
import warnings

import numpy as np
import pytest
from PIL import Image

from deepzero.preprocessing.image import (DirectoryIterator, ImageDataGenerator,
                                          UnreadableImageError)

AUGMENT = dict(rotation_range=40, width_shift_range=0.2, height_shift_range=0.2,
               shear_range=0.2, zoom_range=0.2, horizontal_flip=True, rescale=1 / 255)


def write_image(path, seed, size=(20, 24), fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, size + (3,), dtype=np.uint8)
    Image.fromarray(pixels).save(path, fmt)


@pytest.fixture
def tree(tmp_path):
    """cats: 5 images (one in a sub-folder, one .PNG), dogs: 4, plus a text file."""
    root = tmp_path / 'train'
    for i in range(4):
        write_image(root / 'cats' / f'cat.{i}.jpg', i)
        write_image(root / 'dogs' / f'dog.{i}.jpg', 10 + i)
    write_image(root / 'cats' / 'more' / 'cat.9.PNG', 99, fmt='PNG')
    (root / 'cats' / 'notes.txt').write_text('not an image')
    return root


def images(n=100, size=8):
    return np.random.default_rng(0).uniform(0, 255, (n, size, size, 3)).astype(np.float32)


def prefetch_threads():
    return [t for t in threading.enumerate() if t.name.startswith('deepzero-prefetch')]


def threads_gone(timeout=5.0):
    """Wait until no prefetch thread is left (closed pools stop asynchronously)."""
    deadline = time.monotonic() + timeout
    while prefetch_threads() and time.monotonic() < deadline:
        time.sleep(0.02)
    return not prefetch_threads()


# ---------------------------------------------------------------- contract
def test_len_partial_last_batch_and_reshuffle_each_pass():
    it = ImageDataGenerator().flow(images(), np.arange(100), batch_size=32, seed=3, workers=0)
    assert len(it) == 4 and it.n == it.samples == 100 and it.batch_size == 32
    passes = []
    for _ in range(2):
        labels = [next(it)[1] for _ in range(4)]
        assert [len(b) for b in labels] == [32, 32, 32, 4]
        order = np.concatenate(labels)
        assert sorted(order) == list(range(100))  # each sample once per pass
        passes.append(order)
    assert not np.array_equal(passes[0], passes[1])
    assert len(next(it)[1]) == 32  # never ends


def test_indexing_reset_and_on_epoch_end():
    it = ImageDataGenerator().flow(images(10), np.arange(10), batch_size=4, seed=1, workers=0)
    first = [it[i][1] for i in range(len(it))]
    assert [len(b) for b in first] == [4, 4, 2]
    np.testing.assert_array_equal(next(it)[1], first[0])
    np.testing.assert_array_equal(next(it)[1], first[1])
    it.reset()
    np.testing.assert_array_equal(next(it)[1], first[0])  # same pass, same order
    it.on_epoch_end()
    assert it.epoch == 1 and it.batch_index == 0
    second = np.concatenate([it[i][1] for i in range(len(it))])
    assert not np.array_equal(second, np.concatenate(first))
    with pytest.raises(ValueError, match='length 3'):
        it[3]


def test_no_shuffle_keeps_order():
    it = ImageDataGenerator().flow(images(10), np.arange(10), batch_size=4, shuffle=False)
    got = np.concatenate([next(it)[1] for _ in range(6)])
    np.testing.assert_array_equal(got, np.r_[np.arange(10), np.arange(10)])
    it.close()


def test_seeded_batches_identical_for_any_worker_count_and_global_state_untouched():
    gen = ImageDataGenerator(**AUGMENT)
    x = images(20, 16)
    state = np.random.get_state()[1].copy()
    runs = []
    for workers in (0, 1, 3):
        with gen.flow(x, np.arange(20), batch_size=6, seed=7, workers=workers,
                      max_queue_size=3) as it:
            runs.append([next(it) for _ in range(9)])  # crosses two pass boundaries
    for run in runs[1:]:
        for (xa, ya), (xb, yb) in zip(runs[0], run):
            np.testing.assert_array_equal(ya, yb)
            np.testing.assert_array_equal(xa, xb)
    np.testing.assert_array_equal(np.random.get_state()[1], state)
    unseeded = [next(gen.flow(x, batch_size=6, workers=0)) for _ in range(2)]
    assert not np.array_equal(unseeded[0], unseeded[1])


def test_prefetch_survives_reset_and_indexing_detours():
    gen = ImageDataGenerator(**AUGMENT)
    x = images(20, 16)
    reference = gen.flow(x, np.arange(20), batch_size=6, seed=2, workers=0)
    expected = [next(reference) for _ in range(4)]
    with gen.flow(x, np.arange(20), batch_size=6, seed=2, workers=2) as it:
        np.testing.assert_array_equal(next(it)[0], expected[0][0])
        it[3]
        it.reset()
        got = [next(it) for _ in range(4)]
        assert it.stats.batches == 5 and it.stats.wait_seconds >= 0
    for (xa, ya), (xb, yb) in zip(expected, got):
        np.testing.assert_array_equal(ya, yb)
        np.testing.assert_array_equal(xa, xb)


def test_prefetch_threads_stop_when_the_iterator_is_dropped():
    gc.collect()
    assert threads_gone()
    it = ImageDataGenerator(**AUGMENT).flow(images(40, 16), batch_size=4, workers=2)
    next(it)
    assert len(prefetch_threads()) == 2
    del it
    gc.collect()
    assert threads_gone()
    closed = ImageDataGenerator().flow(images(8), batch_size=4, workers=2)
    next(closed)
    closed.close()
    assert len(next(closed)) == 4  # still usable, computed in the caller


# ---------------------------------------------------------------- flow
def test_flow_outputs_weights_extras_and_subset():
    x, y, w = images(10), np.arange(10) % 2, np.linspace(0, 1, 10)
    gen = ImageDataGenerator(validation_split=0.3)
    bx, by, bw = next(gen.flow(x, y, sample_weight=w, batch_size=10, shuffle=False))
    assert bx.dtype == np.float32 and bx.shape == (10, 8, 8, 3)
    np.testing.assert_array_equal(bx, x)
    np.testing.assert_array_equal(bw, w)
    inputs, _ = next(gen.flow((x, [np.arange(10) * 2]), y, batch_size=4, shuffle=False))
    np.testing.assert_array_equal(inputs[1], [0, 2, 4, 6])
    val = gen.flow(x, y, subset='validation', shuffle=False, batch_size=10)
    train = gen.flow(x, y, subset='training', shuffle=False, batch_size=10)
    assert val.n == 3 and train.n == 7
    with pytest.raises(ValueError, match='different number of classes'):
        gen.flow(x, np.r_[np.zeros(3), np.ones(7)], subset='validation')
    with pytest.raises(ValueError, match='rank 4'):
        gen.flow(x[0])
    with pytest.raises(ValueError, match='same length'):
        gen.flow(x, y[:5])
    with pytest.raises(ValueError, match='no samples'):
        gen.flow(x[:0])


def test_flow_save_to_dir(tmp_path):
    it = ImageDataGenerator().flow(images(5), batch_size=5, shuffle=False, save_to_dir=tmp_path,
                                   save_prefix='aug', save_format='png', workers=0)
    next(it)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == 5 and all(n.startswith('aug_') and n.endswith('.png') for n in names)
    assert {n.split('_')[1] for n in names} == {'0', '1', '2', '3', '4'}


# ---------------------------------------------------------------- directories
def test_flow_from_directory_matches_keras_listing(tree, capsys):
    it = ImageDataGenerator().flow_from_directory(tree, target_size=(10, 12), batch_size=4,
                                                  shuffle=False)
    assert capsys.readouterr().out == 'Found 9 images belonging to 2 classes.\n'
    assert it.class_indices == {'cats': 0, 'dogs': 1} and it.num_classes == 2
    assert it.samples == 9 and len(it) == 3
    assert it.filenames[:2] == ['cats/cat.0.jpg', 'cats/cat.1.jpg']
    assert 'cats/more/cat.9.PNG' in it.filenames
    assert it.filepaths[0] == str(tree / 'cats' / 'cat.0.jpg')
    np.testing.assert_array_equal(it.classes, [0] * 5 + [1] * 4)
    assert it.classes.dtype == np.int32
    keras = pytest.importorskip('keras')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        from keras.src.legacy.preprocessing.image import ImageDataGenerator as KerasGenerator
        theirs = KerasGenerator().flow_from_directory(str(tree), target_size=(10, 12),
                                                      batch_size=4, shuffle=False)
    assert capsys.readouterr().out == 'Found 9 images belonging to 2 classes.\n'
    assert it.filenames == theirs.filenames and it.class_indices == theirs.class_indices
    np.testing.assert_array_equal(it.classes, theirs.classes)
    np.testing.assert_array_equal(next(it)[0], theirs[0][0])
    assert keras


@pytest.mark.parametrize('class_mode, label_shape', [
    ('categorical', (4, 2)), ('binary', (4,)), ('sparse', (4,)), ('input', (4, 10, 12, 3))])
def test_class_modes(tree, class_mode, label_shape):
    it = ImageDataGenerator().flow_from_directory(tree, target_size=(10, 12), batch_size=4,
                                                  class_mode=class_mode, shuffle=False)
    x, y = next(it)
    assert x.shape == (4, 10, 12, 3) and y.shape == label_shape and y.dtype == np.float32
    if class_mode == 'input':
        np.testing.assert_array_equal(x, y)
    only_images = ImageDataGenerator().flow_from_directory(tree, target_size=(10, 12),
                                                           batch_size=4, class_mode=None)
    assert next(only_images).shape == (4, 10, 12, 3)


@pytest.mark.parametrize('color_mode, channels', [('rgb', 3), ('rgba', 4), ('grayscale', 1)])
def test_color_modes_and_channels_first(tree, color_mode, channels):
    it = ImageDataGenerator().flow_from_directory(tree, target_size=(10, 12), batch_size=2,
                                                  color_mode=color_mode)
    assert next(it)[0].shape == (2, 10, 12, channels)
    first = ImageDataGenerator(data_format='channels_first').flow_from_directory(
        tree, target_size=(10, 12), batch_size=2, color_mode=color_mode)
    assert next(first)[0].shape == (2, channels, 10, 12)


def test_subset_and_explicit_classes(tree):
    gen = ImageDataGenerator(validation_split=0.5)
    val = gen.flow_from_directory(tree, target_size=(8, 8), subset='validation', shuffle=False)
    train = gen.flow_from_directory(tree, target_size=(8, 8), subset='training', shuffle=False)
    assert val.filenames == ['cats/cat.0.jpg', 'cats/cat.1.jpg', 'dogs/dog.0.jpg',
                             'dogs/dog.1.jpg']
    assert train.samples == 5
    only = ImageDataGenerator().flow_from_directory(tree, target_size=(8, 8), classes=['dogs'])
    assert only.class_indices == {'dogs': 0} and only.samples == 4


def test_follow_links(tree, tmp_path):
    write_image(tmp_path / 'elsewhere' / 'cat.20.jpg', 20)
    (tree / 'cats' / 'linked').symlink_to(tmp_path / 'elsewhere', target_is_directory=True)
    gen = ImageDataGenerator()
    assert gen.flow_from_directory(tree, target_size=(8, 8)).samples == 9
    followed = gen.flow_from_directory(tree, target_size=(8, 8), follow_links=True)
    assert followed.samples == 10 and 'cats/linked/cat.20.jpg' in followed.filenames


def test_follow_links_lists_each_real_folder_once(tree):
    # A loop back to the root, links from cats to the dogs' folder and to a
    # sub-folder of it, and a link out of the tree (followed, once).
    write_image(tree / 'dogs' / 'more' / 'dog.9.jpg', 19)
    write_image(tree.parent / 'outside' / 'cat.8.jpg', 8)
    (tree / 'cats' / 'loop').symlink_to(tree, target_is_directory=True)
    (tree / 'cats' / 'dogs_too').symlink_to(tree / 'dogs', target_is_directory=True)
    (tree / 'cats' / 'dogs_more').symlink_to(tree / 'dogs' / 'more', target_is_directory=True)
    (tree / 'cats' / 'out').symlink_to(tree.parent / 'outside', target_is_directory=True)
    (tree / 'cats' / 'more' / 'out_again').symlink_to(tree.parent / 'outside',
                                                      target_is_directory=True)
    it = ImageDataGenerator().flow_from_directory(tree, target_size=(8, 8), follow_links=True,
                                                  shuffle=False)
    labelled = {f: int(label) for f, label in zip(it.filenames, it.classes)}
    assert sorted(f for f, label in labelled.items() if label == 0) == \
        ['cats/cat.0.jpg', 'cats/cat.1.jpg', 'cats/cat.2.jpg', 'cats/cat.3.jpg',
         'cats/more/cat.9.PNG', 'cats/out/cat.8.jpg']
    assert sorted(f for f, label in labelled.items() if label == 1) == \
        ['dogs/dog.0.jpg', 'dogs/dog.1.jpg', 'dogs/dog.2.jpg', 'dogs/dog.3.jpg',
         'dogs/more/dog.9.jpg']


def test_hidden_folders_are_neither_classes_nor_class_content(tree):
    # What Jupyter leaves beside the class folders and inside them.
    write_image(tree / '.ipynb_checkpoints' / 'cat.0-checkpoint.jpg', 0)
    write_image(tree / 'dogs' / '.ipynb_checkpoints' / 'dog.0-checkpoint.jpg', 10)
    it = ImageDataGenerator().flow_from_directory(tree, target_size=(8, 8),
                                                  class_mode='binary', shuffle=False)
    assert it.class_indices == {'cats': 0, 'dogs': 1} and it.samples == 9
    assert set(np.unique(next(it)[1])) <= {0.0, 1.0}


def test_binary_needs_two_classes_and_names_those_found(tree):
    (tree / 'horses').mkdir()
    write_image(tree / 'horses' / 'horse.0.jpg', 30)
    with pytest.raises(ValueError, match=r"exactly 2 classes; found 3: "
                                         r"\['cats', 'dogs', 'horses'\]") as error:
        ImageDataGenerator().flow_from_directory(tree, class_mode='binary')
    assert str(tree) in str(error.value)
    with pytest.raises(ValueError, match=r"found 1: \['cats'\]"):
        ImageDataGenerator().flow_from_directory(tree, classes=['cats'], class_mode='binary')


def test_missing_empty_and_imageless_directories(tmp_path, tree):
    gen = ImageDataGenerator()
    with pytest.raises(FileNotFoundError, match='does not exist'):
        gen.flow_from_directory(tmp_path / 'nowhere')
    with pytest.raises(ValueError, match='no class sub-folders'):
        gen.flow_from_directory(tree / 'cats' / 'more')
    (tmp_path / 'empty' / 'a').mkdir(parents=True)
    (tmp_path / 'empty' / 'a' / 'readme.txt').write_text('x')
    with pytest.warns(UserWarning, match="class 'a'"), pytest.raises(ValueError,
                                                                     match='no images found'):
        gen.flow_from_directory(tmp_path / 'empty')
    (tree / 'zz_empty').mkdir()
    with pytest.warns(UserWarning, match="class 'zz_empty'"):
        it = gen.flow_from_directory(tree, target_size=(8, 8))
    assert it.num_classes == 3  # empty folders still count, as in Keras
    with pytest.raises(FileNotFoundError, match='class folder'):
        gen.flow_from_directory(tree, classes=['cats', 'horses'])


@pytest.fixture
def tree_with_bad_files(tree):
    (tree / 'cats' / 'empty.jpg').write_bytes(b'')
    (tree / 'dogs' / 'fake.png').write_text('hello')
    good = (tree / 'dogs' / 'dog.0.jpg').read_bytes()
    (tree / 'dogs' / 'half.jpg').write_bytes(good[:len(good) // 2])
    return tree


def test_unreadable_files_raise_and_the_iterator_keeps_its_place(tree_with_bad_files):
    it = ImageDataGenerator().flow_from_directory(tree_with_bad_files, target_size=(8, 8),
                                                  batch_size=1, shuffle=False, workers=2)
    assert it.samples == 12
    bad = {i for i, name in enumerate(it.filenames)
           if name in ('cats/empty.jpg', 'dogs/fake.png', 'dogs/half.jpg')}
    for i in range(len(it) + 2):
        if i % len(it) in bad:
            with pytest.raises(UnreadableImageError, match=it.filenames[i % len(it)]):
                next(it)
        else:
            np.testing.assert_array_equal(next(it)[1][0, it.classes[i % len(it)]], 1)


def test_skip_unreadable_lists_them_once_with_a_count(tree_with_bad_files, capsys):
    with pytest.warns(UserWarning, match='skipped 3 unreadable') as record:
        it = ImageDataGenerator().flow_from_directory(tree_with_bad_files, target_size=(8, 8),
                                                      batch_size=4, skip_unreadable=True)
    message = str(record[0].message)
    assert 'empty.jpg' in message and 'fake.png' in message and 'half.jpg' in message
    assert capsys.readouterr().out == 'Found 9 images belonging to 2 classes.\n'
    assert sum(len(next(it)[0]) for _ in range(len(it))) == 9


def test_odd_image_kinds_in_a_class_folder(tmp_path):
    root = tmp_path / 'kinds'
    base = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    (root / 'a').mkdir(parents=True)
    Image.fromarray(base).convert('L').save(root / 'a' / 'gray.png')
    Image.fromarray(base).convert('CMYK').save(root / 'a' / 'cmyk.jpg')
    palette = Image.fromarray(base).convert('P', palette=Image.Palette.ADAPTIVE)
    palette.save(root / 'a' / 'palette.png')
    Image.fromarray(base).convert('RGBA').save(root / 'a' / 'rgba.png')
    Image.fromarray((base[..., 0].astype(np.uint16) * 257)).save(root / 'a' / 'deep.png')
    x, _ = next(ImageDataGenerator().flow_from_directory(root, target_size=(16, 16),
                                                         batch_size=5))
    assert x.shape == (5, 16, 16, 3) and x.min() >= 0 and x.max() <= 255
    assert all(len(np.unique(image)) > 10 for image in x)


def test_real_cats_and_dogs(shared_data):
    it = ImageDataGenerator(**AUGMENT).flow_from_directory(
        shared_data / 'cats_and_dogs_small' / 'train', target_size=(150, 150), batch_size=32,
        class_mode='binary', seed=0)
    assert it.samples == 2000 and len(it) == 63 and it.class_indices == {'cats': 0, 'dogs': 1}
    x, y = next(it)
    assert x.shape == (32, 150, 150, 3) and x.dtype == np.float32 and 0 <= x.min() <= x.max() <= 1
    assert set(np.unique(y)) <= {0.0, 1.0}
    it.close()
    assert isinstance(it, DirectoryIterator)


# ---------------------------------------------------------------- data frames
def test_flow_from_dataframe(tree, capsys):
    pandas = pytest.importorskip('pandas')
    frame = pandas.DataFrame({
        'filename': ['cats/cat.0.jpg', 'dogs/dog.1.jpg', 'cats/missing.jpg', 'dogs/dog.2.jpg'],
        'class': ['cat', 'dog', 'cat', 'dog'],
        'score': [0.5, 1.5, 2.5, 3.5],
        'weight': [1.0, 2.0, 3.0, 4.0]})
    gen = ImageDataGenerator()
    with pytest.warns(UserWarning, match='1 invalid image filename'):
        it = gen.flow_from_dataframe(frame, tree, target_size=(8, 8), batch_size=3,
                                     shuffle=False, weight_col='weight')
    assert capsys.readouterr().out == ('Found 3 validated image filenames belonging to 2 '
                                       'classes.\n')
    x, y, w = next(it)
    assert x.shape == (3, 8, 8, 3) and it.class_indices == {'cat': 0, 'dog': 1}
    np.testing.assert_array_equal(y, [[1, 0], [0, 1], [0, 1]])
    np.testing.assert_array_equal(w, [1, 2, 4])
    raw = gen.flow_from_dataframe(frame.drop(index=2), tree, y_col='score', class_mode='raw',
                                  target_size=(8, 8), shuffle=False)
    np.testing.assert_array_equal(next(raw)[1], [0.5, 1.5, 3.5])
    multi = gen.flow_from_dataframe(frame.drop(index=2), tree, y_col=['score', 'weight'],
                                    class_mode='multi_output', target_size=(8, 8),
                                    shuffle=False)
    np.testing.assert_array_equal(next(multi)[1][1], [1, 2, 4])
    frame['class'] = ['a', 'b', 'c', 'd']
    with pytest.raises(ValueError, match='exactly 2 classes'):
        gen.flow_from_dataframe(frame, tree, class_mode='binary', validate_filenames=False)
