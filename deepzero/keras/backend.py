"""``keras.backend`` (``from keras import backend as K``) -> :mod:`deepzero.models.backend`."""
from ..models.backend import *  # noqa: F401,F403
from ..models.backend import __all__  # noqa: F401
