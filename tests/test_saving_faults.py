"""Saving when things go wrong: Ctrl-C during fit and saves, processes killed
mid-save, full disks, folders that cannot be written, and file modes."""
import contextlib
import errno
import os
import pathlib
import queue
import signal
import socket
import stat
import subprocess
import sys
import threading
import time

import h5py
import numpy as np
import pytest

from deepzero import layers, optimizers, saving
from deepzero.core.interrupts import defer_interrupts
from deepzero.models import Sequential
from deepzero.core.files import atomic_write

REPO = pathlib.Path(__file__).resolve().parent.parent
SAVES = ['m.h5', 'm.keras', 'm.weights.h5']


def small_model(units=8):
    model = Sequential([layers.Input((4,)), layers.Dense(units, activation='relu'),
                        layers.Dense(1)])
    model.compile(optimizers.Adam(), 'mse')
    return model


def save(model, path):
    if path.name.endswith('.weights.h5'):
        model.save_weights(path)
    else:
        model.save(path)


def child_env():
    return dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(REPO)] + [p for p in [os.environ.get('PYTHONPATH')] if p]))


# --- Ctrl-C -----------------------------------------------------------------------------
def test_defer_interrupts_delivers_ctrl_c_when_the_block_ends():
    before = signal.getsignal(signal.SIGINT)
    finished = []
    with pytest.raises(KeyboardInterrupt):
        with defer_interrupts():
            signal.raise_signal(signal.SIGINT)
            time.sleep(0.01)   # Python has run its handlers by now
            finished.append(True)
    assert finished == [True]
    assert signal.getsignal(signal.SIGINT) is before
    with defer_interrupts():   # nothing held: nothing raised
        pass


def test_defer_interrupts_does_nothing_off_the_main_thread():
    seen = []

    def worker():
        with defer_interrupts():
            seen.append(signal.getsignal(signal.SIGINT))

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == [signal.getsignal(signal.SIGINT)]


@pytest.mark.parametrize('filename', SAVES)
def test_ctrl_c_during_a_save_takes_effect_once_the_file_is_complete(tmp_path, monkeypatch,
                                                                      filename):
    model = small_model()
    real = h5py.Group.create_dataset

    def interrupted(self, *args, **kwargs):
        signal.raise_signal(signal.SIGINT)   # Ctrl-C while the weights are written
        return real(self, *args, **kwargs)

    monkeypatch.setattr(h5py.Group, 'create_dataset', interrupted)
    with pytest.raises(KeyboardInterrupt):
        save(model, tmp_path / filename)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == [filename]
    restored = small_model()
    restored.load_weights(tmp_path / filename)
    for saved, loaded in zip(model.get_weights(), restored.get_weights()):
        np.testing.assert_array_equal(saved, loaded)


def test_ctrl_c_stops_other_atomic_writes_and_removes_the_temporary(tmp_path):
    target = tmp_path / 'weights-download.h5'
    target.write_bytes(b'old')
    written = []
    with pytest.raises(KeyboardInterrupt):
        with atomic_write(target) as temporary:   # a download may take minutes
            signal.raise_signal(signal.SIGINT)
            written.append(temporary)
    assert written == []
    assert target.read_bytes() == b'old'
    assert os.listdir(tmp_path) == ['weights-download.h5']


def test_ctrl_c_during_the_optimizer_update_lets_every_weight_step(rng):
    x = rng.random((4, 4), dtype=np.float32)
    y = rng.random((4, 1), dtype=np.float32)
    reference, model = small_model(), small_model()
    model.set_weights(reference.get_weights())
    reference.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    update_step = model.optimizer.update_step

    def interrupted_update(*args):
        if model.optimizer.iterations == 0:
            signal.raise_signal(signal.SIGINT)   # Ctrl-C on the first weight
        update_step(*args)

    model.optimizer.update_step = interrupted_update
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, batch_size=4, epochs=5, shuffle=False, verbose=0)
    assert model.optimizer.iterations == 1
    for stepped, expected in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(stepped, expected)


# A process that trains with a checkpoint every batch. Each 'go' line starts a
# fit that only Ctrl-C ends; then it prints the files of the checkpoint's
# folder, after loading the checkpoint. After 'last', KeyboardInterrupt ends
# the process.
FIT_UNTIL_INTERRUPTED = r'''
import os, sys
import numpy as np
from deepzero import callbacks, layers, saving
from deepzero.models import Sequential

checkpoint = sys.argv[1]
model = Sequential([layers.Input((4,)), layers.Dense(8, activation='relu'), layers.Dense(1)])
model.compile('adam', 'mse')
x = np.random.default_rng(0).random((16, 4), dtype=np.float32)
y = x.sum(axis=1, keepdims=True)

def fit():
    started = callbacks.LambdaCallback(on_train_begin=lambda logs: print('training', flush=True))
    model.fit(x, y, batch_size=1, epochs=10**9, verbose=0,
              callbacks=[callbacks.ModelCheckpoint(checkpoint, save_freq=1), started])
    print('fit returned', flush=True)

for command in sys.stdin:
    if command.strip() == 'last':
        fit()
    try:
        fit()
    except KeyboardInterrupt:
        files = sorted(os.listdir(os.path.dirname(checkpoint)))
        if files:   # else Ctrl-C came before the first save
            saving.load_model(checkpoint)
        print('interrupted', *files, flush=True)
'''
TRIALS = 100
LATEST_SIGINT_S = 0.03   # a batch and its save take a few ms: SIGINTs land all over them
PROMPT_S = 10            # generous for a loaded machine; a swallowed Ctrl-C never answers


def test_ctrl_c_always_stops_fit_with_a_checkpoint_every_batch(tmp_path):
    checkpoint = tmp_path / 'run' / 'ckpt.h5'
    checkpoint.parent.mkdir()
    stderr_path = tmp_path / 'stderr.txt'
    with open(stderr_path, 'w') as stderr:
        child = subprocess.Popen([sys.executable, '-c', FIT_UNTIL_INTERRUPTED, str(checkpoint)],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
                                 text=True, env=child_env())
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line.strip()) for line in child.stdout],
                     daemon=True).start()

    def next_line():
        try:
            return lines.get(timeout=PROMPT_S)
        except queue.Empty:
            return f'nothing within {PROMPT_S} s'

    try:
        for trial in range(TRIALS):
            last = trial == TRIALS - 1
            child.stdin.write('last\n' if last else 'go\n')
            child.stdin.flush()
            assert next_line() == 'training', stderr_path.read_text()[-3000:]
            delay = LATEST_SIGINT_S * trial / TRIALS
            time.sleep(delay)
            child.send_signal(signal.SIGINT)
            where = f'trial {trial}, SIGINT {1000 * delay:.1f} ms after fit began'
            if last:
                child.wait(timeout=PROMPT_S)
            else:
                assert next_line() in ('interrupted ckpt.h5', 'interrupted'), \
                    f'{where}:\n{stderr_path.read_text()[-3000:]}'
    finally:
        child.kill()
        child.wait()
    stderr = stderr_path.read_text()
    assert child.returncode == -signal.SIGINT, f'{where}:\n{stderr[-3000:]}'
    assert stderr.rstrip().endswith('KeyboardInterrupt')
    assert 'Exception ignored' not in stderr, stderr[-3000:]
    assert sorted(os.listdir(checkpoint.parent)) == ['ckpt.h5']
    saving.load_model(checkpoint)


# --- temporaries of killed saves ----------------------------------------------------------
def temporary_name(target, pid, host=socket.gethostname()):
    return f'.{target}.{host}.{pid}.0123456789abcdef.tmp'


def dead_pid():
    process = subprocess.Popen([sys.executable, '-c', 'pass'])
    process.wait()   # reaped: the pid names no process now
    return process.pid


def test_next_save_removes_the_temporary_of_a_save_killed_mid_write(tmp_path):
    target = tmp_path / 'm.h5'
    killed_mid_write = (
        'import sys, time\n'
        'from deepzero.core.files import atomic_write\n'
        'with atomic_write(sys.argv[1]) as tmp_path:\n'
        '    open(tmp_path, "wb").write(b"half a model")\n'
        '    print("writing", flush=True)\n'
        '    time.sleep(60)\n')
    child = subprocess.Popen([sys.executable, '-c', killed_mid_write, str(target)],
                             stdout=subprocess.PIPE, text=True, env=child_env())
    assert child.stdout.readline() == 'writing\n'
    child.kill()
    child.wait()
    child.stdout.close()
    left = os.listdir(tmp_path)
    assert len(left) == 1 and left[0].startswith('.m.h5.') and left[0].endswith('.tmp')
    save(small_model(), target)
    assert os.listdir(tmp_path) == ['m.h5']


def test_next_save_keeps_temporaries_of_live_saves_and_other_files(tmp_path):
    sleeper = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])
    try:
        stale = temporary_name('m.keras', dead_pid())
        kept = [temporary_name('m.keras', os.getpid()),    # a save in another thread
                temporary_name('m.keras', sleeper.pid),     # a save in another process
                temporary_name('m.keras', dead_pid(), host='other-host'),
                temporary_name('other.keras', dead_pid())]
        for name in [stale] + kept:
            (tmp_path / name).write_bytes(b'partial')
        save(small_model(), tmp_path / 'm.keras')
    finally:
        sleeper.kill()
        sleeper.wait()
    assert sorted(os.listdir(tmp_path)) == sorted(kept + ['m.keras'])


# --- errors that name the target, raised before writing --------------------------------------
@pytest.mark.parametrize('filename', SAVES)
def test_saving_onto_a_directory_fails_before_any_work(tmp_path, monkeypatch, filename):
    target = tmp_path / filename
    target.mkdir()
    opened = []
    real_file = h5py.File
    monkeypatch.setattr(h5py, 'File', lambda *a, **k: opened.append(a) or real_file(*a, **k))
    with pytest.raises(IsADirectoryError, match='Is a directory') as raised:
        save(small_model(), target)
    assert raised.value.filename == str(target)
    assert opened == []
    assert os.listdir(tmp_path) == [filename]


@pytest.mark.parametrize('filename', SAVES)
def test_a_folder_that_cannot_be_created_is_named_with_the_target(tmp_path, filename):
    (tmp_path / 'file').write_text('not a folder')
    target = tmp_path / 'file' / 'sub' / filename
    with pytest.raises(OSError, match='cannot create the folder') as raised:
        save(small_model(), target)
    assert raised.value.filename == str(target)
    assert os.listdir(tmp_path) == ['file']


@contextlib.contextmanager
def tmpfs_at(folder, options):
    """A tmpfs mounted at ``folder`` (needs root) while the block runs, or
    skip the test."""
    folder.mkdir()
    result = subprocess.run(['mount', '-t', 'tmpfs', '-o', options, 'tmpfs', str(folder)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f'cannot mount a tmpfs here: {result.stderr.strip()}')
    try:
        yield folder
    finally:
        subprocess.run(['umount', str(folder)], check=True)


@pytest.fixture(params=['chmod', 'read-only mount'])
def unwritable_folder(request, tmp_path):
    """A folder no file can be created in, made by permission bits (root
    ignores them) or by a read-only file system."""
    folder = tmp_path / 'locked'
    if request.param == 'chmod':
        if os.geteuid() == 0:
            pytest.skip('root ignores permission bits; the read-only mount case covers it')
        folder.mkdir()
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
    else:
        with tmpfs_at(folder, 'ro,size=1m'):
            yield folder


@pytest.mark.parametrize('filename', SAVES)
def test_a_folder_that_cannot_be_written_is_named_with_the_target(unwritable_folder,
                                                                   filename):
    target = unwritable_folder / filename
    with pytest.raises(OSError, match='cannot create a file in the folder') as raised:
        save(small_model(), target)
    assert raised.value.filename == str(target)
    assert raised.value.errno in (errno.EACCES, errno.EROFS)
    assert os.listdir(unwritable_folder) == []


# --- full disks ------------------------------------------------------------------------------
@pytest.fixture
def small_disk(tmp_path):
    """A 64 KiB file system (a tmpfs, which needs root), or skip."""
    with tmpfs_at(tmp_path / 'small', 'size=64k') as folder:
        yield folder


@pytest.mark.parametrize('filename', SAVES)
def test_full_disk_raises_os_error_naming_the_target_and_keeps_the_old_file(small_disk,
                                                                            filename):
    target = small_disk / filename
    save(small_model(units=8), target)
    before = target.read_bytes()
    big = small_model(units=4096)   # 80 KiB of weights: more than the disk holds
    with pytest.raises(OSError, match='No space left on device') as raised:
        save(big, target)
    assert raised.value.errno == errno.ENOSPC
    assert raised.value.filename == str(target)
    assert target.read_bytes() == before
    assert os.listdir(small_disk) == [filename]


def test_disk_full_while_writing_names_the_target(tmp_path):
    target = tmp_path / 'm.npz'
    with pytest.raises(OSError) as raised:
        with atomic_write(target):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert raised.value.errno == errno.ENOSPC
    assert raised.value.filename == str(target)
    assert os.listdir(tmp_path) == []


# --- file modes --------------------------------------------------------------------------------
@pytest.fixture
def umask_027():
    set_umask = os.umask   # the test may replace os.umask
    previous = set_umask(0o027)
    yield 0o640   # the mode a plain open() gives a new file
    set_umask(previous)


@pytest.mark.parametrize('filename', SAVES)
def test_saved_files_get_the_umask_mode_without_touching_the_umask(tmp_path, monkeypatch,
                                                                    umask_027, filename):
    def no_umask(mask):
        raise AssertionError('the umask is process-wide: setting it races other threads')

    monkeypatch.setattr(os, 'umask', no_umask)
    target = tmp_path / filename
    save(small_model(), target)
    assert stat.S_IMODE(os.stat(target).st_mode) == umask_027
