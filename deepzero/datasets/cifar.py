"""Reading CIFAR's pickled batches (shared by ``cifar10`` and ``cifar100``),
from Keras's extracted cache folder or straight from the downloaded archive."""
import io
import os
import tarfile

from .keras_cache import RestrictedUnpickler, datasets_dir


def _decode(stream, label_key):
    batch = {key.decode('utf8'): value
             for key, value in RestrictedUnpickler(stream, encoding='bytes').load().items()}
    data = batch['data']
    return data.reshape(data.shape[0], 3, 32, 32), batch[label_key]


class CifarFiles:
    """The batch files of one CIFAR archive. ``folder`` is the archive's top
    folder ('cifar-10-batches-py'); Keras 3 extracts it into
    ``datasets/<target>/``, Keras 2 into ``datasets/``; the archive itself
    (``<target>_archive`` or ``<folder>.tar.gz``) is read without extracting."""

    def __init__(self, folder, target, url, what):
        root = datasets_dir()
        self.folder = folder
        self._tar = None
        for extracted in (os.path.join(root, target, folder), os.path.join(root, folder)):
            if os.path.isdir(extracted):
                self._directory = extracted
                return
        for archive in (os.path.join(root, target + '_archive'),
                        os.path.join(root, folder + '.tar.gz')):
            if os.path.isfile(archive):
                self._tar = tarfile.open(archive, 'r:gz')
                return
        raise FileNotFoundError(
            f"{what}: CIFAR's files are not in Keras's dataset cache {root}. deepzero does not "
            f"download; fetch {url} and save it as {os.path.join(root, folder + '.tar.gz')} "
            f"(or extract it there, giving {os.path.join(root, folder)}/), or set KERAS_HOME "
            "to the folder that holds datasets/")

    def load_batch(self, name, label_key='labels'):
        """(uint8 data (n, 3, 32, 32), labels list) of batch file ``name``."""
        if self._tar is None:
            with open(os.path.join(self._directory, name), 'rb') as f:
                return _decode(f, label_key)
        member = self._tar.extractfile(f'{self.folder}/{name}')
        if member is None:
            raise FileNotFoundError(f'{self.folder}/{name} is not in the CIFAR archive')
        return _decode(io.BytesIO(member.read()), label_key)

    def close(self):
        if self._tar is not None:
            self._tar.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
