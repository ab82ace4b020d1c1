"""``keras.initializers`` -> :mod:`deepzero.initializers`."""
from ..initializers import *  # noqa: F401,F403
from ..initializers import __all__  # noqa: F401
