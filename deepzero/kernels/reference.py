"""conv2d the simple way: the door into the fast path, and a second oracle.

im2col by indexing, then one matmul, on Variables, so the engine's own
indexing and matmul ops give every gradient (DeZero's ``conv2d_simple``).
It builds the whole im2col matrix; the fast path (``cpu/conv.py``) computes
the same sums chunk by chunk in cache, with groups, fused post-ops and
channels_first, and its gradients as their own ops.
"""
import numpy as np

from ..core import as_variable
from ..core.operators import matmul, reshape
from .geometry import WindowGeometry


def conv2d(x, kernel, bias=None, strides=(1, 1), padding='valid', dilation=(1, 1)):
    """x (N, H, W, C) Variable or array, kernel (KH, KW, C, C_out), bias
    (C_out,) or None; strides and dilation pairs, padding as ``F.conv2d``'s.
    Returns y (N, OH, OW, C_out), a Variable."""
    x, kernel = as_variable(x), as_variable(kernel)
    (n, h, w, c), (kh, kw, _, c_out) = x.shape, kernel.shape
    geometry = WindowGeometry('conv2d', (h, w), (kh, kw), strides, dilation, padding)
    (oh, ow), ((top, _), (left, _)) = geometry.out_hw, geometry.pads
    # the input row (column) that cell i of window j reads: (OH, KH) and (OW, KW)
    rows = np.arange(oh)[:, None] * strides[0] + np.arange(kh) * dilation[0] - top
    cols = np.arange(ow)[:, None] * strides[1] + np.arange(kw) * dilation[1] - left
    inside = (((rows >= 0) & (rows < h))[:, None, :, None, None] &
              ((cols >= 0) & (cols < w))[None, :, None, :, None])  # the padding reads 0
    windows = x[:, np.clip(rows, 0, h - 1)[:, None, :, None],
                np.clip(cols, 0, w - 1)[None, :, None, :]] * inside.astype(x.dtype)
    y = matmul(reshape(windows, (n * oh * ow, kh * kw * c)), reshape(kernel, (-1, c_out)))
    return reshape(y if bias is None else y + bias, (n, oh, ow, c_out))
