"""``keras.applications.squeezenet`` -> :mod:`deepzero.applications.squeezenet`."""
from ...applications.squeezenet import *  # noqa: F401,F403
