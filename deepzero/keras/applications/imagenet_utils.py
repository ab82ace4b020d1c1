"""``keras.applications.imagenet_utils`` -> :mod:`deepzero.applications.imagenet_utils`."""
from ...applications.imagenet_utils import *  # noqa: F401,F403
