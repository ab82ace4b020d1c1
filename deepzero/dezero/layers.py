"""DeZero's layers (``import deepzero.dezero.layers as L``).

A ``Layer`` owns the Parameters and Layers assigned to its attributes;
``params()`` walks them (sub-layers first-assigned first), ``cleargrads()``
clears their gradients, and ``save_weights``/``load_weights`` store them in a
``.npz`` under DeZero's flattened names (``l0/W``, ``conv1_1/b``, ...).

``Linear``, ``Conv2d`` and ``Deconv2d`` create their weights at the first
call when the input size is not given, drawing them from NumPy's global
generator as DeZero does (``np.random.seed`` repeats a model); images are
NCHW, conv kernels OIHW, transposed-conv kernels (C_in, C_out, KH, KW).

Where DeZero has a bug, these layers do the right thing (docs/dezero.md):
parameters are kept in assignment order (DeZero: a set), weights are made in
the layer's dtype (DeZero's float32 weights become float64 under NumPy 2),
``save_weights`` leaves the model on its device and refuses a model with
uncreated weights (DeZero wrote an unloadable file), ``RNN``'s hidden-to-hidden
weight is (hidden, hidden) also when ``in_size`` is given, and ``EmbedID``'s
table is float32.
"""
import os
import weakref

import numpy as np

from ..core import cuda
from ..core.files import atomic_write
from . import functions as F
from .core import Parameter
from .utils import pair

__all__ = ['Layer', 'Linear', 'Conv2d', 'Deconv2d', 'RNN', 'LSTM', 'EmbedID', 'BatchNorm']


class Layer:
    """Base class: subclasses define ``forward(*inputs)``."""

    def __init__(self):
        self._params = {}   # attribute names of Parameters and Layers, in order

    def __setattr__(self, name, value):
        # Parameter.engine_class: the class Parameter's isinstance check stands
        # for, checked directly (a metaclass's check runs Python code per call)
        if isinstance(value, (Parameter.engine_class, Layer)):
            self._params[name] = None
        elif name != '_params':
            self._params.pop(name, None)
        super().__setattr__(name, value)

    def __call__(self, *inputs):
        outputs = self.forward(*inputs)
        if not isinstance(outputs, tuple):
            outputs = (outputs,)
        # Weak references to the last call's inputs and outputs, as DeZero keeps.
        self.inputs = [weakref.ref(x) for x in inputs]
        self.outputs = [weakref.ref(y) for y in outputs]
        return outputs if len(outputs) > 1 else outputs[0]

    def forward(self, *inputs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward")

    def params(self):
        """Every Parameter of this layer and of its sub-layers (depth first)."""
        for name in self._params:
            obj = self.__dict__[name]
            if isinstance(obj, Layer):
                yield from obj.params()
            else:
                yield obj

    def cleargrads(self):
        for param in self.params():
            param.cleargrad()

    def to_cpu(self):
        for param in self.params():
            param.to_cpu()

    def to_gpu(self):
        for param in self.params():
            param.to_gpu()

    def _flatten_params(self, params_dict, parent_key=''):
        """Fill ``params_dict`` with {'sub/.../name': Parameter}."""
        params_dict.update((key, param) for key, _, param in self._owned_params(parent_key))

    def _owned_params(self, parent_key=''):
        """(flattened name, the layer that holds it, Parameter) for every parameter."""
        for name in self._params:
            obj = self.__dict__[name]
            key = parent_key + '/' + name if parent_key else name
            if isinstance(obj, Layer):
                yield from obj._owned_params(key)
            else:
                yield key, self, obj

    def save_weights(self, path):
        """Write every parameter's array to ``path`` (a compressed .npz;
        '.npz' is appended when missing, as NumPy does), keyed by its
        flattened name. Arrays on the GPU are copied to the host; the layer
        stays where it is. A parameter not created yet (lazy weights before
        the first call) raises ValueError: run the model once first."""
        params = {}
        self._flatten_params(params)
        missing = [key for key, param in params.items() if param.data is None]
        if missing:
            raise ValueError(
                f"save_weights: parameters {missing} have no values yet (their sizes are "
                "set by the first call); call the model on an input before saving")
        path = os.fspath(path)
        if not path.endswith('.npz'):
            path += '.npz'
        with atomic_write(path) as tmp, open(tmp, 'wb') as f:
            np.savez_compressed(f, **{key: cuda.as_numpy(p.data) for key, p in params.items()})

    def load_weights(self, path):
        """Set every parameter from the .npz ``path`` wrote by
        ``save_weights``, in the parameter's dtype and on its device where it
        has data. A parameter not made yet (lazy weights) takes the dtype its
        layer would make it in, the layer's ``dtype`` (Linear, Conv2d,
        Deconv2d); one whose layer has none (BatchNorm follows its input)
        keeps the file's. KeyError naming the parameter when the file lacks
        it; ValueError when a shape differs from the parameter's."""
        with np.load(path) as npz:
            for key, layer, param in self._owned_params():
                if key not in npz:
                    raise KeyError(f"load_weights: {path} has no array {key!r} "
                                   f"(it has {sorted(npz.files)})")
                value = npz[key]
                if param.data is None:
                    param.data = value.astype(getattr(layer, 'dtype', value.dtype), copy=False)
                    continue
                if value.shape != param.shape:
                    raise ValueError(f"load_weights: {key!r} in {path} has shape "
                                     f"{value.shape}, the parameter {param.shape}")
                value = value.astype(param.dtype, copy=False)
                if cuda.device_of(param.data) == 'gpu':
                    value = cuda.as_cupy(value)
                param.data = value


# --- Linear / Conv2d / Deconv2d ----------------------------------------------

class Linear(Layer):
    """``y = x @ W + b``: x (N, in_size) -> (N, out_size).

    W (in_size, out_size) is drawn from N(0, 1/in_size), at the first call
    when ``in_size`` is None; b (out_size,) starts at zero (none with
    ``nobias``). Both in ``dtype``.
    """

    def __init__(self, out_size, nobias=False, dtype=np.float32, in_size=None):
        super().__init__()
        self.in_size = in_size
        self.out_size = out_size
        self.dtype = dtype
        self.W = Parameter(None, name='W')
        if self.in_size is not None:
            self._init_W()
        self.b = None if nobias else Parameter(np.zeros(out_size, dtype=dtype), name='b')

    def _init_W(self, xp=np):
        scale = np.dtype(self.dtype).type(np.sqrt(1 / self.in_size))
        self.W.data = xp.random.randn(self.in_size, self.out_size).astype(self.dtype) * scale

    def forward(self, x):
        if self.W.data is None:
            self.in_size = x.shape[1]
            self._init_W(cuda.get_array_module(x))
        return F.linear(x, self.W, self.b)


class _ConvBase(Layer):
    """Shared by Conv2d and Deconv2d: the arguments and the lazy kernel
    (``kernel_shape(C, OC, KH, KW)``), drawn from N(0, 1/(C KH KW))."""

    def __init__(self, out_channels, kernel_size, stride=1, pad=0, nobias=False,
                 dtype=np.float32, in_channels=None):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.pad = pad
        self.dtype = dtype
        self.W = Parameter(None, name='W')
        if in_channels is not None:
            self._init_W()
        self.b = None if nobias else Parameter(np.zeros(out_channels, dtype=dtype), name='b')

    def _init_W(self, xp=np):
        c, oc = self.in_channels, self.out_channels
        kh, kw = pair(self.kernel_size)
        scale = np.dtype(self.dtype).type(np.sqrt(1 / (c * kh * kw)))
        shape = self.kernel_shape(c, oc, kh, kw)
        self.W.data = xp.random.randn(*shape).astype(self.dtype) * scale

    def forward(self, x):
        if self.W.data is None:
            self.in_channels = x.shape[1]
            self._init_W(cuda.get_array_module(x))
        return self.op(x, self.W, self.b, self.stride, self.pad)


class Conv2d(_ConvBase):
    """2-d convolution: x (N, C, H, W) -> (N, out_channels, OH, OW) with
    OH = (H + 2 pad - KH) // stride + 1.

    Args:
        out_channels: output channels.
        kernel_size, stride, pad: ints or (h, w) pairs.
        nobias: no bias when True.
        dtype: of the parameters (float32).
        in_channels: C; None sets it at the first call.

    W is (out_channels, C, KH, KW) (OIHW), b (out_channels,).
    """

    @staticmethod
    def kernel_shape(c, oc, kh, kw):
        return oc, c, kh, kw

    @staticmethod
    def op(x, W, b, stride, pad):
        return F.conv2d(x, W, b, stride, pad)


class Deconv2d(_ConvBase):
    """2-d transposed convolution: x (N, C, H, W) -> (N, out_channels, OH, OW)
    with OH = stride (H - 1) + KH - 2 pad; the arguments as ``Conv2d``'s.
    W is (C, out_channels, KH, KW), b (out_channels,)."""

    @staticmethod
    def kernel_shape(c, oc, kh, kw):
        return c, oc, kh, kw

    @staticmethod
    def op(x, W, b, stride, pad):
        return F.deconv2d(x, W, b, stride, pad)


# --- RNN / LSTM ----------------------------------------------------------------

class RNN(Layer):
    """Elman RNN: ``h = tanh(x2h(x) + h2h(h))`` (without h2h at the first step
    after ``reset_state``). x (N, in_size) -> h (N, hidden_size); the state
    carries over between calls."""

    def __init__(self, hidden_size, in_size=None):
        super().__init__()
        self.x2h = Linear(hidden_size, in_size=in_size)
        # (hidden, hidden): DeZero passed in_size here, wrong when it is given
        self.h2h = Linear(hidden_size, in_size=None if in_size is None else hidden_size,
                          nobias=True)
        self.h = None

    def reset_state(self):
        self.h = None

    def forward(self, x):
        if self.h is None:
            h_new = F.tanh(self.x2h(x))
        else:
            h_new = F.tanh(self.x2h(x) + self.h2h(self.h))
        self.h = h_new
        return h_new


class LSTM(Layer):
    """LSTM with forget, input and output gates f, i, o and update u::

        c = f * c + i * u,   h = o * tanh(c)

    each gate from ``x2g(x) + h2g(h)`` (x only at the first step). x (N,
    in_size) -> h (N, hidden_size); ``reset_state`` clears h and c."""

    def __init__(self, hidden_size, in_size=None):
        super().__init__()
        H, I = hidden_size, in_size
        self.x2f = Linear(H, in_size=I)
        self.x2i = Linear(H, in_size=I)
        self.x2o = Linear(H, in_size=I)
        self.x2u = Linear(H, in_size=I)
        self.h2f = Linear(H, in_size=H, nobias=True)
        self.h2i = Linear(H, in_size=H, nobias=True)
        self.h2o = Linear(H, in_size=H, nobias=True)
        self.h2u = Linear(H, in_size=H, nobias=True)
        self.reset_state()

    def reset_state(self):
        self.h = None
        self.c = None

    def forward(self, x):
        if self.h is None:
            f = F.sigmoid(self.x2f(x))
            i = F.sigmoid(self.x2i(x))
            o = F.sigmoid(self.x2o(x))
            u = F.tanh(self.x2u(x))
        else:
            f = F.sigmoid(self.x2f(x) + self.h2f(self.h))
            i = F.sigmoid(self.x2i(x) + self.h2i(self.h))
            o = F.sigmoid(self.x2o(x) + self.h2o(self.h))
            u = F.tanh(self.x2u(x) + self.h2u(self.h))
        c_new = i * u if self.c is None else f * self.c + i * u
        h_new = o * F.tanh(c_new)
        self.h, self.c = h_new, c_new
        return h_new


# --- EmbedID / BatchNorm ---------------------------------------------------------

class EmbedID(Layer):
    """Look-up table: integer ids x (any shape) -> rows of W (in_size,
    out_size), shape x.shape + (out_size,). W ~ N(0, 1), float32."""

    def __init__(self, in_size, out_size):
        super().__init__()
        self.W = Parameter(np.random.randn(in_size, out_size).astype(np.float32), name='W')

    def forward(self, x):
        return F.embed_id(x, self.W)


class BatchNorm(Layer):
    """Batch normalization over axis 1 of (N, C) or (N, C, H, W) input.

    gamma, beta and the running ``avg_mean``/``avg_var`` (C,) are made at the
    first call in the input's dtype. Training (``Config.train``) uses the
    batch's statistics and moves the running ones by ``decay``; test mode
    (``test_mode()``) uses the running ones. ``avg_mean`` and ``avg_var`` are
    Parameters only so that ``save_weights`` stores them; they get no
    gradient.

    Args:
        decay: running-average factor (DeZero's F.batch_norm default 0.9).
        eps: added to the variance (2e-5).
    """

    def __init__(self, decay=0.9, eps=2e-5):
        super().__init__()
        self.decay = decay
        self.eps = eps
        self.avg_mean = Parameter(None, name='avg_mean')
        self.avg_var = Parameter(None, name='avg_var')
        self.gamma = Parameter(None, name='gamma')
        self.beta = Parameter(None, name='beta')

    def _init_params(self, x):
        xp = cuda.get_array_module(x)
        channels = x.shape[1]
        for param, make in ((self.avg_mean, xp.zeros), (self.avg_var, xp.ones),
                            (self.gamma, xp.ones), (self.beta, xp.zeros)):
            if param.data is None:
                param.data = make(channels, dtype=x.dtype)

    def forward(self, x):
        if self.avg_mean.data is None:
            self._init_params(x)
        return F.batch_norm(x, self.gamma, self.beta, self.avg_mean.data, self.avg_var.data,
                            decay=self.decay, eps=self.eps)
