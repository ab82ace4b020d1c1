"""Elementwise math: roots, trigonometry, clipping and choosing between arrays.

Piecewise ops (``abs``, ``clip``, ``maximum``, ``minimum``, ``where``) pass the
gradient through a constant mask: their second derivative is zero almost
everywhere, so multiplying ``gy`` by a fixed array keeps them differentiable
to any order. A boolean mask multiplies ``gy`` directly (NumPy casts it inside
the loop), which is as cheap as a copy and cheaper than ``np.where``.
"""
from ..core import Function, Variable, get_array_module
from ..core.array_module import is_scalar
from ..core.cuda import device_of
from ..core.operators import _broadcasting, sum_to

__all__ = ['Sqrt', 'sqrt', 'Abs', 'abs', 'Sin', 'sin', 'Cos', 'cos', 'Tanh', 'tanh',
           'Clip', 'clip', 'Maximum', 'maximum', 'Minimum', 'minimum', 'Where', 'where']


class Sqrt(Function):
    def forward(self, x):
        return get_array_module(x).sqrt(x)

    def backward(self, gy):
        y = self.outputs[0]()
        return gy / (y * 2)


def sqrt(x):
    """Elementwise square root; the gradient is ``1 / (2 sqrt(x))`` (inf at 0)."""
    return Sqrt()(x)


class Abs(Function):
    def forward(self, x):
        return get_array_module(x).abs(x)

    def backward(self, gy):
        x = self.inputs[0].data
        return gy * get_array_module(x).sign(x)  # 0 at x == 0, as in PyTorch


def abs(x):
    """Elementwise ``|x|``; the gradient at 0 is 0."""
    return Abs()(x)


class Sin(Function):
    def forward(self, x):
        return get_array_module(x).sin(x)

    def backward(self, gy):
        return gy * cos(self.inputs[0])


def sin(x):
    return Sin()(x)


class Cos(Function):
    def forward(self, x):
        return get_array_module(x).cos(x)

    def backward(self, gy):
        return -gy * sin(self.inputs[0])


def cos(x):
    return Cos()(x)


class Tanh(Function):
    def forward(self, x):
        return get_array_module(x).tanh(x)

    def backward(self, gy):
        y = self.outputs[0]()
        return gy * (1 - y * y)


def tanh(x):
    return Tanh()(x)


class Clip(Function):
    def __init__(self, x_min, x_max):
        if x_min is None and x_max is None:
            raise ValueError("clip: x_min and x_max are both None; give at least one")
        self.x_min = x_min
        self.x_max = x_max

    def forward(self, x):
        xp = get_array_module(x)
        # NumPy 2 lets an np.float64 bound promote float32 data: cast the bounds
        # (scalar bounds to NumPy scalars, which CuPy takes as kernel arguments).
        self.x_min, self.x_max = (None if b is None else
                                  x.dtype.type(b) if is_scalar(b) else xp.asarray(b, x.dtype)
                                  for b in (self.x_min, self.x_max))
        return xp.clip(x, self.x_min, self.x_max)

    def backward(self, gy):
        x = self.inputs[0].data
        inside = True
        if self.x_min is not None:
            inside = inside & (x >= self.x_min)
        if self.x_max is not None:
            inside = inside & (x <= self.x_max)
        return gy * inside


def clip(x, x_min, x_max):
    """Limit ``x`` to ``[x_min, x_max]`` (either bound may be None).

    The gradient flows where ``x_min <= x <= x_max`` (bounds included, as in
    ``torch.clamp``); the bounds themselves get no gradient.
    """
    return Clip(x_min, x_max)(x)


class Maximum(Function):
    """Elementwise larger of ``a`` and ``b``, broadcasting.

    Where ``a == b`` each side gets half the gradient: that is PyTorch's rule
    for ``torch.maximum``/``torch.minimum`` (it does not favour the first
    argument), and it keeps ``maximum(a, b) + minimum(a, b) == a + b`` exact
    for gradients too.
    """
    pick = 'maximum'   # the ufunc (NumPy's or CuPy's) choosing the result
    wins = 'greater'   # where ``a`` alone is chosen

    def forward(self, a, b):
        self.compared = a, b  # as forward got them (a host scalar beside GPU data as a scalar)
        return _broadcasting(self.pick, self.pick, a, b)

    def backward(self, gy):
        a, b = self.inputs
        a_data, b_data = self.compared
        xp = get_array_module(gy)
        share_a = xp.asarray(getattr(xp, self.wins)(a_data, b_data), dtype=gy.dtype)
        share_a[a_data == b_data] = 0.5
        need_a, need_b = self.needs_input_grad
        ga = sum_to(gy * share_a, a.shape) if need_a else None
        gb = sum_to(gy * (1 - share_a), b.shape) if need_b else None
        return ga, gb


class Minimum(Maximum):
    """Elementwise smaller of ``a`` and ``b``; ties split the gradient evenly."""
    pick = 'minimum'
    wins = 'less'


def maximum(a, b):
    """Elementwise maximum of two Variables/arrays/scalars (broadcasting)."""
    return Maximum()(a, b)


def minimum(a, b):
    """Elementwise minimum of two Variables/arrays/scalars (broadcasting)."""
    return Minimum()(a, b)


class Where(Function):
    """``condition ? x : y`` elementwise; ``condition`` is a constant, not an input."""

    def __init__(self, condition):
        if isinstance(condition, Variable):
            condition = condition.data
        self.condition = get_array_module(condition).asarray(condition)

    def forward(self, x, y):
        xp = get_array_module(x, y)
        if self.condition.dtype != bool:
            raise TypeError(f"where: condition must be a bool array, got {self.condition.dtype}")
        data_on = 'gpu' if 'gpu' in (device_of(x), device_of(y)) else 'cpu'
        if device_of(self.condition) != data_on:
            raise TypeError(f"where: condition on {device_of(self.condition)} but x and y on "
                            f"{data_on}; move it with deepzero.cuda.as_cupy/as_numpy")
        try:
            return xp.where(self.condition, x, y)
        except ValueError:
            raise ValueError(f"where: shapes condition {self.condition.shape}, x {x.shape} "
                             f"and y {y.shape} cannot be broadcast together") from None

    def backward(self, gy):
        x, y = self.inputs
        need_x, need_y = self.needs_input_grad
        gx = sum_to(gy * self.condition, x.shape) if need_x else None
        gy_ = sum_to(gy * ~self.condition, y.shape) if need_y else None
        return gx, gy_


def where(condition, x, y):
    """Take ``x`` where ``condition`` is True, ``y`` elsewhere (broadcasting all three).

    Args:
        condition: bool array or Variable holding one (gets no gradient).
        x, y: Variables, arrays or scalars; scalars take the other's dtype.
    """
    return Where(condition)(x, y)
