"""Keras's import paths over deepzero: change ``keras`` to ``deepzero.keras``
in a Keras program's imports and it runs on deepzero.

This package only re-exports; every class and function lives in the deepzero
package named in each module.
"""
from . import (activations, applications, backend, callbacks, config, datasets, distributed,
               initializers, layers, losses, metrics, models, ops, optimizers, preprocessing,
               regularizers, utils)
from ..layers import Input
from ..models import Model, Sequential
# The Keras version whose API, configs and files deepzero follows (the one its
# saved files name); docs/compatibility.md says why.
from ..saving.serialization import KERAS_VERSION as __version__  # noqa: F401
