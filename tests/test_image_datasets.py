"""`deepzero datasets cats-dogs-small`: the book's split from Kaggle-style files."""
import numpy as np
import pytest
from PIL import Image

from deepzero.datasets import make_cats_dogs_small
from deepzero.preprocessing.image import ImageDataGenerator


@pytest.fixture
def kaggle(tmp_path):
    source = tmp_path / 'kaggle' / 'train'
    source.mkdir(parents=True)
    pixels = np.zeros((4, 4, 3), np.uint8)
    for prefix in ('cat', 'dog'):
        for i in range(14):
            Image.fromarray(pixels + i).save(source / f'{prefix}.{i}.jpg')
    return tmp_path / 'kaggle'


def test_book_split_by_id(kaggle, tmp_path):
    dest = tmp_path / 'small'
    counts = make_cats_dogs_small(kaggle, dest, train=6, validation=3, test=3)
    assert counts == {s: {'cats': n, 'dogs': n}
                      for s, n in (('train', 6), ('validation', 3), ('test', 3))}

    def names(split, class_dir):
        return sorted(p.name for p in (dest / split / class_dir).iterdir())
    assert names('train', 'cats') == sorted(f'cat.{i}.jpg' for i in range(6))
    assert names('validation', 'dogs') == sorted(f'dog.{i}.jpg' for i in range(6, 9))
    assert names('test', 'cats') == sorted(f'cat.{i}.jpg' for i in range(9, 12))
    assert sorted(p.name for p in tmp_path.iterdir()) == ['kaggle', 'small']  # no staging left
    it = ImageDataGenerator().flow_from_directory(dest / 'train', target_size=(4, 4))
    assert it.class_indices == {'cats': 0, 'dogs': 1} and it.samples == 12


def test_refuses_missing_files_and_existing_destination(kaggle, tmp_path):
    with pytest.raises(FileNotFoundError, match=r'missing.*cat\.14\.jpg'):
        make_cats_dogs_small(kaggle, tmp_path / 'a', train=10, validation=3, test=3)
    assert not (tmp_path / 'a').exists()
    with pytest.raises(FileNotFoundError, match='cat.0.jpg'):
        make_cats_dogs_small(tmp_path, tmp_path / 'b')
    (tmp_path / 'c').mkdir()
    (tmp_path / 'c' / 'keep.txt').write_text('x')
    with pytest.raises(FileExistsError, match='not empty'):
        make_cats_dogs_small(kaggle, tmp_path / 'c', train=2, validation=1, test=1)
    (tmp_path / 'd').mkdir()  # an empty destination is fine
    make_cats_dogs_small(kaggle / 'train', tmp_path / 'd', train=2, validation=1, test=1)
    assert len(list((tmp_path / 'd' / 'test' / 'dogs').iterdir())) == 1
