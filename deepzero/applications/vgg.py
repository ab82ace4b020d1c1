"""The VGG family (Simonyan & Zisserman, 2015): ``vgg16`` and ``vgg19`` differ
only in how many 3x3 convolutions each of the five blocks has.

Layer names are Keras's (``block1_conv1`` ... ``block5_pool``, ``flatten``,
``fc1``, ``fc2``, ``predictions``), and so is the order of the weighted
layers, which is what loading a Keras weight file relies on.
"""
from ..layers import Conv2D, Dense, Flatten, MaxPooling2D
from . import imagenet_utils

BLOCK_FILTERS = (64, 128, 256, 512, 512)


def VGG(convs_per_block, top_file, notop_file, include_top, weights, input_tensor,
        input_shape, pooling, classes, classifier_activation, name):
    """Build a VGG network with ``convs_per_block[i]`` convolutions in block i+1
    (each 3x3 'same' + ReLU, then 2x2 max pooling); the arguments are those
    of ``VGG16``. ``top_file`` / ``notop_file``: the ImageNet weight files."""
    image, inputs = imagenet_utils.model_input(weights, include_top, classes, input_tensor,
                                               input_shape, default_size=224, min_size=32)

    x = image
    for block, (filters, convs) in enumerate(zip(BLOCK_FILTERS, convs_per_block), start=1):
        for conv in range(1, convs + 1):
            x = Conv2D(filters, (3, 3), activation='relu', padding='same',
                       name=f'block{block}_conv{conv}')(x)
        x = MaxPooling2D((2, 2), strides=(2, 2), name=f'block{block}_pool')(x)

    if include_top:
        x = Flatten(name='flatten')(x)
        x = Dense(4096, activation='relu', name='fc1')(x)
        x = Dense(4096, activation='relu', name='fc2')(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = Dense(classes, activation=classifier_activation, name='predictions')(x)
    else:
        x = imagenet_utils.feature_pooling(x, pooling)

    return imagenet_utils.application_model(inputs, x, name, weights,
                                            top_file if include_top else notop_file)
