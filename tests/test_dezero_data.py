"""DeZero's data side (deepzero.dezero.datasets, dataloaders, transforms):
generated datasets with DeZero's numbers, datasets read from local files in
DeZero's formats (and a clear error where a file is missing: nothing is
downloaded), batching, and the transforms."""
import gzip
import io
import os
import pickle
import tarfile

import numpy as np
import pytest
from PIL import Image

from deepzero.dezero import datasets, transforms
from deepzero.dezero.dataloaders import DataLoader, SeqDataLoader


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty DeZero cache folder (DEZERO_CACHE_DIR)."""
    monkeypatch.setenv('DEZERO_CACHE_DIR', str(tmp_path))
    return tmp_path


# --- generated datasets ---------------------------------------------------------

def test_spiral_has_dezeros_points():
    train = datasets.Spiral()
    assert len(train) == 300
    assert train.data.shape == (300, 2) and train.data.dtype == np.float32
    assert train.label.shape == (300,) and np.issubdtype(train.label.dtype, np.integer)
    assert np.bincount(train.label).tolist() == [100, 100, 100]
    # DeZero's own first points and labels (its get_spiral, seed 1984 / 2020)
    np.testing.assert_allclose(train.data[:2], [[-0.13981389, -0.00721657],
                                                [0.37049392, 0.5820947]], rtol=1e-6)
    assert train.label[:12].tolist() == [1, 1, 2, 0, 1, 2, 0, 0, 1, 2, 1, 1]
    test = datasets.Spiral(train=False)
    np.testing.assert_allclose(test.data[0], [0.13246453, 0.13620993], rtol=1e-6)
    assert test.label[:6].tolist() == [0, 1, 0, 1, 2, 2]
    x, t = train[5]
    assert x.shape == (2,) and t == train.label[5]


def test_spiral_points_lie_within_the_unit_circle():
    x, _ = datasets.get_spiral()
    assert np.all(np.hypot(x[:, 0], x[:, 1]) < 1.0)


def test_sin_curve_is_next_value_pairs():
    np.random.seed(0)
    train = datasets.SinCurve()
    assert train.data.shape == train.label.shape == (999, 1)
    assert train.data.dtype == np.float32
    np.testing.assert_array_equal(train.data[1:], train.label[:-1])
    np.testing.assert_allclose(train.data[:3, 0], [0.00488135, 0.02780837, 0.02285496],
                               rtol=1e-6)   # DeZero's, after np.random.seed(0)
    test = datasets.SinCurve(train=False)
    np.testing.assert_allclose(test.data[:, 0], np.cos(np.linspace(0, 2 * np.pi, 1000))[:-1],
                               rtol=1e-6, atol=1e-7)


def test_dataset_applies_transforms_per_sample_and_wants_one_index():
    ds = datasets.Spiral(transform=lambda x: x * 2, target_transform=lambda t: t + 10)
    x, t = ds[3]
    np.testing.assert_array_equal(x, ds.data[3] * 2)
    assert t == ds.label[3] + 10
    with pytest.raises(TypeError, match='one integer'):
        ds[[1, 2]]


def test_a_dataset_without_labels_gives_none():
    class Unlabelled(datasets.Dataset):
        def prepare(self):
            self.data = np.arange(4)

    assert Unlabelled()[2] == (2, None)


# --- datasets read from files ----------------------------------------------------

@pytest.mark.parametrize('make, name', [
    (lambda: datasets.MNIST(), 'train-images-idx3-ubyte.gz'),
    (lambda: datasets.MNIST(train=False), 't10k-images-idx3-ubyte.gz'),
    (lambda: datasets.CIFAR10(), 'cifar-10-python.tar.gz'),
    (lambda: datasets.CIFAR100(), 'cifar-100-python.tar.gz'),
    (lambda: datasets.Shakespear(), 'shakespear.txt'),
    (datasets.ImageNet.labels, 'imagenet1000_clsidx_to_labels.txt'),
])
def test_a_missing_file_is_named_with_where_to_put_it(cache, make, name):
    with pytest.raises(FileNotFoundError) as info:
        make()
    message = str(info.value)
    assert name in message and os.path.join(str(cache), name) in message
    assert 'https://' in message and 'does not download' in message
    assert os.listdir(cache) == []


def write_idx_gz(path, header, payload):
    with gzip.open(path, 'wb') as f:
        f.write(header + payload.tobytes())


def test_mnist_reads_the_idx_files(cache):
    images = np.arange(2 * 28 * 28, dtype=np.uint16).astype(np.uint8).reshape(2, 28, 28)
    write_idx_gz(cache / 't10k-images-idx3-ubyte.gz', b'\0' * 16, images)
    write_idx_gz(cache / 't10k-labels-idx1-ubyte.gz', b'\0' * 8, np.array([7, 3], np.uint8))
    mnist = datasets.MNIST(train=False)
    assert mnist.data.shape == (2, 1, 28, 28) and mnist.data.dtype == np.uint8
    assert mnist.label.tolist() == [7, 3]
    x, t = mnist[1]
    assert x.shape == (784,) and x.dtype == np.float32 and t == 3
    np.testing.assert_allclose(x, images[1].reshape(-1) / 255.0, rtol=1e-6)
    assert datasets.MNIST.labels()[4] == '4'


def add_pickle(archive, name, obj):
    blob = pickle.dumps(obj)
    info = tarfile.TarInfo(name)
    info.size = len(blob)
    archive.addfile(info, io.BytesIO(blob))


def test_cifar10_reads_the_archive_and_writes_dezeros_cache(cache):
    data = np.arange(2 * 3072).astype(np.uint8).reshape(2, 3072)
    with tarfile.open(cache / 'cifar-10-python.tar.gz', 'w:gz') as archive:
        add_pickle(archive, 'cifar-10-batches-py/test_batch',
                   {b'data': data, b'labels': [4, 9]})
    cifar = datasets.CIFAR10(train=False)
    assert cifar.data.shape == (2, 3, 32, 32)
    assert cifar.label.tolist() == [4, 9]
    x, _ = cifar[0]
    assert x.dtype == np.float32
    np.testing.assert_allclose(x, (data[0].reshape(3, 32, 32) - 0.5) / 0.5)
    cached = np.load(cache / 'cifar-10-python.tar.gz.test.npz')
    np.testing.assert_array_equal(cached['data'], cifar.data)
    (cache / 'cifar-10-python.tar.gz').unlink()   # the cache alone is enough now
    np.testing.assert_array_equal(datasets.CIFAR10(train=False).label, [4, 9])


def test_cifar100_reads_fine_or_coarse_labels(cache):
    with tarfile.open(cache / 'cifar-100-python.tar.gz', 'w:gz') as archive:
        add_pickle(archive, 'cifar-100-python/test', {
            b'data': np.zeros((3, 3072), np.uint8), b'fine_labels': [10, 20, 30],
            b'coarse_labels': [1, 2, 3]})
    assert datasets.CIFAR100(train=False, label_type='coarse').label.tolist() == [1, 2, 3]
    with pytest.raises(ValueError, match='label_type'):
        datasets.CIFAR100(label_type='medium')
    assert datasets.CIFAR100.labels('coarse')[1] == 'fish'


class RunsOnLoad:
    """Pickles as a call of os.mkdir(path): unpickling it would run that."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return os.mkdir, (self.path,)


@pytest.mark.parametrize('make, archive_name, member', [
    (lambda: datasets.CIFAR10(train=False), 'cifar-10-python.tar.gz',
     'cifar-10-batches-py/test_batch'),
    (lambda: datasets.CIFAR100(train=True), 'cifar-100-python.tar.gz', 'cifar-100-python/train'),
])
def test_cifar_refuses_a_pickled_callable_without_running_it(cache, make, archive_name, member):
    marker = cache / 'ran'
    with tarfile.open(cache / archive_name, 'w:gz') as archive:
        add_pickle(archive, member, {b'data': RunsOnLoad(str(marker)), b'labels': [1]})
    with pytest.raises(pickle.UnpicklingError, match=f'{archive_name}.*{member}.*refusing'):
        make()
    assert not marker.exists()


def test_shakespear_gives_character_ids(cache):
    (cache / 'shakespear.txt').write_text('abca')
    text = datasets.Shakespear()
    assert text.char_to_id == {'a': 0, 'b': 1, 'c': 2}
    assert text.data.tolist() == [0, 1, 2] and text.label.tolist() == [1, 2, 0]
    assert text.id_to_char[2] == 'c'


def test_imagenet_labels_are_read_as_a_literal(cache):
    (cache / 'imagenet1000_clsidx_to_labels.txt').write_text("{0: 'tench', 1: 'goldfish'}")
    assert datasets.ImageNet.labels() == {0: 'tench', 1: 'goldfish'}
    (cache / 'imagenet1000_clsidx_to_labels.txt').write_text("__import__('os')")
    with pytest.raises(ValueError):
        datasets.ImageNet.labels()


# --- loaders -------------------------------------------------------------------------

class Numbers(datasets.Dataset):
    """Samples i (as (2,) arrays) with labels 10 * i."""

    def prepare(self):
        self.data = np.arange(10).repeat(2).reshape(10, 2)
        self.label = np.arange(10) * 10


def test_dataloader_batches_in_order_without_shuffle():
    loader = DataLoader(Numbers(), batch_size=4, shuffle=False)
    batches = list(loader)
    assert [x.shape for x, _ in batches] == [(4, 2), (4, 2), (2, 2)]   # the last one partial
    assert batches[2][1].tolist() == [80, 90]
    assert loader.max_iter == 3
    assert [t.tolist() for _, t in loader] == [t.tolist() for _, t in batches]   # reset


def test_dataloader_shuffles_each_epoch_with_numpys_generator():
    np.random.seed(3)
    loader = DataLoader(Numbers(), batch_size=3)
    np.random.seed(3)
    first = np.random.permutation(10)
    epoch1 = np.concatenate([t for _, t in loader]) // 10
    epoch2 = np.concatenate([t for _, t in loader]) // 10
    np.testing.assert_array_equal(epoch1, first)
    assert sorted(epoch2.tolist()) == list(range(10))
    assert epoch1.tolist() != epoch2.tolist()


def test_dataloader_next_and_reset():
    loader = DataLoader(Numbers(), batch_size=5, shuffle=False)
    x, t = loader.next()
    assert t.tolist() == [0, 10, 20, 30, 40] and x[1].tolist() == [1, 1]
    loader.reset()
    assert loader.next()[1][0] == 0
    loader.next()
    with pytest.raises(StopIteration):
        loader.next()
    assert loader.iteration == 0   # reset by the end of the epoch


def test_dataloader_checks_batch_size():
    with pytest.raises(ValueError, match='batch_size'):
        DataLoader(Numbers(), batch_size=0)


def test_dataloader_gpu_says_why_not_where_there_is_none():
    from deepzero.core import cuda
    if cuda.is_available():
        pytest.skip('a GPU is usable here')
    with pytest.raises(RuntimeError, match='GPU'):
        DataLoader(Numbers(), batch_size=2, gpu=True)


def test_dataloader_batches_on_the_device_asked_for(xp):
    on_gpu = xp is not np
    loader = DataLoader(Numbers(), batch_size=4, shuffle=False, gpu=on_gpu)
    x, t = loader.next()
    assert type(x) is xp.ndarray and type(t) is xp.ndarray
    assert t.tolist() == [0, 10, 20, 30]
    loader.to_cpu()
    assert type(loader.next()[0]) is np.ndarray


def test_seq_dataloader_reads_strided_streams():
    loader = SeqDataLoader(Numbers(), batch_size=2)   # streams start at 0 and 5
    steps = [t.tolist() for _, t in loader]
    assert steps == [[0, 50], [10, 60], [20, 70], [30, 80], [40, 90]]


# --- transforms ----------------------------------------------------------------------

def rgb_image(width=6, height=4):
    pixels = np.arange(height * width * 3, dtype=np.uint8).reshape(height, width, 3)
    return Image.fromarray(pixels), pixels


def test_to_array_and_to_pil_convert_hwc_and_chw():
    img, pixels = rgb_image()
    array = transforms.ToArray()(img)
    assert array.shape == (3, 4, 6) and array.dtype == np.float32
    np.testing.assert_array_equal(array, pixels.transpose(2, 0, 1))
    back = transforms.ToPIL()(array.astype(np.uint8))
    np.testing.assert_array_equal(np.asarray(back), pixels)
    assert transforms.ToArray()(array) is array
    gray = transforms.ToArray(np.uint8)(img.convert('L'))
    assert gray.shape == (1, 4, 6)
    with pytest.raises(TypeError, match='PIL'):
        transforms.ToArray()([1, 2])


def test_convert_bgr_swaps_red_and_blue():
    img, pixels = rgb_image()
    np.testing.assert_array_equal(np.asarray(transforms.Convert('BGR')(img)), pixels[..., ::-1])
    assert transforms.Convert('L')(img).mode == 'L'


def test_resize_and_center_crop_take_width_height():
    img, pixels = rgb_image(width=7, height=5)
    assert transforms.Resize((3, 2))(img).size == (3, 2)
    assert transforms.Resize(4)(img).size == (4, 4)
    crop = transforms.CenterCrop((4, 2))(img)
    assert crop.size == (4, 2)
    np.testing.assert_array_equal(np.asarray(crop), pixels[1:3, 1:5])


def test_random_horizontal_flip():
    img, pixels = rgb_image()
    np.testing.assert_array_equal(np.asarray(transforms.RandomHorizontalFlip(1.0)(img)),
                                  pixels[:, ::-1])
    assert transforms.RandomHorizontalFlip(0.0)(img) is img
    chw = pixels.transpose(2, 0, 1)
    np.testing.assert_array_equal(transforms.RandomHorizontalFlip(1.0)(chw), chw[..., ::-1])


def test_normalize_scalars_and_per_channel():
    x = np.arange(12, dtype=np.float32).reshape(3, 2, 2)
    np.testing.assert_allclose(transforms.Normalize(1.0, 2.0)(x), (x - 1) / 2)
    y = transforms.Normalize(mean=(0, 1, 2), std=(1, 2, 4))(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y[2], (x[2] - 2) / 4)
    np.testing.assert_allclose(transforms.Normalize(mean=[3])(x), x - 3)


def test_compose_flatten_and_astype():
    pipeline = transforms.Compose([transforms.Flatten(), transforms.ToFloat(),
                                   transforms.Normalize(0., 255.)])
    y = pipeline(np.full((1, 2, 2), 255, np.uint8))
    assert y.shape == (4,) and y.dtype == np.float32 and np.all(y == 1)
    assert transforms.Compose()(5) == 5
    assert transforms.ToInt()(np.array([1.7])).dtype == np.dtype(int)
    assert transforms.AsType(np.float16)(np.ones(2)).dtype == np.float16
