"""Winograd's F(2x2,3x3), F(3x3,3x3) and F(4x4,3x3) convolutions (kernels/cpu/winograd.py):
values and gradients against the direct path (float64, every padding, ragged
tiles, every chunk shape, the fused ReLU and max pool, channels_first), finite
differences and second order, PyTorch, the float32 error bounds on realistic
data, and how the algorithm is chosen."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import deepzero.functions as F
from deepzero import Variable, runtime
from deepzero.kernels.cpu import winograd
from deepzero.kernels.geometry import ConvSpec, WindowGeometry
from deepzero.utils import check_gradients, check_second_order
from torch_oracle import compare_with_torch

WINOGRAD = ['winograd2', 'winograd3', 'winograd4']

CASES = [  # (x shape NHWC, C_out, padding, pool_size, activation)
    ((2, 7, 9, 3), 5, 'valid', None, None),
    ((3, 10, 11, 4), 6, 'same', None, 'relu'),
    ((2, 13, 8, 5), 3, ((2, 0), (1, 2)), None, None),    # asymmetric, up to 2
    ((1, 9, 9, 2), 3, 3, None, None),                    # pad 3: the input gradient is direct
    ((2, 12, 12, 4), 4, 'valid', 2, 'relu'),
    ((2, 11, 13, 3), 4, 'same', 2, None),
    ((1, 31, 33, 6), 7, 'same', 3, 'relu'),             # pool rows not a multiple of the tile
    ((2, 3, 3, 2), 2, 'valid', None, None),              # one output cell
]


def run_conv(x, kernel, bias, algorithm, padding, pool_size=None, activation=None,
             data_format='channels_last', seed=1):
    """Forward and backward of conv2d; returns y and the gradients of x,
    kernel and bias for a fixed upstream gradient."""
    xs = [Variable(a) for a in (x, kernel, bias)]
    y = F.conv2d(*xs, padding=padding, activation=activation, pool_size=pool_size,
                 data_format=data_format, algorithm=algorithm)
    y.grad = Variable(np.random.default_rng(seed).standard_normal(y.shape).astype(y.dtype))
    y.backward()
    return [y.data] + [v.grad.data for v in xs]


@pytest.fixture
def spy(monkeypatch):
    """Counts the Winograd convs and kernel gradients that run."""
    calls = {'conv': 0, 'kernel_grad': 0}
    conv, kernel_grad = winograd.each_output_chunk, winograd.kernel_grad

    def counting_conv(*args, **kwargs):
        calls['conv'] += 1
        return conv(*args, **kwargs)

    def counting_kernel_grad(*args, **kwargs):
        calls['kernel_grad'] += 1
        return kernel_grad(*args, **kwargs)
    monkeypatch.setattr(winograd, 'each_output_chunk', counting_conv)
    monkeypatch.setattr(winograd, 'kernel_grad', counting_kernel_grad)
    return calls


@pytest.mark.parametrize('algorithm', WINOGRAD)
@pytest.mark.parametrize('x_shape, c_out, padding, pool_size, activation', CASES)
def test_values_and_gradients_match_direct(rng, spy, algorithm, x_shape, c_out, padding,
                                           pool_size, activation):
    x = rng.standard_normal(x_shape)
    kernel, bias = rng.standard_normal((3, 3, x_shape[3], c_out)), rng.standard_normal(c_out)
    args = (padding, pool_size, activation)
    direct = run_conv(x, kernel, bias, 'direct', *args)
    assert spy == {'conv': 0, 'kernel_grad': 0}
    fast = run_conv(x, kernel, bias, algorithm, *args)
    for name, want, got in zip(['y', 'gx', 'gkernel', 'gbias'], direct, fast):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10, err_msg=name)
    # forward, and the input gradient unless the padding is over 2
    assert spy['conv'] == (1 if padding == 3 else 2)
    assert spy['kernel_grad'] == 1


@pytest.mark.parametrize('algorithm', WINOGRAD)
@pytest.mark.parametrize('min_tiles, chunk_bytes', [(1, 1), (1, 4000), (10 ** 6, 10 ** 9)])
def test_every_chunk_shape(rng, monkeypatch, algorithm, min_tiles, chunk_bytes):
    """Runs of single tile rows, of a few, and whole images per chunk give the
    same values (fused pool of 2 and 3: runs start at multiples of the pool)."""
    monkeypatch.setattr(winograd, 'MIN_CHUNK_TILES', min_tiles)
    monkeypatch.setattr(winograd, 'CHUNK_BYTES', chunk_bytes)
    x = rng.standard_normal((3, 17, 14, 3))
    kernel, bias = rng.standard_normal((3, 3, 3, 4)), rng.standard_normal(4)
    for pool_size in (None, 2, 3):
        want = run_conv(x, kernel, bias, 'direct', 'same', pool_size, 'relu')
        got = run_conv(x, kernel, bias, algorithm, 'same', pool_size, 'relu')
        for w, g in zip(want, got):
            np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize('algorithm', WINOGRAD)
def test_channels_first(rng, algorithm):
    x = rng.standard_normal((2, 3, 9, 10))
    kernel, bias = rng.standard_normal((3, 3, 3, 4)), rng.standard_normal(4)
    want = run_conv(x, kernel, bias, 'direct', 'same', 2, 'relu', 'channels_first')
    got = run_conv(x, kernel, bias, algorithm, 'same', 2, 'relu', 'channels_first')
    for w, g in zip(want, got):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize('algorithm', WINOGRAD)
@pytest.mark.parametrize('padding', ['valid', 'same', ((0, 2), (1, 0))])
def test_finite_differences_and_second_order(rng, algorithm, padding):
    x, kernel = rng.standard_normal((2, 6, 7, 2)), rng.standard_normal((3, 3, 2, 3))
    bias = rng.standard_normal(3)
    with runtime.settings(conv_algorithm=algorithm):
        check_gradients(lambda x, k, b: F.conv2d(x, k, b, padding=padding), x, kernel, bias)
        check_second_order(lambda x, k: F.conv2d(x, k, padding=padding) ** 2, x, kernel)


@pytest.mark.parametrize('algorithm', WINOGRAD)
def test_transposed_conv_matches_direct(rng, spy, algorithm):
    x = rng.standard_normal((2, 6, 5, 4))
    kernel, bias = rng.standard_normal((3, 3, 3, 4)), rng.standard_normal(3)
    results = []
    for chosen in ('direct', algorithm):
        xs = [Variable(a) for a in (x, kernel, bias)]
        y = F.conv2d_transpose(*xs, padding='same', algorithm=chosen)
        y.grad = Variable(np.cos(np.arange(y.size)).reshape(y.shape))
        y.backward()
        results.append([y.data] + [v.grad.data for v in xs])
    for want, got in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)
    assert spy['conv'] >= 2 and spy['kernel_grad'] == 1


@pytest.mark.parametrize('algorithm', WINOGRAD)
def test_matches_torch(rng, algorithm):
    """float64 at torch's usual tolerance; float32 at Winograd's (the
    transforms add rounding, see test_float32_error_bounds)."""
    x, kernel = rng.standard_normal((2, 9, 10, 3)), rng.standard_normal((3, 3, 3, 5))
    bias = rng.standard_normal(5)

    def ours(x, k, b):
        return F.conv2d(x, k, b, padding='same', activation='relu', algorithm=algorithm)

    def theirs(x, k, b):
        return TF.relu(TF.conv2d(x.permute(0, 3, 1, 2), k.permute(3, 2, 0, 1), b,
                                 padding=1)).permute(0, 2, 3, 1)
    compare_with_torch(ours, theirs, x, kernel, bias, dtype=np.float64)
    compare_with_torch(ours, theirs, x, kernel, bias, dtype=np.float32,
                       tol=dict(rtol=1e-3, atol=1e-4))


# Bounds on max |error| / max |exact| against a float64 direct conv, about 3x
# what docs/performance.md reports measured (ReLU activations, He-initialised
# kernel, 64 channels in and out).
ERROR_BOUNDS = {'direct': 1e-6, 'winograd2': 3e-6, 'winograd3': 1e-5, 'winograd4': 5e-5}


@pytest.mark.parametrize('algorithm', ['direct'] + WINOGRAD)
def test_float32_error_bounds(rng, algorithm):
    x = np.maximum(rng.standard_normal((2, 20, 20, 64)), 0)
    kernel = rng.standard_normal((3, 3, 64, 64)) * np.sqrt(2 / (9 * 64))
    bias = rng.standard_normal(64) * 0.1
    exact = run_conv(x, kernel, bias, 'direct', 'same')
    single = run_conv(*(a.astype(np.float32) for a in (x, kernel, bias)), algorithm, 'same')
    for name, want, got in zip(['y', 'gx', 'gkernel'], exact, single):
        assert got.dtype == np.float32
        error = np.abs(got - want).max() / np.abs(want).max()
        assert error < ERROR_BOUNDS[algorithm], f"{name}: relative error {error:.2e}"


def spec_of(in_hw, channels, padding='same', strides=(1, 1), dilation=(1, 1), groups=1,
            algorithm=None):
    geometry = WindowGeometry('conv2d', in_hw, (3, 3), strides, dilation, padding)
    return ConvSpec(geometry, groups, 'channels_last', channels, algorithm)


def test_auto_choice():
    """'auto': float32 only, 16 input channels or more; the tile size with the
    fewest products (tiles x (m + 2)^2), the larger on a tie; convs it does
    not apply to stay direct."""
    f32, f64 = np.float32, np.float64
    assert winograd.tile_size(spec_of((150, 150), 3), f32, 32) == 0       # first layer
    assert winograd.tile_size(spec_of((74, 74), 32), f32, 64) == 4
    assert winograd.tile_size(spec_of((9, 9), 512), f32, 512) == 3      # 9 tiles, exact
    assert winograd.tile_size(spec_of((18, 18), 512), f32, 512) == 4    # 25 x 36 = 36 x 25
    assert winograd.tile_size(spec_of((4, 4), 64, 'valid'), f32, 64) == 2  # 2x2 out
    assert winograd.tile_size(spec_of((74, 74), 32), f64, 64) == 0
    assert winograd.tile_size(spec_of((74, 74), 32, strides=(2, 2)), f32, 64) == 0
    assert winograd.tile_size(spec_of((74, 74), 32, dilation=(2, 2)), f32, 64) == 0
    assert winograd.tile_size(spec_of((74, 74), 32, groups=2), f32, 64) == 0
    assert winograd.tile_size(spec_of((74, 74), 32, algorithm='direct'), f32, 64) == 0
    assert winograd.tile_size(spec_of((7, 7), 2, algorithm='winograd4'), f64, 3) == 4
    with runtime.settings(conv_algorithm='winograd2'):
        assert winograd.tile_size(spec_of((7, 7), 2), f64, 3) == 2
        assert winograd.tile_size(spec_of((7, 7), 2, algorithm='auto'), f64, 3) == 0


def test_the_argument_wins_over_the_setting(rng, spy):
    x, kernel = rng.standard_normal((1, 6, 6, 2)), rng.standard_normal((3, 3, 2, 2))
    with runtime.settings(conv_algorithm='winograd4'):
        F.conv2d(x, kernel, algorithm='direct')
        assert spy['conv'] == 0
        F.conv2d(x, kernel)
        assert spy['conv'] == 1


@pytest.mark.parametrize('call', [
    lambda x, k: F.conv2d(x, k, algorithm='fast'),
    lambda x, k: F.conv2d_transpose(x, k, algorithm='Winograd'),
])
def test_unknown_algorithm_is_named(rng, call):
    x, kernel = rng.standard_normal((1, 5, 5, 2)), rng.standard_normal((3, 3, 2, 2))
    with pytest.raises(ValueError, match="algorithm must be None or one of 'auto', 'direct', "
                                         "'winograd2', 'winograd3', 'winograd4'; got"):
        call(x, kernel)


def test_tiles_into_cuts_the_edge_tiles(rng):
    """Tiles crossing the bottom and right edges are cut, and every piece is
    written into the target itself (a view, not a copy)."""
    tiles = rng.standard_normal((2, 3, 4, 2, 4, 5))
    target = np.zeros((2, 10, 7, 5))
    winograd.tiles_into(tiles, target)
    whole = tiles.reshape(2, 12, 8, 5)
    np.testing.assert_array_equal(target, whole[:, :10, :7])


def test_kernel_gradient_reuses_the_forward_tiles(rng, monkeypatch):
    """The forward keeps x's transformed tiles when the kernel needs a
    gradient: the kernel gradient transforms none again, and gives the same
    values; a second backward (the tiles are used once) computes them anew;
    a conv_algorithm change between forward and backward keeps the forward's
    tile size."""
    transformed = []
    input_tiles = winograd._input_tiles

    def counting(*args, **kwargs):
        transformed.append(args[1])
        return input_tiles(*args, **kwargs)
    monkeypatch.setattr(winograd, '_input_tiles', counting)
    x = Variable(rng.standard_normal((2, 9, 10, 3)))
    kernel, bias = Variable(rng.standard_normal((3, 3, 3, 4))), Variable(rng.standard_normal(4))
    want = run_conv(x.data, kernel.data, bias.data, 'direct', 'same')
    y = F.conv2d(x, kernel, bias, padding='same', algorithm='winograd4')
    forward_chunks = len(transformed)
    seed = np.random.default_rng(1).standard_normal(y.shape)
    y.grad = Variable(seed)
    with runtime.settings(conv_algorithm='winograd2'):   # no effect on the kept tiles
        y.backward()
    # the input gradient's conv transforms its own input (the output gradient)
    assert len(transformed) == 2 * forward_chunks
    for name, w, got in zip(['gx', 'gkernel', 'gbias'], want[1:], (x.grad, kernel.grad,
                                                                    bias.grad)):
        np.testing.assert_allclose(got.data, w, rtol=1e-10, atol=1e-10, err_msg=name)
    for v in (x, kernel, bias):
        v.cleargrad()
    y.grad = Variable(seed)   # backward left the output's grad None
    y.backward()
    assert len(transformed) == 4 * forward_chunks        # recomputed for the kernel
    for name, w, got in zip(['gx', 'gkernel', 'gbias'], want[1:], (x.grad, kernel.grad,
                                                                    bias.grad)):
        np.testing.assert_allclose(got.data, w, rtol=1e-10, atol=1e-10, err_msg=name)


def test_tiles_larger_than_the_budget_are_not_kept(rng, monkeypatch):
    x, kernel = rng.standard_normal((1, 8, 8, 3)), rng.standard_normal((3, 3, 3, 2))
    tiles_bytes = 36 * 4 * 3 * 8   # 36 positions x 4 tiles x 3 channels, float64
    for budget, kept in [(tiles_bytes - 1, False), (tiles_bytes, True)]:
        monkeypatch.setattr(winograd, 'KEEP_INPUT_BYTES', budget)
        y = F.conv2d(Variable(x), Variable(kernel), padding='same', algorithm='winograd4')
        assert (y.creator.tiles is not None) == kept
        want = run_conv(x, kernel, np.zeros(2), 'direct', 'same')
        got = run_conv(x, kernel, np.zeros(2), 'winograd4', 'same')
        for w, g in zip(want, got):
            np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-10)


def test_no_tiles_are_kept_for_a_frozen_kernel(rng, spy):
    x = Variable(rng.standard_normal((1, 8, 8, 2)))
    kernel = Variable(rng.standard_normal((3, 3, 2, 2)), requires_grad=False)
    y = F.conv2d(x, kernel, algorithm='winograd4')
    assert y.creator.tiles is None
    y.backward()
    assert spy['kernel_grad'] == 0 and x.grad is not None
