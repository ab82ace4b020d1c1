"""DeZero's ``dezero.functions`` (``import deepzero.dezero.functions as F``).

Every function is deepzero's op (``deepzero.functions``) under DeZero's name,
signature and defaults; a few of DeZero's are compositions of those ops, as
DeZero writes them (the ``*_simple`` teaching versions, the losses that sum
over the batch). Where DeZero and deepzero differ, this module follows
DeZero's convention and keeps deepzero's fixes (docs/dezero.md lists them):

- ``softmax``/``log_softmax`` over axis 1; ``leaky_relu(x, slope=0.2)``.
- ``mean_squared_error`` and the cross entropies sum over all elements and
  divide by the batch size ``len(x)`` (DeZero's definition).
- ``sigmoid_cross_entropy`` is computed from the logits without overflow
  (DeZero's returns inf on saturated logits) and ``binary_cross_entropy``
  clips p to [1e-7, 1 - 1e-7] (DeZero's upper clip at 0.999 zeroes the
  gradient of confident wrong predictions).
- ``dropout(x, dropout_ratio=0.5)`` draws its mask as DeZero does, from
  NumPy's global random state, so a seeded script gets DeZero's mask.
- ``batch_norm(x, gamma, beta, mean, var, decay=0.9, eps=2e-5)`` (and
  DeZero's spelling ``batch_nrom``) over axis 1 of (N, C) or (N, C, H, W),
  with DeZero's running statistics (unbiased variance); train or test by
  ``Config.train`` / ``test_mode()``.
- ``max``/``min`` share the gradient evenly among tied maxima (DeZero gives
  each tie the whole gradient).
"""
import numpy as np

from .. import functions as engine_F
from ..core import config, get_array_module
from ..core.operators import (GetItem, GetItemGrad, add, broadcast_to, div, exp, getitem,
                              log, matmul, mul, neg, pow, reshape, sub, sum, sum_to,
                              transpose)
from ..functions.batch_norm import batch_norm as engine_batch_norm
from ..functions.losses import plain_array
from .core import Variable, as_array, as_variable, rdiv, rsub
from .functions_conv import (average_pooling, col2im, conv2d, conv2d_simple, deconv2d,
                             im2col, pooling, pooling_simple)

__all__ = [
    'sin', 'cos', 'tanh', 'exp', 'log',
    'reshape', 'transpose', 'get_item', 'GetItem', 'GetItemGrad', 'expand_dims', 'flatten',
    'sum', 'sum_to', 'broadcast_to', 'average', 'mean', 'matmul', 'linear', 'linear_simple',
    'sigmoid', 'sigmoid_simple', 'relu', 'softmax', 'softmax_simple', 'log_softmax',
    'leaky_relu',
    'mean_squared_error', 'MeanSquaredError', 'mean_squared_error_simple', 'softmax_cross_entropy',
    'softmax_cross_entropy_simple', 'sigmoid_cross_entropy', 'binary_cross_entropy',
    'accuracy', 'dropout', 'batch_norm', 'batch_nrom', 'embed_id', 'max', 'min', 'clip',
    'conv2d', 'deconv2d', 'conv2d_simple', 'im2col', 'col2im', 'pooling', 'pooling_simple',
    'average_pooling',
    'add', 'sub', 'rsub', 'mul', 'div', 'rdiv', 'neg', 'pow',
]

sin, cos, tanh = engine_F.sin, engine_F.cos, engine_F.tanh
sigmoid, relu, clip = engine_F.sigmoid, engine_F.relu, engine_F.clip
expand_dims = engine_F.expand_dims
flatten = engine_F.flatten   # keeps the batch axis: (N, ...) -> (N, -1)
max, min = engine_F.max, engine_F.min
mean = average = engine_F.mean
linear = engine_F.linear     # x (N, in) @ W (in, out) + b


# --- shape --------------------------------------------------------------------------------
def get_item(x, slices):
    """``x[slices]``: basic or advanced indexing (int index arrays, lists);
    the gradient scatters back, adding where an index repeats."""
    return getitem(x, slices)


# --- composites of the book -----------------------------------------------------------------
def linear_simple(x, W, b=None):
    """``linear`` as matmul then add (the book's first version)."""
    t = matmul(x, W)
    return t if b is None else t + b


def sigmoid_simple(x):
    """1 / (1 + exp(-x)) from ops (the book's first version)."""
    return 1 / (1 + exp(-as_variable(x)))


def softmax_simple(x, axis=1):
    """exp(x) / sum(exp(x)) from ops (no max shift: overflows for large x)."""
    y = exp(x)
    return y / sum(y, axis=axis, keepdims=True)


def mean_squared_error_simple(x0, x1):
    """sum((x0 - x1)^2) / len(x0) from ops."""
    diff = sub(x0, x1)
    return sum(diff ** 2) / len(diff)


def softmax_cross_entropy_simple(x, t):
    """Cross entropy of softmax(x) (N, C) against integer labels t (N,), from
    ops; probabilities clipped to [1e-15, 1] before the log."""
    x = as_variable(x)
    labels = plain_array(t)
    p = clip(softmax(x), 1e-15, 1.0)
    log_p = getitem(log(p), (np.arange(len(x)), labels.ravel()))
    return -sum(log_p) / len(x)


# --- activations ------------------------------------------------------------------------------
def softmax(x, axis=1):
    """exp(x) / sum(exp(x)) along ``axis`` (default 1, the class axis of (N, C))."""
    return engine_F.softmax(x, axis=axis)


def log_softmax(x, axis=1):
    """log(softmax(x)) along ``axis`` (default 1), computed without overflow."""
    return engine_F.log_softmax(x, axis=axis)


def leaky_relu(x, slope=0.2):
    """x where x > 0, else ``slope * x``."""
    return engine_F.leaky_relu(x, negative_slope=slope)


# --- losses -------------------------------------------------------------------------------------
# DeZero's name for its one-op MSE; the engine's name says it divides by the batch size
MeanSquaredError = engine_F.SumSquaredErrorOverBatch


def mean_squared_error(x0, x1):
    """sum((x0 - x1)^2) / len(x0): summed over all elements, divided by the
    batch size (DeZero's definition; Keras's MSE divides by the element
    count). Both inputs get gradients."""
    return engine_F.sum_squared_error_over_batch(x0, x1)


def softmax_cross_entropy(x, t):
    """Mean over the batch of -log softmax(x)[n, t[n]]: x (N, C) logits, t (N,)
    integer labels (an array or a Variable, no gradient)."""
    return engine_F.sparse_categorical_crossentropy(x, plain_array(t), from_logits=True,
                                                    axis=1)


def sigmoid_cross_entropy(x, t):
    """-sum(t log p + (1 - t) log(1 - p)) / len(x), p = sigmoid(x), from the
    logits x without overflow; t has x's shape (or its size)."""
    return _batch_sum_loss(x, t, from_logits=True)


def binary_cross_entropy(p, t):
    """-sum(t log p + (1 - t) log(1 - p)) / len(p) for probabilities p, clipped
    to [1e-7, 1 - 1e-7]; t has p's shape (or its size)."""
    return _batch_sum_loss(p, t, from_logits=False)


def _batch_sum_loss(x, t, from_logits):
    """The binary cross entropy summed over all elements / batch size."""
    x = as_variable(x)
    labels = plain_array(t).reshape(x.shape)
    per_sample = engine_F.binary_crossentropy(x, labels, from_logits=from_logits,
                                              reduction='sum')  # sum of per-sample means
    return per_sample * (x.size // len(x) / len(x))


def accuracy(y, t):
    """Fraction of rows of y (N, C) whose argmax equals t (N,): a Variable
    holding a float64 0-d array, outside the graph (not differentiable)."""
    scores, labels = plain_array(y), plain_array(t)
    pred = scores.argmax(axis=1).reshape(labels.shape)
    return Variable(as_array((pred == labels).mean()))


# --- regularisation, normalisation, embedding -------------------------------------------------
def dropout(x, dropout_ratio=0.5):
    """Inverted dropout while ``Config.train``: each unit kept where a uniform
    draw exceeds ``dropout_ratio``, then scaled by 1 / (1 - dropout_ratio);
    the identity in test mode. The draw is DeZero's (``np.random.rand``, or
    CuPy's for GPU data), so after ``np.random.seed`` the mask is DeZero's."""
    x = as_variable(x)
    if not config.train:
        return x
    xp = get_array_module(x.data)
    keep = (xp.random.rand(*x.shape) > dropout_ratio).astype(x.dtype)
    return div(mul(x, keep), xp.array(1.0 - dropout_ratio, dtype=x.dtype))


def batch_norm(x, gamma, beta, mean, var, decay=0.9, eps=2e-5):
    """Batch normalisation of x (N, C) or (N, C, H, W) per channel (axis 1).

    Training (``Config.train``): normalises with the batch's mean and
    variance and moves the running ``mean`` and ``var`` (arrays of (C,),
    updated in place) towards them: ``mean = decay * mean + (1 - decay) *
    batch_mean``, the variance likewise with the unbiased batch variance.
    Test mode: normalises with ``mean`` and ``var``.
    """
    x = as_variable(x)
    if x.ndim not in (2, 4):
        raise ValueError(f"batch_norm: x must be (N, C) or (N, C, H, W), got shape {x.shape}")
    if not config.train:
        return engine_batch_norm(x, gamma, beta, mean, var, epsilon=eps, axis=1,
                                 training=False)
    # deepzero's op leaves its batch statistics in these (momentum 0)
    xp = get_array_module(x.data)
    batch_mean = xp.zeros(x.shape[1], x.dtype)
    batch_var = xp.zeros(x.shape[1], x.dtype)
    y = engine_batch_norm(x, gamma, beta, batch_mean, batch_var, momentum=0.0, epsilon=eps,
                          axis=1, training=True)
    m = x.size // x.shape[1]
    unbiased = m / (m - 1.0) if m > 2 else float(m)  # (this module's max is F.max)
    for running, batch in ((mean, batch_mean), (var, batch_var * unbiased)):
        running = running.data if isinstance(running, Variable) else running
        running *= decay
        running += (1 - decay) * batch
    return y


batch_nrom = batch_norm  # DeZero's own spelling, part of its API


def embed_id(x, W):
    """Rows of W (V, D) picked by integer ids x: W[x], shape x.shape + (D,)."""
    return getitem(W, x)
