"""Batch normalisation on the device: the batch statistics and the gradient
as CuPy reductions over (outer, C, inner) views, the normalisation as one
multiply-add (array-API code).

x and gy are viewed as (outer, C, inner), C the channel axis: channels_last
images (N, H, W, C) are (N*H*W, C, 1), channels_first (N, C, H, W) are
(N, C, H*W). The math is the cpu set's (``kernels/cpu/batch_norm.py``).
"""
import numpy as np


def batch_norm_stats(x, axis):
    """The mean and the biased variance of each channel of x (channels on
    ``axis``): two (C,) arrays in x's dtype, the variance from the squared
    deviations (two passes: no cancellation when the mean is large)."""
    x3, count = _channel_view(x, axis)
    mean = x3.sum(axis=(0, 2)) / count
    centred = x3 - mean.reshape(1, -1, 1)
    centred *= centred
    return mean, centred.sum(axis=(0, 2)) / count


def batch_norm(x, scale, shift, axis):
    """y = x * scale + shift, per channel: scale and shift (C,), channels of x
    on ``axis``."""
    x3, _ = _channel_view(x, axis)
    y = x3 * scale.reshape(1, -1, 1)
    y += shift.reshape(1, -1, 1)
    return y.reshape(x.shape)


def batch_norm_grad(x, gy, gamma, mean, inv_std, axis, training, needs=(True, True, True)):
    """The gradients of ``y = gamma * (x - mean) * inv_std + beta``, as the
    cpu set's ``batch_norm_grad`` (same arguments): returns (gx (x's shape),
    g_gamma (C,), g_beta (C,)), None for those ``needs`` leaves out."""
    x3, count = _channel_view(x, axis)
    gy3 = gy.reshape(x3.shape)
    mean, inv_std, gamma = (v.reshape(1, -1, 1) for v in (mean, inv_std, gamma))
    need_x, need_gamma, need_beta = needs
    g_beta = gy3.sum(axis=(0, 2)) if need_beta or (need_x and training) else None
    g_gamma = centred = None
    if need_gamma or (need_x and training):
        centred = x3 - mean
        g_gamma = (gy3 * centred).sum(axis=(0, 2)) * inv_std.reshape(-1)
    if not need_x:
        return None, g_gamma if need_gamma else None, g_beta if need_beta else None
    # gx = gamma * inv_std * (gy - sum(gy) / count - x_hat * sum(gy * x_hat) / count):
    # per channel, scale * gy + coef * centred + shift
    scale = gamma * inv_std
    gx = gy3 * scale
    if training:
        centred *= -scale * inv_std * (g_gamma.reshape(1, -1, 1) / count)
        centred -= scale * (g_beta.reshape(1, -1, 1) / count)
        gx += centred
    return (gx.reshape(x.shape), g_gamma if need_gamma else None,
            g_beta if need_beta else None)


def _channel_view(x, axis):
    """x as (outer, C, inner), channels on ``axis``, and outer * inner."""
    axis %= x.ndim
    outer, inner = int(np.prod(x.shape[:axis])), int(np.prod(x.shape[axis + 1:]))
    return x.reshape(outer, x.shape[axis], inner), outer * inner
