"""PyTorch as an oracle: run the same op in deepzero and in torch on the same
inputs, then compare the outputs and the gradients of every input."""
import numpy as np
import torch

from deepzero import Variable

TOLERANCES = {np.float32: dict(rtol=1e-4, atol=1e-5), np.float64: dict(rtol=1e-8, atol=1e-10)}


def compare_with_torch(dz_fn, torch_fn, *inputs, dtype=np.float32, seed=0, tol=None,
                       grad_inputs=None):
    """Assert that ``dz_fn`` and ``torch_fn`` agree forward and backward.

    ``inputs`` are arrays; both functions get them wrapped (deepzero
    Variables / torch tensors with requires_grad). The backward pass is
    seeded with the same random upstream gradient. ``grad_inputs`` lists the
    input positions to compare gradients for (default: every float input).
    """
    tol = tol or TOLERANCES[dtype]
    arrays = [np.asarray(x, dtype=dtype) if np.asarray(x).dtype.kind == 'f' else np.asarray(x)
              for x in inputs]
    if grad_inputs is None:
        grad_inputs = [i for i, a in enumerate(arrays) if a.dtype.kind == 'f']
    xs = [Variable(a.copy()) for a in arrays]
    ts = [torch.tensor(a, requires_grad=(i in grad_inputs)) for i, a in enumerate(arrays)]
    y = dz_fn(*xs)
    ty = torch_fn(*ts)
    assert y.dtype == dtype, f"output dtype {y.dtype}, expected {np.dtype(dtype)}"
    np.testing.assert_allclose(y.data, ty.detach().numpy(), **tol, err_msg='forward')
    gy = np.random.default_rng(seed).standard_normal(y.shape).astype(dtype)
    y.grad = Variable(gy)
    y.backward()
    ty.backward(torch.tensor(gy))
    for i in grad_inputs:
        assert xs[i].grad is not None, f"input {i} got no gradient"
        assert xs[i].grad.dtype == dtype, f"input {i} grad dtype {xs[i].grad.dtype}"
        np.testing.assert_allclose(xs[i].grad.data, ts[i].grad.numpy(), **tol,
                                   err_msg=f'gradient of input {i}')
