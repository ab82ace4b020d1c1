"""Keras 2's ``keras.backend`` (``from keras import backend as K``) over deepzero.

The functions the book's section 5.4 and Keras code of its era call:
math on tensors (``mean``, ``square``, ``sqrt``, ...) with Keras 2's
defaults, which take NumPy arrays, Variables or symbolic tensors as
``keras.ops`` does (layers/ops.py); ``gradients(loss, variables)``, a
symbolic step (layers/operation.py); ``function(inputs, outputs)``, which
runs symbolic tensors on arrays; and the settings (``epsilon``,
``image_data_format``) kept by ``core.runtime``.

``function`` builds a functional model from ``inputs`` to ``outputs`` (the
model's layers and every step recorded on the way) and runs it
define-by-run in inference mode. Its input Variables require a gradient, so
``gradients`` steps in the graph can differentiate with respect to the
inputs or any tensor between them and the loss; ``core.grad`` computes only
those gradients (no weight gradients unless asked for).
"""
import gc

import numpy as np

from ..core import Variable, cuda, runtime
from ..core.naming import reset_names
from ..layers import Input, ops
from ..layers.layer import assign
from ..layers.node import KerasTensor, flatten
from ..layers.operation import gradients
from .functional import Functional

__all__ = ['function', 'gradients', 'mean', 'sum', 'max', 'min', 'std', 'var', 'square',
           'sqrt', 'abs', 'exp', 'log', 'pow', 'clip', 'maximum', 'minimum', 'relu',
           'sigmoid', 'softmax', 'tanh', 'dot', 'transpose', 'permute_dimensions', 'reshape',
           'batch_flatten', 'concatenate', 'stack', 'expand_dims', 'squeeze', 'argmax',
           'l2_normalize', 'cast', 'stop_gradient', 'shape', 'int_shape', 'ndim', 'dtype',
           'variable', 'constant', 'zeros', 'ones', 'placeholder', 'is_keras_tensor', 'eval',
           'get_value', 'set_value', 'batch_get_value', 'batch_set_value', 'count_params',
           'epsilon', 'set_epsilon', 'floatx', 'image_data_format', 'set_image_data_format',
           'clear_session', 'learning_phase']

# Keras 2's names for what keras.ops has under the same name and defaults.
mean, sum, max, min, std, var = ops.mean, ops.sum, ops.max, ops.min, ops.std, ops.var
square, abs, exp, log, sigmoid, tanh = ops.square, ops.abs, ops.exp, ops.log, ops.sigmoid, \
    ops.tanh
clip, maximum, minimum, softmax = ops.clip, ops.maximum, ops.minimum, ops.softmax
dot, transpose, reshape, squeeze, stack, cast, stop_gradient = \
    ops.dot, ops.transpose, ops.reshape, ops.squeeze, ops.stack, ops.cast, ops.stop_gradient
permute_dimensions = ops.transpose


# --- math where Keras 2's backend differs from keras.ops --------------------------------
@ops.graph_step
def sqrt(x):
    """Square root of ``x`` clipped at 0 (TensorFlow Keras's ``K.sqrt``)."""
    return ops.sqrt(ops.maximum(x, 0.0))


@ops.graph_step
def pow(x, a):
    return ops.power(x, a)


@ops.graph_step
def relu(x, alpha=0.0, max_value=None, threshold=0.0):
    """Keras 2's ``K.relu``: ``x`` above ``threshold``, ``alpha * (x -
    threshold)`` elsewhere, capped at ``max_value``."""
    if alpha or threshold:
        x = ops.convert_to_tensor(x)
        y = ops.where(x.data > threshold, x, alpha * (x - threshold))
    else:
        y = ops.relu(x)
    return y if max_value is None else ops.minimum(y, max_value)


@ops.graph_step
def concatenate(tensors, axis=-1):
    return ops.concatenate(tensors, axis)


@ops.graph_step
def expand_dims(x, axis=-1):
    return ops.expand_dims(x, axis)


@ops.graph_step
def argmax(x, axis=-1):
    return ops.argmax(x, axis)


@ops.graph_step
def batch_flatten(x):
    """(N, ...) -> (N, prod(...))."""
    x = ops.convert_to_tensor(x)
    return ops.reshape(x, (x.shape[0], -1))


@ops.graph_step
def l2_normalize(x, axis=None):
    """``x / sqrt(max(sum(x**2, axis), 1e-12))`` (TensorFlow's
    ``l2_normalize``; ``axis=None`` normalises over all entries)."""
    x = ops.convert_to_tensor(x)
    squares = ops.sum(ops.square(x), axis=axis, keepdims=True)
    return x / ops.sqrt(ops.maximum(squares, 1e-12))


# --- tensors ----------------------------------------------------------------------------
shape = ops.shape
ndim = ops.ndim


def int_shape(x):
    """The shape as a tuple of ints (None where unknown)."""
    return ops.shape(x)


def dtype(x):
    """The dtype's name ('float32')."""
    return np.dtype(x.dtype).name


def is_keras_tensor(x):
    """Whether ``x`` is symbolic (a KerasTensor from ``Input`` or a layer)."""
    return isinstance(x, KerasTensor)


def variable(value, dtype=None, name=None):
    """A Variable holding a copy of ``value`` (differentiable when float)."""
    return Variable(np.array(value, dtype=dtype or floatx()), name=name)


def constant(value, dtype=None, shape=None, name=None):
    """A Variable without gradient holding ``value`` (broadcast to ``shape``)."""
    array = np.asarray(value, dtype=dtype or floatx())
    if shape is not None:
        array = np.broadcast_to(array, shape).copy()
    return Variable(array, name=name, requires_grad=False)


def zeros(shape, dtype=None, name=None):
    return variable(np.zeros(shape), dtype, name)


def ones(shape, dtype=None, name=None):
    return variable(np.ones(shape), dtype, name)


def placeholder(shape=None, ndim=None, dtype=None, name=None):
    """A symbolic input of the full ``shape`` (batch axis included; None
    where any size goes), as ``Input(batch_shape=shape)``."""
    if shape is None:
        if ndim is None:
            raise ValueError("placeholder: give shape= or ndim=")
        shape = (None,) * ndim
    return Input(batch_shape=tuple(shape), dtype=dtype, name=name)


def get_value(x):
    """A NumPy copy of a Variable's values (host memory)."""
    if isinstance(x, KerasTensor):
        raise ValueError(f"get_value: {x} is symbolic and has no value; run it with "
                         "K.function")
    return np.array(cuda.as_numpy(x))


eval = get_value


def batch_get_value(xs):
    return [get_value(x) for x in xs]


def set_value(x, value):
    """Write ``value`` into the Variable ``x`` in place (same shape)."""
    if not isinstance(x, Variable):
        raise TypeError(f"set_value: x must be a Variable (a weight), got {type(x).__name__}")
    value = np.asarray(cuda.as_numpy(value))
    if value.shape != x.shape:
        raise ValueError(f"set_value: x has shape {x.shape}, the value has shape "
                         f"{value.shape}")
    assign(x.data, value)


def batch_set_value(tuples):
    for x, value in tuples:
        set_value(x, value)


def count_params(x):
    return int(np.prod(x.shape))


# --- running a graph --------------------------------------------------------------------
# Keras 2's learning-phase input: given among K.function's inputs, the value fed
# for it (0 or 1) picks inference or training mode for that call.
_LEARNING_PHASE = Input(batch_shape=(), dtype='int32', name='keras_learning_phase')


def learning_phase():
    """The learning-phase input of ``function``: feed 0 (inference, the
    default without it) or 1 (training: Dropout on, BatchNormalization on
    the batch's statistics)."""
    return _LEARNING_PHASE


class GraphFunction:
    """What ``function(inputs, outputs)`` returns: called with a list of
    arrays (one per input), it gives a list of NumPy arrays (one per output).

    ``outputs`` may hold model tensors, tensors of ops on them and
    ``gradients``; the graph runs in inference mode (Dropout off,
    BatchNormalization on its moving statistics) unless ``learning_phase()``
    is among the inputs and 1 is fed for it."""

    def __init__(self, inputs, outputs, name=None):
        self.inputs = inputs if isinstance(inputs, (list, tuple)) else [inputs]
        self.outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        self._outputs_struct = outputs
        missing = [i for i, t in enumerate(self.outputs) if t is None]
        if missing:
            raise ValueError(f"function: outputs {missing} are None (a gradient of a loss "
                             "that does not depend on the tensor asked for)")
        graph_inputs = [t for t in self.inputs if t is not _LEARNING_PHASE]
        self.model = Functional(graph_inputs, list(self.outputs),
                                name=name or 'graph_function')

    def __call__(self, inputs):
        values = inputs if isinstance(inputs, (list, tuple)) else [inputs]
        if len(values) != len(self.inputs):
            raise ValueError(f"function: expected {len(self.inputs)} input array(s), got "
                             f"{len(values)}")
        training = False
        feeds = []
        for tensor, value in zip(self.inputs, values):
            if tensor is _LEARNING_PHASE:
                training = bool(np.asarray(cuda.as_numpy(value)))
            else:
                feeds.append(self._feed(tensor, value))
        results = self.model(feeds, training=training)
        results = [ops.convert_to_numpy(r) for r in flatten(results)]
        return results if isinstance(self._outputs_struct, (list, tuple)) else results[0]

    def _feed(self, tensor, value):
        """The input as a Variable of the tensor's dtype; float inputs
        require a gradient, so the graph can differentiate by them."""
        array = value.data if isinstance(value, Variable) else value
        if cuda.device_of(array) == 'cpu':
            array = np.asarray(array)
        if array.dtype != np.dtype(tensor.dtype):
            array = array.astype(tensor.dtype)
        if self.model.weights_device() == 'gpu' and cuda.device_of(array) == 'cpu':
            array = cuda.as_cupy(array)
        return Variable(array)


def function(inputs, outputs, updates=None, name=None, **kwargs):
    """Keras 2's ``K.function``: a callable running symbolic ``outputs`` on
    values for the symbolic ``inputs`` (see ``GraphFunction``; ``inputs``
    may include ``learning_phase()``).

    ``updates`` (graph-mode variable updates) have no meaning define-by-run
    and must be None or empty."""
    if updates:
        raise ValueError("function: updates= are not supported (deepzero runs define-by-run; "
                         "update Variables in Python between calls)")
    if kwargs:
        raise ValueError(f"function: unexpected arguments {sorted(kwargs)}")
    return GraphFunction(inputs, outputs, name)


# --- settings -----------------------------------------------------------------------------
def epsilon():
    """The fuzz factor (default 1e-7; runtime setting 'epsilon')."""
    return runtime.get('epsilon')


def set_epsilon(value):
    runtime.configure(epsilon=value)


def floatx():
    """'float32': deepzero computes in float32 (there is no set_floatx)."""
    return 'float32'


def image_data_format():
    """'channels_last' (default) or 'channels_first' (runtime setting
    'image_data_format': what layers and preprocess_input take for
    data_format=None)."""
    return runtime.get('image_data_format')


def set_image_data_format(data_format):
    runtime.configure(image_data_format=data_format)


def clear_session():
    """Restart the counters of default layer names (two builds of a model
    get the same names) and collect garbage, as Keras does."""
    reset_names()
    gc.collect()
