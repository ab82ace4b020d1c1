"""Inception v3 (Szegedy et al., 2015) as ``keras.applications.inception_v3``.

Every convolution is ``conv2d_bn``: Conv2D without bias, BatchNormalization
with ``scale=False`` (beta, moving mean and variance only; epsilon 1e-3),
ReLU. These layers carry Keras's automatic names (conv2d, conv2d_1, ...,
batch_normalization, activation, ...); the inception modules end in
Concatenate layers 'mixed0' ... 'mixed10'. 299x299 by default, at least 75.
"""
from ..layers import (Activation, AveragePooling2D, BatchNormalization, Concatenate, Conv2D,
                      MaxPooling2D)
from . import imagenet_utils
from .imagenet_utils import decode_predictions  # noqa: F401
from .imagenet_utils import tf_preprocess_input as preprocess_input  # noqa: F401
from .weights import keras_application_files

WEIGHTS_FILE, WEIGHTS_FILE_NO_TOP = keras_application_files(
    'inception_v3', 'inception_v3', '9a0d58056eeedaa3f26cb7ebd46da564',
    'bcbd6486424b2319ff4ef7d526e38f63')


def conv2d_bn(x, filters, num_row, num_col, padding='same', strides=(1, 1), name=None):
    """Conv2D (no bias) -> BatchNormalization(scale=False) -> ReLU; with
    ``name``, the layers are '{name}_conv', '{name}_bn' and '{name}'."""
    x = Conv2D(filters, (num_row, num_col), strides=strides, padding=padding,
               use_bias=False, name=None if name is None else f'{name}_conv')(x)
    x = BatchNormalization(scale=False, name=None if name is None else f'{name}_bn')(x)
    return Activation('relu', name=name)(x)


def _branch_pool(x, filters):
    """The pooling branch of a module: 3x3 average pooling (stride 1, 'same'), 1x1 conv."""
    x = AveragePooling2D((3, 3), strides=(1, 1), padding='same')(x)
    return conv2d_bn(x, filters, 1, 1)


def _module_35(x, pool_filters, name):
    """35x35 module (mixed0-2): 1x1 | 1x1 -> 5x5 | 1x1 -> 3x3 -> 3x3 | pool."""
    branch1x1 = conv2d_bn(x, 64, 1, 1)
    branch5x5 = conv2d_bn(x, 48, 1, 1)
    branch5x5 = conv2d_bn(branch5x5, 64, 5, 5)
    branch3x3dbl = conv2d_bn(x, 64, 1, 1)
    branch3x3dbl = conv2d_bn(branch3x3dbl, 96, 3, 3)
    branch3x3dbl = conv2d_bn(branch3x3dbl, 96, 3, 3)
    branch_pool = _branch_pool(x, pool_filters)
    return Concatenate(name=name)([branch1x1, branch5x5, branch3x3dbl, branch_pool])


def _module_17(x, width, name):
    """17x17 module (mixed4-7) with factorised 7x7 convolutions of ``width`` filters."""
    branch1x1 = conv2d_bn(x, 192, 1, 1)
    branch7x7 = conv2d_bn(x, width, 1, 1)
    branch7x7 = conv2d_bn(branch7x7, width, 1, 7)
    branch7x7 = conv2d_bn(branch7x7, 192, 7, 1)
    branch7x7dbl = conv2d_bn(x, width, 1, 1)
    branch7x7dbl = conv2d_bn(branch7x7dbl, width, 7, 1)
    branch7x7dbl = conv2d_bn(branch7x7dbl, width, 1, 7)
    branch7x7dbl = conv2d_bn(branch7x7dbl, width, 7, 1)
    branch7x7dbl = conv2d_bn(branch7x7dbl, 192, 1, 7)
    branch_pool = _branch_pool(x, 192)
    return Concatenate(name=name)([branch1x1, branch7x7, branch7x7dbl, branch_pool])


def _module_8(x, index):
    """8x8 module (mixed9, mixed10) with split 1x3 / 3x1 branches."""
    branch1x1 = conv2d_bn(x, 320, 1, 1)
    branch3x3 = conv2d_bn(x, 384, 1, 1)
    branch3x3 = Concatenate(name=f'mixed9_{index}')(
        [conv2d_bn(branch3x3, 384, 1, 3), conv2d_bn(branch3x3, 384, 3, 1)])
    branch3x3dbl = conv2d_bn(x, 448, 1, 1)
    branch3x3dbl = conv2d_bn(branch3x3dbl, 384, 3, 3)
    branch3x3dbl = Concatenate()(
        [conv2d_bn(branch3x3dbl, 384, 1, 3), conv2d_bn(branch3x3dbl, 384, 3, 1)])
    branch_pool = _branch_pool(x, 192)
    return Concatenate(name=f'mixed{9 + index}')(
        [branch1x1, branch3x3, branch3x3dbl, branch_pool])


def InceptionV3(include_top=True, weights='imagenet', input_tensor=None, input_shape=None,
                pooling=None, classes=1000, classifier_activation='softmax',
                name='inception_v3'):
    """InceptionV3 as ``keras.applications.InceptionV3``: 23,851,784
    parameters with the classifier ('avg_pool' + Dense 'predictions'),
    21,802,784 without; inputs at least 75x75. The arguments are those of
    every application (:mod:`deepzero.applications`)."""
    image, inputs = imagenet_utils.model_input(weights, include_top, classes, input_tensor,
                                               input_shape, default_size=299, min_size=75)

    x = conv2d_bn(image, 32, 3, 3, strides=(2, 2), padding='valid')
    x = conv2d_bn(x, 32, 3, 3, padding='valid')
    x = conv2d_bn(x, 64, 3, 3)
    x = MaxPooling2D((3, 3), strides=(2, 2))(x)
    x = conv2d_bn(x, 80, 1, 1, padding='valid')
    x = conv2d_bn(x, 192, 3, 3, padding='valid')
    x = MaxPooling2D((3, 3), strides=(2, 2))(x)

    x = _module_35(x, 32, 'mixed0')
    x = _module_35(x, 64, 'mixed1')
    x = _module_35(x, 64, 'mixed2')

    # mixed3: reduction 35x35 -> 17x17.
    branch3x3 = conv2d_bn(x, 384, 3, 3, strides=(2, 2), padding='valid')
    branch3x3dbl = conv2d_bn(x, 64, 1, 1)
    branch3x3dbl = conv2d_bn(branch3x3dbl, 96, 3, 3)
    branch3x3dbl = conv2d_bn(branch3x3dbl, 96, 3, 3, strides=(2, 2), padding='valid')
    branch_pool = MaxPooling2D((3, 3), strides=(2, 2))(x)
    x = Concatenate(name='mixed3')([branch3x3, branch3x3dbl, branch_pool])

    x = _module_17(x, 128, 'mixed4')
    x = _module_17(x, 160, 'mixed5')
    x = _module_17(x, 160, 'mixed6')
    x = _module_17(x, 192, 'mixed7')

    # mixed8: reduction 17x17 -> 8x8.
    branch3x3 = conv2d_bn(x, 192, 1, 1)
    branch3x3 = conv2d_bn(branch3x3, 320, 3, 3, strides=(2, 2), padding='valid')
    branch7x7x3 = conv2d_bn(x, 192, 1, 1)
    branch7x7x3 = conv2d_bn(branch7x7x3, 192, 1, 7)
    branch7x7x3 = conv2d_bn(branch7x7x3, 192, 7, 1)
    branch7x7x3 = conv2d_bn(branch7x7x3, 192, 3, 3, strides=(2, 2), padding='valid')
    branch_pool = MaxPooling2D((3, 3), strides=(2, 2))(x)
    x = Concatenate(name='mixed8')([branch3x3, branch7x7x3, branch_pool])

    x = _module_8(x, 0)
    x = _module_8(x, 1)

    x = imagenet_utils.pooled_top(x, include_top, pooling, classes, classifier_activation,
                                  weights)

    return imagenet_utils.application_model(inputs, x, name, weights,
                                            WEIGHTS_FILE if include_top else WEIGHTS_FILE_NO_TOP)
