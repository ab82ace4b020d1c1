"""examples/ch08_cats_vs_dogs.py (the second edition's chapter 8 notebook code,
imports changed) runs unattended through examples/run_listing.py: on tiny
generated data, and on a few real cats and dogs when the shared data is there."""
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
from PIL import Image

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / 'examples'
SPLITS = ('train', 'validation', 'test')


def run_chapter8(data, out, steps):
    env = dict(os.environ, DEEPZERO_DATA=str(data), MPLBACKEND='Agg')
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / 'run_listing.py'), str(EXAMPLES / 'ch08_cats_vs_dogs.py'),
         '--out', str(out), '--epochs', '1', '--steps', str(steps), '--base', 'vgg16'],
        env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def check_run(log, out, batch_shape):
    assert log.count('Found ') == 3 and 'belonging to 2 classes.' in log
    assert f'data batch shape: {batch_shape}' in log
    assert log.count('Test accuracy: ') == 2
    fits = json.loads((out / 'history.json').read_text())
    assert [fit['epochs'] for fit in fits] == [1, 1]
    assert set(fits[0]['history']) == {'loss', 'accuracy', 'val_loss', 'val_accuracy'}
    assert (out / 'convnet_from_scratch.keras').is_file()
    assert (out / 'convnet_from_scratch_with_augmentation.keras').is_file()
    assert len(list(out.glob('figure_*.png'))) == 3  # two curves, the augmented cats


def test_chapter8_on_tiny_images(tmp_path):
    rng = np.random.default_rng(0)
    for split in SPLITS:
        for animal in ('cats', 'dogs'):
            folder = tmp_path / 'data' / 'cats_and_dogs_small' / split / animal
            folder.mkdir(parents=True)
            for i in range(3):
                Image.fromarray(rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)).save(
                    folder / f'{animal[:-1]}.{i}.jpg')
    out = tmp_path / 'run'
    check_run(run_chapter8(tmp_path / 'data', out, steps=1), out, '(6, 180, 180, 3)')


def test_chapter8_on_a_few_real_images(shared_data, tmp_path):
    """16 real images per class and split (links into the shared data): one batch
    of 32 each, 2 training steps."""
    source = shared_data / 'cats_and_dogs_small'
    for split in SPLITS:
        for animal in ('cats', 'dogs'):
            folder = tmp_path / 'data' / 'cats_and_dogs_small' / split / animal
            folder.mkdir(parents=True)
            for name in sorted(os.listdir(source / split / animal))[:16]:
                os.symlink(source / split / animal / name, folder / name)
    out = tmp_path / 'run'
    check_run(run_chapter8(tmp_path / 'data', out, steps=2), out, '(32, 180, 180, 3)')
