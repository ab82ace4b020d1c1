"""``keras.applications.resnet50`` -> :mod:`deepzero.applications.resnet50`."""
from ...applications.resnet50 import *  # noqa: F401,F403
