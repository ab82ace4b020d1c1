"""VGG19 (``keras.applications.vgg19``): 16 convolutions in blocks of
2, 2, 4, 4, 4; 143,667,240 parameters with the classifier, 20,024,384
without. Inputs as VGG16 ('caffe' preprocessing, 224x224 / at least 32x32).
"""
from .imagenet_utils import caffe_preprocess_input as preprocess_input  # noqa: F401
from .imagenet_utils import decode_predictions  # noqa: F401
from .vgg import VGG
from .weights import keras_application_files

WEIGHTS_FILE, WEIGHTS_FILE_NO_TOP = keras_application_files(
    'vgg19', 'vgg19', 'cbe5617147190e668d6c5d5026f83318', '253f8cb515780f3b799900260a226db6')


def VGG19(include_top=True, weights='imagenet', input_tensor=None, input_shape=None,
          pooling=None, classes=1000, classifier_activation='softmax', name='vgg19'):
    """The VGG19 model, as ``keras.applications.VGG19``; arguments as
    :func:`deepzero.applications.vgg16.VGG16`."""
    return VGG((2, 2, 4, 4, 4), WEIGHTS_FILE, WEIGHTS_FILE_NO_TOP, include_top, weights,
               input_tensor, input_shape, pooling, classes, classifier_activation, name)
