"""Batch normalisation with Keras semantics (BatchNormalization layer).

Per channel c on ``axis``::

    y = gamma[c] * (x - mean[c]) / sqrt(var[c] + epsilon) + beta[c]

Training uses the batch's mean and biased variance over every other axis and
moves the running statistics towards them (``m = m * momentum + batch * (1 -
momentum)``, Keras's convention: momentum 0.99 keeps 99% of the old value;
PyTorch's ``momentum`` is ``1 - this``). Inference uses the running statistics.
"""
from .. import kernels
from ..core import Function, Variable, as_variable, config, get_array_module
from ..core.cuda import device_of
from ..core.operators import reshape, sum

__all__ = ['BatchNorm', 'batch_norm']


class BatchNorm(Function):
    """Inputs: x, gamma, beta (gamma and beta as per-channel vectors).

    The forward pass folds the statistics and gamma/beta into a per-channel
    ``scale`` and ``shift``, so the full-size work is one multiply-add; it
    keeps the per-channel statistics it normalised with.

    The backward pass recomputes the normalised ``x_hat`` from ``x`` instead
    of keeping it from the forward pass, so no activation-sized array stays
    alive. A first-order backward (no graph recorded) is one kernel on arrays,
    a few fused passes (``kernels.cpu.batch_norm_grad``); with
    ``create_graph=True`` it is written in differentiable ops instead, which
    makes higher-order gradients exact (the batch statistics depend on x).
    The two agree to rounding (tests/test_ops_batch_norm.py).
    """

    def __init__(self, moving_mean, moving_variance, momentum, epsilon, axis, training):
        self.moving_mean = moving_mean
        self.moving_variance = moving_variance
        self.momentum = momentum
        self.epsilon = epsilon
        self.axis = axis
        self.training = training

    def forward(self, x, gamma, beta):
        xp = get_array_module(x)
        if self.training:
            mean, var = kernels.for_arrays(x).batch_norm_stats(x, self.axis)
            self._update_moving_stats(mean, var)
        else:
            # copies: a later training call may update the moving stats in
            # place before this call's backward runs
            mean, var = _data(self.moving_mean).copy(), _data(self.moving_variance).copy()
        std = xp.sqrt(var + self.epsilon)
        self.stats = mean, 1.0 / std  # (C,) each, for the backward pass
        scale = gamma / std
        return kernels.for_arrays(x).batch_norm(x, scale, beta - mean * scale, self.axis)

    def _update_moving_stats(self, batch_mean, batch_var):
        for moving, batch in ((self.moving_mean, batch_mean),
                              (self.moving_variance, batch_var)):
            data = _data(moving)
            data[...] = data * self.momentum + batch * (1.0 - self.momentum)

    def backward(self, gy):
        x, gamma, _ = self.inputs
        need_x, need_gamma, need_beta = self.needs_input_grad
        if not config.enable_backprop:
            mean, inv_std = self.stats
            grads = kernels.for_arrays(x.data).batch_norm_grad(
                x.data, gy.data, gamma.data, mean, inv_std, self.axis, self.training,
                self.needs_input_grad)
            return tuple(None if g is None else Variable(g, requires_grad=False)
                         for g in grads)
        stats_shape = _stats_shape(x.ndim, self.axis, x.shape[self.axis])
        reduce_axes = _reduce_axes(x.ndim, self.axis)
        if self.training:
            count = x.size // x.shape[self.axis]
            mean = sum(x, reduce_axes, keepdims=True) / count
            centred = x - mean
            var = sum(centred * centred, reduce_axes, keepdims=True) / count
            inv_std = (var + self.epsilon) ** -0.5
        else:
            mean, inv_std = (s.reshape(stats_shape) for s in self.stats)
            centred = x - mean
        x_hat = centred * inv_std
        gx = None
        if need_x:
            g_x_hat = gy * reshape(gamma, stats_shape)
            if self.training:
                # the batch statistics depend on x: project out the mean and
                # the x_hat direction of the gradient
                g_x_hat = (g_x_hat - sum(g_x_hat, reduce_axes, keepdims=True) / count
                           - x_hat * (sum(g_x_hat * x_hat, reduce_axes, keepdims=True)
                                      / count))
            gx = g_x_hat * inv_std
        g_gamma = sum(gy * x_hat, reduce_axes) if need_gamma else None
        g_beta = sum(gy, reduce_axes) if need_beta else None
        return gx, g_gamma, g_beta


def _reduce_axes(ndim, axis):
    return tuple(i for i in range(ndim) if i != axis % ndim)


def _stats_shape(ndim, axis, channels):
    """Per-channel vectors reshaped to broadcast against x along ``axis``."""
    shape = [1] * ndim
    shape[axis] = channels
    return tuple(shape)


def _data(array_or_variable):
    if isinstance(array_or_variable, Variable):
        return array_or_variable.data
    return array_or_variable


def batch_norm(x, gamma, beta, moving_mean, moving_variance, momentum=0.99,
               epsilon=1e-3, axis=-1, training=None):
    """Batch normalisation over every axis of ``x`` except ``axis``.

    Args:
        x: Variable or array, e.g. (N, H, W, C) with axis=-1 (channels_last)
            or (N, C, H, W) with axis=1 (channels_first).
        gamma, beta: (C,) scale and offset, or None for 1 / 0 (Keras's
            ``scale=False`` / ``center=False``).
        moving_mean, moving_variance: (C,) arrays or Variables; in training
            they are updated in place (their ``.data`` for Variables).
        momentum: weight of the old running value (Keras default 0.99).
        epsilon: added to the variance (Keras default 1e-3).
        axis: the channel axis.
        training: True for batch statistics (and running-stat updates),
            False for the running statistics; None follows ``config.train``.

    Returns:
        Variable of x's shape and dtype.
    """
    x = as_variable(x)
    if x.dtype.kind != 'f':
        raise TypeError(f"batch_norm: x must be a floating-point array, got {x.dtype} "
                        f"(x {x.shape})")
    if not isinstance(axis, int) or not -x.ndim <= axis < x.ndim or x.ndim < 2:
        raise ValueError(f"batch_norm: axis {axis!r} is not a channel axis of x "
                         f"{x.shape} (x needs a batch axis and a channel axis)")
    if training is None:
        training = config.train
    channels = x.shape[axis]
    xp = get_array_module(x.data)
    gamma = xp.ones(channels, x.dtype) if gamma is None else gamma
    beta = xp.zeros(channels, x.dtype) if beta is None else beta
    for name, vector in (('gamma', gamma), ('beta', beta), ('moving_mean', moving_mean),
                         ('moving_variance', moving_variance)):
        if _data(vector).shape != (channels,):
            raise ValueError(f"batch_norm: x has {channels} channels on axis {axis} but "
                             f"{name} has shape {_data(vector).shape} (x {x.shape})")
    for name, stats in (('moving_mean', moving_mean), ('moving_variance', moving_variance)):
        # updated in place, not inputs of the op: Function.__call__ does not see them
        if device_of(stats) != x.device:
            raise TypeError(f"batch_norm: x on {x.device} but {name} on {device_of(stats)}; "
                            "move them to one device with to_gpu()/to_cpu()")
    # Python floats: NumPy scalars such as np.float64(0.99) would promote float32 data
    function = BatchNorm(moving_mean, moving_variance, float(momentum), float(epsilon),
                         axis, training)
    return function(x, gamma, beta)
