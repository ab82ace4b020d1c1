"""Every differentiable op, imported as ``F``: ``import deepzero.functions as F``.

Each op is one ``Function`` subclass (forward and backward side by side) and a
lowercase function that calls it. Image ops are channels_last by default:
x is (N, H, W, C) and conv kernels are (KH, KW, C_in, C_out), as Keras stores them.
"""
from ..core.operators import (add, broadcast_to, div, exp, getitem, log, matmul, mul,
                              neg, pow, reshape, sub, sum, sum_to, transpose)
from .math import *          # noqa: F401,F403
from .activations import *   # noqa: F401,F403
from .shape import *         # noqa: F401,F403
from .reductions import *    # noqa: F401,F403
from .linear import *        # noqa: F401,F403
from .dropout import *       # noqa: F401,F403
from .batch_norm import *    # noqa: F401,F403
from .losses import *        # noqa: F401,F403
from .metrics import *       # noqa: F401,F403
from .conv import *          # noqa: F401,F403
from .pooling import *       # noqa: F401,F403
from .columns import *       # noqa: F401,F403
