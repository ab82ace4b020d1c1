"""Learning-rate schedules: callables ``step -> learning rate`` (Keras 3 names,
arguments and formulas). An optimizer given a schedule evaluates it at its
iteration count before every update.

All arithmetic is done in float32, as Keras does with a float32 initial rate,
so the rates match Keras bit for bit in the common cases.
"""
import abc
import math

import numpy as np


class LearningRateSchedule(abc.ABC):
    """Base class: a schedule is a callable with a Keras config."""

    @abc.abstractmethod
    def __call__(self, step):
        """The learning rate at optimizer iteration ``step`` (float32)."""

    @abc.abstractmethod
    def get_config(self):
        """The constructor's arguments, as Keras saves them."""

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _check_decay_steps(decay_steps):
    if decay_steps <= 0:
        raise ValueError(f"Argument `decay_steps` must be > 0. Received: decay_steps={decay_steps}")


class _RatioDecay(LearningRateSchedule):
    """Schedules of ``p = step / decay_steps`` (floored with ``staircase``);
    a subclass gives ``decay(p)``, the rate at progress ``p``."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name=None):
        _check_decay_steps(decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name or type(self).__name__

    def __call__(self, step):
        p = np.float32(step) / np.float32(self.decay_steps)
        if self.staircase:
            p = np.floor(p)
        return self.decay(p)

    def get_config(self):
        return {'initial_learning_rate': self.initial_learning_rate,
                'decay_steps': self.decay_steps, 'decay_rate': self.decay_rate,
                'staircase': self.staircase, 'name': self.name}


class ExponentialDecay(_RatioDecay):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)``; with
    ``staircase=True`` the exponent is floored."""

    def decay(self, p):
        return np.float32(self.initial_learning_rate) * np.float32(self.decay_rate) ** p


class InverseTimeDecay(_RatioDecay):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)``; with
    ``staircase=True`` the ratio ``step / decay_steps`` is floored."""

    def decay(self, p):
        return np.float32(self.initial_learning_rate) / (
            np.float32(1.0) + np.float32(self.decay_rate) * p)


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` while ``step <= boundaries[0]``, ``values[i]`` while
    ``boundaries[i-1] < step <= boundaries[i]``, ``values[-1]`` after."""

    def __init__(self, boundaries, values, name='PiecewiseConstant'):
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                "The length of boundaries should be 1 less than the length of values. "
                f"Received: boundaries={boundaries} of length {len(boundaries)}, and "
                f"values={values} of length {len(values)}.")
        self.boundaries = boundaries
        self.values = values
        self.name = name

    def __call__(self, step):
        index = int(np.searchsorted(self.boundaries, step, side='left'))
        return np.float32(self.values[index])

    def get_config(self):
        return {'boundaries': self.boundaries, 'values': self.values, 'name': self.name}


class CosineDecay(LearningRateSchedule):
    """Cosine decay from the initial rate (or, after an optional linear warmup
    to ``warmup_target``, from that target) down to ``alpha`` times it over
    ``decay_steps`` steps, then constant."""

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name='CosineDecay',
                 warmup_target=None, warmup_steps=0):
        _check_decay_steps(decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.alpha = alpha
        self.name = name
        self.warmup_target = warmup_target
        self.warmup_steps = warmup_steps

    def _decay(self, step, decay_from):
        completed = step / np.float32(self.decay_steps)
        cosine = np.float32(0.5) * (np.float32(1.0) + np.cos(np.float32(math.pi) * completed))
        decayed = np.float32(1.0 - self.alpha) * cosine + np.float32(self.alpha)
        return decay_from * decayed

    def __call__(self, step):
        initial = np.float32(self.initial_learning_rate)
        step = np.float32(step)
        if self.warmup_target is None:
            return self._decay(min(step, np.float32(self.decay_steps)), initial)
        warmup_steps = np.float32(self.warmup_steps)
        target = np.float32(self.warmup_target)
        step = min(step, np.float32(self.decay_steps) + warmup_steps)
        if step < warmup_steps:
            return (target - initial) * (step / warmup_steps) + initial
        return self._decay(step - warmup_steps, target)

    def get_config(self):
        return {'initial_learning_rate': self.initial_learning_rate,
                'decay_steps': self.decay_steps, 'alpha': self.alpha, 'name': self.name,
                'warmup_target': self.warmup_target, 'warmup_steps': self.warmup_steps}


SCHEDULES = {cls.__name__: cls for cls in
             (ExponentialDecay, InverseTimeDecay, PiecewiseConstantDecay, CosineDecay)}


def serialize(schedule):
    """The Keras 3 serialized form of a schedule (as stored in optimizer configs)."""
    return {'module': 'keras.optimizers.schedules', 'class_name': type(schedule).__name__,
            'config': schedule.get_config(), 'registered_name': None}


def deserialize(config, custom_objects=None):
    """Rebuild a schedule from ``serialize``'s dict."""
    classes = dict(SCHEDULES, **(custom_objects or {}))
    name = config.get('class_name')
    if name not in classes:
        raise ValueError(f"Unknown learning rate schedule {name!r}; known: {sorted(SCHEDULES)}")
    return classes[name].from_config(config['config'])
