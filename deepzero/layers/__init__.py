"""Keras-style layers: ``from deepzero.layers import Dense, Conv2D, ...``.

``LAYER_CLASSES`` maps Keras class names to these classes, for rebuilding
layers from configs (model files).
"""
from ..core.naming import reset_names
from .layer import InputSpec, Layer
from .node import KerasTensor, Node
from .input_layer import Input, InputLayer
from .dense import Dense
from .conv2d import Conv2D
from .separable_conv2d import SeparableConv2D
from .depthwise_conv2d import DepthwiseConv2D
from .conv2d_transpose import Conv2DTranspose
from .max_pooling2d import MaxPooling2D
from .average_pooling2d import AveragePooling2D
from .global_average_pooling2d import GlobalAveragePooling2D
from .global_max_pooling2d import GlobalMaxPooling2D
from .zero_padding2d import ZeroPadding2D
from .flatten import Flatten
from .reshape import Reshape
from .dropout import Dropout
from .batch_normalization import BatchNormalization
from .activation import Activation
from .relu import ReLU
from .leaky_relu import LeakyReLU
from .softmax import Softmax
from .base_merge import Merge
from .add import Add
from .concatenate import Concatenate
from .multiply import Multiply
from .rescaling import Rescaling
from .base_image_preprocessing import ImagePreprocessingLayer, RandomImageLayer
from .base_random_affine import RandomAffineLayer
from .resizing import Resizing
from .center_crop import CenterCrop
from .random_flip import RandomFlip
from .random_rotation import RandomRotation
from .random_zoom import RandomZoom
from .random_translation import RandomTranslation
from .random_contrast import RandomContrast
from .random_brightness import RandomBrightness

# Keras 2 aliases that old code and old files use.
Convolution2D = Conv2D
SeparableConvolution2D = SeparableConv2D
MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D
GlobalAvgPool2D = GlobalAveragePooling2D
GlobalMaxPool2D = GlobalMaxPooling2D

LAYER_CLASSES = {cls.__name__: cls for cls in (
    InputLayer, Dense, Conv2D, SeparableConv2D, DepthwiseConv2D, Conv2DTranspose,
    MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D, ZeroPadding2D,
    Flatten, Reshape, Dropout, BatchNormalization, Activation, ReLU, LeakyReLU, Softmax, Add,
    Concatenate, Multiply, Rescaling, Resizing, CenterCrop, RandomFlip, RandomRotation, RandomZoom,
    RandomTranslation, RandomContrast, RandomBrightness)}
LAYER_CLASSES.update({'Convolution2D': Conv2D, 'SeparableConvolution2D': SeparableConv2D,
                      'MaxPool2D': MaxPooling2D, 'AvgPool2D': AveragePooling2D,
                      'GlobalAvgPool2D': GlobalAveragePooling2D,
                      'GlobalMaxPool2D': GlobalMaxPooling2D})

__all__ = ['Layer', 'Input', 'InputSpec', 'KerasTensor', 'Node', 'reset_names', 'LAYER_CLASSES',
           *LAYER_CLASSES]
