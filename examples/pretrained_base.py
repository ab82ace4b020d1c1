"""Which pretrained conv base the book's section 5.3 listings get, and how
SqueezeNet stands in for VGG16 without touching the listings.

The listings call ``VGG16(weights='imagenet', include_top=False,
input_shape=(150, 150, 3))``. Its weight file (58 MB) is fetched from Keras's
storage, so it is available only where Keras's or deepzero's cache holds it or
the network is reachable. Otherwise the listings run with SqueezeNet v1.1 from
``$DEEPZERO_DATA/pretrained`` (the shared notop file), substituted here:

- ``VGG16(...)`` returns ``squeezenet_as_vgg16(...)``: a Functional model named
  'squeezenet' made of three parts, all in ``conv_base.layers``:

  1. ``CaffeInput``: the book feeds ``rescale=1./255`` images (RGB in [0, 1]);
     SqueezeNet was trained on Caffe inputs (BGR, 0..255, minus the means
     B 104.006, G 116.669, R 122.679). This weight-free layer converts one to
     the other, so the book's ImageDataGenerator calls stay as written;
  2. SqueezeNet's layers with the shared weights (conv1 ... fire9, drop9):
     (8, 8, 512) at 150x150;
  3. ``MaxPooling2D(2)`` named 'pool9', a weight-free 2x2 max pooling to
     (4, 4, 512): VGG16's output shape at 150x150, which the listing hard-codes
     (``np.zeros(shape=(sample_count, 4, 4, 512))``, ``input_dim=4 * 4 * 512``).

- Section 5.4's call, ``VGG16(weights='imagenet', include_top=False)``
  without ``input_shape``, gets SqueezeNet itself (no CaffeInput, no pool9):
  images of any size, taking Caffe inputs as VGG16 does (the filter
  listing feeds raw 0..255 values, as the book does to VGG16).
- Layer names in the listing's text are mapped (``LAYER_NAMES``): the
  fine-tuning loop unfreezes from 'block5_conv1', VGG16's last block; the
  counterpart is SqueezeNet's last fire module, from 'fire9_squeeze1x1' on.
  fire9 has three convolutions as block5 has, so the book's count of
  trainable weight tensors after the loop (10) is the same. Section 5.4.2's
  filter grids use 'block1_conv1' ... 'block4_conv1' (64 to 512 filters);
  their counterparts are 'conv1' (64 filters) and the 1x1 expand convs of
  fire3, fire5 and fire7 (64, 128, 192): a layer early, then one per stage.
  Grad-CAM's 'block5_conv3' (VGG16's last conv, 512 channels) becomes
  'fire9_concat', the 512 channels of SqueezeNet's last fire module.

The model has 50 weight tensors instead of VGG16's 26, so the book's first
count ("before freezing the conv base") prints 54 instead of 30; the others
match (4 after freezing, 10 after the fine-tuning loop).
"""
import contextlib
import os

import deepzero.applications
import deepzero.keras.applications
from deepzero.applications import SqueezeNet, squeezenet, vgg16
from deepzero.applications.weights import deepzero_cache_dir, keras_cache_dir
from deepzero.layers import Input, Layer, MaxPooling2D
from deepzero.models import Functional

BASES = ('vgg16', 'squeezenet')
LAYER_NAMES = {'block5_conv1': 'fire9_squeeze1x1',
               # section 5.4.2's filter grids: a conv early, then one per stage
               'block1_conv1': 'conv1', 'block2_conv1': 'fire3_expand1x1',
               'block3_conv1': 'fire5_expand1x1', 'block4_conv1': 'fire7_expand1x1',
               # section 5.4.3's last conv output (512 channels, as VGG16's)
               'block5_conv3': 'fire9_concat'}


def shared_squeezenet_file(data_dir):
    """The shared SqueezeNet notop weight file under ``data_dir/pretrained``."""
    return os.path.join(data_dir, 'pretrained', squeezenet.WEIGHTS_FILE_NO_TOP.name)


def vgg16_weights_cached():
    """True when the VGG16 notop weight file is in Keras's or deepzero's cache."""
    name = vgg16.WEIGHTS_FILE_NO_TOP.name
    return any(os.path.isfile(os.path.join(folder, name))
               for folder in (keras_cache_dir(), deepzero_cache_dir()))


def resolve_base(choice):
    """'vgg16' or 'squeezenet' for ``choice`` ('auto': VGG16 when its weights are cached)."""
    if choice == 'auto':
        return 'vgg16' if vgg16_weights_cached() else 'squeezenet'
    if choice not in BASES:
        raise ValueError(f"base must be 'auto' or one of {BASES}, got {choice!r}")
    return choice


class CaffeInput(Layer):
    """RGB images in [0, 1] (the book's ``rescale=1./255``) -> SqueezeNet's
    Caffe input: x * 255, RGB -> BGR, minus SqueezeNet's channel means."""

    def call(self, inputs, training=None):
        return squeezenet.preprocess_input(inputs * 255.0)


def squeezenet_as_vgg16(weights_path):
    """A function called as ``VGG16`` that builds the SqueezeNet stand-in
    described in the module docstring, with weights from ``weights_path``."""

    def VGG16(include_top=True, weights='imagenet', input_tensor=None, input_shape=None,
              pooling=None, **kwargs):
        if include_top or input_tensor is not None or pooling is not None or kwargs:
            raise ValueError("The SqueezeNet stand-in for VGG16 covers the book's calls only: "
                             "VGG16(weights=..., include_top=False[, input_shape=...])")
        if weights is None:
            weights_path_or_none = None
        elif weights == 'imagenet':
            weights_path_or_none = weights_path
        else:
            raise ValueError(f"The SqueezeNet stand-in loads {weights_path}; "
                             f"got weights={weights!r}")
        if input_shape is None:  # section 5.4's call: any image size, Caffe inputs as VGG16's
            return SqueezeNet(include_top=False, weights=weights_path_or_none)
        image = Input(input_shape)
        caffe_image = CaffeInput(name='caffe_input')(image)
        base = SqueezeNet(include_top=False, weights=weights_path_or_none,
                          input_tensor=caffe_image)
        features = MaxPooling2D((2, 2), name='pool9')(base.output)
        return Functional(image, features, name='squeezenet')

    return VGG16


@contextlib.contextmanager
def substituted(base, data_dir):
    """While active, ``VGG16`` (from deepzero.keras.applications and
    deepzero.applications) builds the base named ``base``: unchanged for
    'vgg16', the SqueezeNet stand-in for 'squeezenet'."""
    if base == 'vgg16':
        yield
        return
    weights_path = shared_squeezenet_file(data_dir)
    if not os.path.isfile(weights_path):
        raise FileNotFoundError(f"SqueezeNet weights not found at {weights_path} "
                                "(set DEEPZERO_DATA to the shared data folder)")
    stand_in = squeezenet_as_vgg16(weights_path)
    modules = (deepzero.keras.applications, deepzero.applications)
    originals = [module.VGG16 for module in modules]
    for module in modules:
        module.VGG16 = stand_in
    try:
        yield
    finally:
        for module, original in zip(modules, originals):
            module.VGG16 = original


def map_layer_names(source, base):
    """The listing's text with VGG16 layer names (as quoted string literals)
    replaced by their counterparts in ``base``."""
    if base == 'vgg16':
        return source
    for vgg_name, name in LAYER_NAMES.items():
        for quote in ("'", '"'):
            source = source.replace(f'{quote}{vgg_name}{quote}', f'{quote}{name}{quote}')
    return source
