"""DeZero's ``dezero.utils``: graph pictures, gradient checks, the shape
helpers its functions use, conv sizes, and ``get_file``.

The graph pictures are deepzero's (``deepzero.utils.dot_graph``, Graphviz's
``dot`` needed only to render); ``sum_to`` and the conv sizes are the
engine's rules under DeZero's names.
"""
import os

import numpy as np

from ..core import Variable as EngineVariable
from ..core import get_array_module
from ..core.operators import keepdims_shape, sum_to_array
from ..functions.reductions import logsumexp_array
from ..kernels.geometry import conv_output_length
from ..utils import dot_graph
from .core import Variable, as_variable

__all__ = ['get_dot_graph', 'plot_dot_graph', 'sum_to', 'reshape_sum_backward', 'logsumexp',
           'max_backward_shape', 'gradient_check', 'numerical_grad', 'array_equal',
           'array_allclose', 'get_conv_outsize', 'get_deconv_outsize', 'pair', 'get_file',
           'cache_dir', 'MissingDownload']


# --- graph pictures --------------------------------------------------------------------
def get_dot_graph(output, verbose=True):
    """DOT text of the graph that made ``output`` (verbose: shapes and dtypes)."""
    return dot_graph.get_dot_graph(output, verbose)


def plot_dot_graph(output, verbose=True, to_file='graph.png'):
    """Render the graph that made ``output`` to ``to_file`` with Graphviz's
    ``dot`` (a RuntimeError says how to install it where it is missing)."""
    dot_graph.plot_dot_graph(output, verbose, to_file)


# --- array helpers of DeZero's functions --------------------------------------------------
def sum_to(x, shape):
    """Sum array ``x`` down to ``shape`` (the adjoint of broadcasting)."""
    return sum_to_array(x, shape)


def reshape_sum_backward(gy, x_shape, axis, keepdims):
    """``gy``, the gradient of a sum of an ``x_shape`` array over ``axis``,
    reshaped so that it broadcasts back to ``x_shape`` (the summed axes put
    back with size 1); unchanged when the sum kept its dims or was 0-d."""
    if keepdims or not x_shape or gy.ndim == len(x_shape):
        return gy
    return gy.reshape(keepdims_shape(x_shape, axis))


def logsumexp(x, axis=1):
    """log(sum(exp(x), axis)) of an array, kept dims, without overflow."""
    return logsumexp_array(x, axis=axis)


def max_backward_shape(x, axis):
    """The shape of ``max(x, axis)`` with its reduced axes kept as size 1."""
    return keepdims_shape(x.shape, axis)


# --- gradient checks -------------------------------------------------------------------------
def gradient_check(f, x, *args, rtol=1e-4, atol=1e-5, **kwargs):
    """Whether backprop through ``f(x, *args, **kwargs)`` matches central
    differences in ``x`` (computed in float64, as DeZero). Prints where they
    differ and returns False; True when they agree."""
    x = Variable(as_variable(x).data.astype(np.float64))  # NumPy or CuPy
    num_grad = numerical_grad(f, x, *args, **kwargs)
    y = f(x, *args, **kwargs)
    y.backward()
    bp_grad = x.grad.data
    if bp_grad.shape != num_grad.shape:
        raise ValueError(f"gradient_check: backprop gave a gradient of shape {bp_grad.shape} "
                         f"for x {num_grad.shape}")
    if array_allclose(num_grad, bp_grad, rtol=rtol, atol=atol):
        return True
    worst = np.abs(num_grad - bp_grad).argmax()
    print('gradient_check: backprop and numerical gradients differ '
          f'(shape {num_grad.shape}, largest difference at flat index {worst}: '
          f'backprop {bp_grad.flat[worst]}, numerical {num_grad.flat[worst]})')
    return False


def numerical_grad(f, x, *args, eps=1e-4, **kwargs):
    """d sum(f(x, *args, **kwargs)) / dx by central differences (``eps``),
    one element of ``x`` (a Variable or an array) at a time: an array of x's
    shape."""
    data = as_variable(x).data
    xp = get_array_module(data)
    data = data.copy()
    grad = xp.zeros_like(data)
    for index in np.ndindex(*data.shape):
        original = data[index].copy()
        data[index] = original + eps
        plus = _output_sum(f, data, args, kwargs)
        data[index] = original - eps
        minus = _output_sum(f, data, args, kwargs)
        data[index] = original
        grad[index] = (plus - minus) / (2 * eps)
    return grad


def _output_sum(f, data, args, kwargs):
    y = f(Variable(data.copy()), *args, **kwargs)
    return (y.data if isinstance(y, EngineVariable) else y).sum()


def array_equal(a, b):
    """Equal shapes and values; Variables compare by their data, on any device."""
    return bool(np.array_equal(_host(a), _host(b)))


def array_allclose(a, b, rtol=1e-4, atol=1e-5):
    """Values equal within ``atol + rtol * |b|``, broadcasting as ``np.allclose``
    (DeZero's rule: a (1,) array is close to a scalar)."""
    return bool(np.allclose(_host(a), _host(b), atol=atol, rtol=rtol))


def _host(a):
    a = a.data if isinstance(a, EngineVariable) else a
    return a.get() if hasattr(a, 'get') and not isinstance(a, np.ndarray) else np.asarray(a)


# --- conv sizes ---------------------------------------------------------------------------------
def get_conv_outsize(input_size, kernel_size, stride, pad):
    """Output length of a conv or pool over ``input_size`` cells padded by
    ``pad`` on both sides: (input_size + 2 pad - kernel_size) // stride + 1."""
    return conv_output_length(input_size, kernel_size, (pad, pad), stride)


def get_deconv_outsize(size, k, s, p):
    """Output length of a transposed conv: s (size - 1) + k - 2 p."""
    return s * (size - 1) + k - 2 * p


def pair(x):
    """An int as (x, x); a pair as it is (ValueError otherwise)."""
    if isinstance(x, (int, np.integer)):
        return int(x), int(x)
    if isinstance(x, tuple) and len(x) == 2:
        return x
    raise ValueError(f"pair: expected an int or a pair of ints, got {x!r}")


# --- files DeZero downloads --------------------------------------------------------------------
def cache_dir():
    """DeZero's cache folder: $DEZERO_CACHE_DIR, else ~/.dezero."""
    return os.environ.get('DEZERO_CACHE_DIR') or os.path.join(os.path.expanduser('~'), '.dezero')


class MissingDownload(FileNotFoundError):
    """A file DeZero would download (a dataset, pretrained weights, an image)
    is not in the cache folder: deepzero does not download."""


def get_file(url, file_name=None):
    """The path of ``file_name`` (by default the last part of ``url``) in the
    cache folder, where DeZero downloads it to. deepzero never downloads: a
    missing file raises MissingDownload naming the file, where to put it and
    the address to fetch it from."""
    file_name = file_name or url[url.rfind('/') + 1:]
    path = os.path.join(cache_dir(), file_name)
    if not os.path.exists(path):
        raise MissingDownload(
            f"{file_name} is not in {cache_dir()}: deepzero does not download. "
            f"Download it from {url} and put it at {path} "
            "(or set DEZERO_CACHE_DIR to the folder that holds it)")
    return path
