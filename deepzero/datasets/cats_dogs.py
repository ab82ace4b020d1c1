"""Dataset helpers behind the ``deepzero datasets`` command.

``make_cats_dogs_small(source, dest)`` builds the small cats-vs-dogs set of
"Deep Learning with Python" (chapter 5) from Kaggle's "Dogs vs. Cats" training
files (``cat.N.jpg`` / ``dog.N.jpg``)::

    dest/train/{cats,dogs}/       ids 0 .. 999      (1,000 per class)
    dest/validation/{cats,dogs}/  ids 1000 .. 1499  (500 per class)
    dest/test/{cats,dogs}/        ids 1500 .. 1999  (500 per class)
"""
import os
import shutil
import tempfile

SPLITS = ('train', 'validation', 'test')
CLASSES = (('cats', 'cat'), ('dogs', 'dog'))


def _find_source_folder(source):
    """The folder holding ``cat.0.jpg``: ``source`` itself or its ``train/`` (the
    layout of Kaggle's unpacked archive)."""
    for folder in (source, os.path.join(source, 'train')):
        if os.path.isfile(os.path.join(folder, 'cat.0.jpg')):
            return folder
    if not os.path.isdir(source):
        raise FileNotFoundError(f'cats-dogs-small: source folder {source!r} does not exist')
    raise FileNotFoundError(f'cats-dogs-small: no cat.0.jpg in {source!r} or its train/ folder; '
                            "expected Kaggle's Dogs vs. Cats files cat.N.jpg / dog.N.jpg")


def make_cats_dogs_small(source, dest, train=1000, validation=500, test=500):
    """Copy the book's split of ``source`` into ``dest`` (which must not exist or
    be empty). The split is built in a temporary folder beside ``dest`` and
    renamed into place, so ``dest`` is complete or absent.

    Args:
        source: folder of ``cat.N.jpg`` / ``dog.N.jpg`` (or with them in ``train/``).
        dest: folder to create.
        train, validation, test: images per class in each split, taken by id in
            that order (the book's 1,000 / 500 / 500).
    Returns:
        ``{split: {class folder: count}}``.
    Raises:
        FileNotFoundError: the source or one of the needed files is missing
            (the message names it).
        FileExistsError: ``dest`` exists and is not empty.
    """
    source, dest = os.fspath(source), os.fspath(dest)
    folder = _find_source_folder(source)
    if os.path.exists(dest) and (not os.path.isdir(dest) or os.listdir(dest)):
        raise FileExistsError(f'cats-dogs-small: destination {dest!r} exists and is not empty; '
                              'give a new folder (it is created) or empty this one')
    sizes = dict(zip(SPLITS, (train, validation, test)))
    starts = {'train': 0, 'validation': train, 'test': train + validation}
    needed = [(split, class_dir, f'{prefix}.{i}.jpg')
              for split in SPLITS for class_dir, prefix in CLASSES
              for i in range(starts[split], starts[split] + sizes[split])]
    missing = [name for _, _, name in needed if not os.path.isfile(os.path.join(folder, name))]
    if missing:
        raise FileNotFoundError(f'cats-dogs-small: {len(missing)} file(s) missing from {folder!r}, '
                                f'e.g. {", ".join(missing[:5])}')
    parent = os.path.dirname(os.path.abspath(dest))
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix='.cats-dogs-small-', dir=parent)
    try:
        for split in SPLITS:
            for class_dir, _ in CLASSES:
                os.makedirs(os.path.join(staging, split, class_dir))
        for split, class_dir, name in needed:
            shutil.copyfile(os.path.join(folder, name),
                            os.path.join(staging, split, class_dir, name))
        if os.path.isdir(dest):
            os.rmdir(dest)  # empty, checked above
        os.replace(staging, dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return {split: {class_dir: sizes[split] for class_dir, _ in CLASSES} for split in SPLITS}
