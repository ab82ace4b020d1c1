"""VGG16 (``keras.applications.vgg16``): 13 convolutions in blocks of
2, 2, 3, 3, 3; 138,357,544 parameters with the classifier, 14,714,688
without. Inputs: ``preprocess_input`` ('caffe': BGR, ImageNet means
subtracted), 224x224 with the classifier, at least 32x32 without.
"""
from .imagenet_utils import caffe_preprocess_input as preprocess_input  # noqa: F401
from .imagenet_utils import decode_predictions  # noqa: F401
from .vgg import VGG
from .weights import keras_application_files

WEIGHTS_FILE, WEIGHTS_FILE_NO_TOP = keras_application_files(
    'vgg16', 'vgg16', '64373286793e3c8b2b4e3219cbf3544b', '6d6bbae143d832006294945121d1f1fc')


def VGG16(include_top=True, weights='imagenet', input_tensor=None, input_shape=None,
          pooling=None, classes=1000, classifier_activation='softmax', name='vgg16'):
    """The VGG16 model, as ``keras.applications.VGG16``.

    Args:
        include_top: include the classifier (Flatten, fc1, fc2, predictions).
        weights: None (random), 'imagenet' (cached or downloaded), or the
            path of a Keras weight file.
        input_tensor: a symbolic tensor to use as the image input.
        input_shape: e.g. (150, 150, 3); without the classifier only.
        pooling: without the classifier: None (output (h/32, w/32, 512)),
            'avg' or 'max' (output (512,)).
        classes: size of the classifier (1000 with ImageNet weights).
        classifier_activation: 'softmax' or None (logits), or any
            activation when not loading pretrained weights.
        name: the model's name.
    """
    return VGG((2, 2, 3, 3, 3), WEIGHTS_FILE, WEIGHTS_FILE_NO_TOP, include_top, weights,
               input_tensor, input_shape, pooling, classes, classifier_activation, name)
