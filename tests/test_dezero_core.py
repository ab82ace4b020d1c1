"""deepzero.dezero's core: DeZero's Variable surface on deepzero's engine,
integer data in backprop, Config, core_simple, and dezero.utils."""
import numpy as np
import pytest

import deepzero
import deepzero.dezero as dezero
import deepzero.dezero.functions as F
from deepzero.dezero import Parameter, Variable, utils
from deepzero.dezero import core_simple


# --- one engine ------------------------------------------------------------------------------
def test_the_face_is_the_engine():
    assert dezero.Function is deepzero.Function
    assert dezero.Config is deepzero.core.config
    x = Variable(np.array(1.0))
    y = x * 2.0
    assert type(y) is deepzero.Variable           # results are the engine's Variables
    assert isinstance(y, Variable) and isinstance(x, deepzero.Variable)
    assert issubclass(deepzero.Variable, Variable)
    p = Parameter(np.zeros(2), name='W')
    assert isinstance(p, deepzero.Parameter) and isinstance(p, Parameter)
    assert isinstance(deepzero.Parameter(np.zeros(1)), Parameter)
    assert not isinstance(x, Parameter)
    W = Parameter(None, name='W')            # DeZero's layers fill their weights in later
    W.data = np.ones((2, 2), np.float32)
    F.sum(F.matmul(np.ones((1, 2), np.float32), W)).backward()
    np.testing.assert_array_equal(W.grad.data, np.ones((2, 2)))


def test_variable_surface():
    x = Variable(np.arange(6.0).reshape(2, 3), name='x')
    assert x.name == 'x' and x.creator is None and x.generation == 0 and x.grad is None
    assert (x.shape, x.ndim, x.size, x.dtype, len(x)) == ((2, 3), 2, 6, np.float64, 2)
    assert repr(Variable(np.array([1.0, 2.0]))) == 'variable([1. 2.])'
    assert repr(Variable(None)) == 'variable(None)'
    y = x.reshape(3, 2).transpose().T.sum(axis=0, keepdims=True)
    assert y.shape == (1, 2) and y.generation == 4
    y.backward()
    assert isinstance(x.grad, Variable)
    np.testing.assert_array_equal(x.grad.data, np.ones((2, 3)))
    x.cleargrad()
    assert x.grad is None
    np.testing.assert_array_equal(x.transpose(1, 0).data, x.data.T)
    np.testing.assert_array_equal(x.reshape((6,)).data, np.arange(6.0))


def test_operators_both_ways():
    x = Variable(np.array(3.0))
    ys = [x + 1, 1 + x, x - 1, 1 - x, x * 2, 2 * x, x / 2, 6 / x, -x, x ** 2, 2 ** x,
          np.array(1.0) + x]
    np.testing.assert_allclose([float(y.data) for y in ys],
                               [4, 4, 2, -2, 6, 6, 1.5, 2, -3, 9, 8, 4])
    assert all(isinstance(y, Variable) for y in ys)
    z = 2 ** x                                  # __rpow__: d/dx 2^x = 2^x ln 2
    z.backward()
    np.testing.assert_allclose(x.grad.data, 8 * np.log(2))


def test_retain_grad_and_create_graph():
    # the book's step 33: y = x^4 - 2x^2 at 2: y' = 24, y'' = 44
    x = Variable(np.array(2.0))
    y = x ** 4 - 2 * x ** 2
    y.backward(create_graph=True)
    gx = x.grad
    assert float(gx.data) == 24.0 and gx.creator is not None
    x.cleargrad()
    gx.backward()
    assert float(x.grad.data) == 44.0
    a = Variable(np.array(1.0))
    b = a * 3.0
    c = b * 2.0
    c.backward()
    assert b.grad is None
    c.backward(retain_grad=True)
    assert float(b.grad.data) == 2.0


def test_unchain_backward_cuts_the_graph():
    x = Variable(np.array(1.0))
    y = (x * 2.0) * 3.0
    h = x * 2.0
    y.unchain_backward()        # deepzero cuts y's own creator too (docs/dezero.md)
    assert y.creator is None
    (h * 3.0).backward()
    assert float(x.grad.data) == 6.0
    h.unchain()
    assert h.creator is None


def test_to_cpu_is_in_place_and_to_gpu_needs_a_gpu():
    x = Variable(np.ones(2))
    assert x.to_cpu() is x and isinstance(x.data, np.ndarray)
    if not deepzero.cuda.is_available():
        with pytest.raises(RuntimeError):
            x.to_gpu()


# --- integer and bool data ------------------------------------------------------------------------
def test_int_data_takes_part_in_backprop_as_in_the_book():
    # steps 38-40: int data through sum, reshape, transpose and broadcasting
    x = Variable(np.array([[1, 2, 3], [4, 5, 6]]))
    assert x.requires_grad
    y = F.sum(x, axis=0)
    y.backward()
    assert x.grad.dtype == np.int64
    np.testing.assert_array_equal(x.grad.data, np.ones((2, 3), np.int64))
    x.cleargrad()
    F.transpose(F.reshape(x, (6,)).reshape(3, 2)).backward(retain_grad=True)
    np.testing.assert_array_equal(x.grad.data, np.ones((2, 3)))
    x0, x1 = Variable(np.array([1, 2, 3])), Variable(np.array([10]))
    y = x0 + x1
    np.testing.assert_array_equal(y.data, [11, 12, 13])
    y.backward()
    np.testing.assert_array_equal(x1.grad.data, [3])
    np.testing.assert_array_equal(x0.grad.data, [1, 1, 1])


def test_only_the_face_lets_int_data_have_gradients():
    # the face's Variable and Parameter opt in through the engine's one switch
    x = Variable(np.array([[1, 2, 3], [4, 5, 6]]))
    row = F.get_item(x, 1)
    assert type(row) is deepzero.Variable and row.requires_grad   # an engine result
    row.backward()
    assert x.grad.dtype == np.int64
    np.testing.assert_array_equal(x.grad.data, [[0, 0, 0], [1, 1, 1]])
    p = Parameter(np.arange(3), name='counts')
    F.sum(p * 2).backward()
    np.testing.assert_array_equal(p.grad.data, [2, 2, 2])
    # the engine's own Variables keep the TypeError, in the same process
    with pytest.raises(TypeError, match=r"holds int64 data; gradients need floating-point"):
        deepzero.Variable(np.arange(3), requires_grad=True)
    with pytest.raises(TypeError, match=r"holds int64 data"):
        deepzero.Parameter(np.arange(3)).requires_grad = True


def test_get_item_with_int_index_arrays():
    x = Variable(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))
    indices = np.array([0, 0, 1])
    y = F.get_item(x, indices)
    np.testing.assert_array_equal(y.data, x.data[indices])
    y.backward()
    np.testing.assert_array_equal(x.grad.data, [[2, 2, 2], [1, 1, 1]])
    x.cleargrad()
    x[np.arange(2), Variable(np.array([2, 0]))].backward()   # an index Variable
    np.testing.assert_array_equal(x.grad.data, [[0, 0, 1], [1, 0, 0]])


def test_int_labels_stay_out_of_the_loss_gradient():
    x = Variable(np.random.default_rng(0).standard_normal((3, 4)))
    t = Variable(np.array([1, 0, 3]))
    F.softmax_cross_entropy(x, t).backward()
    assert x.grad.shape == (3, 4) and t.grad is None


# --- float32 stays float32 ------------------------------------------------------------------------
def test_float32_stays_float32_with_python_and_numpy_scalars():
    # DeZero under NumPy 2 promotes these to float64 (docs/dezero.md)
    x = Variable(np.ones((2, 2), np.float32))
    for y in (x * 2, 2.0 * x, x + 1.5, x / 2, x - np.float64(1.0), x ** 2, 1 / x,
              F.sum(x) * 0.5, F.exp(x), F.sigmoid(x)):
        assert y.dtype == np.float32
    (x * 2.0).sum().backward()
    assert x.grad.dtype == np.float32


# --- Config ---------------------------------------------------------------------------------------
def test_config_switches():
    assert dezero.Config.enable_backprop and dezero.Config.train
    x = Variable(np.ones(3))
    with dezero.no_grad():
        assert not dezero.Config.enable_backprop
        assert (x * 2.0).creator is None
    with dezero.using_config('enable_backprop', False):
        assert (x * 2.0).creator is None
    assert (x * 2.0).creator is not None
    with dezero.test_mode():
        assert dezero.Config.train is False
        np.testing.assert_array_equal(F.dropout(x).data, x.data)
    dezero.Config.train = False
    try:
        np.testing.assert_array_equal(F.dropout(x, 0.9).data, x.data)
    finally:
        dezero.Config.train = True


def test_as_array_and_as_variable():
    a = dezero.as_array(1.5)
    assert isinstance(a, np.ndarray) and a.ndim == 0 and a.dtype == np.float64
    arr = np.ones(2, np.float32)
    assert dezero.as_array(arr) is arr
    v = dezero.as_variable(arr)
    assert isinstance(v, Variable) and v.data is arr and v.requires_grad
    assert dezero.as_variable(v) is v
    assert dezero.setup_variable() is None


# --- core_simple ----------------------------------------------------------------------------------
def test_core_simple_gradients_are_arrays():
    # step 28: gradient descent on Rosenbrock's function with x.data -= lr * x.grad
    x0, x1 = core_simple.Variable(np.array(0.0)), core_simple.Variable(np.array(2.0))
    y = 100 * (x1 - x0 ** 2) ** 2 + (x0 - 1) ** 2
    y.backward()
    assert isinstance(x0.grad, np.ndarray)
    assert (float(x0.grad), float(x1.grad)) == (-2.0, 400.0)
    for _ in range(1000):
        x0.cleargrad()
        x1.cleargrad()
        y = 100 * (x1 - x0 ** 2) ** 2 + (x0 - 1) ** 2
        y.backward()
        x0.data -= 0.001 * x0.grad
        x1.data -= 0.001 * x1.grad
    # where DeZero's step 28 ends after its 1000 iterations
    np.testing.assert_allclose([x0.data, x1.data], [0.68371186, 0.46595268], rtol=1e-7)


def test_core_simple_is_the_same_engine():
    x = core_simple.Variable(np.array(3.0))
    assert isinstance(x, deepzero.Variable) and core_simple.Function is deepzero.Function
    x.grad = Variable(np.array(2.0))
    assert isinstance(x.grad, np.ndarray) and float(x.grad) == 2.0
    with core_simple.no_grad():
        assert (x * x).creator is None
    assert float(core_simple.rsub(x, 1.0).data) == -2.0
    assert float(core_simple.rdiv(x, 6.0).data) == 2.0


# --- utils ----------------------------------------------------------------------------------------
def test_gradient_check_passes_right_gradients_and_catches_wrong_ones(capsys):
    assert utils.gradient_check(F.tanh, np.random.default_rng(0).standard_normal((3, 2)))
    assert utils.gradient_check(lambda x, k: F.sum(x ** k), np.ones(3), 3)

    class WrongSquare(dezero.Function):
        def forward(self, x):
            return x ** 2

        def backward(self, gy):
            return gy * self.inputs[0]     # should be 2x

    assert not utils.gradient_check(lambda x: WrongSquare()(x), np.array([1.0, 2.0]))
    assert 'differ' in capsys.readouterr().out


def test_numerical_grad_of_a_sum():
    g = utils.numerical_grad(lambda x: x ** 2, np.array([1.0, -2.0]))
    np.testing.assert_allclose(g, [2.0, -4.0], rtol=1e-6)


def test_array_helpers():
    assert utils.array_equal(Variable(np.arange(3)), np.arange(3))
    assert not utils.array_equal(np.zeros(2), np.zeros(3))
    assert utils.array_allclose(np.array([1.0]), np.float64(1.0 + 1e-7))   # broadcasts
    assert not utils.array_allclose(np.ones(2), np.array([1.0, 1.1]))
    np.testing.assert_array_equal(utils.sum_to(np.ones((2, 3)), (1, 3)), [[2, 2, 2]])
    gy = utils.reshape_sum_backward(np.ones(3), (2, 3), axis=0, keepdims=False)
    assert gy.shape == (1, 3)
    assert utils.reshape_sum_backward(np.ones((1, 3)), (2, 3), 0, True).shape == (1, 3)
    x = np.array([[0.0, np.log(3.0)], [1000.0, 1000.0]])
    np.testing.assert_allclose(utils.logsumexp(x, axis=1),
                               [[np.log(4.0)], [1000.0 + np.log(2.0)]])
    assert utils.max_backward_shape(np.ones((2, 3, 4)), (0, 2)) == (1, 3, 1)
    assert utils.max_backward_shape(np.ones((2, 3)), None) == (1, 1)
    assert utils.pair(3) == (3, 3) and utils.pair((1, 2)) == (1, 2)
    with pytest.raises(ValueError, match='pair'):
        utils.pair([1, 2, 3])
    assert utils.get_conv_outsize(28, 3, 2, 1) == 14
    assert utils.get_deconv_outsize(14, 4, 2, 1) == 28


def test_dot_graph_text():
    x = Variable(np.array(1.0), name='x')
    y = F.sin(x) * 2.0
    y.name = 'y'
    text = utils.get_dot_graph(y)
    assert text.startswith('digraph g {') and 'Sin' in text and 'Mul' in text
    assert 'x: () float64' in text                     # verbose by default, as DeZero


def test_get_file_reads_the_cache_folder_and_never_downloads(tmp_path, monkeypatch):
    monkeypatch.setenv('DEZERO_CACHE_DIR', str(tmp_path))
    url = 'https://example.org/files/zebra.jpg'
    with pytest.raises(utils.MissingDownload, match=r'zebra.jpg is not in .*deepzero does not '
                                                    r'download. Download it from '
                                                    r'https://example.org/files/zebra.jpg'):
        utils.get_file(url)
    assert issubclass(utils.MissingDownload, FileNotFoundError)
    (tmp_path / 'zebra.jpg').write_bytes(b'x')
    (tmp_path / 'other.jpg').write_bytes(b'y')
    assert utils.get_file(url) == str(tmp_path / 'zebra.jpg')
    assert utils.get_file(url, 'other.jpg') == str(tmp_path / 'other.jpg')
    assert utils.cache_dir() == str(tmp_path)
