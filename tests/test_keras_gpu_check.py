"""bench/gpu_check.py, the GPU check of issue 13, runs every part on the CPU
in its smoke mode (tiny sizes) and writes its JSON and Markdown results."""
import json
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent


def test_the_gpu_check_runs_every_part_in_its_cpu_smoke_mode(tmp_path):
    pytest.importorskip('torch')
    out = tmp_path / 'gpu_check.json'
    done = subprocess.run(
        [sys.executable, str(REPO / 'bench' / 'gpu_check.py'), '--device', 'cpu', '--smoke',
         '--out', str(out), '--tests', 'tests/test_keras_gpu.py', '-k', 'feeder'],
        capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads(out.read_text())
    parts = results['parts']
    assert list(parts) == ['tests', 'equality', 'steps', 'tf32', 'epoch']
    assert all(part['ok'] for part in parts.values())
    assert 'passed' in parts['tests']['summary']
    assert all(w['max_relative_error'] == 0.0 for w in parts['equality']['workloads'].values())
    assert set(parts['steps']['seconds']) == {'deepzero', 'deepzero_keras', 'torch',
                                             'torch_channels_last'}
    assert set(parts['tf32']['seconds']) == {'W1_train', 'W1_infer', 'W2_vgg_fwd',
                                            'W3_finetune'}
    epoch = parts['epoch']
    assert len(epoch['epochs']) == 2 and 0 <= epoch['data_wait_share'] <= 1
    assert epoch['pipeline_images_per_second'] > 0
    table = out.with_suffix('.md').read_text()
    assert table.startswith('# GPU check: CPU') and 'deepzero / best torch' in table
