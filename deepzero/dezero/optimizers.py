"""DeZero's optimizers (``dezero.optimizers``): ``SGD(lr).setup(model)``, then
``update()`` after each backward.

The update rules and defaults are DeZero's, step for step, written here:
deepzero's Keras optimizers take Keras's API (``apply`` over variables, slots,
an iteration count) and differ in arithmetic where it matters (Keras's AdaGrad
starts its accumulator at 0.1 and puts epsilon under the root, its Adam and
AdaDelta order the moment updates differently and default epsilon to 1e-7);
SGD and momentum SGD are the same two lines. Updates are in place on
``Parameter.data``, with the hyperparameters as Python floats, so float32
parameters stay float32.

One fix: ``FreezeParam`` clears the gradients of the frozen parameters and
``update`` then skips them (DeZero's ``update`` crashed on the cleared
gradient).
"""
import math

from ..core import Parameter, Variable, get_array_module

__all__ = ['Optimizer', 'WeightDecay', 'ClipGrad', 'FreezeParam',
           'SGD', 'MomentumSGD', 'AdaGrad', 'AdaDelta', 'Adam']


class Optimizer:
    """Base class: ``setup(target)`` binds a Layer (or Model); ``update()``
    runs the hooks on the parameters that have a gradient, then
    ``update_one`` on each that still has one."""

    def __init__(self):
        self.target = None
        self.hooks = []

    def setup(self, target):
        """Optimize ``target``'s ``params()``; returns self, so
        ``optimizer = SGD().setup(model)`` reads as in the book."""
        if not hasattr(target, 'params'):
            raise TypeError(f"{type(self).__name__}.setup(target): target must be a Layer "
                            f"or Model (with params()), got {type(target).__name__}")
        self.target = target
        return self

    def update(self):
        if self.target is None:
            raise RuntimeError(f"{type(self).__name__}.update(): call setup(model) first")
        params = [p for p in self.target.params() if p.grad is not None]
        for hook in self.hooks:
            hook(params)
        for param in params:
            if param.grad is not None:  # a hook (FreezeParam) may have cleared it
                self.update_one(param)

    def update_one(self, param):
        raise NotImplementedError(f"{type(self).__name__} does not define update_one")

    def add_hook(self, f):
        """``f(params)`` runs before each update on the list of parameters
        with a gradient (WeightDecay, ClipGrad, FreezeParam)."""
        self.hooks.append(f)


# --- hooks -------------------------------------------------------------------
# Hooks give a parameter a new gradient Variable instead of writing into the
# old one's array: backprop may hand one gradient Variable to several inputs
# (``x + b`` passes gy to both), and an in-place change would reach them all.

class WeightDecay:
    """Coupled L2: ``grad += rate * W`` (the gradient of ``rate/2 * ||W||^2``)."""

    def __init__(self, rate):
        self.rate = rate

    def __call__(self, params):
        rate = float(self.rate)
        for param in params:
            param.grad = Variable(param.grad.data + rate * param.data)


class ClipGrad:
    """Scale all gradients by ``max_norm / (global L2 norm + 1e-6)`` when that
    is below 1."""

    def __init__(self, max_norm):
        self.max_norm = max_norm

    def __call__(self, params):
        total = sum(float((param.grad.data ** 2).sum()) for param in params)
        rate = float(self.max_norm) / (math.sqrt(total) + 1e-6)
        if rate < 1:
            for param in params:
                param.grad = Variable(param.grad.data * rate)


class FreezeParam:
    """Leave the given Layers' parameters (or given Parameters) unchanged."""

    def __init__(self, *layers):
        self.freeze_params = []
        for layer in layers:
            if isinstance(layer, Parameter):
                self.freeze_params.append(layer)
            else:
                self.freeze_params.extend(layer.params())

    def __call__(self, params):
        for param in self.freeze_params:
            param.grad = None


# --- update rules --------------------------------------------------------------

def _slot(table, param):
    """``param``'s state array in ``table``, zeros at first; keyed by
    ``id(param)`` as DeZero keys them."""
    key = id(param)
    if key not in table:
        table[key] = get_array_module(param.data).zeros_like(param.data)
    return table[key]


class SGD(Optimizer):
    """``W -= lr * grad``."""

    def __init__(self, lr=0.01):
        super().__init__()
        self.lr = lr

    def update_one(self, param):
        param.data -= float(self.lr) * param.grad.data


class MomentumSGD(Optimizer):
    """``v = momentum * v - lr * grad; W += v``."""

    def __init__(self, lr=0.01, momentum=0.9):
        super().__init__()
        self.lr = lr
        self.momentum = momentum
        self.vs = {}

    def update_one(self, param):
        v = _slot(self.vs, param)
        v *= float(self.momentum)
        v -= float(self.lr) * param.grad.data
        param.data += v


class AdaGrad(Optimizer):
    """``h += grad**2; W -= lr * grad / (sqrt(h) + eps)``."""

    def __init__(self, lr=0.001, eps=1e-8):
        super().__init__()
        self.lr = lr
        self.eps = eps
        self.hs = {}

    def update_one(self, param):
        xp = get_array_module(param.data)
        grad = param.grad.data
        h = _slot(self.hs, param)
        h += grad * grad
        param.data -= float(self.lr) * grad / (xp.sqrt(h) + float(self.eps))


class AdaDelta(Optimizer):
    """With ``msg``, ``msdx`` the running means of grad**2 and dx**2::

        msg = rho * msg + (1 - rho) * grad**2
        dx = sqrt((msdx + eps) / (msg + eps)) * grad
        msdx = rho * msdx + (1 - rho) * dx**2
        W -= dx
    """

    def __init__(self, rho=0.95, eps=1e-6):
        super().__init__()
        self.rho = rho
        self.eps = eps
        self.msg = {}
        self.msdx = {}

    def update_one(self, param):
        xp = get_array_module(param.data)
        msg, msdx = _slot(self.msg, param), _slot(self.msdx, param)
        rho, eps = float(self.rho), float(self.eps)
        grad = param.grad.data
        msg *= rho
        msg += (1 - rho) * grad * grad
        dx = xp.sqrt((msdx + eps) / (msg + eps)) * grad
        msdx *= rho
        msdx += (1 - rho) * dx * dx
        param.data -= dx


class Adam(Optimizer):
    """With step count ``t`` (counted by ``update``)::

        m += (1 - beta1) * (grad - m)
        v += (1 - beta2) * (grad**2 - v)
        W -= lr * m / (sqrt(v) + eps),  lr = alpha * sqrt(1 - beta2**t) / (1 - beta1**t)
    """

    def __init__(self, alpha=0.001, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__()
        self.t = 0
        self.alpha = alpha
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.ms = {}
        self.vs = {}

    def update(self, *args, **kwargs):
        self.t += 1
        super().update(*args, **kwargs)

    @property
    def lr(self):
        """The bias-corrected step size of step ``t``."""
        fix1 = 1. - math.pow(self.beta1, self.t)
        fix2 = 1. - math.pow(self.beta2, self.t)
        return float(self.alpha) * math.sqrt(fix2) / fix1

    def update_one(self, param):
        xp = get_array_module(param.data)
        m, v = _slot(self.ms, param), _slot(self.vs, param)
        beta1, beta2 = float(self.beta1), float(self.beta2)
        grad = param.grad.data
        m += (1 - beta1) * (grad - m)
        v += (1 - beta2) * (grad * grad - v)
        param.data -= self.lr * m / (xp.sqrt(v) + float(self.eps))
