"""The fully connected layer's op: ``y = x @ W + b``."""
import numpy as np

from ..core import Function, get_array_module
from ..core.operators import matmul, matmul_into, reshape, sum

__all__ = ['Linear', 'linear']


class Linear(Function):
    """``x @ W + b`` over the last axis of ``x``.

    Leading axes of ``x`` are flattened into one batch axis, so the forward
    pass is a single GEMM and the backward pass two (one for ``x``, one for
    ``W``), each skipped when that input needs no gradient.
    """

    def forward(self, x, W, b=None):
        _check_shapes(x, W, b)
        in_features, out_features = W.shape
        x_rows = x if x.ndim == 2 else x.reshape(-1, in_features)
        # np.result_type is slow next to a tiny op's GEMM
        dtype = x.dtype if x.dtype == W.dtype else np.result_type(x.dtype, W.dtype)
        y = get_array_module(x).empty((x_rows.shape[0], out_features), dtype)
        matmul_into(x_rows, W, y)
        if b is not None:
            y += b  # in place: y is a fresh GEMM result
        return y if x.ndim == 2 else y.reshape(x.shape[:-1] + (out_features,))

    def backward(self, gy):
        x, W = self.inputs[:2]
        in_features, out_features = W.shape
        need_x, need_W = self.needs_input_grad[:2]
        gy_rows = _rows(gy, out_features)
        gx = reshape(matmul(gy_rows, W.T), x.shape) if need_x else None
        gW = matmul(_rows(x, in_features).T, gy_rows) if need_W else None
        if len(self.inputs) == 2:
            return gx, gW
        gb = sum(gy_rows, axis=0) if self.needs_input_grad[2] else None
        return gx, gW, gb


def _rows(v, features):
    """``v`` as (rows, features): a 2-d ``v`` as it is (no reshape op in the
    graph), else reshaped."""
    return v if v.ndim == 2 else reshape(v, (-1, features))


def _check_shapes(x, W, b):
    if W.ndim != 2:
        raise ValueError(f"linear: W must be 2-d (in_features, out_features), got "
                         f"shape {W.shape}")
    if x.ndim == 0 or x.shape[-1] != W.shape[0]:
        features = x.shape[-1] if x.ndim else 'no'
        raise ValueError(f"linear: input has {features} features but W expects "
                         f"{W.shape[0]} (x {x.shape}, W {W.shape})")
    if b is not None and b.shape != (W.shape[1],):
        raise ValueError(f"linear: bias must have shape ({W.shape[1]},) to match "
                         f"W {W.shape}, got {b.shape}")


def linear(x, W, b=None):
    """Fully connected map of the last axis: ``x @ W + b``.

    Args:
        x: (..., in_features), usually (N, in_features).
        W: (in_features, out_features), the layout Keras stores Dense kernels in.
        b: optional (out_features,).

    Returns:
        Variable of shape (..., out_features).
    """
    if b is None:
        return Linear()(x, W)
    return Linear()(x, W, b)
