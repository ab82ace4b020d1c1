"""``keras.preprocessing`` -> :mod:`deepzero.preprocessing`."""
from . import image  # noqa: F401
from ...preprocessing import image_dataset_from_directory  # noqa: F401
