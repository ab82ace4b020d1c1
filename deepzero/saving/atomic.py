"""Atomic file writes: a save either completes or leaves the old file alone.

The file is written under a temporary name in the same folder (so the final
``os.replace`` is a rename within one file system, which is atomic) and only
renamed over the target once everything was written. On any error the
temporary file is removed and the target is untouched.
"""
import contextlib
import os
import tempfile


@contextlib.contextmanager
def atomic_write(filepath, overwrite=True):
    """Yield a temporary path to write to; on success it becomes ``filepath``.

    Args:
        filepath: the final path. Missing parent folders are created.
        overwrite: if False and ``filepath`` exists, raise FileExistsError
            (Keras asks on the terminal instead; a library should not).
    """
    filepath = os.fspath(filepath)
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"{filepath} already exists; pass overwrite=True "
                              "to replace it")
    folder = os.path.dirname(os.path.abspath(filepath))
    os.makedirs(folder, exist_ok=True)
    fd, tmp_path = tempfile.mkstemp(dir=folder, prefix='.' + os.path.basename(filepath) + '.',
                                    suffix='.tmp')
    os.close(fd)
    try:
        # mkstemp makes the file private (0600); give it the mode a plain
        # open() would have, so saving atomically changes nothing for users.
        os.chmod(tmp_path, _plain_file_mode())
        yield tmp_path
        os.replace(tmp_path, filepath)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp_path)
        raise


def _plain_file_mode():
    """0o666 minus the process umask (which can only be read by setting it)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask
