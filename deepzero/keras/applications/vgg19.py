"""``keras.applications.vgg19`` -> :mod:`deepzero.applications.vgg19`."""
from ...applications.vgg19 import *  # noqa: F401,F403
