"""Finite-difference gradient checks: the test every op must pass.

``numerical_grad`` perturbs one element at a time and takes central
differences, so it is slow (two forward passes per element): use small
inputs, in float64.
"""
import numpy as np

from ..core import Variable


def numerical_grad(f, inputs, eps=1e-6):
    """d(sum(f(*inputs) * w))/d(input) for each input, by central differences.

    ``f`` maps Variables to one Variable; ``inputs`` are float64 arrays.
    Returns one array per input.
    """
    grads = []
    for i, x in enumerate(inputs):
        g = np.zeros_like(x)
        it = np.nditer(x, flags=['multi_index'])
        for _ in it:
            idx = it.multi_index
            orig = x[idx]
            x[idx] = orig + eps
            plus = _scalar(f, inputs)
            x[idx] = orig - eps
            minus = _scalar(f, inputs)
            x[idx] = orig
            g[idx] = (plus - minus) / (2 * eps)
        grads.append(g)
    return grads


def _scalar(f, inputs):
    return float(np.sum(f(*[Variable(x) for x in inputs]).data))


def check_gradients(f, *inputs, atol=1e-5, rtol=1e-4, eps=1e-6):
    """Assert that backprop through ``f`` matches finite differences.

    The scalar checked is ``sum(f(*inputs))``. Inputs are cast to float64.
    Raises AssertionError naming the input and the worst element.
    """
    arrays = [np.array(x, dtype=np.float64) for x in inputs]
    xs = [Variable(a.copy()) for a in arrays]
    y = f(*xs)
    for x in xs:  # f may itself have run a backward pass (second-order checks)
        x.cleargrad()
    y.backward()
    numeric = numerical_grad(f, arrays, eps)
    for i, (x, num) in enumerate(zip(xs, numeric)):
        got = np.zeros_like(num) if x.grad is None else x.grad.data
        assert got.shape == num.shape, f"input {i}: grad shape {got.shape} != {num.shape}"
        if not np.allclose(got, num, atol=atol, rtol=rtol):
            k = np.unravel_index(np.argmax(np.abs(got - num)), num.shape)
            raise AssertionError(f"input {i}: backprop {got[k]!r} != numeric {num[k]!r} "
                                 f"at {k} (max abs diff {np.max(np.abs(got - num)):.3g})")


def check_second_order(f, *inputs, atol=1e-4, rtol=1e-3, eps=1e-5):
    """Assert that second derivatives through ``create_graph=True`` match
    finite differences of first derivatives.

    Checks d/dx_j of sum_i(dL/dx_i * v_i) for a fixed random ``v`` (a
    Hessian-vector product), where L = sum(f(*inputs)).
    """
    rng = np.random.default_rng(0)
    arrays = [np.array(x, dtype=np.float64) for x in inputs]
    vs = [rng.standard_normal(a.shape) for a in arrays]

    def grad_dot_v(*xs):
        for x in xs:
            x.cleargrad()
        y = f(*xs)
        y.backward(create_graph=True)
        total = None
        for x, v in zip(xs, vs):
            if x.grad is None:
                continue
            term = (x.grad * v).sum()
            total = term if total is None else total + term
        return total

    check_gradients(grad_dot_v, *arrays, atol=atol, rtol=rtol, eps=eps)
