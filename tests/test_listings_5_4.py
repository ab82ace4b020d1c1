"""The book's section 5.4 listings (examples/listing_5_4_*.py) run unattended
through examples/run_listing.py in a smoke mode: a tiny cats-and-dogs-shaped
dataset, one training step, one gradient-ascent step, one filter per grid.
The pictures they make for docs/visualizing.md come from the same commands
at full size."""
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from deepzero.applications.squeezenet import WEIGHTS_FILE_NO_TOP

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / 'examples'


def tiny_dataset(root, with_weights_from=None):
    """cats_and_dogs_small with 4 random images per class and split (the 5.2.5
    listing shows the fourth training cat), named as the listings' test
    images (cat.1700.jpg, dog.1502.jpg)."""
    rng = np.random.default_rng(0)
    for split in ('train', 'validation', 'test'):
        for animal, first in (('cats', 1700), ('dogs', 1500)):
            folder = root / 'cats_and_dogs_small' / split / animal
            folder.mkdir(parents=True)
            for i in range(4):
                pixels = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(folder / f'{animal[:-1]}.{first + i}.jpg')
    if with_weights_from is not None:
        (root / 'pretrained').mkdir()
        os.symlink(with_weights_from, root / 'pretrained' / with_weights_from.name)
    return root


@pytest.fixture
def squeezenet_weights(shared_data):
    weights = shared_data / 'pretrained' / WEIGHTS_FILE_NO_TOP.name
    if not weights.is_file():
        pytest.skip(f'SqueezeNet weights not found at {weights}')
    return weights


def run_listing(listing, out, data, *options, **env):
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / 'run_listing.py'), str(EXAMPLES / listing),
         '--out', str(out), *options],
        env=dict(os.environ, DEEPZERO_DATA=str(data), MPLBACKEND='Agg', **env),
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def figures(out):
    return sorted(p.name for p in out.glob('figure_*.png'))


def test_activations_listing_draws_the_channel_grids(tmp_path):
    data, out = tiny_dataset(tmp_path / 'data'), tmp_path / 'run'
    # --base vgg16: these listings build no conv base, so no weight file is needed
    run_listing('listing_5_2_5_augmentation.py', out, data, '--base', 'vgg16',
                '--epochs', '1', '--steps', '1')
    assert (out / 'cats_and_dogs_small_2.h5').is_file()
    for old in out.glob('figure_*.png'):
        old.unlink()
    log = run_listing('listing_5_4_1_activations.py', out, data, '--base', 'vgg16')
    assert '(1, 150, 150, 3)' in log and '(1, 148, 148, 32)' in log
    # the image, two channels of the first layer, a grid for each of 8 layers
    assert len(figures(out)) == 11


def test_filter_listing_runs_gradient_ascent_on_squeezenet(tmp_path, squeezenet_weights):
    data, out = tiny_dataset(tmp_path / 'data', squeezenet_weights), tmp_path / 'run'
    log = run_listing('listing_5_4_2_filters.py', out, data, '--base', 'squeezenet',
                      LISTING_ASCENT_STEPS='2', LISTING_FILTER_GRID='1')
    assert 'conv base for VGG16(...) calls: squeezenet' in log
    # the first pattern, then a grid for each of the four layers
    assert len(figures(out)) == 5


def test_grad_cam_listing_writes_the_heatmap(tmp_path, squeezenet_weights):
    data, out = tiny_dataset(tmp_path / 'data', squeezenet_weights), tmp_path / 'run'
    log = run_listing('listing_5_4_3_grad_cam.py', out, data, '--base', 'squeezenet',
                      '--epochs', '1', '--steps', '1')
    assert 'Predicted dog probability:' in log
    fits = json.loads((out / 'history.json').read_text())
    assert len(fits) == 2   # the 5.3 head training, then fine-tuning
    overlay = np.asarray(Image.open(out / 'dog_cam.png'))
    assert overlay.shape == (40, 50, 3)   # the test image's own size
    assert len(figures(out)) == 7   # 5.3's six curves, then the heatmap
