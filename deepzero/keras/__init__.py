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
