"""``keras.preprocessing`` -> :mod:`deepzero.preprocessing`."""
from . import image  # noqa: F401
