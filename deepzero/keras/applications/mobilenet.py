"""``keras.applications.mobilenet`` -> :mod:`deepzero.applications.mobilenet`."""
from ...applications.mobilenet import *  # noqa: F401,F403
