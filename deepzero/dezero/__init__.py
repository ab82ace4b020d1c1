"""DeZero's API on deepzero's engine: the code of "Deep Learning from Scratch 3"
runs with ``dezero`` replaced by ``deepzero.dezero``::

    from deepzero.dezero import Variable
    import deepzero.dezero.functions as F

A face, like ``deepzero.keras``: the same Variable, Function and backprop as
deepzero, deepzero's ops underneath; only DeZero's names, signatures and
conventions (NCHW images, OIHW kernels, integer data in backprop) are
added here. docs/dezero.md maps the two faces and lists what differs.
"""
# DeZero's switch between its two cores; the full core is the one exported
# (the book's steps 28 and 29 import deepzero.dezero.core_simple themselves).
is_simple_core = False

from .core import (Variable, Parameter, Function, using_config, no_grad,  # noqa: E402
                   test_mode, as_array, as_variable, setup_variable, Config)
from . import core, core_simple, functions, functions_conv, utils, cuda  # noqa: E402,F401

__version__ = '0.0.13'  # the DeZero release whose API this face follows
from .layers import Layer  # noqa: E402
from .models import Model  # noqa: E402
from .datasets import Dataset  # noqa: E402
from .dataloaders import DataLoader, SeqDataLoader  # noqa: E402
from . import layers, models, optimizers, datasets, dataloaders, transforms  # noqa: E402,F401
