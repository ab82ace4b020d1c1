"""``Optimizer``: the base of every optimizer, with Keras 3's arguments,
update pipeline and state layout.

``apply(grads, variables)`` does, in Keras 3's order: drop variables without a
gradient, unscale (``loss_scale_factor``), clip (``clipnorm`` per tensor,
``global_clipnorm`` over all, or ``clipvalue``), decoupled weight decay
(``variable -= variable * weight_decay * learning_rate``), then the
subclass's ``update_step`` per variable, then ``iterations += 1``.

Updates happen in place on ``Parameter.data`` with NumPy ``out=`` ops: no
graph is recorded, no float64 temporaries are made, and the arrays the
model holds stay the same objects. An update is elementwise, and
``Optimizer.run_update`` is the one place it picks its way by the arrays'
device: host arrays go through ``update_in_pieces``, which runs it over
cache-sized pieces of the arrays, split over deepzero's threads (all its
passes over a piece run while the piece is in the cache, and each result is
the same, bit for bit, as a pass over the whole arrays); device (CuPy)
arrays go to ``update_on_device``, whole. Slots live on their variable's
device; the step count and the learning rate stay host scalars.

State (``variables``) follows Keras 3's order and names, so it can be saved
in Keras files: ``iteration``, ``learning_rate`` (absent with a schedule),
then the slots each subclass makes in ``build``, named
``<variable path with '/' replaced by '_'>_<slot>``.
"""
import functools
import warnings

import numpy as np

from ..core import Variable, cuda, get_array_module, parallel
from ..core.naming import auto_name
from ..layers.layer import assign
from . import schedules as schedules_module


# Elements per piece of an update: 1 MB of float32 per array, so the pieces of
# the gradient, the variable, its slots and the temporaries (~5 MB) stay in
# the cache from one pass to the next, where the whole arrays of a large
# kernel (W1's dense kernel: 12.8 MB each) would not. Measured with
# bench/optimizer_profile.py: smaller pieces lose the gain to NumPy's cost
# per call, larger ones to the memory traffic.
UPDATE_PIECE_ELEMENTS = 1 << 18


def update_in_pieces(update, gradient, variable, *slots):
    """Run ``update(gradient, variable, *slots)``, an elementwise update that
    writes ``variable`` and its ``slots`` in place, on matching pieces of
    UPDATE_PIECE_ELEMENTS elements of the flattened arrays, split over the
    threads (``parallel.over_batch``) when they are large. A slot may be None
    (an optional slot that is off): the update then gets None for it.

    Arrays of at most one piece, and arrays that are not C-contiguous (no
    flat view to write through), are updated whole, in one call."""
    arrays = [variable] + [s for s in slots if s is not None]
    if variable.size <= UPDATE_PIECE_ELEMENTS or not all(
            isinstance(a, np.ndarray) and a.flags.c_contiguous for a in arrays):
        update(gradient, variable, *slots)
        return
    present = [s is not None for s in slots]
    flat = [np.ascontiguousarray(gradient).reshape(-1)] + [a.reshape(-1) for a in arrays]

    def pieces(gradient, variable, *slots):
        slots = iter(slots)
        slots = [next(slots) if here else None for here in present]
        for start in range(0, len(variable), UPDATE_PIECE_ELEMENTS):
            piece = slice(start, start + UPDATE_PIECE_ELEMENTS)
            update(gradient[piece], variable[piece],
                   *[None if s is None else s[piece] for s in slots])
    parallel.over_batch(pieces, *flat)


class Optimizer:
    """Base class.

    Args:
        learning_rate: float, a ``LearningRateSchedule`` or a callable with no
            arguments returning the rate.
        weight_decay: float or None: decoupled weight decay per step.
        clipnorm / clipvalue / global_clipnorm: gradient clipping (one at most).
        loss_scale_factor: float or None: the trainer multiplies the loss by it
            and ``apply`` divides the gradients by it.
        name: defaults to the snake_case class name, made unique.
        lr: Keras 2 spelling of ``learning_rate``, accepted with a
            DeprecationWarning (the book's ``RMSprop(lr=1e-4)``).
        use_ema, ema_momentum, ema_overwrite_frequency,
        gradient_accumulation_steps: Keras 3 arguments; only their defaults are
            supported.

    Subclasses implement ``build_slots(variables)`` (make slot arrays with
    ``add_slots``) and ``update_step(gradient, variable, learning_rate, index)``,
    which computes the step's scalars and hands the elementwise arithmetic,
    with the variable's slots, to ``run_update``.
    """

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        if 'lr' in kwargs:
            warnings.warn("The `lr` argument is deprecated, use `learning_rate` instead.",
                          DeprecationWarning, stacklevel=3)
            learning_rate = kwargs.pop('lr')
        if kwargs:
            raise TypeError(f"{type(self).__name__}: argument(s) not recognized: {kwargs}")
        if sum(a is not None for a in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError(
                "Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. "
                f"Received: clipnorm={clipnorm}, clipvalue={clipvalue}, "
                f"global_clipnorm={global_clipnorm}")
        if use_ema or gradient_accumulation_steps:
            raise NotImplementedError(
                f"{type(self).__name__}: use_ema and gradient_accumulation_steps are not "
                "supported by deepzero")
        self.name = name or auto_name(type(self).__name__)
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.global_clipnorm = global_clipnorm
        self.use_ema = use_ema
        self.ema_momentum = ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self.loss_scale_factor = loss_scale_factor
        self.gradient_accumulation_steps = gradient_accumulation_steps
        self.built = False
        self._variables = []
        self._index_of = {}            # id(model variable) -> its position
        self._warned_missing = set()
        self._iterations = self._state_variable('iteration', np.zeros((), np.int32))
        self._learning_rate = None
        self._learning_rate_variable = None
        self.learning_rate = learning_rate

    # --- state ------------------------------------------------------------
    def _state_variable(self, name, array, path=None):
        var = Variable(array, name=name, requires_grad=False)
        var.path = path or f'{self.name}/{name}'
        self._variables.append(var)
        return var

    @property
    def variables(self):
        """State Variables in Keras 3 order; each has ``.name`` and ``.path``."""
        return list(self._variables)

    @property
    def iterations(self):
        """Number of updates applied so far (an int)."""
        return int(self._iterations.data)

    @iterations.setter
    def iterations(self, value):
        self._iterations.data[...] = value

    @property
    def learning_rate(self):
        """The current learning rate as a float (a schedule is evaluated at
        ``iterations``)."""
        rate = self._learning_rate
        if isinstance(rate, schedules_module.LearningRateSchedule):
            return float(rate(self.iterations))
        if rate is self._learning_rate_variable and rate is not None:
            return float(rate.data)
        return float(rate())

    @learning_rate.setter
    def learning_rate(self, value):
        if isinstance(value, schedules_module.LearningRateSchedule) or callable(value):
            if self._learning_rate_variable is not None:  # Keras untracks the variable
                self._variables.remove(self._learning_rate_variable)
                self._learning_rate_variable = None
            self._learning_rate = value
            return
        if isinstance(self._learning_rate, schedules_module.LearningRateSchedule):
            raise TypeError(
                "This optimizer was created with a `LearningRateSchedule` object as its "
                "`learning_rate` constructor argument, hence its learning rate is not "
                "settable. If you need the learning rate to be settable, you should "
                "instantiate the optimizer with a float `learning_rate` argument.")
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ValueError(
                "Argument `learning_rate` should be float, or an instance of "
                "LearningRateSchedule, or a callable (that takes in the current "
                f"iteration value and returns the corresponding learning rate value). "
                f"Received instead: learning_rate={value!r}") from None
        if self._learning_rate_variable is None:
            self._learning_rate_variable = self._state_variable(
                'learning_rate', np.asarray(value, np.float32))
        else:
            self._learning_rate_variable.data[...] = value
        self._learning_rate = self._learning_rate_variable

    # --- building ---------------------------------------------------------
    def build(self, variables):
        """Record the model variables this optimizer updates and create their
        slots (no-op if already built). All or nothing: when slot creation
        is interrupted (Ctrl-C, out of memory), the slots made so far are
        dropped, so a later build does not make them twice."""
        if self.built:
            return
        variables = list(variables)
        state_count = len(self._variables)
        try:
            self._index_of = {id(v): i for i, v in enumerate(variables)}
            self._model_variables = variables
            self.build_slots(variables)
            self.built = True
        except BaseException:
            del self._variables[state_count:]
            self.built = False
            raise

    def build_slots(self, variables):
        """Create per-variable state; the base optimizer has none."""

    def add_slots(self, variables, names, initial_value=0.0):
        """One zero-filled (or ``initial_value``) array per variable and name,
        interleaved per variable as Keras does; returns one list per name."""
        slots = tuple([] for _ in names)
        for v in variables:
            prefix = _slot_prefix(v)
            for name, slot_list in zip(names, slots):
                array = get_array_module(v.data).full_like(v.data, initial_value)
                slot_list.append(self._state_variable(f'{prefix}_{name}', array).data)
        return slots

    def set_state(self, arrays):
        """Load saved state (a list of arrays in ``variables`` order)."""
        if not self.built:
            raise ValueError("set_state: the optimizer is not built yet; call "
                             "optimizer.build(trainable_variables) first")
        if len(arrays) != len(self._variables):
            raise ValueError(f"set_state: {self.name} has {len(self._variables)} variables "
                             f"but {len(arrays)} arrays were given")
        for var, array in zip(self._variables, arrays):
            shape = tuple(array.shape) if hasattr(array, 'shape') else np.shape(array)
            if var.data.shape != shape:
                raise ValueError(f"set_state: optimizer variable {var.path!r} has shape "
                                 f"{var.data.shape}, the given array {shape}")
        for var, array in zip(self._variables, arrays):
            assign(var.data, array)

    set_weights = set_state

    def get_weights(self):
        """Copies of the state in host memory (NumPy), in ``variables`` order."""
        return [np.array(cuda.as_numpy(v.data)) for v in self._variables]

    # --- updating ---------------------------------------------------------
    def apply_gradients(self, grads_and_vars):
        """Keras's ``apply_gradients([(grad, var), ...])``."""
        grads, variables = zip(*grads_and_vars)
        self.apply(grads, variables)
        return self.iterations

    def apply(self, grads, variables=None):
        """Update ``variables`` (Parameters) in place from ``grads`` (Variables,
        arrays or None for "no gradient"). Builds on first call."""
        if len(grads) == 0:
            return
        if variables is None:
            if not self.built:
                raise ValueError(
                    "When passing `grads` without `variables`, the optimizer must already "
                    "be built on a list of variables. Call "
                    "`optimizer.build(trainable_variables)` first.")
            variables = self._model_variables
        variables = list(variables)
        if len(grads) != len(variables):
            raise ValueError(f"{self.name}.apply: {len(grads)} gradients for "
                             f"{len(variables)} variables")
        self.build(variables)
        grads, variables = self._pair_present(grads, variables)
        if self.loss_scale_factor is not None:
            grads = [g / np.float32(self.loss_scale_factor) for g in grads]
        grads = self._clip(grads)
        learning_rate = self.learning_rate
        if self.weight_decay is not None:
            for v in variables:
                v.data *= v.data.dtype.type(1.0 - self.weight_decay * learning_rate)
        for g, v in zip(grads, variables):
            self.update_step(g, v.data, v.data.dtype.type(learning_rate), self._index_of[id(v)])
        self._iterations.data += 1

    def _pair_present(self, grads, variables):
        """Gradients as arrays of the variables' dtype; variables without a
        gradient are skipped (warned about once)."""
        kept_grads, kept_vars, missing = [], [], []
        for g, v in zip(grads, variables):
            if id(v) not in self._index_of:
                raise ValueError(
                    f"Unknown variable: {getattr(v, 'path', v.name)!r}. This optimizer can "
                    "only be called for the variables it was originally built with. When "
                    "working with a new set of variables, you should recreate a new "
                    "optimizer instance.")
            if g is None:
                missing.append(getattr(v, 'path', None) or v.name)
                continue
            g = g.data if isinstance(g, Variable) else g
            g = g if get_array_module(g) is not np else np.asarray(g)
            if get_array_module(g) is not get_array_module(v.data):
                raise ValueError(
                    f"{self.name}: the gradient of variable {getattr(v, 'path', v.name)!r} "
                    f"is on {cuda.device_of(g)}, the variable on {cuda.device_of(v.data)}; "
                    "move one with to_gpu()/to_cpu()")
            if g.shape != v.data.shape:
                raise ValueError(f"{self.name}: gradient of shape {g.shape} for variable "
                                 f"{getattr(v, 'path', v.name)!r} of shape {v.data.shape}")
            kept_grads.append(g if g.dtype == v.data.dtype else g.astype(v.data.dtype))
            kept_vars.append(v)
        if not kept_grads:
            raise ValueError("No gradients provided for any variable.")
        if missing and tuple(missing) not in self._warned_missing:
            self._warned_missing.add(tuple(missing))
            warnings.warn(f"Gradients do not exist for variables {missing} when minimizing "
                          "the loss. If using `model.compile()`, did you forget to provide a "
                          "`loss` argument?", stacklevel=3)
        return kept_grads, kept_vars

    def _clip(self, grads):
        if self.clipnorm and self.clipnorm > 0:
            return [_clip_by_norm(g, self.clipnorm) for g in grads]
        if self.global_clipnorm and self.global_clipnorm > 0:
            dtype = grads[0].dtype.type
            norm = np.sqrt(sum(np.vdot(g, g) for g in grads), dtype=dtype)
            clip = dtype(self.global_clipnorm)
            # Keras: clip * min(1/norm, 1/clip), NaN when the norm is not finite
            scale = clip * np.minimum(dtype(1.0) / norm, dtype(1.0) / clip) + (norm - norm)
            return [g * scale for g in grads]
        if self.clipvalue and self.clipvalue > 0:
            return [np.clip(g, -self.clipvalue, self.clipvalue) for g in grads]
        return grads

    def update_step(self, gradient, variable, learning_rate, index):
        """Update the array ``variable`` in place; ``index`` picks its slots."""
        raise NotImplementedError(f"{type(self).__name__}.update_step")

    def run_update(self, update, scalars, gradient, variable, *slots):
        """Run the elementwise ``update(*scalars, gradient, variable, *slots)``,
        which writes ``variable`` and its ``slots`` in place (a slot may be
        None: an optional slot that is off). The one place an update picks its
        way: host (NumPy) arrays go through ``update_in_pieces``; device (CuPy)
        arrays to ``update_on_device``."""
        if isinstance(variable, np.ndarray):
            update_in_pieces(functools.partial(update, *scalars), gradient, variable, *slots)
        else:
            self.update_on_device(update, scalars, gradient, variable, *slots)

    def update_on_device(self, update, scalars, gradient, variable, *slots):
        """The update of device (CuPy) arrays, whole. By default ``update``
        itself: its NumPy ufunc calls (``np.sqrt(v)``, ``np.add(..., out=)``,
        in-place operators) run as CuPy kernels through NumPy's dispatch
        protocols, one kernel per operation, no host round trip. A subclass
        with a fused elementwise kernel (``kernels/gpu/optimizers.py``)
        overrides this to launch it instead: one kernel per variable."""
        update(*scalars, gradient, variable, *slots)

    def gradient_ready_callback(self, variables):
        """What a training step passes to ``loss.backward(grad_ready=...)``
        before it updates ``variables``: None here, since an update needs the
        gradients only when ``apply`` runs. An optimizer that starts work on
        each gradient as soon as backward completes it returns a callable
        taking the Parameter (DistributedOptimizer: its reduction across
        processes)."""
        return None

    def scale_loss(self, loss):
        """Multiply the loss by ``loss_scale_factor`` when set."""
        return loss if self.loss_scale_factor is None else loss * self.loss_scale_factor

    # --- config -------------------------------------------------------------
    def get_config(self):
        """Keras 3 config dict (same keys and order)."""
        rate = self._learning_rate
        if isinstance(rate, schedules_module.LearningRateSchedule):
            learning_rate = schedules_module.serialize(rate)
        elif rate is self._learning_rate_variable:
            learning_rate = float(rate.data)
        else:
            raise TypeError(f"{self.name}.get_config: a callable learning rate cannot be "
                            "serialized")
        return {'name': self.name, 'learning_rate': learning_rate,
                'weight_decay': self.weight_decay, 'clipnorm': self.clipnorm,
                'global_clipnorm': self.global_clipnorm, 'clipvalue': self.clipvalue,
                'use_ema': self.use_ema, 'ema_momentum': self.ema_momentum,
                'ema_overwrite_frequency': self.ema_overwrite_frequency,
                'loss_scale_factor': self.loss_scale_factor,
                'gradient_accumulation_steps': self.gradient_accumulation_steps}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        if isinstance(config.get('learning_rate'), dict):
            config['learning_rate'] = schedules_module.deserialize(
                config['learning_rate'], custom_objects)
        return cls(**config)

    def __repr__(self):
        return f'<{type(self).__name__} name={self.name!r} learning_rate={self.learning_rate:g}>'

    # --- saving (Keras's protocol, as Layer's) ---------------------------------------
    def save_own_variables(self, store):
        """Put the state in the dict-like ``store`` under '0', '1', ... in
        ``variables`` order."""
        for i, variable in enumerate(self.variables):
            store[str(i)] = variable

    def load_own_variables(self, store):
        """Take the state back from ``store`` (keys -> arrays of the
        variables' shapes, checked by the loader)."""
        variables = self.variables
        for key, value in store.items():
            assign(variables[int(key)].data, value)


def _slot_prefix(variable):
    """Keras: the variable's path with '/' -> '_' (or its name if no path)."""
    path = getattr(variable, 'path', None)
    if path:
        return path.replace('/', '_')
    return str(variable.name or 'variable').replace('/', '_').replace(':', '_')


def _clip_by_norm(g, clipnorm):
    """Keras: g * clipnorm / max(||g||, clipnorm) (unchanged when the norm is
    small). NumPy's functions dispatch to CuPy's for device arrays, and
    ``np.maximum`` (not ``max``) keeps a device norm on the device."""
    norm = np.sqrt(np.vdot(g, g), dtype=g.dtype)
    clip = g.dtype.type(clipnorm)
    return g * (clip / np.maximum(norm, clip))
