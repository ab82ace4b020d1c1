"""The README's main command, `deepzero demo`, end to end on a tiny dataset."""
import h5py
import numpy as np

from deepzero.cli import main
from deepzero.demo import STRIPES_CLASSES, draw_stripes, make_stripes_dataset


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
