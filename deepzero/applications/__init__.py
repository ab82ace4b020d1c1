"""Pretrained ImageNet models, as ``keras.applications``.

Each module has the model function, ``preprocess_input`` (the input
convention its weights were trained with) and ``decode_predictions``::

    from deepzero.applications import VGG16
    conv_base = VGG16(weights='imagenet', include_top=False, input_shape=(150, 150, 3))

``weights='imagenet'`` reuses Keras's download cache (~/.keras/models) or
deepzero's (~/.deepzero/models, or $DEEPZERO_HOME/models), else downloads
the file Keras uses (see :mod:`deepzero.applications.weights`);
``weights=<path>`` loads any Keras weight file of the same architecture.

The model functions take Keras's arguments (documented here once; each
function names what is its own):

* ``include_top``: include the classifier;
* ``weights``: None (random), 'imagenet' or the path of a Keras weight file;
* ``input_tensor``: a symbolic tensor to use as the image input;
* ``input_shape``: without the classifier, e.g. (150, 150, 3), at least the
  model's minimum size;
* ``pooling``: without the classifier: None (4-D features), 'avg' or 'max';
* ``classes``: classifier size (1000 with ImageNet weights);
* ``classifier_activation``: 'softmax' or None (logits) with pretrained weights;
* ``name``: the model's name.
"""
from . import (feature_cache, imagenet_utils, inception_v3, mobilenet, resnet, resnet50,
               squeezenet, vgg16, vgg19, weights, xception)
from .inception_v3 import InceptionV3
from .mobilenet import MobileNet
from .resnet import ResNet50, ResNet101, ResNet152
from .squeezenet import SqueezeNet
from .vgg16 import VGG16
from .vgg19 import VGG19
from .xception import Xception

__all__ = ['feature_cache', 'imagenet_utils', 'inception_v3', 'mobilenet', 'resnet', 'resnet50',
           'squeezenet', 'vgg16', 'vgg19', 'weights', 'xception', 'InceptionV3', 'MobileNet',
           'ResNet50', 'ResNet101', 'ResNet152', 'SqueezeNet', 'VGG16', 'VGG19', 'Xception']
