"""``keras.applications`` -> :mod:`deepzero.applications`."""
from ...applications import *  # noqa: F401,F403
from ...applications import __all__  # noqa: F401
