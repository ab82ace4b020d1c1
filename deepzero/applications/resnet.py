"""ResNet v1 (He et al., 2015) as Keras 3 builds it (``keras.applications.resnet``):
ResNet50, ResNet101, ResNet152.

Stem: ZeroPadding2D(3) 'conv1_pad' -> Conv2D 64 7x7/2 'conv1_conv' -> BN
'conv1_bn' -> ReLU 'conv1_relu' -> ZeroPadding2D(1) 'pool1_pad' -> MaxPool
3x3/2 'pool1_pool'; then four stacks 'conv2'..'conv5' of bottleneck blocks
(``residual_block``). Every convolution has a bias and every
BatchNormalization epsilon 1.001e-5 -- the graph of the ``resnet/`` weight
files (not the older Keras 2.0 'res2a_branch2a' graph, whose files differ).
"""
from ..layers import Activation, Add, BatchNormalization, Conv2D, MaxPooling2D, ZeroPadding2D
from . import imagenet_utils
from .imagenet_utils import caffe_preprocess_input as preprocess_input  # noqa: F401
from .imagenet_utils import decode_predictions  # noqa: F401
from .weights import keras_application_files

BN_EPSILON = 1.001e-5

# Model name -> (MD5 with the classifier, MD5 without), as Keras pins them.
WEIGHTS_MD5 = {
    'resnet50': ('2cb95161c43110f7111970584f804107', '4d473c1dd8becc155b73f8504c6f6626'),
    'resnet101': ('f1aeb4b969a6efcfb50fad2f0c20cfc5', '88cf7a10940856eca736dc7b7e228a21'),
    'resnet152': ('100835be76be38e30d865e96f2aaae62', 'ee4c566cf9a93f14d82f913c2dc6dd0c'),
}


def weights_files(model_name):
    """(with classifier, without) ImageNet weight files of ``model_name``."""
    return keras_application_files('resnet', model_name, *WEIGHTS_MD5[model_name])


def residual_block(x, filters, stride=1, conv_shortcut=True, name=None):
    """Bottleneck block: 1x1 (``filters``, carrying the stride) -> 3x3 'same'
    -> 1x1 (4 * ``filters``), each with BN, ReLU between; the shortcut is the
    input or (``conv_shortcut``) a strided 1x1 conv + BN; sum, then ReLU.
    Layers are named ``{name}_0_conv`` (shortcut), ``{name}_1_conv`` ...
    ``{name}_3_bn``, ``{name}_add``, ``{name}_out``."""
    if conv_shortcut:
        shortcut = Conv2D(4 * filters, 1, strides=stride, name=f'{name}_0_conv')(x)
        shortcut = BatchNormalization(epsilon=BN_EPSILON, name=f'{name}_0_bn')(shortcut)
    else:
        shortcut = x
    x = Conv2D(filters, 1, strides=stride, name=f'{name}_1_conv')(x)
    x = BatchNormalization(epsilon=BN_EPSILON, name=f'{name}_1_bn')(x)
    x = Activation('relu', name=f'{name}_1_relu')(x)
    x = Conv2D(filters, 3, padding='same', name=f'{name}_2_conv')(x)
    x = BatchNormalization(epsilon=BN_EPSILON, name=f'{name}_2_bn')(x)
    x = Activation('relu', name=f'{name}_2_relu')(x)
    x = Conv2D(4 * filters, 1, name=f'{name}_3_conv')(x)
    x = BatchNormalization(epsilon=BN_EPSILON, name=f'{name}_3_bn')(x)
    x = Add(name=f'{name}_add')([shortcut, x])
    return Activation('relu', name=f'{name}_out')(x)


def residual_stack(x, filters, blocks, first_stride=2, name=None):
    """``blocks`` residual blocks ``{name}_block1`` ...; the first one
    projects the shortcut and carries ``first_stride``."""
    x = residual_block(x, filters, stride=first_stride, name=f'{name}_block1')
    for i in range(2, blocks + 1):
        x = residual_block(x, filters, conv_shortcut=False, name=f'{name}_block{i}')
    return x


def ResNet(blocks_per_stack, model_name, include_top=True, weights='imagenet',
           input_tensor=None, input_shape=None, pooling=None, classes=1000,
           classifier_activation='softmax', name=None):
    """A ResNet v1 with ``blocks_per_stack`` blocks in stacks conv2..conv5
    (64, 128, 256, 512 bottleneck filters); ``model_name`` picks the ImageNet
    weight files. Other arguments as :func:`ResNet50`."""
    image, inputs = imagenet_utils.model_input(weights, include_top, classes, input_tensor,
                                               input_shape, default_size=224, min_size=32)

    x = ZeroPadding2D(padding=((3, 3), (3, 3)), name='conv1_pad')(image)
    x = Conv2D(64, 7, strides=2, name='conv1_conv')(x)
    x = BatchNormalization(epsilon=BN_EPSILON, name='conv1_bn')(x)
    x = Activation('relu', name='conv1_relu')(x)
    x = ZeroPadding2D(padding=((1, 1), (1, 1)), name='pool1_pad')(x)
    x = MaxPooling2D(3, strides=2, name='pool1_pool')(x)
    for stack, (filters, blocks) in enumerate(zip((64, 128, 256, 512), blocks_per_stack)):
        x = residual_stack(x, filters, blocks, first_stride=1 if stack == 0 else 2,
                           name=f'conv{stack + 2}')

    x = imagenet_utils.pooled_top(x, include_top, pooling, classes, classifier_activation,
                                  weights, avg_name='avg_pool', max_name='max_pool')

    top_file, notop_file = weights_files(model_name)
    return imagenet_utils.application_model(inputs, x, name or model_name, weights,
                                            top_file if include_top else notop_file)


def ResNet50(include_top=True, weights='imagenet', input_tensor=None, input_shape=None,
             pooling=None, classes=1000, classifier_activation='softmax', name='resnet50'):
    """ResNet50 as ``keras.applications.ResNet50`` (Keras 3 graph):
    25,636,712 parameters with the classifier ('avg_pool' + Dense
    'predictions'), 23,587,712 without; inputs at least 32x32; 'imagenet'
    loads the ``resnet/`` files. The arguments are those of every
    application (:mod:`deepzero.applications`)."""
    return ResNet((3, 4, 6, 3), 'resnet50', include_top, weights, input_tensor,
                  input_shape, pooling, classes, classifier_activation, name)


def ResNet101(include_top=True, weights='imagenet', input_tensor=None, input_shape=None,
              pooling=None, classes=1000, classifier_activation='softmax', name='resnet101'):
    """ResNet101 (stacks of 3, 4, 23, 3 blocks); arguments as :func:`ResNet50`."""
    return ResNet((3, 4, 23, 3), 'resnet101', include_top, weights, input_tensor,
                  input_shape, pooling, classes, classifier_activation, name)


def ResNet152(include_top=True, weights='imagenet', input_tensor=None, input_shape=None,
              pooling=None, classes=1000, classifier_activation='softmax', name='resnet152'):
    """ResNet152 (stacks of 3, 8, 36, 3 blocks); arguments as :func:`ResNet50`."""
    return ResNet((3, 8, 36, 3), 'resnet152', include_top, weights, input_tensor,
                  input_shape, pooling, classes, classifier_activation, name)
