"""The GPU as a device (core/cuda.py, ``deepzero.cuda``): what can be checked
on any machine. Whether CuPy and a GPU are usable, and why not; the
``device`` setting and ``runtime.resolved_device()``; moving Variables
without a GPU; ``as_numpy``; and the one-device-per-op check, run here with a
stand-in GPU array type (a NumPy subclass that ``device_of`` is told to call
'gpu'). The ops themselves on CuPy arrays: tests/test_device_ops.py."""
import os
import subprocess
import sys
import types

import numpy as np
import pytest

import deepzero
import deepzero.functions as F
from deepzero import Variable, cuda, runtime
from deepzero.core import cuda as engine_cuda

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def probe(monkeypatch):
    """Replace the ``cupy`` that core/cuda.py probes (None, or a stand-in
    whose ``cuda.runtime.getDeviceCount`` does what the test says); the
    cached answer is dropped before and after."""
    def use(cupy):
        monkeypatch.setattr(engine_cuda, 'cupy', cupy)
        engine_cuda.unavailable_reason.cache_clear()
    yield use
    monkeypatch.undo()
    engine_cuda.unavailable_reason.cache_clear()


def fake_cupy(device_count):
    def get_device_count():
        if isinstance(device_count, Exception):
            raise device_count
        return device_count
    return types.SimpleNamespace(cuda=types.SimpleNamespace(
        runtime=types.SimpleNamespace(getDeviceCount=get_device_count)))


# ---------------------------------------------------------------- is_available
def test_deepzero_cuda_is_the_engine_module():
    assert deepzero.cuda.is_available is engine_cuda.is_available
    assert set(cuda.__all__) >= {'cupy', 'is_available', 'get_array_module', 'as_numpy',
                                 'as_cupy', 'device_of'}


def test_without_cupy_nothing_is_available(probe):
    probe(None)
    assert cuda.is_available() is False
    assert 'CuPy is not installed' in cuda.unavailable_reason()
    assert "deepzero[gpu]" in cuda.unavailable_reason()


def test_a_cuda_error_means_no_gpu_and_never_raises(probe):
    probe(fake_cupy(RuntimeError('cudaErrorNoDevice: no CUDA-capable device is detected')))
    assert cuda.is_available() is False
    assert 'no CUDA GPU' in cuda.unavailable_reason()
    assert 'cudaErrorNoDevice' in cuda.unavailable_reason()


def test_zero_devices_means_no_gpu(probe):
    probe(fake_cupy(0))
    assert not cuda.is_available()
    assert '0 devices' in cuda.unavailable_reason()


def test_one_device_is_available(probe):
    probe(fake_cupy(1))
    assert cuda.is_available() and cuda.unavailable_reason() is None


# ---------------------------------------------------------------- the device setting
@pytest.mark.parametrize('setting, expected', [('auto', 'cpu'), ('cpu', 'cpu')])
def test_resolved_device_without_a_gpu(probe, setting, expected):
    probe(None)
    with runtime.settings(device=setting):
        assert runtime.resolved_device() == expected


def test_device_gpu_without_a_gpu_says_why(probe):
    probe(None)
    with runtime.settings(device='gpu'):
        with pytest.raises(RuntimeError, match='DEEPZERO_DEVICE') as caught:
            runtime.resolved_device()
    assert 'CuPy is not installed' in str(caught.value)


@pytest.mark.parametrize('setting', ['auto', 'gpu'])
def test_resolved_device_with_a_gpu(probe, setting):
    probe(fake_cupy(2))
    with runtime.settings(device=setting):
        assert runtime.resolved_device() == 'gpu'
    with runtime.settings(device='cpu'):
        assert runtime.resolved_device() == 'cpu'


def test_device_setting_is_checked():
    with pytest.raises(ValueError, match="'device'"):
        runtime.configure(device='cuda')
    assert runtime.SETTINGS['device'].env == 'DEEPZERO_DEVICE'


def run_python(code, **env):
    environ = {**os.environ, 'PYTHONPATH': REPO, **env}
    done = subprocess.run([sys.executable, '-c', code], env=environ, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_deepzero_device_is_read_from_the_environment():
    code = ('from deepzero.core import runtime\n'
            "print(runtime.get('device'))\n"
            "runtime.configure(device='auto')\n"
            "print(runtime.get('device'))")
    assert run_python(code, DEEPZERO_DEVICE=' CPU ').split() == ['cpu', 'auto']


def test_a_bad_deepzero_device_is_named():
    code = ('from deepzero.core import runtime\n'
            "try:\n    runtime.get('device')\n"
            'except ValueError as e:\n    print(e)')
    out = run_python(code, DEEPZERO_DEVICE='tpu')
    assert 'DEEPZERO_DEVICE' in out and "'tpu'" in out


# ---------------------------------------------------------------- moving data
def test_to_gpu_without_a_gpu_says_why(probe):
    probe(None)
    x = Variable(np.ones(3, np.float32), name='x')
    with pytest.raises(RuntimeError, match=r"'x'.*to_gpu\(\).*CuPy is not installed"):
        x.to_gpu()
    assert isinstance(x.data, np.ndarray) and x.device == 'cpu'
    with pytest.raises(RuntimeError, match='as_cupy.*CuPy is not installed'):
        cuda.as_cupy(np.ones(3))


def test_to_cpu_on_the_cpu_keeps_the_arrays():
    x = Variable(np.ones(3, np.float32))
    x.grad = Variable(np.full(3, 2, np.float32))
    data, grad = x.data, x.grad.data
    assert x.to_cpu() is x
    assert x.data is data and x.grad.data is grad and x.device == 'cpu'


def test_as_numpy():
    a = np.arange(3, dtype=np.float32)
    assert cuda.as_numpy(a) is a
    assert cuda.as_numpy(Variable(a)) is a
    scalar = cuda.as_numpy(2.5)
    assert isinstance(scalar, np.ndarray) and scalar.shape == () and scalar == 2.5
    np.testing.assert_array_equal(cuda.as_numpy([1, 2]), [1, 2])


def test_device_of():
    assert cuda.device_of(np.ones(2)) == 'cpu'
    assert cuda.device_of(Variable(np.ones(2))) == 'cpu'
    assert cuda.device_of(3.0) == 'cpu'
    assert Variable(None).device == 'cpu'


# ---------------------------------------------------------------- one device per op
class StandInGpuArray(np.ndarray):
    """A NumPy array that ``device_of`` is told (by ``on_stand_in_gpu``) to
    call 'gpu': the device check's logic, without a GPU."""


@pytest.fixture
def on_stand_in_gpu(monkeypatch):
    monkeypatch.setattr(engine_cuda, 'GPU_ARRAY_TYPES', (StandInGpuArray,))

    def gpu_array(shape, requires_grad=None):
        return Variable(np.ones(shape, np.float32).view(StandInGpuArray),
                        requires_grad=requires_grad)
    return gpu_array


def test_mixing_devices_names_the_op_and_both_devices(on_stand_in_gpu):
    x, w = on_stand_in_gpu((2, 3)), Variable(np.ones((3, 4), np.float32))
    assert x.device == 'gpu' and w.device == 'cpu'
    with pytest.raises(TypeError, match=r'MatMul: inputs on different devices: '
                                        r'a on gpu, b on cpu; .*to_gpu\(\)/to_cpu\(\)'):
        x @ w
    with pytest.raises(TypeError, match='AddFunction: .*x0 on cpu, x1 on gpu'):
        np.ones((2, 3), np.float32) + x


def test_mixing_devices_in_a_conv_names_x_and_kernel(on_stand_in_gpu):
    x = on_stand_in_gpu((1, 5, 5, 2))
    kernel = Variable(np.ones((3, 3, 2, 4), np.float32))
    with pytest.raises(TypeError, match='Conv2DFunction: inputs on different devices: '
                                        'x on gpu, kernel on cpu'):
        F.conv2d(x, kernel)


def test_scalars_go_with_gpu_inputs(on_stand_in_gpu):
    x = on_stand_in_gpu((2, 3))
    for y in (x * 2.0, 1.0 - x, x ** 2, x * np.float32(3), F.maximum(x, 0.5),
              x + Variable(np.array(1.0, np.float32), requires_grad=False)):  # a 0-d constant
        assert y.shape == (2, 3) and y.dtype == np.float32
    y = F.maximum(x, 1.0)  # ties with a scalar: half the gradient each
    y.backward()
    np.testing.assert_array_equal(x.grad.data, np.full((2, 3), 0.5, np.float32))


def test_a_0d_host_variable_that_learns_does_not_mix(on_stand_in_gpu):
    x = on_stand_in_gpu((2, 3))
    scale = Variable(np.array(2.0, np.float32))  # requires a gradient: a real input
    with pytest.raises(TypeError, match='Mul: .*x0 on gpu, x1 on cpu'):
        x * scale


def test_inputs_past_the_named_parameters_are_numbered(on_stand_in_gpu):
    with pytest.raises(TypeError, match=r'Concat: .*input 0 on gpu, input 1 on cpu'):
        F.concat([on_stand_in_gpu((2, 3)), np.ones((2, 3), np.float32)])


def test_batch_norm_moving_statistics_on_another_device(on_stand_in_gpu):
    x = on_stand_in_gpu((4, 3))
    stats = np.zeros(3, np.float32)
    with pytest.raises(TypeError, match='batch_norm: x on gpu but moving_mean on cpu'):
        F.batch_norm(x, None, None, stats, np.ones(3, np.float32), training=True)


def test_where_condition_on_another_device(on_stand_in_gpu):
    x = on_stand_in_gpu((2, 3))
    with pytest.raises(TypeError, match='where: condition on cpu but x and y on gpu'):
        F.where(np.ones((2, 3), bool), x, 0.0)
