"""``keras.applications.resnet`` -> :mod:`deepzero.applications.resnet`."""
from ...applications.resnet import *  # noqa: F401,F403
