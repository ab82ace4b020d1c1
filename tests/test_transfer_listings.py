"""The book's section 5.3 listings through examples/run_listing.py with the
SqueezeNet stand-in for VGG16 (examples/pretrained_base.py), on a tiny
cats-and-dogs-shaped dataset."""
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
sys.path.insert(0, str(EXAMPLES))
import pretrained_base  # noqa: E402


@pytest.fixture
def tiny_data(shared_data, tmp_path):
    """DEEPZERO_DATA with the real SqueezeNet file and a 4/4/4-image cats_and_dogs_small."""
    weights = shared_data / 'pretrained' / WEIGHTS_FILE_NO_TOP.name
    if not weights.is_file():
        pytest.skip(f'SqueezeNet weights not found at {weights}')
    root = tmp_path / 'data'
    (root / 'pretrained').mkdir(parents=True)
    os.symlink(weights, root / 'pretrained' / weights.name)
    rng = np.random.default_rng(0)
    for split in ('train', 'validation', 'test'):
        for animal in ('cats', 'dogs'):
            folder = root / 'cats_and_dogs_small' / split / animal
            folder.mkdir(parents=True)
            for i in range(2):
                pixels = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(folder / f'{animal[:-1]}.{i}.jpg')
    return root


def test_stand_in_matches_squeezenet_with_caffe_inputs_and_a_final_pool(shared_data):
    from deepzero.applications import SqueezeNet, squeezenet
    weights = shared_data / 'pretrained' / WEIGHTS_FILE_NO_TOP.name
    if not weights.is_file():
        pytest.skip(f'SqueezeNet weights not found at {weights}')
    import deepzero.keras.applications as keras_applications
    original = keras_applications.VGG16
    with pretrained_base.substituted('squeezenet', shared_data):
        conv_base = keras_applications.VGG16(weights='imagenet', include_top=False,
                                             input_shape=(150, 150, 3))
    assert keras_applications.VGG16 is original
    assert conv_base.output_shape == (None, 4, 4, 512)   # VGG16's at 150x150
    reference = SqueezeNet(include_top=False, weights=str(weights), input_shape=(150, 150, 3))
    images = np.random.default_rng(0).random((2, 150, 150, 3)).astype('float32')
    expected = reference.predict(squeezenet.preprocess_input(images * 255), verbose=0)
    expected = expected.reshape(2, 4, 2, 4, 2, 512).max(axis=(2, 4))
    np.testing.assert_allclose(conv_base.predict(images, verbose=0), expected, rtol=1e-5,
                               atol=1e-4)

    from deepzero.keras import layers, models
    model = models.Sequential([conv_base, layers.Flatten(), layers.Dense(256, activation='relu'),
                               layers.Dense(1, activation='sigmoid')])
    set_trainable = False
    for layer in conv_base.layers:   # the book's loop with the mapped name
        if layer.name == pretrained_base.LAYER_NAMES['block5_conv1']:
            set_trainable = True
        layer.trainable = set_trainable
    assert len(model.trainable_weights) == 10   # as the book's count with VGG16


def test_layer_names_of_the_fine_tuning_loop_are_mapped():
    line = "    if layer.name == 'block5_conv1':"
    assert pretrained_base.map_layer_names(line, 'squeezenet') == \
        "    if layer.name == 'fire9_squeeze1x1':"
    assert pretrained_base.map_layer_names(line, 'vgg16') == line


def test_fine_tuning_listing_runs_unattended_with_squeezenet(tiny_data, tmp_path):
    out = tmp_path / 'run'
    env = dict(os.environ, DEEPZERO_DATA=str(tiny_data), MPLBACKEND='Agg')
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / 'run_listing.py'),
         str(EXAMPLES / 'listing_5_3_2_fine_tuning.py'), '--out', str(out),
         '--base', 'squeezenet', '--epochs', '1,2', '--steps', '1'],
        env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    log = result.stdout
    assert 'conv base for VGG16(...) calls: squeezenet' in log
    assert 'before freezing the conv base: 54' in log   # VGG16: 30 (26 + 4)
    assert 'after freezing the conv base: 4' in log
    assert 'test acc:' in log
    fits = json.loads((out / 'history.json').read_text())
    assert [fit['epochs'] for fit in fits] == [1, 2]   # head training, then fine-tuning
    assert (out / 'cats_and_dogs_small_3.h5').is_file()
    assert (out / 'cats_and_dogs_small_4.h5').is_file()
    assert len(list(out.glob('figure_*.png'))) == 6
