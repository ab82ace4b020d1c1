"""MobileNet v1 (Howard et al., 2017) as ``keras.applications.mobilenet``.

A 3x3/2 convolution ('conv1', 'conv1_bn', 'conv1_relu'), then 13
depthwise-separable blocks: DepthwiseConv2D 3x3 'conv_dw_i' -> BN -> ReLU(6)
-> 1x1 Conv2D 'conv_pw_i' -> BN -> ReLU(6). A strided block first pads
((0, 1), (0, 1)) ('conv_pad_i') and convolves 'valid', as TensorFlow's
'same' does for even sizes. No convolution has a bias (BN follows); the
classifier is a 1x1 convolution on globally pooled features.
"""
import warnings

from ..layers import (Activation, BatchNormalization, Conv2D, DepthwiseConv2D, Dropout,
                      GlobalAveragePooling2D, ReLU, Reshape, ZeroPadding2D)
from . import imagenet_utils
from .imagenet_utils import decode_predictions  # noqa: F401
from .imagenet_utils import tf_preprocess_input as preprocess_input  # noqa: F401
from .weights import keras_application_file

PRETRAINED_ALPHAS = {1.0: '1_0', 0.75: '7_5', 0.5: '5_0', 0.25: '2_5'}
PRETRAINED_SIZES = (128, 160, 192, 224)

# (pointwise filters, stride) of blocks 1..13.
BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1),
          (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))


def weights_file(alpha, rows, include_top):
    """The ImageNet weight file for width ``alpha`` at ``rows`` x ``rows``
    (Keras pins no MD5 for these)."""
    suffix = 'tf.h5' if include_top else 'tf_no_top.h5'
    return keras_application_file(
        'mobilenet', f'mobilenet_{PRETRAINED_ALPHAS[alpha]}_{rows}_{suffix}', None)


def _conv_block(x, filters, alpha, strides):
    filters = int(filters * alpha)
    x = Conv2D(filters, (3, 3), padding='same', use_bias=False, strides=strides,
               name='conv1')(x)
    x = BatchNormalization(name='conv1_bn')(x)
    return ReLU(6.0, name='conv1_relu')(x)


def _depthwise_conv_block(x, pointwise_filters, alpha, depth_multiplier, strides, block_id):
    pointwise_filters = int(pointwise_filters * alpha)
    if strides != 1:
        x = ZeroPadding2D(((0, 1), (0, 1)), name=f'conv_pad_{block_id}')(x)
    x = DepthwiseConv2D((3, 3), padding='same' if strides == 1 else 'valid',
                        depth_multiplier=depth_multiplier, strides=strides, use_bias=False,
                        name=f'conv_dw_{block_id}')(x)
    x = BatchNormalization(name=f'conv_dw_{block_id}_bn')(x)
    x = ReLU(6.0, name=f'conv_dw_{block_id}_relu')(x)
    x = Conv2D(pointwise_filters, (1, 1), padding='same', use_bias=False,
               name=f'conv_pw_{block_id}')(x)
    x = BatchNormalization(name=f'conv_pw_{block_id}_bn')(x)
    return ReLU(6.0, name=f'conv_pw_{block_id}_relu')(x)


def MobileNet(input_shape=None, alpha=1.0, depth_multiplier=1, dropout=1e-3,
              include_top=True, weights='imagenet', input_tensor=None, pooling=None,
              classes=1000, classifier_activation='softmax', name=None):
    """MobileNet as ``keras.applications.MobileNet`` (alpha 1: 4,253,864
    parameters with the classifier, 3,228,864 without).

    Args:
        input_shape: e.g. (160, 160, 3); pretrained sizes are 128, 160, 192
            and 224 (square); at least 32x32.
        alpha: width multiplier of every layer (ImageNet weights: 0.25, 0.5,
            0.75, 1.0).
        depth_multiplier: depthwise channels per input channel (1 for
            ImageNet weights).
        dropout: rate of the Dropout before the classifier.
        include_top, weights, input_tensor, pooling, classes,
        classifier_activation: as for the other applications.
        name: the model's name; default 'mobilenet_{alpha:.2f}_{rows}'.
    """
    imagenet_utils.check_weights_argument(weights, include_top, classes)
    default_size = 224
    if input_shape is not None and input_shape[0] == input_shape[1] \
            and input_shape[0] in PRETRAINED_SIZES:
        default_size = input_shape[0]
    input_shape = imagenet_utils.obtain_input_shape(
        input_shape, default_size=default_size, min_size=32, require_flatten=include_top,
        weights=weights)
    rows, cols = input_shape[0], input_shape[1]
    imagenet = imagenet_utils.is_imagenet(weights)
    if imagenet:
        if depth_multiplier != 1:
            raise ValueError("If imagenet weights are being loaded, depth multiplier must "
                             f"be 1.  Received depth_multiplier={depth_multiplier}")
        if alpha not in PRETRAINED_ALPHAS:
            raise ValueError("If imagenet weights are being loaded, alpha can be one of "
                             "`0.25`, `0.50`, `0.75` or `1.0` only.  Received "
                             f"alpha={alpha}")
        if rows != cols or rows not in PRETRAINED_SIZES:
            rows = 224
            warnings.warn("`input_shape` is undefined or non-square, or `rows` is not in "
                          "[128, 160, 192, 224]. Weights for input shape (224, 224) will "
                          "be loaded as the default.", stacklevel=2)
    image, inputs = imagenet_utils.application_input(input_tensor, input_shape)

    x = _conv_block(image, 32, alpha, strides=(2, 2))
    for block_id, (filters, stride) in enumerate(BLOCKS, start=1):
        x = _depthwise_conv_block(x, filters, alpha, depth_multiplier, stride, block_id)

    if include_top:
        x = GlobalAveragePooling2D(keepdims=True)(x)
        x = Dropout(dropout, name='dropout')(x)
        x = Conv2D(classes, (1, 1), padding='same', name='conv_preds')(x)
        x = Reshape((classes,), name='reshape_2')(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = Activation(classifier_activation, name='predictions')(x)
    else:
        x = imagenet_utils.feature_pooling(x, pooling)

    return imagenet_utils.application_model(
        inputs, x, name or f'mobilenet_{alpha:0.2f}_{rows}', weights,
        weights_file(alpha, rows, include_top) if imagenet else None)
