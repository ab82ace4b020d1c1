"""``deepzero demo --transfer``: SqueezeNet feature extraction and fine-tuning
on a tiny generated dataset, with the real pretrained weights."""
import time
import urllib.error
import urllib.request

import pytest

from deepzero.applications.squeezenet import WEIGHTS_FILE_NO_TOP
from deepzero.cli import main
from deepzero.demo import make_stripes_dataset
from deepzero.demo_transfer import IMAGE_SIZE, run_transfer_demo
from test_demo import assert_keras_reads_the_same_model


@pytest.fixture
def squeezenet_weights(shared_data):
    path = shared_data / 'pretrained' / WEIGHTS_FILE_NO_TOP.name
    if not path.is_file():
        pytest.skip(f'SqueezeNet weights not found at {path}')
    return path


@pytest.fixture
def stripes(tmp_path):
    return make_stripes_dataset(tmp_path / 'stripes', train=16, validation=8)


def test_transfer_demo_runs_and_reuses_cached_features(stripes, squeezenet_weights, tmp_path,
                                                       capsys):
    start = time.perf_counter()
    results = run_transfer_demo(data=stripes, weights=str(squeezenet_weights), epochs=1,
                                fine_tune_epochs=1, out=tmp_path / 'out',
                                cache_dir=tmp_path / 'cache')
    assert time.perf_counter() - start < 60
    output = capsys.readouterr().out
    assert '1/1' in output   # predict's progress bar over the single validation batch
    assert 0 <= results['val_acc'] <= 1 and 0 <= results['fine_tuned_val_acc'] <= 1
    assert results['test_acc'] is None
    for name in ('model.h5', 'curves_features.png', 'curves_fine_tuning.png'):
        assert (tmp_path / 'out' / name).stat().st_size > 0
    assert_keras_reads_the_same_model(tmp_path / 'out' / 'model.h5', IMAGE_SIZE + (3,))
    assert len(list((tmp_path / 'cache').glob('*.npz'))) == 2

    run_transfer_demo(data=stripes, weights=str(squeezenet_weights), epochs=1,
                      fine_tune_epochs=1, out=tmp_path / 'out', cache_dir=tmp_path / 'cache')
    output = capsys.readouterr().out
    assert output.count('features of 16 samples loaded from') == 1
    assert output.count('features of 8 samples loaded from') == 1


def test_offline_without_weights_names_the_file_and_where_to_put_it(stripes, tmp_path,
                                                                     monkeypatch, capsys):
    monkeypatch.setenv('DEEPZERO_HOME', str(tmp_path / 'deepzero-home'))
    monkeypatch.setenv('KERAS_HOME', str(tmp_path / 'keras-home'))

    def offline(*args, **kwargs):
        raise urllib.error.URLError('no network')

    monkeypatch.setattr(urllib.request, 'urlopen', offline)
    assert main(['demo', '--transfer', '--data', str(stripes), '--out',
                 str(tmp_path / 'out')]) == 2
    error = capsys.readouterr().err
    assert error.count('\n') == 1
    assert WEIGHTS_FILE_NO_TOP.name in error
    assert str(tmp_path / 'deepzero-home' / 'models') in error
    assert '--weights PATH' in error
    assert not (tmp_path / 'out').exists()


def test_weights_option_needs_transfer(capsys):
    with pytest.raises(SystemExit):
        main(['demo', '--weights', 'x.h5'])
    assert '--weights needs --transfer' in capsys.readouterr().err
