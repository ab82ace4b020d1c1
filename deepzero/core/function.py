"""``Function``: one differentiable op.

A subclass writes ``forward`` on raw arrays and ``backward`` on Variables,
side by side. Because ``backward`` is itself written with ops, running it
with the graph switched on (``create_graph=True``) records the gradient
computation, which is how higher-order gradients work.
"""
import inspect
import weakref

from . import cuda
from .array_module import ARRAY_TYPES, as_array, is_scalar
from .config import config
from .variable import Variable, as_variable


class Function:
    """Base class of every op.

    ``__call__`` unwraps the inputs, runs ``forward``, wraps the outputs and,
    when backprop is on and some input requires a gradient, links the outputs
    to this Function. Instances are used once: per-call state kept for
    ``backward`` lives on ``self``.

    Subclasses implement:
        forward(*arrays) -> array or tuple of arrays
        backward(*grad_variables) -> Variable (or None) per input; inputs
            whose ``self.needs_input_grad[i]`` is False may get None.

    ``self.inputs`` holds the input Variables and ``self.outputs`` weak
    references to the outputs, so dropping the last reference to a result
    frees the graph that made it.

    All inputs must be on one device (core/cuda.py): a TypeError names the
    op and the devices otherwise. Python scalars and 0-d NumPy constants
    (no gradient) go with GPU inputs: ``forward`` gets them as NumPy
    scalars, which CuPy passes to its kernels as arguments.
    """

    def __call__(self, *inputs):
        # Ops run by the thousand on tiny arrays (DeZero's book): the common
        # case, Variables only, skips the wrapping of constants.
        inputs = list(inputs)
        for x in inputs:
            if not isinstance(x, Variable):
                inputs = _as_variables(inputs)
                break
        if cuda.GPU_ARRAY_TYPES:
            ys = self.forward(*_on_one_device(self, inputs))
        else:  # no CuPy: every array is on the CPU
            ys = self.forward(*[x.data for x in inputs])
        if not isinstance(ys, tuple):
            ys = (ys,)
        outputs = [Variable(_as_output(y), requires_grad=False) for y in ys]
        if config.enable_backprop:
            # ``_requires_grad`` is the flag's storage: the property only
            # makes it a bool, and costs a call per read
            needs = tuple([x._requires_grad for x in inputs])
            if True in needs:
                self._link(inputs, needs, outputs)
        return outputs if len(outputs) > 1 else outputs[0]

    def _link(self, inputs, needs, outputs):
        """Record this call in the graph: the inputs, weak references to the
        outputs (those that take part in backprop get this Function as their
        creator), and the outputs' shapes and dtypes."""
        self.needs_input_grad = needs
        generation = 0
        # integer data that requires a gradient (only a class that sets
        # Variable.int_grads_allowed, the DeZero face's, lets it) passes that
        # on to integer results; other integer results (argmax, masks) stay
        # constants
        exact = False
        for x, need in zip(inputs, needs):
            if x.generation > generation:
                generation = x.generation
            if need and x.data.dtype.kind not in 'fc':
                exact = True
        self.generation = generation
        for y in outputs:
            if exact or y.data.dtype.kind in 'fc':
                y._requires_grad = True
                y.set_creator(self)
        self.inputs = inputs
        self.outputs = [weakref.ref(y) for y in outputs]
        self.output_meta = [(y.data.shape, y.data.dtype) for y in outputs]

    def forward(self, *xs):
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def backward(self, *gys):
        raise NotImplementedError(f"{type(self).__name__} is not differentiable")

    def __repr__(self):
        return f'<{type(self).__name__}>'


def _on_one_device(function, inputs):
    """The inputs' arrays for ``function.forward``, checked to be on one device
    (where CuPy is installed: without it every array is on the CPU)."""
    arrays = [x.data for x in inputs]
    gpu_types = cuda.GPU_ARRAY_TYPES
    if len(arrays) < 2:
        return arrays
    on_gpu = [isinstance(a, gpu_types) for a in arrays]
    if all(on_gpu) or not any(on_gpu):
        return arrays
    if any(not gpu and (a.ndim or x.requires_grad)
           for x, a, gpu in zip(inputs, arrays, on_gpu)):
        names = _input_names(function, len(inputs))
        where = ', '.join(f"{name} on {'gpu' if gpu else 'cpu'}"
                          for name, gpu in zip(names, on_gpu))
        raise TypeError(f"{type(function).__name__}: inputs on different devices: {where}; "
                        "move them to one device with to_gpu()/to_cpu() "
                        "(deepzero.cuda.as_cupy/as_numpy for arrays)")
    return [a if gpu else a[()] for a, gpu in zip(arrays, on_gpu)]


def _input_names(function, count):
    """The names of ``function.forward``'s parameters (x, kernel, ...), for
    error messages; 'input i' past the named ones."""
    params = [p.name for p in inspect.signature(function.forward).parameters.values()
              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return [params[i] if i < len(params) else f'input {i}' for i in range(count)]


def _as_variables(inputs):
    """Wrap non-Variable inputs; scalars take the dtype of the first Variable
    (else the first n-d array), so ``2 * x`` stays float32 when ``x`` is."""
    dtype = _first_dtype(inputs)
    return [x if isinstance(x, Variable) else as_variable(_weak(x, dtype)) for x in inputs]


def _first_dtype(inputs):
    """The dtype of the first Variable in ``inputs``, else of the first n-d
    array; None if there is neither."""
    for x in inputs:
        if isinstance(x, Variable):
            return x.data.dtype
    for x in inputs:
        if isinstance(x, ARRAY_TYPES) and x.ndim > 0:
            return x.dtype
    return None


def _weak(x, dtype):
    """Scalars and 0-d arrays adapt to the data they meet, as Python scalars do
    under NumPy 2 (an ``np.float64`` scalar or a 0-d int64 array would otherwise
    promote float32 data to float64)."""
    if dtype is None or dtype.kind not in 'fc':
        return x
    if isinstance(x, ARRAY_TYPES):
        return x.astype(dtype) if x.ndim == 0 and x.dtype != dtype else x
    if is_scalar(x):
        return as_array(x, dtype)
    return x


def _as_output(y):
    """NumPy reductions may return a NumPy scalar; keep it a 0-d array of the
    same dtype."""
    if isinstance(y, ARRAY_TYPES):
        return y
    import numpy as np
    return np.asarray(y)
