"""The benchmark workloads written with deepzero's engine ops (channels_last).

W1: the book's convnet (conv 32-64-128-128 3x3 valid ReLU, each + 2x2 max
pool, flatten, dropout 0.5, dense 512 ReLU, dense 1 sigmoid), binary
crossentropy and deepzero's RMSprop update (Keras 3 rule), batch 32 at 150x150x3.
W2: the VGG16 convolutional base (13 3x3 'same' convs, 5 max pools) forward at
batch 20 on 150x150x3.
Each max pool runs in the conv before it (``conv2d(..., pool_size=2)``), as a
Keras model runs a Conv2D + MaxPooling2D pair (models/layer_fusion.py).
W3: one fine-tuning step of that base with block5 trainable (blocks 1-4 frozen,
so they record no graph), plus flatten, dense 256 ReLU, dense 1 sigmoid, binary
crossentropy and RMSprop (lr 1e-5), batch 20.

``device``: 'cpu' (default) or 'gpu' (bench/gpu_check.py): the weights and the
batch are made on the host as always, then moved there.
"""
import numpy as np

import deepzero as dz
from deepzero import Parameter, Variable
from deepzero.core import cuda
from deepzero import functions as F
from deepzero.optimizers import RMSprop


def _glorot(rng, shape, fan_in, fan_out):
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return Parameter(rng.uniform(-limit, limit, shape).astype(np.float32))


def _placed(device, params, *arrays):
    """Move ``params`` (in place) and ``arrays`` to ``device``; returns the arrays."""
    if device == 'cpu':
        return arrays
    for p in params:
        p.to_gpu()
    return tuple(cuda.as_cupy(a) for a in arrays)


def _conv_params(rng, cin, cout):
    return [_glorot(rng, (3, 3, cin, cout), 9 * cin, 9 * cout),
            Parameter(np.zeros(cout, np.float32))]


class BookConvnet:
    def __init__(self, seed=0):
        rng = np.random.default_rng(seed)
        self.convs = [_conv_params(rng, cin, cout)
                      for cin, cout in [(3, 32), (32, 64), (64, 128), (128, 128)]]
        self.dense1 = [_glorot(rng, (6272, 512), 6272, 512), Parameter(np.zeros(512, np.float32))]
        self.dense2 = [_glorot(rng, (512, 1), 512, 1), Parameter(np.zeros(1, np.float32))]
        self.params = [p for pair in self.convs + [self.dense1, self.dense2] for p in pair]
        self.optimizer = RMSprop(learning_rate=1e-4)

    def __call__(self, x):
        for kernel, bias in self.convs:
            x = F.conv2d(x, kernel, bias, activation='relu', pool_size=2)
        x = F.dropout(F.flatten(x), 0.5)
        x = F.relu(F.linear(x, *self.dense1))
        return F.sigmoid(F.linear(x, *self.dense2))

    def update(self):
        self.optimizer.apply([p.grad for p in self.params], self.params)
        for p in self.params:
            p.cleargrad()


def w1_train(batch=32, seed=0, device='cpu'):
    model = BookConvnet(seed)
    rng = np.random.default_rng(seed + 1)
    x = rng.random((batch, 150, 150, 3), dtype=np.float32)
    t = (rng.random((batch, 1)) > 0.5).astype(np.float32)
    x, t = _placed(device, model.params, x, t)
    x = Variable(x, requires_grad=False)

    def step():
        loss = F.binary_crossentropy(model(x), t)
        loss.backward()
        model.update()
        assert loss.dtype == np.float32
        return float(loss.data)
    return step


def w1_infer(batch=32, seed=0, device='cpu'):
    model = BookConvnet(seed)
    x = np.random.default_rng(seed + 1).random((batch, 150, 150, 3), dtype=np.float32)
    x, = _placed(device, model.params, x)

    def step():
        with dz.no_grad(), dz.test_mode():
            y = model(x)
        assert y.dtype == np.float32
        return y.data
    return step


VGG16_BLOCKS = [(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)]


def _vgg16_base(rng, trainable_from_block=6):
    """[[ (kernel, bias) per conv ] per block]; blocks before
    ``trainable_from_block`` (1-based) are frozen."""
    blocks, cin = [], 3
    for number, (cout, n) in enumerate(VGG16_BLOCKS, start=1):
        block = []
        for _ in range(n):
            kernel, bias = _conv_params(rng, cin, cout)
            kernel.requires_grad = bias.requires_grad = number >= trainable_from_block
            block.append((kernel, bias))
            cin = cout
        blocks.append(block)
    return blocks


def _vgg16_forward(blocks, x):
    for block in blocks:
        for kernel, bias in block[:-1]:
            x = F.conv2d(x, kernel, bias, padding='same', activation='relu')
        kernel, bias = block[-1]  # the block's pool runs in its last conv, as in a Keras model
        x = F.conv2d(x, kernel, bias, padding='same', activation='relu', pool_size=2)
    return x


def _block_params(blocks):
    return [p for block in blocks for pair in block for p in pair]


def w2_vgg_forward(batch=20, seed=0, device='cpu'):
    rng = np.random.default_rng(seed)
    blocks = _vgg16_base(rng)
    x = rng.random((batch, 150, 150, 3), dtype=np.float32)
    x, = _placed(device, _block_params(blocks), x)

    def step():
        with dz.no_grad():
            h = _vgg16_forward(blocks, x)
        assert h.shape == (batch, 4, 4, 512) and h.dtype == np.float32
        return h.data
    return step


class FinetuneVGG16:
    """W3's model, its weights drawn from ``rng``: the VGG16 base with block5
    trainable, dense 256 ReLU, dense 1 sigmoid; ``params`` the trainable
    Parameters in the order they were made, ``all_params`` every one."""

    def __init__(self, rng):
        self.blocks = _vgg16_base(rng, trainable_from_block=5)
        self.dense1 = [_glorot(rng, (8192, 256), 8192, 256),
                       Parameter(np.zeros(256, np.float32))]
        self.dense2 = [_glorot(rng, (256, 1), 256, 1), Parameter(np.zeros(1, np.float32))]
        self.params = [p for p in _block_params(self.blocks) if p.requires_grad]
        self.params += self.dense1 + self.dense2
        self.all_params = _block_params(self.blocks) + self.dense1 + self.dense2
        self.optimizer = RMSprop(learning_rate=1e-5)

    def __call__(self, x):
        h = F.flatten(_vgg16_forward(self.blocks, x))
        return F.sigmoid(F.linear(F.relu(F.linear(h, *self.dense1)), *self.dense2))

    def update(self):
        self.optimizer.apply([q.grad for q in self.params], self.params)
        for q in self.params:
            q.cleargrad()


def w3_finetune(batch=20, seed=0, device='cpu'):
    rng = np.random.default_rng(seed)
    model = FinetuneVGG16(rng)
    x = rng.random((batch, 150, 150, 3), dtype=np.float32)
    t = (rng.random((batch, 1)) > 0.5).astype(np.float32)
    x, t = _placed(device, model.all_params, x, t)
    x = Variable(x, requires_grad=False)

    def step():
        loss = F.binary_crossentropy(model(x), t)
        loss.backward()
        model.update()
        return float(loss.data)
    return step


WORKLOADS = {'W1_train': (w1_train, 32), 'W1_infer': (w1_infer, 32),
             'W2_vgg_fwd': (w2_vgg_forward, 20), 'W3_finetune': (w3_finetune, 20)}
