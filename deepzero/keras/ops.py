"""``keras.ops`` (Keras 3) -> :mod:`deepzero.layers.ops`."""
from ..layers.ops import *  # noqa: F401,F403
from ..layers.ops import __all__  # noqa: F401
