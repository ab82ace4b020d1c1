"""The README's main command, `deepzero demo`, end to end on a tiny dataset;
the data layouts both demos read; the command line's errors and options."""
import argparse
from unittest import mock

import h5py
import numpy as np
import pytest
from PIL import Image

import deepzero
import deepzero.saving
from deepzero import __version__
from deepzero.cli import build_parser, main
from deepzero.demo import (STRIPES_CLASSES, DataLayoutError, data_generators, draw_stripes,
                           make_stripes_dataset, output_folder, split_folders)
from deepzero.demo_transfer import iterators


def test_stripes_are_what_their_label_says():
    images, labels = draw_stripes(8, size=32, seed=1)
    assert images.dtype == np.uint8 and images.shape == (8, 32, 32, 3)
    gray = images.astype(np.float32).mean(axis=-1)
    for img, label in zip(gray, labels):
        # horizontal stripes vary down the rows and hardly along them
        across_rows, along_rows = img.mean(axis=1).std(), img.mean(axis=0).std()
        assert (across_rows > along_rows) == (label == 0)


def test_dataset_is_written_once(tmp_path):
    root = make_stripes_dataset(tmp_path / 'stripes', train=8, validation=4)
    files = sorted(root.rglob('*.jpg'))
    assert len(files) == 12
    assert {p.parent.name for p in files} <= set(STRIPES_CLASSES)
    stamp = files[0].stat().st_mtime_ns
    make_stripes_dataset(root, train=8, validation=4)
    assert files[0].stat().st_mtime_ns == stamp


def test_demo_command_trains_and_saves(tmp_path, capsys):
    data = make_stripes_dataset(tmp_path / 'stripes', train=32, validation=16)
    out = tmp_path / 'out'
    assert main(['demo', '--data', str(data), '--epochs', '1', '--out', str(out)]) == 0
    text = capsys.readouterr().out
    assert 'Found 32 images belonging to 2 classes.' in text
    assert 'Epoch 1/1' in text and 'val_acc' in text
    with h5py.File(out / 'model.h5', 'r') as f:
        assert 'model_config' in f.attrs
    assert (out / 'curves.png').read_bytes()[:4] == b'\x89PNG'
    assert_keras_reads_the_same_model(out / 'model.h5', (150, 150, 3))


def assert_keras_reads_the_same_model(path, input_shape):
    """Keras 3 loads deepzero's file and computes what deepzero computes."""
    keras = pytest.importorskip('keras')
    x = np.random.default_rng(0).uniform(0, 1, (2,) + input_shape).astype(np.float32)
    with deepzero.test_mode(), deepzero.no_grad():
        expected = deepzero.saving.load_model(path)(x).data
    got = keras.ops.convert_to_numpy(keras.saving.load_model(path)(x, training=False))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)


# --- the data layouts both demos read (deepzero.demo.split_folders) ----------------
def class_folders(root, classes=('ants', 'bees'), per_class=5):
    for c, name in enumerate(classes):
        images, _ = draw_stripes(per_class, size=32, seed=c)
        for i, image in enumerate(images):
            (root / name).mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(root / name / f'{name}.{i}.jpg')
    return root


def test_a_val_folder_is_the_validation_split_in_both_demos(tmp_path):
    class_folders(tmp_path / 'train')
    class_folders(tmp_path / 'val', per_class=2)
    train, val = data_generators(tmp_path, batch_size=4, seed=0)
    assert train.class_indices == val.class_indices == {'ants': 0, 'bees': 1}
    assert (train.samples, val.samples) == (10, 4)
    batches = iterators(tmp_path, batch_size=4, seed=0)
    assert batches['validation'].directory == str(tmp_path / 'val')
    assert batches['features_train'].class_indices == {'ants': 0, 'bees': 1}


def test_the_shared_ants_and_bees_layout_is_read(shared_data):
    data = shared_data / 'hymenoptera_data'
    if not data.is_dir():
        pytest.skip(f'{data} not found')
    assert split_folders(data) == {'train': data / 'train', 'validation': data / 'val',
                                   'test': None}


def test_class_folders_only_hold_out_a_fifth(tmp_path):
    class_folders(tmp_path)
    assert split_folders(tmp_path) is None
    train, val = data_generators(tmp_path, batch_size=4, seed=0)
    assert (train.samples, val.samples) == (8, 2)


@pytest.mark.parametrize('folders, message', [
    (['train/ants', 'train/bees'], 'has train/ but not both train/ and validation/'),
    (['train/ants', 'train/bees', 'valid/ants'], 'has train/ but not both'),
    (['train/ants', 'validation/ants', 'validation/bees'], r"train has 1 class folder\(s\) "
                                                           r"\['ants'\]"),
    (['ants', 'bees', 'wasps'], r"has 3 class folder\(s\) \['ants', 'bees', 'wasps'\]"),
    ([], r"has 0 class folder\(s\)"),
])
def test_a_layout_the_demos_do_not_read_is_refused(tmp_path, folders, message):
    for folder in folders:
        (tmp_path / folder).mkdir(parents=True)
    with pytest.raises(DataLayoutError, match=message) as error:
        split_folders(tmp_path)
    assert 'expected train/<class>/ and validation/<class>/ (or val/<class>/)' in \
        str(error.value)


# --- the command line --------------------------------------------------------------
@pytest.mark.parametrize('args, message', [
    (['--epochs', '0'], "argument --epochs: must be at least 1, got 0"),
    (['--seed', '-1'], "argument --seed: must be at least 0, got -1"),
    (['--seed', 'x'], "argument --seed: invalid int value: 'x'")])
def test_bad_numbers_are_argparse_errors(args, message, capsys):
    with pytest.raises(SystemExit) as exited:
        main(['demo'] + args)
    assert exited.value.code == 2 and message in capsys.readouterr().err


def test_user_mistakes_print_one_line_and_exit_2(tmp_path, capsys):
    assert main(['demo', '--data', str(tmp_path / 'nowhere')]) == 2
    error = capsys.readouterr().err
    assert error.count('\n') == 1 and 'Traceback' not in error
    assert error.startswith(f"deepzero demo: --data: no folder {tmp_path / 'nowhere'}; "
                            'expected train/<class>/')

    (tmp_path / 'three' / 'a').mkdir(parents=True)
    assert main(['demo', '--transfer', '--data', str(tmp_path / 'three')]) == 2
    assert "has 1 class folder(s) ['a']" in capsys.readouterr().err

    data = make_stripes_dataset(tmp_path / 'stripes', train=8, validation=4)
    broken = next((data / 'train' / 'vertical').iterdir())
    broken.write_bytes(b'')
    assert main(['demo', '--data', str(data), '--epochs', '1', '--out',
                 str(tmp_path / 'out')]) == 2
    assert capsys.readouterr().err == (f"deepzero demo: cannot read image {str(broken)!r}: the "
                                       "file is empty (0 bytes); remove or replace the file\n")

    (tmp_path / 'kaggle').mkdir()
    (tmp_path / 'kaggle' / 'cat.0.jpg').write_bytes(b'x')
    (tmp_path / 'dest' / 'old').mkdir(parents=True)
    assert main(['datasets', 'cats-dogs-small', str(tmp_path / 'kaggle'),
                 str(tmp_path / 'dest')]) == 2
    assert capsys.readouterr().err == (
        f"deepzero datasets: cats-dogs-small: destination {str(tmp_path / 'dest')!r} exists "
        "and is not empty; give a new folder (it is created) or empty this one\n")


def test_real_bugs_keep_their_traceback(tmp_path):
    with mock.patch('deepzero.demo.run_demo', side_effect=RuntimeError('a bug')):
        with pytest.raises(RuntimeError, match='a bug'):
            main(['demo'])


def test_version_and_help_for_every_option(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(['--version'])
    assert exit_.value.code == 0 and capsys.readouterr().out == f'deepzero {__version__}\n'
    parsers = [build_parser()]
    for parser in parsers:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                parsers += action.choices.values()
                assert all(choice.help for choice in action._choices_actions)
            else:
                assert action.help, f'{parser.prog} {action.dest} has no help'


def test_a_failed_demo_leaves_no_output_folder(tmp_path, capsys):
    data = make_stripes_dataset(tmp_path / 'stripes', train=8, validation=4)
    out = tmp_path / 'out'
    assert main(['demo', '--transfer', '--data', str(data), '--weights',
                 str(tmp_path / 'missing.h5'), '--out', str(out)]) == 2
    assert '--weights: no file at' in capsys.readouterr().err
    assert not out.exists()
    with pytest.raises(OSError, match='disk full'):
        with output_folder(out / 'runs' / 'first') as folder:
            (folder / 'model.h5').write_bytes(b'half')
            raise OSError('disk full')
    assert not out.exists()
    out.mkdir()
    with pytest.raises(OSError):
        with output_folder(out):
            raise OSError('disk full')
    assert out.is_dir()  # a folder the user had is kept
