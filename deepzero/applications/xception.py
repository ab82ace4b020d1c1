"""Xception (Chollet, 2017) as ``keras.applications.xception``.

Entry flow (blocks 1-4), middle flow (blocks 5-12, eight identical residual
blocks of three separable convolutions) and exit flow (blocks 13-14). All
convolutions are bias-free and followed by BatchNormalization (Keras
defaults, epsilon 1e-3). The strided 1x1 residual projections and their
BatchNormalizations, and the Add layers, carry Keras's automatic names.
299x299 by default, at least 71.
"""
from ..layers import Activation, Add, BatchNormalization, Conv2D, MaxPooling2D, SeparableConv2D
from . import imagenet_utils
from .imagenet_utils import decode_predictions  # noqa: F401
from .imagenet_utils import tf_preprocess_input as preprocess_input  # noqa: F401
from .weights import keras_application_files

WEIGHTS_FILE, WEIGHTS_FILE_NO_TOP = keras_application_files(
    'xception', 'xception', '0a58e3b7378bc2990ea3b43d5981f1f6', 'b0042744bf5b25fce3cb969f33bebb97')


def _sepconv_bn(x, filters, name):
    """SeparableConv2D 3x3 'same' (no bias) '{name}' -> BN '{name}_bn'."""
    x = SeparableConv2D(filters, (3, 3), padding='same', use_bias=False, name=name)(x)
    return BatchNormalization(name=f'{name}_bn')(x)


def _downsampling_block(x, filters, block, relu_first=True):
    """Two separable convolutions and a 3x3/2 max pooling, plus a strided
    1x1 projection of the input; ``filters`` = (first conv, second conv)."""
    residual = Conv2D(filters[1], (1, 1), strides=(2, 2), padding='same', use_bias=False)(x)
    residual = BatchNormalization()(residual)
    if relu_first:
        x = Activation('relu', name=f'block{block}_sepconv1_act')(x)
    x = _sepconv_bn(x, filters[0], f'block{block}_sepconv1')
    x = Activation('relu', name=f'block{block}_sepconv2_act')(x)
    x = _sepconv_bn(x, filters[1], f'block{block}_sepconv2')
    x = MaxPooling2D((3, 3), strides=(2, 2), padding='same', name=f'block{block}_pool')(x)
    return Add()([x, residual])


def _middle_block(x, block):
    """Three ReLU -> separable conv (728) -> BN, plus the identity."""
    residual = x
    for conv in (1, 2, 3):
        x = Activation('relu', name=f'block{block}_sepconv{conv}_act')(x)
        x = _sepconv_bn(x, 728, f'block{block}_sepconv{conv}')
    return Add()([x, residual])


def Xception(include_top=True, weights='imagenet', input_tensor=None, input_shape=None,
             pooling=None, classes=1000, classifier_activation='softmax', name='xception'):
    """Xception as ``keras.applications.Xception``: 22,910,480 parameters
    with the classifier ('avg_pool' + Dense 'predictions'), 20,861,480
    without; inputs at least 71x71. The arguments are those of every
    application (:mod:`deepzero.applications`)."""
    image, inputs = imagenet_utils.model_input(weights, include_top, classes, input_tensor,
                                               input_shape, default_size=299, min_size=71)

    x = Conv2D(32, (3, 3), strides=(2, 2), use_bias=False, name='block1_conv1')(image)
    x = BatchNormalization(name='block1_conv1_bn')(x)
    x = Activation('relu', name='block1_conv1_act')(x)
    x = Conv2D(64, (3, 3), use_bias=False, name='block1_conv2')(x)
    x = BatchNormalization(name='block1_conv2_bn')(x)
    x = Activation('relu', name='block1_conv2_act')(x)

    # Block 2 starts on the ReLU output of block 1, so it has no ReLU of its own first.
    x = _downsampling_block(x, (128, 128), 2, relu_first=False)
    x = _downsampling_block(x, (256, 256), 3)
    x = _downsampling_block(x, (728, 728), 4)
    for block in range(5, 13):
        x = _middle_block(x, block)
    x = _downsampling_block(x, (728, 1024), 13)

    x = _sepconv_bn(x, 1536, 'block14_sepconv1')
    x = Activation('relu', name='block14_sepconv1_act')(x)
    x = _sepconv_bn(x, 2048, 'block14_sepconv2')
    x = Activation('relu', name='block14_sepconv2_act')(x)

    x = imagenet_utils.pooled_top(x, include_top, pooling, classes, classifier_activation,
                                  weights)

    return imagenet_utils.application_model(inputs, x, name, weights,
                                            WEIGHTS_FILE if include_top else WEIGHTS_FILE_NO_TOP)
