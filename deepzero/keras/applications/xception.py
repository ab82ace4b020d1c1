"""``keras.applications.xception`` -> :mod:`deepzero.applications.xception`."""
from ...applications.xception import *  # noqa: F401,F403
