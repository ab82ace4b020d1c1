"""Optimizers: each update rule against keras.optimizers (torch backend) on
the same gradients for several steps; state layout, config, clipping,
schedules, dtype and in-place updates."""
import warnings

import numpy as np
import pytest

from deepzero import optimizers
from deepzero.core import Parameter
from deepzero.optimizers import schedules

keras = pytest.importorskip('keras')
pytestmark = pytest.mark.filterwarnings('ignore::DeprecationWarning')  # keras internals

SHAPES = [(3, 4), (4,)]
STEPS = 5


def make_params(rng):
    params = [Parameter(rng.standard_normal(s).astype(np.float32), name=n)
              for s, n in zip(SHAPES, ['kernel', 'bias'])]
    for p, n in zip(params, ['kernel', 'bias']):
        p.path = f'dense/{n}'
    return params


def run_both(dz_opt, keras_opt, rng, steps=STEPS):
    """Apply the same random gradients with both; return final weights."""
    params = make_params(rng)
    k_vars = [keras.Variable(p.data.copy()) for p in params]
    for _ in range(steps):
        grads = [rng.standard_normal(p.shape).astype(np.float32) for p in params]
        dz_opt.apply(grads, params)
        keras_opt.apply([keras.ops.convert_to_tensor(g) for g in grads], k_vars)
    return [p.data for p in params], [keras.ops.convert_to_numpy(v) for v in k_vars]


CASES = [
    ('SGD', dict(learning_rate=0.1)),
    ('SGD', dict(learning_rate=0.1, momentum=0.9)),
    ('SGD', dict(learning_rate=0.1, momentum=0.9, nesterov=True)),
    ('RMSprop', dict()),
    ('RMSprop', dict(learning_rate=0.01, momentum=0.5)),
    ('RMSprop', dict(learning_rate=0.01, centered=True, momentum=0.3)),
    ('Adam', dict(learning_rate=0.01)),
    ('Adam', dict(learning_rate=0.01, amsgrad=True)),
    ('AdamW', dict(learning_rate=0.01)),
    ('Adagrad', dict(learning_rate=0.1)),
    ('Adadelta', dict(learning_rate=1.0)),
    ('Nadam', dict(learning_rate=0.01)),
    ('SGD', dict(learning_rate=0.1, clipnorm=0.5)),
    ('SGD', dict(learning_rate=0.1, clipvalue=0.3)),
    ('Adam', dict(learning_rate=0.1, global_clipnorm=1.0)),
    ('RMSprop', dict(learning_rate=0.01, weight_decay=0.1)),
]


@pytest.mark.parametrize('name,kwargs', CASES, ids=[f'{n}-{k}' for n, k in CASES])
def test_matches_keras(name, kwargs, rng):
    ours, theirs = run_both(getattr(optimizers, name)(**kwargs),
                            getattr(keras.optimizers, name)(**kwargs), rng)
    for a, b in zip(ours, theirs):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize('schedule', [
    ('ExponentialDecay', dict(initial_learning_rate=0.1, decay_steps=2, decay_rate=0.5)),
    ('ExponentialDecay', dict(initial_learning_rate=0.1, decay_steps=2, decay_rate=0.5,
                              staircase=True)),
    ('InverseTimeDecay', dict(initial_learning_rate=0.1, decay_steps=1, decay_rate=0.5)),
    ('PiecewiseConstantDecay', dict(boundaries=[1, 3], values=[0.1, 0.05, 0.01])),
    ('CosineDecay', dict(initial_learning_rate=0.1, decay_steps=4)),
    ('CosineDecay', dict(initial_learning_rate=0.0, decay_steps=4, warmup_target=0.1,
                         warmup_steps=2, alpha=0.1)),
])
def test_schedules_match_keras(schedule, rng):
    name, kwargs = schedule
    ours = getattr(schedules, name)(**kwargs)
    theirs = getattr(keras.optimizers.schedules, name)(**kwargs)
    for step in range(8):
        np.testing.assert_allclose(float(ours(step)),
                                   float(keras.ops.convert_to_numpy(theirs(step))),
                                   rtol=1e-6)
    assert ours.get_config() == theirs.get_config()
    w_ours, w_theirs = run_both(optimizers.SGD(learning_rate=ours),
                                keras.optimizers.SGD(learning_rate=theirs), rng)
    np.testing.assert_allclose(w_ours[0], w_theirs[0], rtol=1e-5, atol=1e-6)


def test_variables_keras_order_and_names(rng):
    params = make_params(rng)
    opt = optimizers.Adam(amsgrad=True, name='adam')
    opt.build(params)
    assert [v.name for v in opt.variables] == [
        'iteration', 'learning_rate',
        'dense_kernel_momentum', 'dense_kernel_velocity',
        'dense_bias_momentum', 'dense_bias_velocity',
        'dense_kernel_velocity_hat', 'dense_bias_velocity_hat']
    assert opt.variables[0].path == 'adam/iteration'
    rms = optimizers.RMSprop(momentum=0.5, centered=True)
    rms.build(params)
    assert [v.name for v in rms.variables][2:] == [
        'dense_kernel_velocity', 'dense_bias_velocity', 'dense_kernel_momentum',
        'dense_bias_momentum', 'dense_kernel_average_gradient', 'dense_bias_average_gradient']
    nadam = optimizers.Nadam()
    nadam.build(params)
    assert nadam.variables[-1].name == 'variable'


def test_config_round_trip_and_keras_form():
    opt = optimizers.RMSprop(learning_rate=1e-4, name='rms')
    config = opt.get_config()
    expected = keras.optimizers.RMSprop(learning_rate=1e-4, name='rms').get_config()
    assert config == expected
    clone = optimizers.RMSprop.from_config(config)
    assert clone.get_config() == config
    sched = optimizers.Adam(learning_rate=schedules.ExponentialDecay(0.1, 10, 0.9), name='a')
    k_sched = keras.optimizers.Adam(
        learning_rate=keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.9), name='a')
    assert sched.get_config() == k_sched.get_config()
    assert isinstance(optimizers.Adam.from_config(sched.get_config())._learning_rate,
                      schedules.ExponentialDecay)
    assert [v.name for v in sched.variables] == ['iteration']


def test_default_names_are_keras_style_and_unique():
    a, b = optimizers.RMSprop(), optimizers.RMSprop()
    assert a.name.startswith('rm_sprop') and a.name != b.name
    assert optimizers.AdamW().name.startswith('adam_w')


def test_lr_keyword_is_deprecated_but_works():
    with pytest.warns(DeprecationWarning, match='learning_rate'):
        opt = optimizers.RMSprop(lr=1e-4)
    assert opt.learning_rate == pytest.approx(1e-4)


def test_unknown_arguments_and_names_raise():
    with pytest.raises(TypeError, match='not recognized'):
        optimizers.Adam(decay_rate=0.1)
    with pytest.raises(ValueError, match="Valid names.*rmsprop"):
        optimizers.get('rmsprp')
    with pytest.raises(ValueError, match='Only one of'):
        optimizers.SGD(clipnorm=1.0, clipvalue=1.0)


def test_get_by_name_and_instance():
    assert isinstance(optimizers.get('rmsprop'), optimizers.RMSprop)
    assert isinstance(optimizers.get('Adam'), optimizers.Adam)
    opt = optimizers.SGD()
    assert optimizers.get(opt) is opt
    assert isinstance(optimizers.get(optimizers.serialize(opt)), optimizers.SGD)


def test_updates_in_place_and_iterations(rng):
    params = make_params(rng)
    arrays = [p.data for p in params]
    opt = optimizers.Adam()
    opt.apply([np.ones(p.shape, np.float32) for p in params], params)
    assert all(p.data is a for p, a in zip(params, arrays))
    assert opt.iterations == 1
    assert all(v.data.dtype == np.float32 for v in opt.variables[1:])


def test_missing_gradient_skipped_with_one_warning(rng):
    params = make_params(rng)
    before = params[1].data.copy()
    opt = optimizers.SGD(learning_rate=0.1)
    with pytest.warns(UserWarning, match='Gradients do not exist'):
        opt.apply([np.ones((3, 4), np.float32), None], params)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        opt.apply([np.ones((3, 4), np.float32), None], params)
    np.testing.assert_array_equal(params[1].data, before)
    with pytest.raises(ValueError, match='No gradients'):
        opt.apply([None, None], params)


def test_unknown_variable_raises(rng):
    opt = optimizers.SGD()
    opt.apply([np.ones((3, 4), np.float32), np.ones(4, np.float32)], make_params(rng))
    with pytest.raises(ValueError, match='Unknown variable'):
        opt.apply([np.ones((3, 4), np.float32), np.ones(4, np.float32)], make_params(rng))


def test_learning_rate_settable_and_state_reload(rng):
    params = make_params(rng)
    opt = optimizers.RMSprop()
    opt.learning_rate = 0.5
    assert opt.learning_rate == 0.5
    opt.apply([np.ones(p.shape, np.float32) for p in params], params)
    state = opt.get_weights()
    other = optimizers.RMSprop()
    other.build(params)
    other.set_state(state)
    assert other.iterations == 1 and other.learning_rate == 0.5
    np.testing.assert_array_equal(other.variables[2].data, opt.variables[2].data)
    with pytest.raises(ValueError, match='shape'):
        other.set_state([np.zeros(7)] + state[1:])
    sched = optimizers.SGD(learning_rate=schedules.ExponentialDecay(0.1, 1, 0.5))
    with pytest.raises(TypeError, match='not settable'):
        sched.learning_rate = 0.1


def _update_trajectory(name, kwargs, grads_per_step, params):
    opt = getattr(optimizers, name)(**kwargs)
    for grads in grads_per_step:
        opt.apply(grads, params)
    return [p.data.copy() for p in params] + opt.get_weights()


@pytest.mark.parametrize('name,kwargs', CASES, ids=[f'{n}-{k}' for n, k in CASES])
def test_update_in_pieces_over_threads_is_bit_identical(name, kwargs, rng, monkeypatch):
    """The update runs over cache-sized pieces split over the threads: the
    weights and the saved state are the same bit for bit as one whole-array
    pass on one thread (every update is elementwise)."""
    from deepzero import runtime
    from deepzero.core import parallel
    from deepzero.optimizers import optimizer as optimizer_module
    shapes = [(37, 29), (5,), (3, 3, 4, 6)]
    start = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    grads_per_step = [[rng.standard_normal(s).astype(np.float32) for s in shapes]
                      for _ in range(3)]

    def run():
        params = [Parameter(a.copy(), name=f'w{i}') for i, a in enumerate(start)]
        return _update_trajectory(name, kwargs, grads_per_step, params)
    with runtime.settings(threads=1):
        whole = run()
    monkeypatch.setattr(optimizer_module, 'UPDATE_PIECE_ELEMENTS', 7)
    monkeypatch.setattr(parallel, 'MIN_PARALLEL_BYTES', 0)
    with runtime.settings(threads=3):
        pieces = run()
    for a, b in zip(whole, pieces):
        np.testing.assert_array_equal(a, b)


def test_non_contiguous_weights_are_updated_whole_and_in_place(rng):
    """A weight without a flat view (Fortran order) is updated in one call,
    in place, to the same values as a C-ordered one."""
    start = rng.standard_normal((6, 5)).astype(np.float32)
    grads = [[rng.standard_normal((6, 5)).astype(np.float32)] for _ in range(2)]
    c_order = [Parameter(start.copy())]
    f_order = [Parameter(np.asfortranarray(start))]
    array = f_order[0].data
    _update_trajectory('RMSprop', dict(momentum=0.5), grads, c_order)
    _update_trajectory('RMSprop', dict(momentum=0.5), grads, f_order)
    assert f_order[0].data is array
    np.testing.assert_array_equal(f_order[0].data, c_order[0].data)


def test_an_interrupted_build_leaves_no_slots_behind(rng, monkeypatch):
    """Ctrl-C while the slots are made (the first training step): the slots
    made so far go, and the next build makes each once (they were made twice,
    and saving the model then failed on the duplicate names)."""
    params = make_params(rng)
    opt = optimizers.RMSprop(momentum=0.5)
    add_slots = opt.add_slots

    def interrupted_after_velocities(variables, names, *args):
        if names == ['momentum']:
            raise KeyboardInterrupt
        return add_slots(variables, names, *args)
    monkeypatch.setattr(opt, 'add_slots', interrupted_after_velocities)
    with pytest.raises(KeyboardInterrupt):
        opt.build(params)
    assert not opt.built
    monkeypatch.setattr(opt, 'add_slots', add_slots)
    opt.build(params)
    fresh = optimizers.RMSprop(momentum=0.5, name=opt.name)
    fresh.build(params)
    assert [v.path for v in opt.variables] == [v.path for v in fresh.variables]
