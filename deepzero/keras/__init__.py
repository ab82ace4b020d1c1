"""Keras's import paths over deepzero: change ``keras`` to ``deepzero.keras``
in a Keras program's imports and it runs on deepzero.

This package only re-exports; every class and function lives in the deepzero
package named in each module.
"""
from . import (activations, applications, callbacks, distributed, initializers, layers, losses,
               metrics, models, optimizers, preprocessing, regularizers, utils)
from . import datasets  # noqa: F401
from ..layers import Input
from ..models import Model, Sequential
from . import backend, config, ops  # noqa: E402
# The Keras version whose API, configs and files deepzero follows (the one its
# saved files name); docs/compatibility.md says why.
from ..saving.serialization import KERAS_VERSION as __version__  # noqa: E402,F401
