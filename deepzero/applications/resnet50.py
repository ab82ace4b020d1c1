"""``keras.applications.resnet50``: ResNet50 with its preprocessing ('caffe')
and ``decode_predictions``; the model lives in :mod:`.resnet`."""
from .resnet import ResNet50, decode_predictions, preprocess_input  # noqa: F401

__all__ = ['ResNet50', 'decode_predictions', 'preprocess_input']
