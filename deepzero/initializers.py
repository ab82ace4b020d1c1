"""Weight initializers with Keras's names, arguments and defaults.

An initializer is called with a shape (and optionally a dtype, default
float32) and returns an ndarray of that dtype. Random values are drawn in
float32 (float64 only for float64 weights), so a float32 weight never costs
a float64 temporary twice its size. ``seed=None`` draws from the runtime's
'initializers' stream (``deepzero.utils.set_random_seed`` makes runs
repeatable; NumPy's global random state is not used); an int seed gives the
same values on every call, as in Keras 3.
"""
import math

import numpy as np

from .core import runtime

__all__ = ['Initializer', 'Constant', 'Zeros', 'Ones', 'RandomNormal', 'TruncatedNormal',
           'RandomUniform', 'VarianceScaling', 'GlorotUniform', 'GlorotNormal', 'HeNormal',
           'HeUniform', 'LecunNormal', 'LecunUniform', 'Orthogonal', 'get', 'serialize']


class Initializer:
    """Base class: ``__call__(shape, dtype=None) -> ndarray``, ``get_config``."""

    def __call__(self, shape, dtype=None):
        raise NotImplementedError(f"{type(self).__name__}.__call__")

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ', '.join(f'{k}={v!r}' for k, v in self.get_config().items())
        return f'{type(self).__name__}({args})'


def _dtype(dtype):
    return np.dtype(dtype or 'float32')


def _draw_dtype(dtype):
    """The dtype random values are drawn in for a weight of ``dtype``: NumPy's
    generators draw float32 or float64 only."""
    return np.float64 if _dtype(dtype) == np.float64 else np.float32


def _uniform(rng, shape, minval, maxval, dtype):
    """Uniform draws in [minval, maxval), computed in ``_draw_dtype(dtype)``."""
    draw = _draw_dtype(dtype)
    values = rng.random(shape, dtype=draw)
    values *= draw(maxval - minval)
    values += draw(minval)
    return values.astype(_dtype(dtype), copy=False)


class Constant(Initializer):
    """Every element equals ``value``."""

    def __init__(self, value=0.0):
        self.value = value

    def __call__(self, shape, dtype=None):
        return np.full(shape, self.value, dtype=_dtype(dtype))

    def get_config(self):
        return {'value': self.value}


class Zeros(Initializer):
    def __call__(self, shape, dtype=None):
        return np.zeros(shape, dtype=_dtype(dtype))


class Ones(Initializer):
    def __call__(self, shape, dtype=None):
        return np.ones(shape, dtype=_dtype(dtype))


class RandomInitializer(Initializer):
    """Shared seed handling of the random initializers."""

    def __init__(self, seed=None):
        if seed is not None and not isinstance(seed, (int, np.integer)):
            raise ValueError(f"{type(self).__name__}: seed must be an int or None, got {seed!r}")
        self.seed = seed

    def _rng(self):
        if self.seed is None:
            return runtime.generator('initializers')
        return np.random.default_rng(self.seed)

    def get_config(self):
        return {'seed': self.seed}


def _normal(rng, shape, mean, stddev, dtype):
    """Normal draws, computed in ``_draw_dtype(dtype)``."""
    draw = _draw_dtype(dtype)
    values = rng.standard_normal(shape, dtype=draw)
    values *= draw(stddev)
    values += draw(mean)
    return values.astype(_dtype(dtype), copy=False)


def _truncated_normal(rng, shape, mean, stddev, dtype):
    """Standard normal draws, redrawn until all lie within two standard
    deviations (as Keras's truncated_normal), then scaled and shifted."""
    draw = _draw_dtype(dtype)
    values = rng.standard_normal(shape, dtype=draw)
    outside = np.abs(values) > 2.0
    while outside.any():
        values[outside] = rng.standard_normal(int(outside.sum()), dtype=draw)
        outside = np.abs(values) > 2.0
    values *= draw(stddev)
    values += draw(mean)
    return values.astype(_dtype(dtype), copy=False)


class RandomNormal(RandomInitializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def __call__(self, shape, dtype=None):
        return _normal(self._rng(), shape, self.mean, self.stddev, dtype)

    def get_config(self):
        return {'seed': self.seed, 'mean': self.mean, 'stddev': self.stddev}


class TruncatedNormal(RandomInitializer):
    """Normal draws redrawn outside ``mean +- 2 * stddev``."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def __call__(self, shape, dtype=None):
        return _truncated_normal(self._rng(), shape, self.mean, self.stddev, dtype)

    def get_config(self):
        return {'seed': self.seed, 'mean': self.mean, 'stddev': self.stddev}


class RandomUniform(RandomInitializer):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(seed)
        self.minval, self.maxval = minval, maxval

    def __call__(self, shape, dtype=None):
        return _uniform(self._rng(), shape, self.minval, self.maxval, dtype)

    def get_config(self):
        return {'seed': self.seed, 'minval': self.minval, 'maxval': self.maxval}


def compute_fans(shape):
    """(fan_in, fan_out) of a weight shape, Keras's rule: a conv kernel
    (..., in, out) counts each input/output channel once per kernel position."""
    shape = tuple(shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive_field = math.prod(shape[:-2])
    return shape[-2] * receptive_field, shape[-1] * receptive_field


class VarianceScaling(RandomInitializer):
    """Draws with variance ``scale / n`` where n is fan_in, fan_out or their
    mean (``mode``), from a truncated normal, untruncated normal or uniform
    ``distribution``."""
    _MODES = ('fan_in', 'fan_out', 'fan_avg')
    _DISTRIBUTIONS = ('truncated_normal', 'untruncated_normal', 'uniform')

    def __init__(self, scale=1.0, mode='fan_in', distribution='truncated_normal', seed=None,
                 input_axes=None, output_axes=None):
        super().__init__(seed)
        if scale <= 0:
            raise ValueError(f"VarianceScaling: scale must be positive, got {scale}")
        if mode not in self._MODES:
            raise ValueError(f"VarianceScaling: mode must be one of {self._MODES}, got {mode!r}")
        if distribution == 'normal':  # Keras's alias
            distribution = 'truncated_normal'
        if distribution not in self._DISTRIBUTIONS:
            raise ValueError(f"VarianceScaling: distribution must be one of "
                             f"{self._DISTRIBUTIONS}, got {distribution!r}")
        if input_axes is not None or output_axes is not None:
            raise ValueError("VarianceScaling: custom input_axes/output_axes are not "
                             "supported; fans follow the (..., in, out) layout")
        self.scale, self.mode, self.distribution = scale, mode, distribution

    def __call__(self, shape, dtype=None):
        fan_in, fan_out = compute_fans(shape)
        n = {'fan_in': fan_in, 'fan_out': fan_out, 'fan_avg': (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(1.0, n)
        rng = self._rng()
        if self.distribution == 'truncated_normal':
            # 0.8796... = std of a standard normal truncated to [-2, 2]
            return _truncated_normal(rng, shape, 0.0,
                                     math.sqrt(variance) / 0.87962566103423978, dtype)
        if self.distribution == 'untruncated_normal':
            return _normal(rng, shape, 0.0, math.sqrt(variance), dtype)
        limit = math.sqrt(3.0 * variance)
        return _uniform(rng, shape, -limit, limit, dtype)

    def get_config(self):
        return {'seed': self.seed, 'scale': self.scale, 'mode': self.mode,
                'distribution': self.distribution, 'input_axes': None, 'output_axes': None}


class _NamedVarianceScaling(VarianceScaling):
    """A VarianceScaling with a fixed (scale, mode, distribution); its config
    holds only the seed (and Keras 3.15's fan axes), as Keras writes it."""
    preset = None

    def __init__(self, seed=None, input_axes=None, output_axes=None):
        super().__init__(*self.preset, seed=seed, input_axes=input_axes,
                         output_axes=output_axes)

    def get_config(self):
        return {'seed': self.seed, 'input_axes': None, 'output_axes': None}


class GlorotUniform(_NamedVarianceScaling):
    """Uniform in [-l, l], l = sqrt(6 / (fan_in + fan_out)); Keras's default kernel init."""
    preset = (1.0, 'fan_avg', 'uniform')


class GlorotNormal(_NamedVarianceScaling):
    """Truncated normal, std sqrt(2 / (fan_in + fan_out))."""
    preset = (1.0, 'fan_avg', 'truncated_normal')


class HeNormal(_NamedVarianceScaling):
    """Truncated normal, std sqrt(2 / fan_in)."""
    preset = (2.0, 'fan_in', 'truncated_normal')


class HeUniform(_NamedVarianceScaling):
    """Uniform in [-l, l], l = sqrt(6 / fan_in)."""
    preset = (2.0, 'fan_in', 'uniform')


class LecunNormal(_NamedVarianceScaling):
    """Truncated normal, std sqrt(1 / fan_in)."""
    preset = (1.0, 'fan_in', 'truncated_normal')


class LecunUniform(_NamedVarianceScaling):
    """Uniform in [-l, l], l = sqrt(3 / fan_in)."""
    preset = (1.0, 'fan_in', 'uniform')


class Orthogonal(RandomInitializer):
    """A (semi-)orthogonal matrix times ``gain``, from the QR decomposition of
    a normal draw; the last axis is the number of columns."""

    def __init__(self, gain=1.0, seed=None):
        super().__init__(seed)
        self.gain = gain

    def __call__(self, shape, dtype=None):
        if len(shape) < 2:
            raise ValueError(f"Orthogonal: needs a shape of rank >= 2, got {tuple(shape)}")
        rows, cols = math.prod(shape[:-1]), shape[-1]
        draw = _draw_dtype(dtype)
        flat = self._rng().standard_normal((max(rows, cols), min(rows, cols)), dtype=draw)
        q, r = np.linalg.qr(flat)
        q *= np.sign(np.diag(r))  # make the decomposition unique
        if rows < cols:
            q = q.T
        q *= draw(self.gain)
        return q.reshape(shape).astype(_dtype(dtype), copy=False)

    def get_config(self):
        return {'seed': self.seed, 'gain': self.gain}


_CLASSES = {cls.__name__: cls for cls in (
    Constant, Zeros, Ones, RandomNormal, RandomUniform, TruncatedNormal, VarianceScaling,
    GlorotUniform, GlorotNormal, HeNormal, HeUniform, LecunNormal, LecunUniform, Orthogonal)}
_ALIASES = {'zeros': Zeros, 'ones': Ones, 'constant': Constant,
            'random_normal': RandomNormal, 'random_uniform': RandomUniform,
            'truncated_normal': TruncatedNormal, 'variance_scaling': VarianceScaling,
            'glorot_uniform': GlorotUniform, 'glorot_normal': GlorotNormal,
            'he_normal': HeNormal, 'he_uniform': HeUniform, 'lecun_normal': LecunNormal,
            'lecun_uniform': LecunUniform, 'orthogonal': Orthogonal}


def get(identifier):
    """An initializer from a name ('glorot_uniform', 'GlorotUniform'), a
    Keras-serialized dict, an Initializer or a callable; None gives None."""
    if identifier is None or isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str):
        cls = _ALIASES.get(identifier) or _CLASSES.get(identifier)
        if cls is None:
            raise ValueError(f"Unknown initializer {identifier!r}; known: {sorted(_ALIASES)}")
        return cls()
    if isinstance(identifier, dict):
        cls = _CLASSES.get(identifier.get('class_name'))
        if cls is None:
            raise ValueError(f"Unknown initializer class {identifier.get('class_name')!r}; "
                             f"known: {sorted(_CLASSES)}")
        config = identifier.get('config', {})
        if not isinstance(config, dict):
            raise ValueError(f"initializer {identifier['class_name']}: its config must be a "
                             f"dict of arguments, got {type(config).__name__}")
        return cls.from_config(config)
    if callable(identifier):
        return identifier
    raise TypeError(f"Could not interpret initializer {identifier!r}")


def serialize(initializer):
    """Keras 3's dict form: module, class_name, config, registered_name."""
    if initializer is None:
        return None
    return {'module': 'keras.initializers', 'class_name': type(initializer).__name__,
            'config': initializer.get_config(), 'registered_name': None}
