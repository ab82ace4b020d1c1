"""Batch normalisation: the batch statistics, the normalisation as one
multiply-add, and the gradient in a few fused passes.

x and gy are viewed as (outer, C, inner), C the channel axis: channels_last
images (N, H, W, C) are (N*H*W, C, 1), channels_first (N, C, H, W) are
(N, C, H*W). A per-channel sum over outer and inner is a product with a
vector of ones (BLAS streams it: ~8x faster than NumPy's sum over leading
axes, as ``conv.bias_grad``); the full-size passes are in-place ufuncs into
arrays from the workspace pool, each split over the cores along the outer
axis.
"""
import numpy as np

from ...core import get_array_module, parallel, workspace


def batch_norm_stats(x, axis):
    """The mean and the biased variance of each channel of x (channels on
    ``axis``): two (C,) arrays in x's dtype. The variance is the mean of the
    squared deviations from the mean (two passes, not E[x^2] - E[x]^2,
    which cancels when the mean is large)."""
    xp = get_array_module(x)
    shape3 = _channel_view_shape(x.shape, axis)
    x3 = x.reshape(shape3)
    count = shape3[0] * shape3[2]
    mean = _channel_sums(x3) / count
    squares = workspace.empty(shape3, x.dtype, xp)

    def square_deviations(x3, squares):
        xp.subtract(x3, mean.reshape(1, -1, 1), out=squares)
        xp.square(squares, out=squares)
    parallel.over_batch(square_deviations, x3, squares)
    return mean, _channel_sums(squares) / count


def batch_norm(x, scale, shift, axis):
    """y = x * scale + shift, per channel: scale and shift (C,), channels of x
    on ``axis``."""
    xp = get_array_module(x)
    shape3 = _channel_view_shape(x.shape, axis)
    scale, shift = scale.reshape(1, -1, 1), shift.reshape(1, -1, 1)
    y = workspace.empty(shape3, x.dtype, xp)

    def multiply_add(x3, y):
        xp.multiply(x3, scale, out=y)
        xp.add(y, shift, out=y)
    parallel.over_batch(multiply_add, x.reshape(shape3), y)
    return y.reshape(x.shape)


def batch_norm_grad(x, gy, gamma, mean, inv_std, axis, training, needs=(True, True, True)):
    """The gradients of ``y = gamma * (x - mean) * inv_std + beta``.

    Args:
        x, gy: arrays of one shape, channels on ``axis``.
        gamma, mean, inv_std: (C,) arrays in x's dtype: the scale, and the
            statistics the forward pass normalised with (the batch's in
            training, the moving ones in inference).
        training: the statistics were the batch's, so they depend on x and
            gx gets their two projections (the mean and the x_hat direction
            of the gradient, taken out).
        needs: which of (gx, g_gamma, g_beta) to compute; None comes back
            for the others.

    Returns:
        (gx (x's shape), g_gamma (C,), g_beta (C,)).
    """
    xp = get_array_module(x)
    shape3 = _channel_view_shape(x.shape, axis)
    per_channel = (1, shape3[1], 1)
    mean, inv_std, gamma = (v.reshape(per_channel) for v in (mean, inv_std, gamma))
    count = shape3[0] * shape3[2]
    x3, gy3 = x.reshape(shape3), gy.reshape(shape3)
    need_x, need_gamma, need_beta = needs
    # x_hat = (x - mean) * inv_std is never written: inv_std goes into the
    # per-channel factors. Inference: gx is gy * scale, and only g_gamma reads x.
    g_beta = _channel_sums(gy3) if need_beta or (need_x and training) else None
    g_gamma = centred = product = None
    if need_gamma or (need_x and training):
        centred = workspace.empty(shape3, x.dtype, xp)
        product = workspace.empty(shape3, x.dtype, xp)  # gy * centred, then gx

        def centre(x3, gy3, centred, product):
            xp.subtract(x3, mean, out=centred)
            xp.multiply(gy3, centred, out=product)
        parallel.over_batch(centre, x3, gy3, centred, product)
        g_gamma = _channel_sums(product) * inv_std.reshape(-1)
    if not need_x:
        return None, g_gamma if need_gamma else None, g_beta if need_beta else None
    # gx = gamma * inv_std * (gy - sum(gy) / count - x_hat * sum(gy * x_hat) / count):
    # per channel, scale * gy + coef * centred + shift
    scale = gamma * inv_std
    gx = product if product is not None else workspace.empty(shape3, x.dtype, xp)
    if training:
        coef = -scale * inv_std * (g_gamma.reshape(per_channel) / count)
        shift = -scale * (g_beta.reshape(per_channel) / count)

        def gradient(gy3, centred, gx):
            xp.multiply(centred, coef, out=centred)
            xp.add(centred, shift, out=centred)
            xp.multiply(gy3, scale, out=gx)
            xp.add(gx, centred, out=gx)
        parallel.over_batch(gradient, gy3, centred, gx)
    else:
        parallel.over_batch(lambda gy3, gx: xp.multiply(gy3, scale, out=gx), gy3, gx)
    return (gx.reshape(x.shape), g_gamma if need_gamma else None,
            g_beta if need_beta else None)


def _channel_view_shape(shape, axis):
    """(outer, C, inner) for ``shape`` with channels on ``axis``."""
    axis %= len(shape)
    return (int(np.prod(shape[:axis])), shape[axis], int(np.prod(shape[axis + 1:])))


def _channel_sums(a3):
    """(outer, C, inner) -> (C,): the sum over outer and inner, as GEMVs."""
    xp = get_array_module(a3)
    outer, channels, inner = a3.shape
    if inner == 1:
        return xp.ones(outer, a3.dtype) @ a3.reshape(outer, channels)
    return xp.ones(outer, a3.dtype) @ (a3 @ xp.ones(inner, a3.dtype))

