"""``Layer``: the base of every Keras-style layer (and of ``Model``).

A layer owns Parameters (its weights), creates them lazily in ``build`` from
the first input shape, and computes ``call(inputs, training)`` with deepzero
ops. ``__call__`` runs in one of two ways:

- on Variables or arrays: eagerly (define-by-run); the result is a Variable
  whose graph reaches the layer's Parameters, so ``loss.backward()`` works;
- on KerasTensors (the functional API): nothing is computed; a ``Node`` is
  recorded and KerasTensors with the output shape are returned.

A call without ``training`` runs in the mode of the layer call it is made
in (``model(x, training=True)`` trains the model's Dropout), else in the
default of its ``call``, else in inference, as in Keras 3. DeZero's
``config.train`` is left to the ops.
"""
import collections
import contextlib
import contextvars
import functools
import inspect
import math

import numpy as np

from ..core import Parameter, Variable, cuda, get_array_module, runtime
from ..core.naming import auto_name
from .. import initializers as initializers_module
from .. import regularizers as regularizers_module
from .node import KerasTensor, Node, flatten, is_shape, map_structure

# The ``training`` mode of the layer call under way (None: no call, or one
# that left the mode to its layers); each thread has its own. A layer called
# without ``training`` inherits it, so ``model(x, training=True)`` trains its
# Dropout.
_call_training = contextvars.ContextVar('call_training', default=None)


# Whether a layer call is under way in this thread: the outermost call starts
# its layers' activity penalties afresh, the calls inside it add theirs.
_in_layer_call = contextvars.ContextVar('in_layer_call', default=False)


@contextlib.contextmanager
def penalty_scope(layer):
    """Around a layer call (or a fused call standing for ``layer``'s): if it
    is the outermost one, the activity penalties of ``layer`` and its
    sub-layers start empty, so a layer called twice inside it (a shared
    layer) holds both calls' penalties, as in Keras."""
    if _in_layer_call.get():
        yield
        return
    for sub in layer._all_layers():
        sub._activity_losses = []
    token = _in_layer_call.set(True)
    try:
        yield
    finally:
        _in_layer_call.reset(token)


@contextlib.contextmanager
def training_scope(training):
    """Layers called inside without a ``training`` argument resolve it to
    ``training`` (True, False, or None: their own ``call`` default)."""
    token = _call_training.set(training)
    try:
        yield
    finally:
        _call_training.reset(token)


# Set while a model is rebuilt from a file whose weights will overwrite every
# weight created (see ``weights_from_file``).
_file_weight_shapes = contextvars.ContextVar('file_weight_shapes', default=None)


@contextlib.contextmanager
def weights_from_file(shapes):
    """Create weights for values that a file will provide.

    Inside this context ``add_weight`` creates a weight only if its shape is
    among ``shapes`` (the shapes of the file's weight arrays, each usable as
    often as it occurs there), so a config naming sizes the file does not
    hold is refused before anything is allocated; and it fills weights with
    zeros instead of drawing initial values that would be overwritten.

    Args:
        shapes: iterable of shape tuples.
    """
    token = _file_weight_shapes.set(collections.Counter(shapes))
    try:
        yield
    finally:
        _file_weight_shapes.reset(token)


def dtype_policy_config(dtype):
    """Keras 3 writes a layer's dtype as a DTypePolicy dict."""
    return {'module': 'keras', 'class_name': 'DTypePolicy',
            'config': {'name': dtype}, 'registered_name': None}


def standardize_dtype(dtype):
    """'float32' from None, a dtype, a name or a DTypePolicy dict."""
    if dtype is None:
        return 'float32'
    if isinstance(dtype, dict):  # {'class_name': 'DTypePolicy', 'config': {'name': ...}}
        policy = dtype.get('config')
        if not isinstance(policy, dict):
            raise ValueError(f"dtype: a DTypePolicy needs a config with a 'name', got {dtype!r}")
        dtype = policy.get('name') or 'float32'
    if dtype == 'mixed_float16' or dtype == 'mixed_bfloat16':
        raise ValueError(f"dtype policy {dtype!r} is not supported; use 'float32'")
    try:
        return np.dtype(dtype).name
    except TypeError:
        raise ValueError(f"dtype: {dtype!r} is not a dtype name") from None


def format_shape(shape):
    return '(' + ', '.join(str(d) for d in shape) + (',)' if len(shape) == 1 else ')')


class InputSpec:
    """What a layer accepts: an exact ``ndim`` (or ``min_ndim``) and fixed
    sizes on some ``axes`` ({axis: size}, e.g. {-1: 6272} after build)."""

    def __init__(self, ndim=None, min_ndim=None, axes=None):
        self.ndim, self.min_ndim, self.axes = ndim, min_ndim, dict(axes or {})

    def check(self, layer, shape):
        where = f"Layer '{layer.name}' ({type(layer).__name__})"
        if self.ndim is not None and len(shape) != self.ndim:
            raise ValueError(f"{where} expects {self.ndim}-dimensional input, got "
                             f"{len(shape)} dimensions; input shape {format_shape(shape)}")
        if self.min_ndim is not None and len(shape) < self.min_ndim:
            raise ValueError(f"{where} expects input with at least {self.min_ndim} "
                             f"dimensions; input shape {format_shape(shape)}")
        for axis, size in self.axes.items():
            got = shape[axis]
            if got is not None and size is not None and got != size:
                which = 'last dimension' if axis == -1 else f'dimension {axis}'
                raise ValueError(f"Layer '{layer.name}' expects input with {which} {size}, "
                                 f"got {got}; input shape {format_shape(shape)}")


def _marks_built(build):
    """Wrap a layer class's ``build`` so that the layer is built once the
    outermost ``build`` returns (a subclass's ``super().build(...)`` runs
    inside it), however it was called: ``layer.build(shape)`` by the user
    (Keras 3 marks that built too) or the first call on an input."""
    @functools.wraps(build)
    def build_then_finish(self, *args, **kwargs):
        build(self, *args, **kwargs)
        if type(self).build is build_then_finish:
            self._finish_build(args[0] if args else kwargs.get('input_shape'))
    return build_then_finish


class Layer:
    """Base layer.

    Args:
        trainable: whether the layer's weights are trained (settable later;
            setting it on a layer with sub-layers sets it on all of them).
        name: unique name; default the snake_case class name plus a counter.
        dtype: weight and compute dtype, default 'float32'.
        input_shape / batch_input_shape / batch_size / input_dim: where this
            is the first layer of a Sequential, the shape of its input
            (without the batch axis, except ``batch_input_shape``).
        weights: initial weight values, set right after the layer is built.
        activity_regularizer: penalty on the layer's output, added to
            ``losses``.
    """
    _INPUT_SHAPE_KWARGS = ('input_shape', 'batch_input_shape', 'batch_size', 'input_dim')
    # Stateless layers Keras marks built at construction (no build_config in
    # their saved form, no "(unbuilt)" in summaries).
    built_at_init = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if 'build' in cls.__dict__:
            cls.build = _marks_built(cls.__dict__['build'])

    def __init__(self, trainable=True, name=None, dtype=None, activity_regularizer=None,
                 **kwargs):
        unknown = set(kwargs) - set(self._INPUT_SHAPE_KWARGS) - {'weights'}
        if unknown:
            raise TypeError(f"{type(self).__name__}: unexpected keyword argument(s) "
                            f"{sorted(unknown)}")
        self.__dict__['_sublayers'] = self.__dict__.get('_sublayers', [])
        if name is not None and (not isinstance(name, str) or '/' in name):
            # As Keras 3: '/' joins a weight's path ('conv1/kernel'), and a
            # file with it in a layer name would not load in Keras.
            raise ValueError(f"{type(self).__name__}: the layer name must be a string "
                             f"without '/'; got name={name!r}")
        self.name = name or auto_name(type(self).__name__)
        self.dtype = standardize_dtype(dtype)
        self._trainable = bool(trainable)
        self.activity_regularizer = regularizers_module.get(activity_regularizer)
        self.built = self.built_at_init
        self.input_spec = None
        self._own_weights = []
        self._weight_regularizers = []
        self._weight_losses = []
        self._activity_losses = []
        self._inbound_nodes = []
        self._build_input_shape = None
        self._initial_weights = kwargs.get('weights')
        self._batch_input_shape = _batch_input_shape_from(kwargs)

    # --- sub-layer tracking ------------------------------------------------
    def __setattr__(self, name, value):
        """Layers assigned as attributes (alone or in a list) become
        sub-layers: their weights count as this layer's weights."""
        candidates = value if isinstance(value, (list, tuple)) else [value]
        sublayers = self.__dict__.setdefault('_sublayers', [])
        for item in candidates:
            if isinstance(item, Layer) and item is not self and not any(
                    item is known for known in sublayers):
                sublayers.append(item)
        object.__setattr__(self, name, value)

    # --- weights --------------------------------------------------------------
    def add_weight(self, name=None, shape=None, initializer='glorot_uniform', trainable=True,
                   regularizer=None, dtype=None, constraint=None):
        """Create a Parameter of ``shape`` filled by ``initializer``.

        Its ``.name`` is the short name ('kernel'), its ``.path``
        'layer_name/kernel'. Non-trainable weights (moving statistics) never
        require a gradient; a trainable one needs a floating-point ``dtype``
        (TypeError otherwise, as in Keras on torch). Custom layers may pass everything by keyword, as
        in Keras 3 (``add_weight(shape=(3,), initializer='zeros')``).

        The initializer fills the weight in host memory (from the runtime's
        'initializers' stream, so a seed gives the same weights on every
        device); it then moves to ``runtime.resolved_device()``.
        """
        if shape is None:
            raise ValueError(f"Layer '{self.name}': add_weight needs a shape")
        if constraint is not None:
            raise ValueError(f"Layer '{self.name}': weight constraints are not supported")
        if name is None:  # Keras's auto names: variable, variable_1, ...
            count = len(self._own_weights)
            name = 'variable' if count == 0 else f'variable_{count}'
        initializer = initializers_module.get(initializer or 'glorot_uniform')
        shape = self._weight_shape(name, shape)
        dtype = dtype or self.dtype
        if trainable and np.dtype(dtype).kind not in 'fc':
            raise TypeError(f"Layer '{self.name}': weight '{name}' has dtype "
                            f"{np.dtype(dtype)} and trainable=True; gradients need "
                            "floating-point data (pass trainable=False for an "
                            "integer or bool weight, such as a counter)")
        file_shapes = _file_weight_shapes.get()
        if file_shapes is None:
            value = np.asarray(initializer(shape, dtype=dtype))
        else:
            self._take_file_shape(name, shape, file_shapes)
            value = np.zeros(shape, dtype)
        param = Parameter(value.astype(dtype, copy=False), name=name)
        if runtime.resolved_device() == 'gpu':
            param.to_gpu()
        param.path = f'{self.name}/{name}'
        param.created_trainable = bool(trainable)
        _set_param_trainable(param, bool(trainable) and self._trainable)
        self._own_weights.append(param)
        regularizer = regularizers_module.get(regularizer)
        if regularizer is not None:
            self._weight_regularizers.append((param, regularizer))
        return param

    def _weight_shape(self, name, shape):
        """``shape`` as a tuple of ints >= 0; anything else (a negative or
        fractional size, a string) is a ValueError naming the weight."""
        shape = tuple(shape)
        if not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 0
                   for d in shape):
            raise ValueError(f"Layer '{self.name}': weight '{name}' would have shape "
                             f"{shape}; sizes must be ints >= 0")
        return tuple(int(d) for d in shape)

    def _take_file_shape(self, name, shape, shapes):
        """Use up one of the file's weight shapes (see ``weights_from_file``)."""
        if shapes[shape] == 0:
            raise ValueError(f"layer '{self.name}' ({type(self).__name__}) would "
                             f"create weight '{name}' of shape {shape}, but the file holds "
                             f"no {'more ' if shape in shapes else ''}weights of that "
                             "shape: the model config does not match the saved weights")
        shapes[shape] -= 1

    def _all_layers(self):
        """This layer and its sub-layers, depth first, each once."""
        seen, ordered = set(), []

        def visit(layer):
            if id(layer) in seen:
                return
            seen.add(id(layer))
            ordered.append(layer)
            for sub in layer._sublayers:
                visit(sub)

        visit(self)
        return ordered

    @property
    def weights(self):
        """Keras 3 order: this layer's weights (those created trainable, then
        the others, each in creation order), then each sub-layer's, each once."""
        own = ([w for w in self._own_weights if w.created_trainable]
               + [w for w in self._own_weights if not w.created_trainable])
        for sub in self._sublayers:
            own += sub.weights
        return _unique(own)

    @property
    def trainable_weights(self):
        """The weights an optimizer updates; empty when the layer is frozen."""
        if not self.trainable:
            return []
        return [w for w in self.weights if w.trainable]

    @property
    def non_trainable_weights(self):
        if not self.trainable:
            return self.weights
        return [w for w in self.weights if not w.trainable]

    @property
    def variables(self):
        return self.weights

    def get_weights(self):
        """Copies of the weight arrays in host memory (NumPy), in ``weights`` order."""
        return [np.array(cuda.as_numpy(w.data)) for w in self.weights]

    def set_weights(self, weights):
        """Assign arrays to ``weights`` in order; counts and shapes must match."""
        if not self.built:
            raise ValueError(f"Layer '{self.name}' is not built yet, so it has no weights to "
                             "set; call it on an input or build(input_shape) first")
        params = self.weights
        if len(weights) != len(params):
            raise ValueError(
                f"Layer '{self.name}': set_weights got {len(weights)} arrays but the layer "
                f"has {len(params)} weights ({[w.path for w in params]})")
        for param, value in zip(params, weights):
            shape = tuple(value.shape) if hasattr(value, 'shape') else np.shape(value)
            if shape != param.shape:
                raise ValueError(
                    f"Layer '{self.name}': weight '{param.name}' has shape "
                    f"{param.shape}, but the value given has shape {shape}")
        for param, value in zip(params, weights):
            assign(param.data, value)

    def count_params(self):
        if not self.built:
            raise ValueError(f"Layer '{self.name}' is not built yet, so it has no weights "
                             "to count; call it on an input or build(input_shape) first")
        return int(sum(math.prod(w.shape) for w in self.weights))

    # --- trainable ------------------------------------------------------------
    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        """Set on this layer and every sub-layer (Keras 3); frozen Parameters
        stop requiring gradients, so backprop does no work for them."""
        for layer in self._all_layers():
            layer._trainable = bool(value)
            for param in layer._own_weights:
                if param.created_trainable:
                    _set_param_trainable(param, bool(value))

    # --- losses ---------------------------------------------------------------
    @property
    def losses(self):
        """Penalties (0-d Variables) of the last outermost eager call: this
        layer's and its sub-layers' weight penalties (once each) and activity
        penalties (one per call of a layer)."""
        losses = []
        for layer in self._all_layers():
            losses += layer._weight_losses + layer._activity_losses
        return losses

    # --- building -------------------------------------------------------------
    @_marks_built
    def build(self, input_shape):
        """Create weights for ``input_shape`` (batch axis included, may be None).

        Every ``build`` (a subclass's too) is wrapped to mark the layer built
        when it returns, whether a first call or the user ran it: see
        ``_marks_built``."""

    def _finish_build(self, input_shape):
        """What follows a layer's build: it is built, it remembers the shape
        (for ``get_build_config``), and ``weights=`` given at construction
        are set."""
        self.built = True
        if self._build_input_shape is None:
            self._build_input_shape = input_shape
        if self._initial_weights is not None:
            weights, self._initial_weights = self._initial_weights, None
            self.set_weights(weights)

    def _maybe_build(self, input_shape):
        if not self.built:
            self.build(input_shape)

    def compute_output_shape(self, input_shape):
        """Output shape for ``input_shape``; the default keeps it (element-wise layers)."""
        return input_shape

    def check_input(self, input_shape):
        """Raise a clear error when ``input_shape`` does not fit this layer."""
        if self.input_spec is not None:
            self.input_spec.check(self, input_shape)

    # --- calling --------------------------------------------------------------
    def call(self, inputs, training=None):
        raise NotImplementedError(f"{type(self).__name__}.call")

    def __call__(self, inputs, training=None, **kwargs):
        leaves = flatten(inputs)
        symbolic = [isinstance(t, KerasTensor) for t in leaves]
        if any(symbolic):
            if not all(symbolic):
                raise ValueError(f"Layer '{self.name}' got a mix of symbolic inputs "
                                 "(from keras Input) and concrete arrays")
            return self._call_symbolic(inputs, training, kwargs)
        return self._call_eager(inputs, training, kwargs)

    def _call_symbolic(self, inputs, training, kwargs):
        shapes = map_structure(lambda t: t.shape, inputs)
        self._maybe_build(shapes)
        self.check_input(shapes)
        output_shapes = self.compute_output_shape(shapes)
        outputs = map_structure(lambda s: KerasTensor(s, self.dtype), output_shapes)
        call_kwargs = dict(kwargs)
        if training is not None:
            call_kwargs['training'] = training
        Node(self, inputs, call_kwargs, flatten(outputs))
        return outputs

    def _call_eager(self, inputs, training, kwargs, call=None):
        """``call`` (default ``self.call``; a fused call such as
        ``Conv2D.call_pooled`` gives its own op) on concrete inputs, with what
        every call does around it: inputs as Variables, build, input checks,
        the ``training`` mode, and the penalties."""
        inputs = map_structure(self._as_input_variable, inputs)
        shapes = map_structure(lambda v: tuple(v.shape), inputs)
        self._maybe_build(shapes)
        self.check_input(shapes)
        takes_training, default_training = self._call_training_arg()
        training = self._resolve_training(training, default_training)
        if takes_training and training is not None:
            kwargs['training'] = training
        with penalty_scope(self), training_scope(training):
            outputs = (call or self.call)(inputs, **kwargs)
            self._record_losses(outputs)
        return outputs

    def _record_losses(self, outputs):
        """Record this call's penalties (read by ``losses``): the weight
        regularizers' (replacing the last call's: a weight counts once) and
        the activity regularizer's on ``outputs`` (added to those of earlier
        calls inside the same outermost call)."""
        self._weight_losses = [regularizer(param)
                               for param, regularizer in self._weight_regularizers]
        if self.activity_regularizer is not None:
            for output in flatten(outputs):
                # Keras divides the activity penalty by the batch size
                self._activity_losses.append(
                    self.activity_regularizer(output) / float(output.shape[0]))

    def _as_input_variable(self, x):
        """Variables pass through; arrays and lists become constants of the
        layer's dtype (Keras casts float inputs to the compute dtype) on the
        device of its weights (``weights_device``): ``model(numpy_batch)``
        works on a GPU model, as in Keras."""
        if isinstance(x, Variable):
            return x
        array = x if get_array_module(x) is not np else np.asarray(x)
        if array.dtype.kind in 'fiub' and array.dtype != self.dtype:
            array = array.astype(self.dtype)
        # no GPU, no weights on it: the CPU's calls skip the weights' lookup
        if cuda.is_available() and get_array_module(array) is np \
                and self.weights_device() == 'gpu':
            array = cuda.as_cupy(array)
        return Variable(array, requires_grad=False)

    def weights_device(self):
        """'cpu' or 'gpu': where this layer's weights are (its first
        weight's device); for a layer without weights yet, where they would
        be made, ``runtime.resolved_device()``."""
        weights = self._own_weights or self.weights
        return weights[0].device if weights else runtime.resolved_device()

    @staticmethod
    def _resolve_training(training, default_training):
        """Keras 3's order: the ``training`` argument; else the mode of the
        enclosing layer call; else the default in this layer's ``call``
        signature; else None, which every layer reads as inference. (DeZero's
        ``config.train`` is for the ops; layers do not read it.)"""
        if training is None:
            training = _call_training.get()
        if training is None:
            training = default_training
        return training

    @classmethod
    def _call_training_arg(cls):
        """(whether ``call`` takes ``training``, its default or None), per class."""
        if '_training_arg' not in cls.__dict__:
            params = inspect.signature(cls.call).parameters
            takes = 'training' in params or any(
                p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
            default = params['training'].default if 'training' in params else None
            cls._training_arg = (takes, None if default is inspect.Parameter.empty else default)
        return cls._training_arg

    # --- config -----------------------------------------------------------------
    def get_config(self):
        """Keras 3's config dict: name, trainable, dtype (+ subclass keys)."""
        config_dict = {'name': self.name, 'trainable': self.trainable,
                       'dtype': dtype_policy_config(self.dtype)}
        return config_dict

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def get_build_config(self):
        """{'input_shape': ...} once built from a shape (None for layers built
        at construction)."""
        if self._build_input_shape is None:
            return None
        return {'input_shape': _shape_to_json(self._build_input_shape)}

    def build_from_config(self, build_config):
        if build_config and 'input_shape' in build_config and not self.built:
            self._maybe_build(_shape_from_json(build_config['input_shape']))

    # --- shapes of the recorded graph ------------------------------------------
    @property
    def output(self):
        return self._single_node_tensors('output', lambda node: node.outputs)

    @property
    def input(self):
        return self._single_node_tensors('input', lambda node: node.input_tensors)

    @property
    def output_shape(self):
        return map_structure(lambda t: t.shape, self.output)

    @property
    def input_shape(self):
        return map_structure(lambda t: t.shape, self.input)

    def _single_node_tensors(self, what, pick):
        if not self._inbound_nodes:
            raise AttributeError(f"Layer '{self.name}' has never been called on a symbolic "
                                 f"input, so it has no defined {what}")
        tensors = pick(self._inbound_nodes[0])
        return tensors[0] if len(tensors) == 1 else tensors

    def __repr__(self):
        return f'<{type(self).__name__} name={self.name}, built={self.built}>'

    # --- saving (Keras's protocol, used by the .keras format) -------------------------
    def save_own_variables(self, store):
        """Put the layer's weights in the dict-like ``store`` under '0', '1',
        ... in ``weights`` order; a writing store copies them."""
        for i, variable in enumerate(self.weights):
            store[str(i)] = variable

    def load_own_variables(self, store):
        """Take the weights back from ``store`` (``save_own_variables``'s
        keys -> arrays of the weights' shapes, checked by the loader); a
        weight whose key is absent (skipped as a mismatch) keeps its value."""
        weights = self.weights
        for key, value in store.items():
            assign(weights[int(key)].data, value)


def assign(target, value):
    """Copy ``value`` (a NumPy or CuPy array, or anything array-like) into
    the array ``target`` in place, on ``target``'s device, in its dtype."""
    xp = get_array_module(target)
    if xp is np and cuda.device_of(value) == 'gpu':
        value = cuda.as_numpy(value)
    target[...] = xp.asarray(value, dtype=target.dtype)


def _set_param_trainable(param, trainable):
    """A Parameter's Keras ``trainable`` flag; a frozen one needs no gradient."""
    param.trainable = trainable
    param.requires_grad = trainable


def _unique(items):
    seen, out = set(), []
    for item in items:
        if id(item) not in seen:
            seen.add(id(item))
            out.append(item)
    return out


def _batch_input_shape_from(kwargs):
    """The (None, ...) shape given by input_shape / batch_input_shape /
    batch_size / input_dim, or None."""
    if kwargs.get('batch_input_shape') is not None:
        return tuple(kwargs['batch_input_shape'])
    shape = kwargs.get('input_shape')
    if shape is None and kwargs.get('input_dim') is not None:
        shape = (kwargs['input_dim'],)
    if shape is None:
        return None
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return (kwargs.get('batch_size'),) + shape


def _shape_to_json(shape):
    if is_shape(shape):
        return list(shape)
    return [_shape_to_json(s) for s in shape]


def _shape_from_json(shape):
    """Lists of ints/None -> tuple; lists of such lists -> list of tuples."""
    if all(d is None or isinstance(d, int) for d in shape):
        return tuple(shape)
    return [_shape_from_json(s) for s in shape]
