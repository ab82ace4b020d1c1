"""What every ImageNet application shares (``keras.applications.imagenet_utils``).

* ``preprocess_input(x, data_format=None, mode='caffe')``: the three input
  conventions the pretrained weights were trained with (the applications
  export ``caffe_preprocess_input`` or ``tf_preprocess_input`` under the
  name ``preprocess_input``);
* ``decode_predictions(preds, top=5)``: class ids and names of the best scores;
* the argument logic of the model functions: ``model_input`` (which runs
  ``check_weights_argument``, ``obtain_input_shape`` and
  ``application_input``: ``weights`` / ``classes`` / ``input_tensor`` /
  ``input_shape``), ``feature_pooling`` (``pooling``), ``pooled_classifier``,
  ``pooled_top`` (one of those two, by ``include_top``) and
  ``validate_activation`` (``include_top`` / ``classes`` /
  ``classifier_activation``), ``application_model`` (``weights``).
"""
import json
import os
import warnings

import numpy as np

from .. import activations
from ..core import Variable, runtime
from ..layers import Dense, GlobalAveragePooling2D, GlobalMaxPooling2D, Input
from ..layers.node import KerasTensor
from ..models import Functional
from .weights import RemoteFile, fetch

CLASS_INDEX_FILE = RemoteFile(
    'imagenet_class_index.json',
    'https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json',
    'c2c37ea517e94d9795004a39431a14cb')

# Per-channel statistics of the ImageNet training set, in the order each mode
# sees the channels ('caffe' has already flipped RGB to BGR).
CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)
TORCH_RGB_MEAN = (0.485, 0.456, 0.406)
TORCH_RGB_STD = (0.229, 0.224, 0.225)

DATA_FORMATS = ('channels_last', 'channels_first')


# --- inputs and outputs of a pretrained model -------------------------------------
def preprocess_input(x, data_format=None, mode='caffe'):
    """Bring RGB images with values in [0, 255] to a model's training convention.

    Args:
        x: images, 3-D (one image) or 4-D (a batch): a NumPy array, a
            deepzero Variable or a symbolic tensor (``Input``, a layer's
            output). Integer arrays are converted to float32.
        data_format: 'channels_last' or 'channels_first'; None: the
            runtime setting ``image_data_format`` (default 'channels_last').
        mode: 'caffe' (VGG, ResNet): RGB -> BGR, then subtract the ImageNet
            mean of each channel, no scaling; 'tf' (Inception, Xception,
            MobileNet): scale to [-1, 1]; 'torch': scale to [0, 1], then
            normalise each channel with the ImageNet mean and std.

    Returns:
        The preprocessed images. As in Keras, a float NumPy array is
        modified in place (copy it first to keep it); in 'caffe' mode the
        result is a channel-reversed view of it. A Variable gives a new
        Variable (differentiable), a symbolic tensor a symbolic tensor (the
        steps join the model's graph).
    """
    if mode not in ('caffe', 'tf', 'torch'):
        raise ValueError("Expected mode to be one of `caffe`, `tf` or `torch`. "
                         f"Received: mode={mode}")
    _check_data_format(data_format)
    if mode == 'caffe':
        return bgr_preprocess_input(x, CAFFE_BGR_MEAN, data_format)
    x = _as_images(x)
    if mode == 'tf':  # no per-channel statistics: any shape, any number of channels
        return _scale(x, 127.5, -1.0)
    channel_axis = _channel_axis(x, data_format)
    x = _scale(x, 255.0, 0.0)
    return _normalize_channels(x, channel_axis, TORCH_RGB_MEAN, TORCH_RGB_STD)


def bgr_preprocess_input(x, bgr_mean, data_format=None):
    """The Caffe convention with other means: RGB -> BGR, then subtract
    ``bgr_mean`` (blue, green, red) per channel; no scaling. Arrays are
    treated as by :func:`preprocess_input`."""
    x = _as_images(x)
    return _bgr_minus_mean(x, _channel_axis(x, data_format), bgr_mean)


def caffe_preprocess_input(x, data_format=None):
    """``preprocess_input`` of VGG and ResNet: mode 'caffe' (RGB -> BGR,
    minus the ImageNet channel means, no scaling)."""
    return bgr_preprocess_input(x, CAFFE_BGR_MEAN, data_format)


def tf_preprocess_input(x, data_format=None):
    """``preprocess_input`` of Inception, Xception and MobileNet: mode 'tf'
    (x / 127.5 - 1, into [-1, 1])."""
    return preprocess_input(x, data_format=data_format, mode='tf')


def _as_images(x):
    """An array (ints cast to float32, as Keras does); a Variable or a
    KerasTensor as is."""
    if isinstance(x, (Variable, KerasTensor)):
        return x
    x = np.asarray(x)
    return x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float32)


def _check_data_format(data_format):
    """The runtime's image_data_format for None; otherwise one of DATA_FORMATS."""
    data_format = data_format or runtime.get('image_data_format')
    if data_format not in DATA_FORMATS:
        raise ValueError("Expected data_format to be one of `channels_first` or "
                         f"`channels_last`. Received: data_format={data_format}")
    return data_format


def _channel_axis(x, data_format):
    """The colour axis of one image (3-D) or a batch (4-D); it must have 3 entries."""
    data_format = _check_data_format(data_format)
    if x.ndim not in (3, 4):
        raise ValueError(f"preprocess_input: expected one image (3-D) or a batch (4-D), "
                         f"got shape {x.shape}")
    channel_axis = x.ndim - 1 if data_format == 'channels_last' else x.ndim - 3
    if x.shape[channel_axis] != 3:
        raise ValueError(f"preprocess_input: expected 3 colour channels on axis "
                         f"{channel_axis} ({data_format}), got shape {x.shape}")
    return channel_axis


def _bgr_minus_mean(x, channel_axis, bgr_mean):
    flip = [slice(None)] * x.ndim
    flip[channel_axis] = slice(None, None, -1)
    return _normalize_channels(x[tuple(flip)], channel_axis, bgr_mean, None)


def _scale(x, divisor, offset):
    """x / divisor + offset; in place for arrays."""
    if isinstance(x, (Variable, KerasTensor)):
        return x / divisor + offset
    x /= divisor
    x += offset
    return x


def _normalize_channels(x, channel_axis, mean, std):
    """(x - mean) / std per channel; in place for arrays."""
    shape = [1] * x.ndim
    shape[channel_axis] = 3
    mean = np.asarray(mean, dtype=x.dtype).reshape(shape)
    std = None if std is None else np.asarray(std, dtype=x.dtype).reshape(shape)
    if isinstance(x, (Variable, KerasTensor)):
        x = x - mean
        return x if std is None else x / std
    x -= mean
    if std is not None:
        x /= std
    return x


def decode_predictions(preds, top=5):
    """The ``top`` best ImageNet classes of each prediction.

    Args:
        preds: scores of shape (samples, 1000) (array or Variable).
        top: how many classes to return per sample.

    Returns:
        One list per sample of ``(wordnet_id, class_name, score)`` tuples,
        best first. The class names come from ``imagenet_class_index.json``,
        fetched (and cached) like the weight files.
    """
    preds = np.asarray(preds.data if isinstance(preds, Variable) else preds)
    if preds.ndim != 2 or preds.shape[1] != 1000:
        raise ValueError("`decode_predictions` expects a batch of predictions (i.e. a 2D "
                         f"array of shape (samples, 1000)). Received array with shape: "
                         f"{preds.shape}")
    class_index = load_class_index()
    results = []
    for pred in preds:
        best = np.argsort(pred, kind='stable')[::-1][:top]
        results.append([(*class_index[str(i)], pred[i]) for i in best])
    return results


def load_class_index():
    """``{"0": [wnid, name], ..., "999": [...]}`` from the cached or
    downloaded ``imagenet_class_index.json``."""
    path = fetch(CLASS_INDEX_FILE)
    with open(path, encoding='utf-8') as f:
        class_index = json.load(f)
    missing = [str(i) for i in range(1000) if str(i) not in class_index]
    if missing:
        raise ValueError(f"{path}: not an ImageNet class index (no entry for classes "
                         f"{missing[:5]}{'...' if len(missing) > 5 else ''})")
    return class_index


# --- arguments of the model functions ------------------------------------------------
def check_weights_argument(weights, include_top, classes):
    """Keras's checks of ``weights`` ('imagenet', None or an existing file)
    and of ``classes`` with ImageNet weights and the classifier."""
    if not (weights is None or is_imagenet(weights) or os.path.exists(weights)):
        raise ValueError("The `weights` argument should be either `None` (random "
                         "initialization), 'imagenet' (pre-training on ImageNet), or the "
                         f"path to the weights file to be loaded.  Received: "
                         f"weights={weights}")
    if is_imagenet(weights) and include_top and classes != 1000:
        raise ValueError("If using `weights='imagenet'` with `include_top=True`, "
                         f"`classes` should be 1000.  Received classes={classes}")


def is_imagenet(weights):
    """True for ``weights='imagenet'`` (and not for a path or None)."""
    return isinstance(weights, str) and weights == 'imagenet'


def obtain_input_shape(input_shape, default_size, min_size, data_format='channels_last',
                       require_flatten=False, weights=None):
    """The model's input shape (without the batch axis), checked as Keras does.

    Args:
        input_shape: the user's shape or None.
        default_size: the size the pretrained weights were trained at.
        min_size: the smallest height/width the architecture accepts.
        require_flatten: True when the classifier is included (its shape is
            then fixed; with ImageNet weights it must be the default).
        weights: the ``weights`` argument (ImageNet weights need 3 channels).

    Returns:
        A shape tuple, with None for free sizes, e.g. (None, None, 3).
    """
    channels_last = data_format == 'channels_last'
    imagenet = is_imagenet(weights)

    def image_shape(size, channels):
        return (size, size, channels) if channels_last else (channels, size, size)

    if input_shape is not None:
        input_shape = tuple(input_shape)
    if not imagenet and input_shape and len(input_shape) == 3:
        channels = input_shape[-1] if channels_last else input_shape[0]
        if channels not in (1, 3):
            warnings.warn("This model usually expects 1 or 3 input channels. However, it "
                          f"was passed an input_shape with {channels} input channels.",
                          stacklevel=3)
        default_shape = image_shape(default_size, channels)
    else:
        default_shape = image_shape(default_size, 3)
    if imagenet and require_flatten:
        if input_shape is not None and input_shape != default_shape:
            raise ValueError("When setting `include_top=True` and loading `imagenet` "
                             f"weights, `input_shape` should be {default_shape}.  "
                             f"Received: input_shape={input_shape}")
        return default_shape
    if input_shape:
        if len(input_shape) != 3:
            raise ValueError("`input_shape` must be a tuple of three integers.")
        channels = input_shape[-1] if channels_last else input_shape[0]
        sizes = input_shape[:2] if channels_last else input_shape[1:]
        if channels != 3 and imagenet:
            raise ValueError(f"The input must have 3 channels; Received "
                             f"`input_shape={input_shape}`")
        if any(size is not None and size < min_size for size in sizes):
            raise ValueError(f"Input size must be at least {min_size}x{min_size}; "
                             f"Received: input_shape={input_shape}")
    elif require_flatten:
        input_shape = default_shape
    else:
        input_shape = image_shape(None, 3)
    if require_flatten and None in input_shape:
        raise ValueError("If `include_top` is True, you should specify a static "
                         f"`input_shape`. Received: input_shape={input_shape}")
    return input_shape


def model_input(weights, include_top, classes, input_tensor, input_shape, default_size,
                min_size):
    """What a model function does first: check ``weights`` and ``classes``
    (``check_weights_argument``), settle the input shape (``obtain_input_shape``:
    ``default_size`` square with the classifier, at least ``min_size``), and
    return ``application_input``'s ``(image_tensor, model_inputs)``."""
    check_weights_argument(weights, include_top, classes)
    input_shape = obtain_input_shape(input_shape, default_size=default_size, min_size=min_size,
                                     require_flatten=include_top, weights=weights)
    return application_input(input_tensor, input_shape)


def application_input(input_tensor, input_shape):
    """``(image_tensor, model_inputs)``: a new ``Input(input_shape)``, or the
    given symbolic ``input_tensor`` and the Input tensors it comes from (so
    a model can be built on top of earlier layers)."""
    if input_tensor is None:
        image = Input(shape=input_shape)
        return image, image
    if not isinstance(input_tensor, KerasTensor):
        raise ValueError("input_tensor must be a symbolic tensor (the output of "
                         f"keras Input() or of a layer called on one); got "
                         f"{type(input_tensor).__name__}")
    return input_tensor, _source_inputs(input_tensor)


def _source_inputs(tensor):
    """The Input tensors that ``tensor`` is computed from, in first-met order
    (each node is visited once, so shared branches cost nothing extra)."""
    sources, visited, pending = [], set(), [tensor]
    while pending:
        current = pending.pop()
        layer, node_index, _ = current.keras_history
        node = layer._inbound_nodes[node_index]
        if id(node) in visited:
            continue
        visited.add(id(node))
        if node.is_input:
            sources.append(current)
        else:
            pending.extend(reversed(node.input_tensors))
    return sources[0] if len(sources) == 1 else sources


def feature_pooling(x, pooling, avg_name=None, max_name=None):
    """``pooling`` without the classifier: None (4-D features), 'avg' or
    'max' (global pooling to (batch, channels))."""
    if pooling is None:
        return x
    if pooling == 'avg':
        return GlobalAveragePooling2D(name=avg_name)(x)
    if pooling == 'max':
        return GlobalMaxPooling2D(name=max_name)(x)
    raise ValueError(f"pooling must be None, 'avg' or 'max'; received pooling={pooling!r}")


def validate_activation(classifier_activation, weights):
    """Pretrained classifiers allow only softmax or None (logits)."""
    if weights is None:
        return
    activation = activations.get(classifier_activation)
    if activation not in (activations.get('softmax'), activations.get(None)):
        raise ValueError("Only `None` and `softmax` activations are allowed for the "
                         "`classifier_activation` argument when using pretrained "
                         "weights, with `include_top=True`; Received: "
                         f"classifier_activation={classifier_activation}")


def pooled_classifier(x, classes, classifier_activation, weights):
    """The classifier of ResNet, Inception and Xception: global average
    pooling ('avg_pool'), then Dense ('predictions')."""
    x = GlobalAveragePooling2D(name='avg_pool')(x)
    validate_activation(classifier_activation, weights)
    return Dense(classes, activation=classifier_activation, name='predictions')(x)


def pooled_top(x, include_top, pooling, classes, classifier_activation, weights,
               avg_name=None, max_name=None):
    """The end of ResNet, Inception and Xception: ``pooled_classifier`` with
    ``include_top``, else ``feature_pooling`` (its layer names as given)."""
    if include_top:
        return pooled_classifier(x, classes, classifier_activation, weights)
    return feature_pooling(x, pooling, avg_name, max_name)


def application_model(inputs, outputs, name, weights, remote_file):
    """The functional model from ``inputs`` to ``outputs``, with ``weights``
    loaded: 'imagenet' (``remote_file``, cached or downloaded), a path to a
    Keras weight file, or None (keep the random initialisation)."""
    model = Functional(inputs, outputs, name=name)
    if is_imagenet(weights):
        model.load_weights(fetch(remote_file))
    elif weights is not None:
        model.load_weights(weights)
    return model
