"""deepzero: a define-by-run deep-learning framework on NumPy, with a
Keras-compatible front (``deepzero.keras``)."""
from .core import (Function, Parameter, Variable, as_array, as_variable, config,
                   get_array_module, grad, no_grad, runtime, test_mode, using_config)
from . import cuda

__version__ = '0.1.0'
