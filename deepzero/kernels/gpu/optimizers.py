"""The optimizers' updates on the device: one fused CuPy elementwise kernel
per update, which reads the gradient, the variable and its slots once and
writes the variable and the slots in place (no temporaries, no host round
trip).

Each function does, to the rounding, what the CPU update of the optimizer of
its name in ``deepzero/optimizers`` does to one piece of its arrays (Keras
3's formulas), with the same float operations in the same order; the
kernels are compiled without fused multiply-adds (``--fmad=false``), so
each product is rounded as NumPy rounds it. Scalars are cast to the
variable's dtype as the CPU updates cast them; the step's host-side scalars
(Adam's bias-corrected ``alpha``, Nadam's factors) are computed by the
optimizer, as on the CPU, and passed in.

Arguments: ``gradient`` and ``variable`` CuPy arrays of one shape and dtype;
slots (CuPy arrays like ``variable``, updated in place) or None where the
optimizer has none; hyperparameters keyword-only. CuPy is imported when a
kernel is first called: without it, a clear RuntimeError.
"""
import functools

# Each product rounded on its own, as in NumPy (CUDA contracts a * b + c by default).
_COMPILE_OPTIONS = ('--fmad=false',)


def sgd_update(gradient, variable, momentum_slot, *, learning_rate, momentum, nesterov):
    """SGD: ``w -= learning_rate * g`` (``momentum_slot`` None), else with
    m = momentum_slot: ``m = momentum * m - learning_rate * g``, then
    ``w += m`` or, with ``nesterov``, ``w += momentum * m - learning_rate * g``."""
    cast = _dtype_of(variable, 'sgd_update').type
    if momentum_slot is None:
        _kernel('deepzero_sgd', 'T g, T lr', 'T w', 'w = w - g * lr;')(
            gradient, cast(learning_rate), variable)
        return
    update = ('w = (w + m * momentum) - step;' if nesterov else 'w = w + m;')
    _kernel('deepzero_sgd_nesterov' if nesterov else 'deepzero_sgd_momentum',
            'T g, T lr, T momentum', 'T w, T m',
            'T step = g * lr; m = m * momentum - step; ' + update)(
        gradient, cast(learning_rate), cast(momentum), variable, momentum_slot)


def rmsprop_update(gradient, variable, velocity, momentum_slot, average_gradient, *,
                   learning_rate, rho, momentum, epsilon):
    """RMSprop (epsilon inside the root): ``v = rho * v + (1 - rho) * g**2``;
    centered (``average_gradient`` a, else None): ``a = rho * a + (1 - rho) * g``
    and ``step = learning_rate * g / sqrt(v - a**2 + epsilon)``, else
    ``step = learning_rate * g / sqrt(v + epsilon)``; with ``momentum_slot``
    m (else None): ``m = momentum * m + step; w -= m``, else ``w -= step``."""
    cast = _dtype_of(variable, 'rmsprop_update').type
    centered, with_momentum = average_gradient is not None, momentum_slot is not None
    body = ('T s = g * g * one_minus_rho; v = v * rho + s; s = v + epsilon; '
            + ('a = a * rho + one_minus_rho * g; s = s - a * a; ' if centered else '')
            + 's = g / sqrt(s) * lr; '
            + ('m = m * momentum + s; w = w - m;' if with_momentum else 'w = w - s;'))
    outputs = ['T w', 'T v'] + ['T m'] * with_momentum + ['T a'] * centered
    kernel = _kernel(f'deepzero_rmsprop_{int(centered)}{int(with_momentum)}',
                     'T g, T lr, T rho, T one_minus_rho, T epsilon, T momentum',
                     ', '.join(outputs), body)
    slots = [s for s in (momentum_slot, average_gradient) if s is not None]
    kernel(gradient, cast(learning_rate), cast(rho), cast(1.0 - rho), cast(epsilon),
           cast(momentum), variable, velocity, *slots)


def adam_update(gradient, variable, m, v, v_hat, *, alpha, beta_1, beta_2, epsilon):
    """Adam (AdamW: its decay runs before, in the optimizer's pipeline):
    ``m = beta_1 * m + (1 - beta_1) * g``, ``v = beta_2 * v + (1 - beta_2) * g**2``;
    with ``v_hat`` (amsgrad, else None) ``v_hat = max(v_hat, v)`` is used for v;
    ``w -= alpha * m / (sqrt(v) + epsilon)``, ``alpha`` the bias-corrected
    step size ``learning_rate * sqrt(1 - beta_2**t) / (1 - beta_1**t)``."""
    cast = _dtype_of(variable, 'adam_update').type
    amsgrad = v_hat is not None
    body = (_MOMENTS + ('v_hat = max(v_hat, v); T den = sqrt(v_hat) + epsilon; ' if amsgrad
                        else 'T den = sqrt(v) + epsilon; ')
            + 'w = w - m * alpha / den;')
    kernel = _kernel(f'deepzero_adam_{int(amsgrad)}', 'T g, T alpha, ' + _MOMENT_PARAMS,
                     'T w, T m, T v' + (', T v_hat' if amsgrad else ''), body)
    kernel(gradient, cast(alpha), *_moment_scalars(cast, beta_1, beta_2, epsilon),
           variable, m, v, *([v_hat] if amsgrad else []))


def nadam_update(gradient, variable, m, v, *, learning_rate, m_factor, gradient_factor,
                 v_correction, beta_1, beta_2, epsilon):
    """Nadam: m, v as in Adam; ``m_hat = m_factor * m + gradient_factor * g``,
    ``w -= learning_rate * m_hat / (sqrt(v / v_correction) + epsilon)``, the
    factors from the optimizer's momentum schedule."""
    cast = _dtype_of(variable, 'nadam_update').type
    body = (_MOMENTS + 'T m_hat = m * m_factor + g * gradient_factor; '
            'T den = sqrt(v / v_correction) + epsilon; w = w - m_hat * lr / den;')
    kernel = _kernel('deepzero_nadam', 'T g, T lr, T m_factor, T gradient_factor, '
                     'T v_correction, ' + _MOMENT_PARAMS, 'T w, T m, T v', body)
    kernel(gradient, cast(learning_rate), cast(m_factor), cast(gradient_factor),
           cast(v_correction), *_moment_scalars(cast, beta_1, beta_2, epsilon),
           variable, m, v)


def adagrad_update(gradient, variable, accumulator, *, learning_rate, epsilon):
    """Adagrad: ``acc += g**2``, ``w -= learning_rate * g / sqrt(acc + epsilon)``."""
    cast = _dtype_of(variable, 'adagrad_update').type
    _kernel('deepzero_adagrad', 'T g, T lr, T epsilon', 'T w, T acc',
            'acc = acc + g * g; w = w - g * lr / sqrt(acc + epsilon);')(
        gradient, cast(learning_rate), cast(epsilon), variable, accumulator)


def adadelta_update(gradient, variable, accumulated_grad, accumulated_delta, *,
                    learning_rate, rho, epsilon):
    """Adadelta, rms(x) = sqrt(x + epsilon): ``acc_g = rho * acc_g + (1 - rho) * g**2``,
    ``delta = -rms(acc_delta) * g / rms(acc_g)``,
    ``acc_delta = rho * acc_delta + (1 - rho) * delta**2``, ``w += learning_rate * delta``."""
    cast = _dtype_of(variable, 'adadelta_update').type
    _kernel('deepzero_adadelta', 'T g, T lr, T rho, T one_minus_rho, T epsilon',
            'T w, T acc_g, T acc_delta',
            'acc_g = acc_g * rho + one_minus_rho * (g * g); '
            'T delta = -(sqrt(acc_delta + epsilon) * g / sqrt(acc_g + epsilon)); '
            'acc_delta = acc_delta * rho + one_minus_rho * (delta * delta); '
            'w = w + delta * lr;')(
        gradient, cast(learning_rate), cast(rho), cast(1.0 - rho), cast(epsilon),
        variable, accumulated_grad, accumulated_delta)


# Adam's and Nadam's moment updates, and their scalars.
_MOMENTS = ('m = m * beta_1 + one_minus_beta_1 * g; '
            'v = v * beta_2 + one_minus_beta_2 * (g * g); ')
_MOMENT_PARAMS = 'T beta_1, T one_minus_beta_1, T beta_2, T one_minus_beta_2, T epsilon'


def _moment_scalars(cast, beta_1, beta_2, epsilon):
    return (cast(beta_1), cast(1.0 - beta_1), cast(beta_2), cast(1.0 - beta_2),
            cast(epsilon))


def _dtype_of(variable, name):
    """The variable's dtype, once it is known to be a CuPy array."""
    cupy = _cupy()
    if not isinstance(variable, cupy.ndarray):
        raise TypeError(f"{name}: variable must be a CuPy array (on the GPU), got "
                        f"{type(variable).__module__}.{type(variable).__name__}; "
                        f"the CPU optimizers update NumPy arrays")
    return variable.dtype


def _cupy():
    try:
        import cupy
    except ImportError as error:
        raise RuntimeError("deepzero.kernels.gpu.optimizers needs CuPy, which is not "
                           "installed (pip install 'deepzero[gpu]')") from error
    return cupy


@functools.lru_cache(maxsize=None)
def _kernel(name, in_params, out_params, body):
    """The compiled elementwise kernel (CuPy compiles it for each dtype on first call)."""
    return _cupy().ElementwiseKernel(in_params, out_params, body, name,
                                     options=_COMPILE_OPTIONS)
