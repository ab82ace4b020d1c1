"""DeZero's layers and models (deepzero.dezero.layers, .models): parameter
bookkeeping, lazy weights drawn as DeZero draws them, .npz weights under
DeZero's names, NCHW convolutions with OIHW kernels, batch norm, recurrent
layers, and a small MLP learning the spiral."""
import os
import shutil

import numpy as np
import pytest
from PIL import Image

import deepzero.dezero as dezero
import deepzero.dezero.functions as F
import deepzero.dezero.layers as L
from deepzero.dezero import DataLoader, Parameter, Variable, optimizers
from deepzero.dezero.models import (MLP, VGG16, BottleneckA, BottleneckB, Model, ResNet,
                                    ResNet50, Sequential)


def flat_params(layer):
    params = {}
    layer._flatten_params(params)
    return params


# --- Layer bookkeeping -------------------------------------------------------------

class TwoLinear(Model):
    def __init__(self):
        super().__init__()
        self.first = L.Linear(3, in_size=2)
        self.scale = Parameter(np.array(2.0, np.float32))
        self.second = L.Linear(1, in_size=3)

    def forward(self, x):
        return self.second(F.relu(self.first(x))) * self.scale


def test_params_are_registered_in_assignment_order():
    model = TwoLinear()
    assert [p.name for p in model.params()] == ['W', 'b', None, 'W', 'b']
    assert list(flat_params(model)) == ['first/W', 'first/b', 'scale', 'second/W', 'second/b']
    model.scale = 3.0          # no longer a Parameter: no longer a parameter of the layer
    assert 'scale' not in flat_params(model)


def test_cleargrads_clears_every_parameter():
    model = TwoLinear()
    model(np.ones((4, 2), np.float32)).backward()
    assert all(p.grad is not None for p in model.params())
    model.cleargrads()
    assert all(p.grad is None for p in model.params())


def test_call_keeps_weak_references_to_inputs_and_outputs():
    layer = L.Linear(2, in_size=3)
    x = Variable(np.ones((1, 3), np.float32))
    y = layer(x)
    assert layer.inputs[0]() is x and layer.outputs[0]() is y


# --- Linear --------------------------------------------------------------------------

def test_linear_makes_w_at_the_first_call_as_dezero_draws_it():
    layer = L.Linear(4)
    assert layer.W.data is None and layer.b.data.tolist() == [0.0] * 4
    np.random.seed(7)
    x = np.random.rand(5, 3).astype(np.float32)
    y = layer(x)
    np.random.seed(7)
    np.random.rand(5, 3)
    expected_W = np.random.randn(3, 4).astype(np.float32) * np.sqrt(1 / 3)
    assert layer.in_size == 3
    assert layer.W.shape == (3, 4) and layer.W.dtype == np.float32   # not float64
    np.testing.assert_allclose(layer.W.data, expected_W, rtol=1e-6)
    np.testing.assert_allclose(y.data, x @ layer.W.data, rtol=1e-6)


def test_linear_options_and_gradients():
    layer = L.Linear(2, nobias=True, in_size=3, dtype=np.float64)
    assert layer.b is None and [p.name for p in layer.params()] == ['W']
    assert layer.W.dtype == np.float64
    x = np.arange(6.0).reshape(2, 3)
    F.sum(layer(x)).backward()
    np.testing.assert_allclose(layer.W.grad.data, x.sum(axis=0)[:, None] * np.ones((1, 2)))


# --- weights on disk -------------------------------------------------------------------

class Nested(Model):
    def __init__(self):
        super().__init__()
        self.encoder = MLP((4, 3))
        self.head = L.Linear(2)

    def forward(self, x):
        return self.head(self.encoder(x))


def test_save_and_load_weights_round_trip_with_dezeros_key_names(tmp_path):
    np.random.seed(0)
    model = Nested()
    x = np.random.rand(2, 5).astype(np.float32)
    y = model(x).data
    model.save_weights(str(tmp_path / 'weights'))   # '.npz' appended, as NumPy does
    path = tmp_path / 'weights.npz'
    with np.load(path) as npz:
        assert sorted(npz.files) == ['encoder/l0/W', 'encoder/l0/b', 'encoder/l1/W',
                                     'encoder/l1/b', 'head/W', 'head/b']
        assert npz['encoder/l0/W'].shape == (5, 4) and npz['head/W'].dtype == np.float32
    fresh = Nested()          # weights not made yet: the file gives them
    fresh.load_weights(str(path))
    np.testing.assert_array_equal(fresh(x).data, y)
    loss = F.sum(fresh(x))
    loss.backward()
    assert all(p.grad is not None for p in fresh.params())   # loaded weights learn


def test_save_before_the_first_call_says_so_instead_of_writing_a_bad_file(tmp_path):
    with pytest.raises(ValueError, match=r"l0/W.*call the model"):
        MLP((3,)).save_weights(str(tmp_path / 'w.npz'))
    assert not os.listdir(tmp_path)


def test_load_weights_names_a_missing_key_and_a_wrong_shape(tmp_path):
    model = MLP((3,))
    model(np.ones((1, 2), np.float32))
    model.save_weights(str(tmp_path / 'one.npz'))
    with pytest.raises(KeyError, match='l1/W'):
        MLP((3, 1)).load_weights(str(tmp_path / 'one.npz'))
    wider = MLP((3,))
    wider(np.ones((1, 4), np.float32))
    with pytest.raises(ValueError, match=r"'l0/W'.*\(2, 3\).*\(4, 3\)"):
        wider.load_weights(str(tmp_path / 'one.npz'))


def test_load_weights_keeps_the_parameters_dtype(tmp_path):
    """A float64 file (DeZero's weights under NumPy 2 are float64) leaves
    made float32 parameters float32, and gives lazy ones their layer's dtype;
    BatchNorm, whose dtype follows its input, keeps the file's."""
    path = tmp_path / 'float64.npz'
    np.savez(path, W=np.full((2, 3), 0.1), b=np.zeros(3))
    made = L.Linear(3, in_size=2)
    made.load_weights(str(path))
    assert made.W.dtype == made.b.dtype == np.float32
    np.testing.assert_array_equal(made.W.data, np.float32(0.1))
    assert made(np.ones((1, 2), np.float32)).dtype == np.float32
    lazy = L.Linear(3)
    lazy.load_weights(str(path))
    assert lazy.W.dtype == np.float32 and lazy.W.shape == (2, 3)
    assert L.Linear(3, dtype=np.float64, in_size=2).W.dtype == np.float64
    bn_path = tmp_path / 'bn.npz'
    np.savez(bn_path, **{name: np.ones(3, np.float16)
                         for name in ('avg_mean', 'avg_var', 'gamma', 'beta')})
    norm = L.BatchNorm()
    norm.load_weights(str(bn_path))
    assert norm.gamma.dtype == np.float16


# --- convolutions (NCHW, OIHW) ----------------------------------------------------------

def reference_conv(x, W, b, stride, pad):
    """Cross-correlation by loops: x (N, C, H, W), W (OC, C, KH, KW)."""
    n, c, h, w = x.shape
    oc, _, kh, kw = W.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = (h + 2 * pad - kh) // stride + 1, (w + 2 * pad - kw) // stride + 1
    y = np.zeros((n, oc, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            y[:, :, i, j] = np.tensordot(patch, W, axes=([1, 2, 3], [1, 2, 3]))
    return y + b[None, :, None, None]


def test_conv2d_layer_is_nchw_with_oihw_kernels():
    np.random.seed(1)
    x = np.random.randn(2, 3, 7, 6).astype(np.float32)
    layer = L.Conv2d(4, kernel_size=3, stride=2, pad=1)
    layer.b.data[:] = [0.1, 0.2, 0.3, 0.4]
    y = layer(x)
    assert layer.in_channels == 3 and layer.W.shape == (4, 3, 3, 3)
    assert layer.W.dtype == np.float32 and y.dtype == np.float32
    assert y.shape == (2, 4, 4, 3)
    np.testing.assert_allclose(y.data, reference_conv(x, layer.W.data, layer.b.data, 2, 1),
                               rtol=1e-4, atol=1e-5)
    F.sum(y).backward()
    assert layer.W.grad.shape == (4, 3, 3, 3) and layer.b.grad.data.tolist() == [24.0] * 4


def test_conv2d_eager_kernel_scale():
    np.random.seed(3)
    layer = L.Conv2d(5, (3, 2), in_channels=4, nobias=True)
    np.random.seed(3)
    expected = np.random.randn(5, 4, 3, 2).astype(np.float32) * np.sqrt(1 / (4 * 3 * 2))
    np.testing.assert_allclose(layer.W.data, expected, rtol=1e-6)
    assert layer.b is None


def test_deconv2d_layer_is_the_transpose_of_a_conv():
    np.random.seed(2)
    x = np.random.randn(2, 3, 4, 5).astype(np.float32)
    layer = L.Deconv2d(2, kernel_size=3, stride=2, pad=1)
    y = layer(x)
    assert layer.W.shape == (3, 2, 3, 3)                # (C_in, C_out, KH, KW)
    assert y.shape == (2, 2, 2 * 3 + 3 - 2, 2 * 4 + 3 - 2)
    # <deconv(x), g> == <x, conv(g)> with the same kernel read as OIHW
    g = np.random.randn(*y.shape).astype(np.float32)
    conv_g = reference_conv(g, layer.W.data, np.zeros(3), 2, 1)
    np.testing.assert_allclose((y.data * g).sum(), (x * conv_g).sum(), rtol=1e-4)


# --- BatchNorm ----------------------------------------------------------------------------

def test_batchnorm_normalises_each_channel_of_nchw_input_and_tracks_statistics():
    np.random.seed(4)
    x = (np.random.randn(8, 3, 2, 2) * 5 + 2).astype(np.float32)
    bn = L.BatchNorm()
    y = bn(x)
    assert [p.shape for p in bn.params()] == [(3,)] * 4
    assert list(flat_params(bn)) == ['avg_mean', 'avg_var', 'gamma', 'beta']
    np.testing.assert_allclose(y.data.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(y.data.var(axis=(0, 2, 3)), 1, rtol=1e-3)
    batch_mean = x.mean(axis=(0, 2, 3))
    np.testing.assert_allclose(bn.avg_mean.data, 0.1 * batch_mean, rtol=1e-5)   # decay 0.9
    m = x.size // 3
    np.testing.assert_allclose(bn.avg_var.data, 0.9 + 0.1 * x.var(axis=(0, 2, 3)) * m / (m - 1),
                               rtol=1e-5)
    F.sum(y * y).backward()
    assert bn.gamma.grad is not None and bn.avg_mean.grad is None
    with dezero.test_mode():
        y_test = bn(x)
    expected = (x - bn.avg_mean.data[:, None, None]) / np.sqrt(
        bn.avg_var.data[:, None, None] + 2e-5)
    np.testing.assert_allclose(y_test.data, expected, rtol=1e-4, atol=1e-5)


def test_batchnorm_on_2d_input_with_its_own_decay():
    x = np.array([[1.0, 2.0], [3.0, 6.0]], np.float32)
    bn = L.BatchNorm(decay=0.5)
    bn(x)
    np.testing.assert_allclose(bn.avg_mean.data, [1.0, 2.0])


# --- EmbedID, RNN, LSTM ---------------------------------------------------------------------

def test_embed_id_looks_up_rows_and_adds_up_their_gradients():
    embed = L.EmbedID(5, 3)
    assert embed.W.dtype == np.float32
    ids = np.array([[1, 4], [1, 0]])
    y = embed(ids)
    assert y.shape == (2, 2, 3)
    np.testing.assert_array_equal(y.data[1, 0], embed.W.data[1])
    F.sum(y).backward()
    np.testing.assert_array_equal(embed.W.grad.data[:, 0], [1, 2, 0, 0, 1])


def test_rnn_carries_its_state_and_h2h_is_hidden_by_hidden():
    rnn = L.RNN(4, in_size=2)
    assert rnn.x2h.W.shape == (2, 4) and rnn.h2h.W.shape == (4, 4)
    x = np.ones((3, 2), np.float32)
    h1 = rnn(x)
    np.testing.assert_allclose(h1.data, np.tanh(x @ rnn.x2h.W.data), rtol=1e-6)
    h2 = rnn(x)
    np.testing.assert_allclose(h2.data, np.tanh(x @ rnn.x2h.W.data + h1.data @ rnn.h2h.W.data),
                               rtol=1e-5)
    rnn.reset_state()
    np.testing.assert_allclose(rnn(x).data, h1.data)
    lazy = L.RNN(4)
    lazy(x)
    lazy(x)
    assert lazy.h2h.W.shape == (4, 4)


def test_lstm_step_matches_its_equations():
    def sigmoid(a):
        return 1 / (1 + np.exp(-a))

    np.random.seed(5)
    lstm = L.LSTM(3, in_size=2)
    x = np.random.randn(4, 2).astype(np.float32)
    h1 = lstm(x)
    gate = {g: x @ getattr(lstm, 'x2' + g).W.data for g in 'fiou'}
    c1 = sigmoid(gate['i']) * np.tanh(gate['u'])
    np.testing.assert_allclose(h1.data, sigmoid(gate['o']) * np.tanh(c1), rtol=1e-5)
    h2 = lstm(x)
    gate = {g: x @ getattr(lstm, 'x2' + g).W.data + h1.data @ getattr(lstm, 'h2' + g).W.data
            for g in 'fiou'}
    c2 = sigmoid(gate['f']) * c1 + sigmoid(gate['i']) * np.tanh(gate['u'])
    np.testing.assert_allclose(h2.data, sigmoid(gate['o']) * np.tanh(c2), rtol=1e-5)
    assert h2.shape == (4, 3)


# --- models ------------------------------------------------------------------------------------

def test_sequential_mixes_layers_and_functions():
    model = Sequential(L.Linear(4), F.relu, L.Linear(2))
    y = model(np.ones((3, 5), np.float32))
    assert y.shape == (3, 2)
    assert list(flat_params(model)) == ['l0/W', 'l0/b', 'l2/W', 'l2/b']


def test_mlp_structure_and_activation():
    model = MLP((6, 4, 2), activation=F.relu)
    x = np.random.randn(3, 5).astype(np.float32)
    y = model(x)
    h = np.maximum(x @ model.l0.W.data, 0)
    h = np.maximum(h @ model.l1.W.data, 0)
    np.testing.assert_allclose(y.data, h @ model.l2.W.data, rtol=1e-5, atol=1e-6)
    assert MLP((3,)).activation is F.sigmoid


def test_mlp_learns_the_spiral():
    np.random.seed(0)
    loader = DataLoader(dezero.datasets.Spiral(), batch_size=30)
    model = MLP((10, 3))
    optimizer = optimizers.SGD(lr=1.0).setup(model)
    epoch_losses = []
    for _ in range(40):
        total = 0.0
        for x, t in loader:
            loss = F.softmax_cross_entropy(model(x), t)
            model.cleargrads()
            loss.backward()
            optimizer.update()
            total += float(loss.data) * len(t)
        epoch_losses.append(total / 300)
    assert model.l0.W.dtype == np.float32
    assert epoch_losses[-1] < 0.75 * epoch_losses[0]


@pytest.mark.skipif(shutil.which('dot') is None, reason="Graphviz's dot is not installed")
def test_model_plot_draws_the_graph(tmp_path):
    model = MLP((3, 1))
    model.plot(np.ones((2, 2), np.float32), to_file=str(tmp_path / 'model.png'))
    assert (tmp_path / 'model.png').stat().st_size > 0


def test_vgg16_structure_and_preprocess():
    model = VGG16()
    names = list(flat_params(model))
    assert len(names) == 32 and names[:2] == ['conv1_1/W', 'conv1_1/b']
    assert names[-2:] == ['fc8/W', 'fc8/b'] and 'conv5_3/W' in names
    image = Image.fromarray(np.full((10, 20, 3), (10, 20, 30), np.uint8))
    x = VGG16.preprocess(image, size=(8, 6))
    assert x.shape == (3, 6, 8) and x.dtype == np.float32
    np.testing.assert_allclose(x[:, 0, 0], [30 - 103.939, 20 - 116.779, 10 - 123.68],
                               rtol=1e-5)


@pytest.mark.parametrize('make, name', [(lambda: VGG16(pretrained=True), 'vgg16.npz'),
                                        (lambda: ResNet50(pretrained=True), 'resnet50.npz')])
def test_pretrained_weights_are_read_not_downloaded(tmp_path, monkeypatch, make, name):
    monkeypatch.setenv('DEZERO_CACHE_DIR', str(tmp_path))
    with pytest.raises(FileNotFoundError) as info:
        make()
    assert name in str(info.value) and str(tmp_path / name) in str(info.value)
    assert 'koki0702/dezero-models' in str(info.value)


def test_resnet_blocks():
    with pytest.raises(ValueError, match='50, 101 or 152'):
        ResNet(34)
    model = ResNet50()
    assert [len(block._forward) for block in (model.res2, model.res3, model.res4, model.res5)] \
        == [3, 4, 6, 3]
    np.random.seed(6)
    x = np.random.randn(1, 8, 6, 6).astype(np.float32)
    down = BottleneckA(8, 4, 16, stride=2)
    assert down(x).shape == (1, 16, 3, 3)
    keep = BottleneckB(8, 4)
    y = keep(x)
    assert y.shape == x.shape and np.all(y.data >= 0)


# --- on the inputs' device (the CuPy case skips where there is no GPU) ---------------------

@pytest.mark.parametrize('make_optimizer', [optimizers.SGD, optimizers.MomentumSGD,
                                            optimizers.AdaGrad, optimizers.AdaDelta,
                                            optimizers.Adam])
def test_a_convnet_trains_and_saves_where_its_input_is(xp, tmp_path, make_optimizer):
    def make_model():
        return Sequential(L.Conv2d(2, 3, pad=1), L.BatchNorm(), F.relu,
                          lambda h: F.reshape(h, (h.shape[0], -1)), L.Linear(3))

    np.random.seed(8)
    x = xp.asarray(np.random.randn(4, 1, 4, 4).astype(np.float32))
    t = xp.asarray(np.array([0, 1, 2, 1]))
    model = make_model()
    optimizer = make_optimizer().setup(model)
    optimizer.add_hook(optimizers.WeightDecay(1e-4))
    optimizer.add_hook(optimizers.ClipGrad(10.0))
    before = None
    for _ in range(3):
        loss = F.softmax_cross_entropy(model(x), t)
        model.cleargrads()
        loss.backward()
        optimizer.update()
        before = float(loss.data) if before is None else before
    assert all(type(p.data) is type(x) and p.dtype == np.float32 for p in model.params())
    assert float(F.softmax_cross_entropy(model(x), t).data) < before
    model.save_weights(str(tmp_path / 'convnet.npz'))
    assert all(type(p.data) is type(x) for p in model.params())   # still on its device
    fresh = make_model()
    fresh(x)
    fresh.load_weights(str(tmp_path / 'convnet.npz'))
    assert all(type(p.data) is type(x) for p in fresh.params())
    with dezero.test_mode():
        np.testing.assert_allclose(dezero.cuda.as_numpy(fresh(x).data),
                                   dezero.cuda.as_numpy(model(x).data), rtol=1e-6)
