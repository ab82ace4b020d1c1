"""``keras.applications.vgg16`` -> :mod:`deepzero.applications.vgg16`."""
from ...applications.vgg16 import *  # noqa: F401,F403
