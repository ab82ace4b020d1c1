"""SqueezeNet v1.1 (Iandola et al., 2016) as the keras-squeezenet package
(rcmalli) builds it, so its Keras weight files load.

conv1 3x3/2 64 'valid' + ReLU -> max pool 3x3/2 'pool1' -> fire2, fire3 ->
'pool3' -> fire4, fire5 -> 'pool5' -> fire6 .. fire9 -> Dropout(0.5) 'drop9'.
A fire module squeezes with a 1x1 convolution and expands with 1x1 and 3x3
'same' convolutions side by side (each + ReLU), concatenated: layers
'fireN_squeeze1x1', 'fireN_relu_squeeze1x1', 'fireN_expand1x1', ...,
'fireN_concat' ('fireN/squeeze1x1', ... in keras-squeezenet's files: Keras 3
refuses '/' in a layer name, and the files load by position, not by name).
The classifier ('conv10' 1x1 convolution to ``classes`` +
ReLU, global average pooling, softmax 'loss') is keras-squeezenet's. 512
features; 13x13 for the default 227x227 input; at least 48x48.

Inputs follow Caffe, where the weights come from: BGR, minus the means
B 104.006, G 116.669, R 122.679 (``preprocess_input``), no scaling.

``weights='imagenet'`` loads the published convolutional base
(``include_top=False``); classifier weights load only from a path.
"""
from ..layers import (Activation, Concatenate, Conv2D, Dropout, GlobalAveragePooling2D,
                      MaxPooling2D)
from . import imagenet_utils
from .imagenet_utils import decode_predictions  # noqa: F401
from .weights import RemoteFile

WEIGHTS_FILE_NO_TOP = RemoteFile(
    'squeezenet_weights_tf_dim_ordering_tf_kernels_notop.h5',
    'https://github.com/rcmalli/keras-squeezenet/releases/download/v1.0/'
    'squeezenet_weights_tf_dim_ordering_tf_kernels_notop.h5',
    '80b66c92d79d4310e07fb60a297bf0d1')

CAFFE_BGR_MEAN = (104.006, 116.669, 122.679)


def fire_module(x, fire_id, squeeze, expand):
    """Fire module ``fire{fire_id}``: 1x1 squeeze to ``squeeze`` channels,
    then 1x1 and 3x3 expansions to ``expand`` channels each, concatenated
    (``2 * expand`` channels)."""
    prefix = f'fire{fire_id}_'
    x = Conv2D(squeeze, (1, 1), padding='valid', name=prefix + 'squeeze1x1')(x)
    x = Activation('relu', name=prefix + 'relu_squeeze1x1')(x)
    left = Conv2D(expand, (1, 1), padding='valid', name=prefix + 'expand1x1')(x)
    left = Activation('relu', name=prefix + 'relu_expand1x1')(left)
    right = Conv2D(expand, (3, 3), padding='same', name=prefix + 'expand3x3')(x)
    right = Activation('relu', name=prefix + 'relu_expand3x3')(right)
    return Concatenate(name=prefix + 'concat')([left, right])


def SqueezeNet(include_top=True, weights='imagenet', input_tensor=None, input_shape=None,
               pooling=None, classes=1000):
    """SqueezeNet v1.1 (722,496 parameters without the classifier).

    Args:
        include_top: add the classifier (conv10, relu_conv10, global average
            pooling, softmax).
        weights: None, 'imagenet' (the base only: needs include_top=False)
            or the path of a keras-squeezenet weight file.
        input_tensor: a symbolic tensor to use as the image input.
        input_shape: e.g. (150, 150, 3); 227x227 with the classifier by
            default, at least 48x48.
        pooling: without the classifier: None, 'avg' or 'max'.
        classes: number of classes of the classifier.
    """
    if imagenet_utils.is_imagenet(weights) and include_top:
        raise ValueError("SqueezeNet: weights='imagenet' loads the published convolutional "
                         f"base ({WEIGHTS_FILE_NO_TOP.name}) only; use include_top=False, "
                         "or pass the path of a weight file with the classifier")
    image, inputs = imagenet_utils.model_input(weights, include_top, classes, input_tensor,
                                               input_shape, default_size=227, min_size=48)

    x = Conv2D(64, (3, 3), strides=(2, 2), padding='valid', name='conv1')(image)
    x = Activation('relu', name='relu_conv1')(x)
    x = MaxPooling2D(pool_size=(3, 3), strides=(2, 2), name='pool1')(x)
    x = fire_module(x, 2, squeeze=16, expand=64)
    x = fire_module(x, 3, squeeze=16, expand=64)
    x = MaxPooling2D(pool_size=(3, 3), strides=(2, 2), name='pool3')(x)
    x = fire_module(x, 4, squeeze=32, expand=128)
    x = fire_module(x, 5, squeeze=32, expand=128)
    x = MaxPooling2D(pool_size=(3, 3), strides=(2, 2), name='pool5')(x)
    x = fire_module(x, 6, squeeze=48, expand=192)
    x = fire_module(x, 7, squeeze=48, expand=192)
    x = fire_module(x, 8, squeeze=64, expand=256)
    x = fire_module(x, 9, squeeze=64, expand=256)
    x = Dropout(0.5, name='drop9')(x)

    if include_top:
        x = Conv2D(classes, (1, 1), padding='valid', name='conv10')(x)
        x = Activation('relu', name='relu_conv10')(x)
        x = GlobalAveragePooling2D()(x)
        x = Activation('softmax', name='loss')(x)
    else:
        x = imagenet_utils.feature_pooling(x, pooling)

    return imagenet_utils.application_model(inputs, x, 'squeezenet', weights,
                                            WEIGHTS_FILE_NO_TOP)


def preprocess_input(x, data_format=None):
    """Caffe preprocessing with SqueezeNet's means: RGB -> BGR, minus
    B 104.006, G 116.669, R 122.679; no scaling (float arrays in place)."""
    return imagenet_utils.bgr_preprocess_input(x, CAFFE_BGR_MEAN, data_format)
