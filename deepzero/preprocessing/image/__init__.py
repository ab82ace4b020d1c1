"""Image loading, augmentation and batch iterators with Keras's API
(``keras.preprocessing.image`` / the legacy ``ImageDataGenerator``).

    from deepzero.preprocessing.image import ImageDataGenerator
    gen = ImageDataGenerator(rescale=1 / 255, rotation_range=40, horizontal_flip=True)
    train = gen.flow_from_directory('train', target_size=(150, 150), batch_size=32,
                                    class_mode='binary', seed=0)
    x, y = next(train)      # (32, 150, 150, 3) float32, (32,) float32

Keras 3's ``image_dataset_from_directory`` (an ``ImageDataset`` of batches) is
here too. See docs/image-pipeline.md for the geometry convention and the
differences from Keras.
"""
from .affine import get_warp_backend, set_warp_backend, transform_matrix, warp_affine
from .dataframe_iterator import DataFrameIterator
from .directory_iterator import DirectoryIterator
from .files_iterator import FilesIterator
from .image_data_generator import ImageDataGenerator
from .image_dataset import ImageDataset, image_dataset_from_directory
from .iterator import Iterator, PrefetchStats
from .numpy_array_iterator import NumpyArrayIterator
from .utils import (UnreadableImageError, array_to_img, img_to_array, load_img, save_img,
                    smart_resize)

__all__ = [
    'ImageDataGenerator', 'Iterator', 'NumpyArrayIterator', 'DirectoryIterator',
    'ImageDataset', 'image_dataset_from_directory',
    'DataFrameIterator', 'FilesIterator', 'PrefetchStats', 'UnreadableImageError',
    'load_img', 'img_to_array', 'array_to_img', 'save_img', 'smart_resize',
    'transform_matrix', 'warp_affine', 'set_warp_backend', 'get_warp_backend',
]
