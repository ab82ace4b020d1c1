"""The benchmark workloads written with deepzero's engine ops (channels_last).

W1: the book's convnet (conv 32-64-128-128 3x3 valid ReLU, each + 2x2 max
pool, flatten, dropout 0.5, dense 512 ReLU, dense 1 sigmoid), binary
crossentropy and deepzero's RMSprop update (Keras 3 rule), batch 32 at 150x150x3.
W2: the VGG16 convolutional base (13 3x3 'same' convs, 5 max pools) forward at
batch 20 on 150x150x3.
"""
import numpy as np

import deepzero as dz
from deepzero import Parameter, Variable
from deepzero import functions as F
from deepzero.optimizers import RMSprop


def _glorot(rng, shape, fan_in, fan_out):
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return Parameter(rng.uniform(-limit, limit, shape).astype(np.float32))


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
            x = F.max_pool2d(F.relu(F.conv2d(x, kernel, bias)), 2)
        x = F.dropout(F.flatten(x), 0.5)
        x = F.relu(F.linear(x, *self.dense1))
        return F.sigmoid(F.linear(x, *self.dense2))

    def update(self):
        self.optimizer.apply([p.grad for p in self.params], self.params)
        for p in self.params:
            p.cleargrad()


def w1_train(batch=32, seed=0):
    model = BookConvnet(seed)
    rng = np.random.default_rng(seed + 1)
    x = Variable(rng.random((batch, 150, 150, 3), dtype=np.float32), requires_grad=False)
    t = (rng.random((batch, 1)) > 0.5).astype(np.float32)

    def step():
        loss = F.binary_crossentropy(model(x), t)
        loss.backward()
        model.update()
        assert loss.dtype == np.float32
        return float(loss.data)
    return step


def w1_infer(batch=32, seed=0):
    model = BookConvnet(seed)
    x = np.random.default_rng(seed + 1).random((batch, 150, 150, 3), dtype=np.float32)

    def step():
        with dz.no_grad(), dz.test_mode():
            y = model(x)
        assert y.dtype == np.float32
        return y.data
    return step


VGG16_BLOCKS = [(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)]


def w2_vgg_forward(batch=20, seed=0):
    rng = np.random.default_rng(seed)
    convs, cin = [], 3
    for cout, n in VGG16_BLOCKS:
        block = []
        for _ in range(n):
            block.append(_conv_params(rng, cin, cout))
            cin = cout
        convs.append(block)
    x = rng.random((batch, 150, 150, 3), dtype=np.float32)

    def step():
        h = x
        with dz.no_grad():
            for block in convs:
                for kernel, bias in block:
                    h = F.relu(F.conv2d(h, kernel, bias, padding='same'))
                h = F.max_pool2d(h, 2)
        assert h.shape == (batch, 4, 4, 512) and h.dtype == np.float32
        return h.data
    return step


WORKLOADS = {'W1_train': (w1_train, 32), 'W1_infer': (w1_infer, 32),
             'W2_vgg_fwd': (w2_vgg_forward, 20)}
