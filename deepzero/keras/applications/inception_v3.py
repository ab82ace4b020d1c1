"""``keras.applications.inception_v3`` -> :mod:`deepzero.applications.inception_v3`."""
from ...applications.inception_v3 import *  # noqa: F401,F403
