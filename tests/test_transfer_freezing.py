"""Freezing a pretrained conv base (book section 5.3) with the real application
graphs: the book's trainable-weight counts, frozen BatchNormalization in
inference mode, and no backward work for frozen layers."""
import numpy as np
import pytest

import deepzero.functions.conv as conv_functions
import deepzero.layers as L
from deepzero import functions as F
from deepzero.applications import VGG16, MobileNet, ResNet50
from deepzero.demo_transfer import unfreeze_from
from deepzero.models import Sequential
from deepzero.optimizers import RMSprop
from deepzero.utils import set_random_seed


@pytest.fixture(autouse=True)
def seeded_initializers():
    set_random_seed(5)


def book_model(conv_base):
    """Section 5.3.1: the conv base, Flatten, Dense 256, Dense 1."""
    return Sequential([conv_base, L.Flatten(), L.Dense(256, activation='relu'),
                       L.Dense(1, activation='sigmoid')])


@pytest.fixture(scope='module')
def vgg16_base():
    set_random_seed(5)
    return VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))


def test_book_counts_with_the_vgg16_application(vgg16_base):
    model = book_model(vgg16_base)
    vgg16_base.trainable = True
    assert len(model.trainable_weights) == 30
    vgg16_base.trainable = False
    assert len(model.trainable_weights) == 4
    unfreeze_from(vgg16_base, 'block5_conv1')
    assert len(model.trainable_weights) == 10
    assert [w.path for w in model.trainable_weights[:6]] == [
        f'block5_conv{i}/{kind}' for i in (1, 2, 3) for kind in ('kernel', 'bias')]
    assert not any(w.requires_grad for w in vgg16_base.get_layer('block4_conv3').weights)


def count_calls(monkeypatch, module, name):
    """Count how often the Function class ``module.name`` is created."""
    calls = []
    original = getattr(module, name)

    class Counted(original):
        def __init__(self, *args, **kwargs):
            calls.append(1)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(module, name, Counted)
    return calls


def backward_of(model, rng):
    x = rng.random((2, 32, 32, 3)).astype('float32')
    loss = F.sum(model(x, training=True))
    loss.backward()


def test_a_frozen_base_does_no_backward_work(vgg16_base, monkeypatch, rng):
    model = book_model(vgg16_base)
    vgg16_base.trainable = False
    input_grads = count_calls(monkeypatch, conv_functions, 'Conv2DTransposeFunction')
    kernel_grads = count_calls(monkeypatch, conv_functions, 'Conv2DGradKernel')
    backward_of(model, rng)
    assert input_grads == [] and kernel_grads == []
    assert all(w.grad is None for w in vgg16_base.weights)
    assert all(w.grad is not None for w in model.trainable_weights)
    for w in model.trainable_weights:
        w.cleargrad()


def test_fine_tuning_stops_backward_at_the_first_trainable_layer(vgg16_base, monkeypatch,
                                                                 rng):
    model = book_model(vgg16_base)
    unfreeze_from(vgg16_base, 'block5_conv1')
    input_grads = count_calls(monkeypatch, conv_functions, 'Conv2DTransposeFunction')
    kernel_grads = count_calls(monkeypatch, conv_functions, 'Conv2DGradKernel')
    backward_of(model, rng)
    # block5_conv2 and block5_conv3 pass gradients to their inputs; block5_conv1,
    # whose input comes from frozen layers, does not
    assert len(input_grads) == 2 and len(kernel_grads) == 3
    assert vgg16_base.get_layer('block5_conv1').kernel.grad is not None
    assert all(w.grad is None for layer in vgg16_base.layers[:-4] for w in layer.weights)
    for w in model.trainable_weights:
        w.cleargrad()
    vgg16_base.trainable = True


@pytest.mark.parametrize('application', [MobileNet, ResNet50])
def test_frozen_batch_norm_runs_in_inference_mode(application, rng):
    base = application(weights=None, include_top=False, input_shape=(32, 32, 3))
    bn_layers = [layer for layer in base.layers if isinstance(layer, L.BatchNormalization)]
    for layer in bn_layers:   # moving statistics far from any batch's statistics
        gamma, beta, mean, variance = layer.get_weights()
        layer.set_weights([gamma, beta, rng.normal(0, 0.5, mean.shape).astype('float32'),
                           rng.uniform(0.5, 2, variance.shape).astype('float32')])
    x = rng.random((4, 32, 32, 3)).astype('float32')
    weights = base.get_weights()
    inference = base(x, training=False).data
    assert not np.allclose(base(x, training=True).data, inference, atol=1e-3)
    base.set_weights(weights)   # undo the update of the moving statistics

    base.trainable = False
    np.testing.assert_allclose(base(x, training=True).data, inference, rtol=1e-5, atol=1e-5)

    model = Sequential([base, L.GlobalAveragePooling2D(), L.Dense(1, activation='sigmoid')])
    model.compile(optimizer=RMSprop(1e-3), loss='binary_crossentropy')
    before = [w.copy() for w in base.get_weights()]
    model.train_on_batch(x, np.array([0, 1, 0, 1], dtype='float32'))
    for old, new in zip(before, base.get_weights()):   # moving statistics included
        np.testing.assert_array_equal(old, new)
