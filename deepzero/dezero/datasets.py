"""DeZero's datasets (``dezero.datasets``): a ``Dataset`` gives
``(transform(data[i]), target_transform(label[i]))`` per index.

Generated here: ``Spiral`` (``get_spiral``) and ``SinCurve``, drawing from
NumPy's global generator as DeZero does, so a script that seeds it gets
DeZero's numbers.

Files: ``MNIST``, ``CIFAR10``, ``CIFAR100``, ``Shakespear`` and
``ImageNet.labels()`` read the files DeZero downloads, from DeZero's cache
folder (``~/.dezero``, or the folder named by the environment variable
DEZERO_CACHE_DIR) under DeZero's file names. deepzero never downloads: a
missing file raises ``utils.MissingDownload`` (a FileNotFoundError) naming
the file, the folder to put it in and the address to fetch it from
(``utils.get_file``).
"""
import ast
import gzip
import os
import pickle
import tarfile

import numpy as np

from ..core.files import atomic_write
from ..datasets.keras_cache import RestrictedUnpickler
from .transforms import Compose, Flatten, Normalize, ToFloat
from .utils import cache_dir, get_file

__all__ = ['Dataset', 'Spiral', 'get_spiral', 'SinCurve', 'MNIST', 'CIFAR10', 'CIFAR100',
           'ImageNet', 'Shakespear']


class Dataset:
    """Base class: subclasses fill ``self.data`` and ``self.label`` (or leave
    the label None) in ``prepare()``.

    Args:
        train: the training split (True) or the test split.
        transform: applied to each sample; identity when None.
        target_transform: applied to each label; identity when None.
    """

    def __init__(self, train=True, transform=None, target_transform=None):
        self.train = train
        self.transform = transform if transform is not None else _identity
        self.target_transform = target_transform if target_transform is not None else _identity
        self.data = None
        self.label = None
        self.prepare()

    def __getitem__(self, index):
        if not np.isscalar(index):
            raise TypeError(f"{type(self).__name__}[index]: index must be one integer "
                            f"(DataLoader makes the batches), got {type(index).__name__}")
        x = self.transform(self.data[index])
        if self.label is None:
            return x, None
        return x, self.target_transform(self.label[index])

    def __len__(self):
        return len(self.data)

    def prepare(self):
        pass


def _identity(x):
    return x


# --- generated ---------------------------------------------------------------

def get_spiral(train=True):
    """Three interleaved spirals of 100 points each: x (300, 2) float32, t
    (300,) int labels 0..2, shuffled. Seeds NumPy's global generator (1984 for
    train, 2020 for test) as DeZero does, so the points are DeZero's."""
    np.random.seed(1984 if train else 2020)
    num_data, num_class = 100, 3
    noise = np.random.randn(num_data * num_class)  # DeZero's draws, one per point in order
    rate = np.tile(np.arange(num_data) / num_data, num_class)
    label = np.repeat(np.arange(num_class), num_data)
    theta = label * 4.0 + 4.0 * rate + noise * 0.2
    radius = rate
    x = np.stack([radius * np.sin(theta), radius * np.cos(theta)], axis=1).astype(np.float32)
    order = np.random.permutation(num_data * num_class)
    return x[order], label[order]


class Spiral(Dataset):
    """``get_spiral`` as a Dataset: samples (2,) float32, labels 0..2."""

    def prepare(self):
        self.data, self.label = get_spiral(self.train)


class SinCurve(Dataset):
    """999 steps of a curve over [0, 2 pi] for next-value prediction: the train
    split is sin(x) plus uniform noise in [-0.05, 0.05) (drawn from NumPy's
    global generator), the test split cos(x). data[i] = y[i], label[i] =
    y[i + 1], each of shape (1,). float32 (DeZero makes float64)."""

    def prepare(self):
        x = np.linspace(0, 2 * np.pi, 1000)
        noise = np.random.uniform(-0.05, 0.05, size=x.shape)
        y = (np.sin(x) + noise if self.train else np.cos(x)).astype(np.float32)
        self.data = y[:-1, np.newaxis]
        self.label = y[1:, np.newaxis]


# --- read from files ---------------------------------------------------------

class MNIST(Dataset):
    """Handwritten digits: data uint8 (N, 1, 28, 28), labels uint8 0..9.
    The default transform flattens a sample to (784,) float32 in [0, 1].

    Files (in the cache folder): train-images-idx3-ubyte.gz,
    train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz,
    t10k-labels-idx1-ubyte.gz (the IDX files of the MNIST site).
    """
    URL = 'https://ossci-datasets.s3.amazonaws.com/mnist/'
    FILES = {True: ('train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz'),
             False: ('t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz')}

    def __init__(self, train=True,
                 transform=Compose([Flatten(), ToFloat(), Normalize(0., 255.)]),
                 target_transform=None):
        super().__init__(train, transform, target_transform)

    def prepare(self):
        images, labels = self.FILES[bool(self.train)]
        image_path = get_file(self.URL + images)
        label_path = get_file(self.URL + labels)
        # IDX: a 16-byte header before the images, 8 bytes before the labels.
        with gzip.open(image_path, 'rb') as f:
            self.data = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
        with gzip.open(label_path, 'rb') as f:
            self.label = np.frombuffer(f.read(), np.uint8, offset=8)

    def show(self, row=10, col=10):
        """Show ``row`` x ``col`` random digits with matplotlib."""
        _show_grid(self.data, row, col, lambda d: d.reshape(28, 28), cmap='gray')

    @staticmethod
    def labels():
        return {i: str(i) for i in range(10)}


class CIFAR10(Dataset):
    """Tiny colour images: data (N, 3, 32, 32) as stored (float64 for the train
    split, assembled from five batches; uint8 for test), labels ints 0..9.
    The default transform gives float32 in [-1, 1].

    Files: cifar-10-python.tar.gz (the Python version of the CIFAR site), or
    the cache DeZero writes from it, cifar-10-python.tar.gz.train.npz /
    .test.npz (arrays 'data' and 'label'); the cache is written here too.
    """
    URL = 'https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz'

    def __init__(self, train=True,
                 transform=Compose([ToFloat(), Normalize(mean=0.5, std=0.5)]),
                 target_transform=None):
        super().__init__(train, transform, target_transform)

    def prepare(self):
        self.data, self.label = _load_cache_npz(self.URL, self.train)
        if self.data is not None:
            return
        with tarfile.open(get_file(self.URL), 'r:gz') as archive:
            if self.train:
                batches = [_unpickle(archive, f'data_batch_{i}') for i in range(1, 6)]
                self.data = np.concatenate([b[b'data'] for b in batches]).astype(np.float64)
                self.label = np.concatenate([np.array(b[b'labels']) for b in batches])
            else:
                batch = _unpickle(archive, 'test_batch')
                self.data, self.label = batch[b'data'], np.array(batch[b'labels'])
        self.data = self.data.reshape(-1, 3, 32, 32)
        _save_cache_npz(self.data, self.label, self.URL, self.train)

    def show(self, row=10, col=10):
        _show_grid(self.data, row, col, lambda d: d.reshape(3, 32, 32).transpose(1, 2, 0) / 255)

    @staticmethod
    def labels():
        # 'ariplane' is DeZero's spelling, kept so label lookups match.
        names = ['ariplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse',
                 'ship', 'truck']
        return dict(enumerate(names))


class CIFAR100(CIFAR10):
    """100-class CIFAR: ``label_type`` 'fine' (100 classes) or 'coarse' (20).
    Files: cifar-100-python.tar.gz, or its .train.npz / .test.npz cache."""
    URL = 'https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz'

    def __init__(self, train=True,
                 transform=Compose([ToFloat(), Normalize(mean=0.5, std=0.5)]),
                 target_transform=None, label_type='fine'):
        if label_type not in ('fine', 'coarse'):
            raise ValueError(f"CIFAR100: label_type must be 'fine' or 'coarse', got "
                             f"{label_type!r}")
        self.label_type = label_type
        super().__init__(train, transform, target_transform)

    def prepare(self):
        self.data, self.label = _load_cache_npz(self.URL, self.train)
        if self.data is not None:
            return
        with tarfile.open(get_file(self.URL), 'r:gz') as archive:
            batch = _unpickle(archive, 'train' if self.train else 'test')
        self.data = batch[b'data'].reshape(-1, 3, 32, 32)
        self.label = np.array(batch[f'{self.label_type}_labels'.encode()])
        _save_cache_npz(self.data, self.label, self.URL, self.train)

    @staticmethod
    def labels(label_type='fine'):
        """The 20 coarse class names by index; DeZero has no fine names (an
        empty list)."""
        if label_type == 'fine':
            return []
        return dict(enumerate([
            'aquatic mammals', 'fish', 'flowers', 'food containers', 'fruit and vegetables',
            'household electrical device', 'household furniture', 'insects',
            'large carnivores', 'large man-made outdoor things', 'large natural outdoor scenes',
            'large omnivores and herbivores', 'medium-sized mammals',
            'non-insect invertebrates', 'people', 'reptiles', 'small mammals', 'trees',
            'vehicles 1', 'vehicles 2']))


class ImageNet:
    """Only the 1000 class names: ``ImageNet.labels()``."""
    URL = ('https://gist.githubusercontent.com/yrevar/942d3a0ac09ec9e5eb3a/raw/'
           '238f720ff059c1f82f368259d1ca4ffa5dd8f9f5/imagenet1000_clsidx_to_labels.txt')

    @staticmethod
    def labels():
        """{class index: name}, read from imagenet1000_clsidx_to_labels.txt (a
        Python dict literal; parsed as a literal, not evaluated as DeZero does)."""
        with open(get_file(ImageNet.URL)) as f:
            return ast.literal_eval(f.read())


class Shakespear(Dataset):
    """Tiny Shakespeare as character ids (DeZero's spelling of the name):
    data[i] = id of character i, label[i] = id of character i + 1; the maps
    are ``char_to_id`` and ``id_to_char`` (ids in order of first use).
    File: shakespear.txt (char-rnn's tinyshakespeare input.txt, renamed)."""
    URL = ('https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/'
           'input.txt')

    def prepare(self):
        with open(get_file(self.URL, 'shakespear.txt')) as f:
            text = f.read()
        self.char_to_id = {}
        for char in text:
            self.char_to_id.setdefault(char, len(self.char_to_id))
        self.id_to_char = {i: c for c, i in self.char_to_id.items()}
        ids = np.array([self.char_to_id[c] for c in text])
        self.data, self.label = ids[:-1], ids[1:]


# --- helpers -----------------------------------------------------------------

def _unpickle(archive, member_name):
    """The pickled dict of the archive member whose name contains ``member_name``,
    through ``RestrictedUnpickler`` (NumPy arrays and plain containers only: a
    pickle can run any callable it names). UnpicklingError naming the archive
    and the member otherwise."""
    for member in archive.getmembers():
        if member_name in member.name:
            try:
                return RestrictedUnpickler(archive.extractfile(member), encoding='bytes').load()
            except pickle.UnpicklingError as e:
                raise pickle.UnpicklingError(f"{archive.name} ({member.name}): {e}") from e
    raise ValueError(f"{archive.name}: no member named like {member_name!r}")


def _cache_npz_path(url, train):
    return os.path.join(cache_dir(), url[url.rfind('/') + 1:] +
                        ('.train.npz' if train else '.test.npz'))


def _load_cache_npz(url, train):
    path = _cache_npz_path(url, train)
    if not os.path.exists(path):
        return None, None
    with np.load(path) as cached:
        return cached['data'], cached['label']


def _save_cache_npz(data, label, url, train):
    path = _cache_npz_path(url, train)
    with atomic_write(path) as tmp, open(tmp, 'wb') as f:
        np.savez_compressed(f, data=data, label=label)


def _show_grid(data, row, col, to_image, **imshow_args):
    import matplotlib.pyplot as plt
    tiles = [to_image(data[np.random.randint(0, len(data) - 1)]) for _ in range(row * col)]
    rows = [np.concatenate(tiles[r * col:(r + 1) * col], axis=1) for r in range(row)]
    plt.imshow(np.concatenate(rows, axis=0), interpolation='nearest', **imshow_args)
    plt.axis('off')
    plt.show()
