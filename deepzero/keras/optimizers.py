"""``keras.optimizers`` -> :mod:`deepzero.optimizers`."""
from ..optimizers import *  # noqa: F401,F403
from ..optimizers import __all__  # noqa: F401
from ..optimizers import schedules  # noqa: F401,E402
