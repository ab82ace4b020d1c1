"""Atomic file writes: a save either completes or leaves the old file alone.

The file is written under a temporary name in the same folder (so the final
``os.replace`` is a rename within one file system, which is atomic) and only
renamed over the target once everything was written. On any error the
temporary file is removed and the target is untouched.

Temporaries are hidden files beside the target, named
``.<target name>.<host>.<pid>.<random hex>.tmp``. A save whose process was
killed cannot remove its own; the next save of the same target removes the
ones whose process is gone (never one that a live save, of this or another
process of this host, is still writing).

A Ctrl-C never leaves a temporary behind: it is held back
(``core.interrupts``) while the temporary is created or removed.
"""
import contextlib
import errno
import os
import secrets
import socket

from .interrupts import defer_interrupts

TEMP_SUFFIX = '.tmp'
_HOST = socket.gethostname()
_TOKEN_BYTES = 8
# Write errors that come without a file name, reported against the target.
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


@contextlib.contextmanager
def atomic_write(filepath, overwrite=True):
    """Yield a temporary path to write to; on success it becomes ``filepath``.

    Args:
        filepath: the final path. Missing parent folders are created.
        overwrite: if False and ``filepath`` exists, raise FileExistsError
            (Keras asks on the terminal instead; a library should not).

    Before anything is written, an OSError naming ``filepath`` is raised
    when it is a directory or its folder cannot be created or written to;
    a full disk during the write raises OSError (ENOSPC) naming it too.
    Ctrl-C during the write stops it (a download may take minutes) and the
    temporary is removed; callers that must not be cut short hold Ctrl-C
    back themselves (``saving.save_model``).
    """
    target = os.fspath(filepath)
    tmp_path = None
    try:
        with defer_interrupts():   # a Ctrl-C comes once tmp_path is known
            tmp_path = _create_temporary(target, overwrite)
        yield tmp_path
        os.replace(tmp_path, target)
    except BaseException as e:
        if tmp_path is None:   # _create_temporary failed: nothing to clean
            raise
        with defer_interrupts(), contextlib.suppress(FileNotFoundError):
            os.remove(tmp_path)
        if isinstance(e, OSError) and (e.filename == tmp_path or e.errno in _DISK_FULL):
            raise _save_error(target, e, 'the file was not written (any previous '
                              'version is unchanged)') from e
        raise


def _create_temporary(target, overwrite):
    """Check that ``target`` can be saved, then create its empty temporary."""
    if os.path.isdir(target):
        raise IsADirectoryError(errno.EISDIR, 'Is a directory: cannot save a file in '
                                'its place', target)
    if not overwrite and os.path.exists(target):
        raise FileExistsError(f"{target} already exists; pass overwrite=True "
                              "to replace it")
    folder, name = os.path.split(os.path.abspath(target))
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as e:
        raise _save_error(target, e, f'cannot create the folder {folder}') from e
    _remove_stale_temporaries(folder, name)
    tmp_path = os.path.join(folder, f'.{name}.{_HOST}.{os.getpid()}.'
                                    f'{secrets.token_hex(_TOKEN_BYTES)}{TEMP_SUFFIX}')
    try:
        # Mode 0o666 less the umask, as a plain open() gives: the kernel applies
        # the umask, which Python could only read by setting it.
        os.close(os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except OSError as e:
        raise _save_error(target, e, f'cannot create a file in the folder {folder}') from e
    return tmp_path


def _remove_stale_temporaries(folder, name):
    """Remove the temporaries of ``folder/name`` left by saves of this host
    whose process is gone (killed while writing)."""
    if os.name != 'posix':   # os.kill(pid, 0) tests a process only on POSIX
        return
    prefix = f'.{name}.{_HOST}.'
    try:
        entries = os.listdir(folder)
    except OSError:
        return
    for entry in entries:
        if not (entry.startswith(prefix) and entry.endswith(TEMP_SUFFIX)):
            continue
        pid, _, token = entry[len(prefix):-len(TEMP_SUFFIX)].partition('.')
        if (pid.isdigit() and len(token) == 2 * _TOKEN_BYTES
                and not _process_alive(int(pid))):
            with contextlib.suppress(OSError):
                os.remove(os.path.join(folder, entry))


def _process_alive(pid):
    try:
        os.kill(pid, 0)   # signal 0 sends nothing: it only checks the process
    except ProcessLookupError:
        return False
    except PermissionError:   # it exists, under another user
        return True
    return True


def _save_error(target, cause, what):
    """An OSError of ``cause``'s kind (same errno) that names ``target``."""
    return OSError(cause.errno, f'{cause.strerror or cause}: {what}', target)
