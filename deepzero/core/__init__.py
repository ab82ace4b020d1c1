"""The engine: Variable, Function, backprop, run-time config and the
process-wide settings (``runtime``)."""
from . import runtime
from .config import config, no_grad, test_mode, using_config
from .array_module import as_array, get_array_module
from .variable import Parameter, Variable, as_variable
from .function import Function
from .gradients import grad
from . import cuda

__all__ = ['Variable', 'Parameter', 'Function', 'grad', 'as_variable', 'as_array',
           'get_array_module', 'config', 'no_grad', 'test_mode', 'using_config', 'runtime',
           'cuda']
