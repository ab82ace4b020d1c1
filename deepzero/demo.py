"""``deepzero demo``: a small convnet, written with engine ops, learns to tell
two kinds of generated images apart; loss and accuracy are printed per epoch.

The images are 32x32 RGB: class 0 shows horizontal stripes, class 1 vertical
stripes, each with random phase, period, colour and noise, so the net must
learn oriented edge detectors, as a real convnet's first layer does.
"""
import time

import numpy as np

from . import Parameter, Variable, no_grad, test_mode
from . import functions as F


def make_stripes(n, size=32, seed=0):
    """(images (n, size, size, 3) float32 in [0, 1], labels (n, 1) float32)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    coords = np.arange(size, dtype=np.float32)
    period = rng.uniform(4, 10, (n, 1, 1)).astype(np.float32)
    phase = rng.uniform(0, 2 * np.pi, (n, 1, 1)).astype(np.float32)
    rows = coords[None, :, None] * np.ones((1, 1, size), np.float32)
    cols = rows.transpose(0, 2, 1)
    along = np.where(labels[:, None, None] == 0, rows, cols)
    wave = 0.5 + 0.5 * np.sin(2 * np.pi * along / period + phase)
    colour = rng.uniform(0.3, 1.0, (n, 1, 1, 3)).astype(np.float32)
    noise = rng.normal(0, 0.15, (n, size, size, 3)).astype(np.float32)
    images = np.clip(wave[..., None] * colour + noise, 0, 1).astype(np.float32)
    return images, labels.astype(np.float32)[:, None]


class SmallConvnet:
    """conv 8 3x3 -> ReLU -> max pool 2 -> conv 16 3x3 -> ReLU -> max pool 2
    -> flatten -> dense 1 -> sigmoid."""

    def __init__(self, rng):
        def glorot(shape, fan_in, fan_out):
            limit = np.sqrt(6.0 / (fan_in + fan_out))
            return Parameter(rng.uniform(-limit, limit, shape).astype(np.float32))
        self.k1, self.b1 = glorot((3, 3, 3, 8), 27, 72), Parameter(np.zeros(8, np.float32))
        self.k2, self.b2 = glorot((3, 3, 8, 16), 72, 144), Parameter(np.zeros(16, np.float32))
        self.w, self.b = glorot((6 * 6 * 16, 1), 576, 1), Parameter(np.zeros(1, np.float32))
        self.params = [self.k1, self.b1, self.k2, self.b2, self.w, self.b]

    def __call__(self, x):
        x = F.max_pool2d(F.relu(F.conv2d(x, self.k1, self.b1)), 2)
        x = F.max_pool2d(F.relu(F.conv2d(x, self.k2, self.b2)), 2)
        return F.sigmoid(F.linear(F.flatten(x), self.w, self.b))


def run_demo(epochs=None, seed=0, batch_size=32, learning_rate=1e-3):
    epochs = epochs or 8
    x_train, y_train = make_stripes(1024, seed=seed)
    x_val, y_val = make_stripes(256, seed=seed + 1)
    rng = np.random.default_rng(seed)
    model = SmallConvnet(rng)
    velocities = [np.zeros_like(p.data) for p in model.params]
    print(f'deepzero demo: a small convnet on {len(x_train)} generated 32x32 images '
          '(horizontal vs vertical stripes), RMSprop, batch 32')
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        order = rng.permutation(len(x_train))
        losses, hits = [], 0
        for i in range(0, len(order), batch_size):
            idx = order[i:i + batch_size]
            x = Variable(x_train[idx], requires_grad=False)
            p = model(x)
            loss = F.binary_crossentropy(p, y_train[idx])
            loss.backward()
            for param, v in zip(model.params, velocities):  # RMSprop (Keras 3 rule)
                g = param.grad.data
                v *= 0.9
                v += 0.1 * g * g
                param.data -= learning_rate * g / np.sqrt(v + 1e-7)
                param.cleargrad()
            losses.append(float(loss.data) * len(idx))
            hits += int(((p.data > 0.5) == (y_train[idx] > 0.5)).sum())
        with no_grad(), test_mode():
            p_val = model(x_val).data
        val_loss = float(F.binary_crossentropy(p_val, y_val).data)
        val_acc = float(((p_val > 0.5) == (y_val > 0.5)).mean())
        print(f'Epoch {epoch}/{epochs} - {time.perf_counter() - start:.1f}s - '
              f'loss: {sum(losses) / len(x_train):.4f} - acc: {hits / len(x_train):.4f} - '
              f'val_loss: {val_loss:.4f} - val_acc: {val_acc:.4f}')
    return 0
