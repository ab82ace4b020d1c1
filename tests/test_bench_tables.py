"""The benchmark drivers' tables, from made-up results (nothing is timed here)."""
import importlib.util
import pathlib

import pytest

BENCH = pathlib.Path(__file__).resolve().parent.parent / 'bench'


def _load(monkeypatch, filename):
    monkeypatch.syspath_prepend(str(BENCH))  # the drivers import bench/harness.py
    spec = importlib.util.spec_from_file_location(f'bench_{filename[:-3]}', BENCH / filename)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _row(median_s, facts=None):
    return {'median_s': median_s, 'p25_s': median_s, 'p75_s': median_s, 'faults_per_call': 0,
            'max_rss_mb': 500.0, 'facts': facts or {}}


def _cells(table, workload, framework):
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip('|').split('|')]
        if cells[1:3] == [workload, framework]:
            return cells
    raise AssertionError(f'no row for {workload} {framework} in\n{table}')


def test_engine_table_ratios_to_keras_tf_then_torch_and_the_mults_column(monkeypatch):
    run = _load(monkeypatch, 'run.py')
    results = {'numpy_sgemm_gflops': 300.0, 'worker_per_workload': False, 'conditions': {
        'default': {'W1_train': {'keras_tf': _row(0.2),
                                 'deepzero_keras': _row(0.25, {'mults_gflop': 22.0}),
                                 'torch': _row(0.5)}}}}
    table = run.render(results, ['W1_train'], ['keras_tf', 'deepzero_keras', 'torch'])
    header = [c.strip() for c in table.splitlines()[4].strip('|').split('|')]
    assert header[6:10] == ['vs Keras/TF', 'vs torch NCHW', 'direct-conv GFLOP/s',
                            'mult GFLOP/s']
    assert _cells(table, 'W1_train', 'deepzero_keras')[6:10] == ['1.25', '0.50', '176', '88']
    # a worker that reports no multiplication count gets a dash, not the direct count
    assert _cells(table, 'W1_train', 'keras_tf')[6:10] == ['1.00', '0.40', '221', '-']
    assert 'over all the workloads it ran' in table


def test_engine_table_without_the_baselines_gives_dashes(monkeypatch):
    run = _load(monkeypatch, 'run.py')
    results = {'numpy_sgemm_gflops': None, 'worker_per_workload': True,
               'conditions': {'keep': {'W2_vgg_fwd': {'deepzero': _row(1.0)}}}}
    table = run.render(results, ['W2_vgg_fwd'], ['deepzero'])
    assert _cells(table, 'W2_vgg_fwd', 'deepzero')[6:8] == ['-', '-']
    assert 'only that workload' in table


def test_epoch_medians_leave_out_each_run_s_warmup_epochs(monkeypatch):
    epoch = _load(monkeypatch, 'epoch_time_5_2_5.py')
    def report(epoch_s, max_rss_mb):
        return {'epoch_s': epoch_s, 'max_rss_mb': max_rss_mb, 'steps_per_epoch': 63,
                'validation_steps': 32}
    runs = {'deepzero_keras': [report([40.0, 21.0, 20.0, 22.0], 600.0),
                               report([38.0, 20.0, 21.0, 19.0], 650.0)],
            'keras_tf': [report([30.0, 39.0, 25.0, 26.0], 900.0),
                         report([31.0, 38.0, 24.0, 27.0], 800.0)]}
    summary = epoch.summarise(runs, warmup=2)
    assert summary['deepzero_keras'] == {
        'steps': '63 + 32', 'median_epoch_s': 20.5, 'min_epoch_s': 19.0, 'max_epoch_s': 22.0,
        'measured_epochs': 4, 'median_warmup_epoch_s': [39.0, 20.5], 'max_rss_mb': 650.0}
    results = {'rounds': 2, 'epochs': 4, 'warmup': 2, 'loadavg_start': (0.5, 0, 0),
               'loadavg_end': (1.5, 0, 0), 'summary': summary}
    table = epoch.render(results)
    assert 'medians of epochs 3..' in table
    row = [c.strip() for c in table.splitlines()[-1].strip('|').split('|')]
    assert row == ['keras_tf', '63 + 32', '25.5', '24.0..27.0', '4', '30.5, 38.5', '1.00', '900']
    assert ('| deepzero_keras | 63 + 32 | 20.5 | 19.0..22.0 | 4 | 39.0, 20.5 | 0.80 | 650 |'
            in table)


@pytest.mark.parametrize('argv, message', [
    (['--epochs', '1'], 'argument --epochs: must be at least 2, not 1'),
    (['--epochs', '3', '--warmup', '3'], 'argument --epochs: must be more than --warmup (3), not 3'),
    (['--warmup', '0'], 'argument --warmup: must be at least 1, not 0'),
    (['--rounds', '0'], 'argument --rounds: must be at least 1, not 0'),
    (['--frameworks', 'deepzero_keras,tf'], 'unknown name(s) tf'),
])
def test_epoch_options_refuse_what_cannot_be_measured(monkeypatch, capsys, argv, message):
    epoch = _load(monkeypatch, 'epoch_time_5_2_5.py')
    monkeypatch.setattr('sys.argv', ['epoch_time_5_2_5.py'] + argv)
    with pytest.raises(SystemExit):
        epoch.parse_args()
    assert message in capsys.readouterr().err


def test_multiplication_counts(monkeypatch):
    """bench/conv_mults.py counts the direct convs as bench/run.py's GFLOP table
    does, and 'auto' (mostly F(4x4,3x3), F(3x3,3x3) on VGG16's 9x9 block5) at
    0.28-0.34 of that in every workload (the first convs, 3 channels in, stay
    direct)."""
    run = _load(monkeypatch, 'run.py')
    conv_mults = _load(monkeypatch, 'conv_mults.py')
    for name, gflop in run.GFLOP.items():
        assert conv_mults.workload_gflop(name, 'direct') == pytest.approx(gflop, abs=1e-3)
        assert 0.28 < conv_mults.workload_gflop(name, 'auto') / gflop < 0.34
    # one VGG16 conv by hand: 37x37 'same' -> 10 x 10 tiles of 4, 36 products each
    assert conv_mults.conv_gflop(20, 37, 256, 256, 'same', 'winograd4') == pytest.approx(
        2 * 36 * 256 * 256 * 100 * 20 / 1e9)


def _ops_row(median_s, ops):
    return {'median_s': median_s, 'samples_s': [median_s], 'ops': ops}


def test_dezero_ops_table_per_op_and_per_step_with_the_ratio_to_dezero(monkeypatch):
    bench = _load(monkeypatch, 'dezero_ops.py')
    results = {'rounds': 3, 'load_average': (1.0, 1.5, 2.0), 'benchmarks': {
        'chain_add_scalar': {'dezero': _ops_row(1e-3, 100), 'deepzero': _ops_row(1.5e-3, 100)},
        'rnn_step': {'dezero': _ops_row(5e-3, None), 'deepzero': _ops_row(4e-3, None)}}}
    rows = {line.split('|')[1].strip(): [c.strip() for c in line.strip('|').split('|')]
            for line in bench.render(results, ['dezero', 'deepzero']).splitlines()
            if line.startswith('| chain') or line.startswith('| rnn')}
    assert rows['chain_add_scalar'] == ['chain_add_scalar', 'us/op', '10', '15', '1.50']
    assert rows['rnn_step'] == ['rnn_step', 'ms/step', '5', '4', '0.80']


def test_dezero_ops_runs_every_benchmark_on_deepzero_alone(monkeypatch, capsys):
    bench = _load(monkeypatch, 'dezero_ops.py')
    frameworks = bench.load_frameworks(None)
    assert list(frameworks) == ['deepzero']
    assert 'DeZero skipped' in capsys.readouterr().out
    for name, (make, _) in bench.BENCHMARKS.items():
        run, ops = make(frameworks['deepzero'])
        run()
        assert ops in (bench.CHAIN, None), name
