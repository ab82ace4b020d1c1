"""BatchNormalization's forward and backward pass, per call (median of 15).

    python bench/bn_profile.py

F.batch_norm on float32 activations of a fine-tuned BN net, in three modes:
'training' (batch statistics; gradients for x, gamma and beta), 'inference'
(moving statistics; the same gradients) and 'frozen' (moving statistics,
gamma and beta constants: a Keras BatchNormalization with trainable=False,
as fine-tuning runs it; only x's gradient). The backward time is the time
of forward + backward less the forward's.
"""
import os
import sys
import time

import numpy as np

sys.path[:0] = [os.path.join(os.path.dirname(__file__), '..')]

import deepzero.functions as F  # noqa: E402
from deepzero import Variable  # noqa: E402

SHAPES = [(20, 38, 38, 256), (32, 74, 74, 64)]


def median_ms(fn, repeats=15):
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def main():
    rng = np.random.default_rng(0)
    print(f'{"shape":<22}{"mode":<11}{"forward ms":>11}{"backward ms":>13}{"ratio":>7}')
    for shape in SHAPES:
        channels = shape[-1]
        x = Variable(rng.standard_normal(shape).astype(np.float32))
        gamma = rng.uniform(0.5, 1.5, channels).astype(np.float32)
        beta = rng.standard_normal(channels).astype(np.float32)
        gy = Variable(rng.standard_normal(shape).astype(np.float32))
        for mode in ('training', 'inference', 'frozen'):
            weights = ((gamma, beta) if mode == 'frozen'
                       else (Variable(gamma.copy()), Variable(beta.copy())))
            moving = (np.zeros(channels, np.float32), np.ones(channels, np.float32))

            def forward():
                return F.batch_norm(x, *weights, *moving, training=mode == 'training')

            def forward_backward():
                for v in (x,) + weights:
                    if isinstance(v, Variable):
                        v.cleargrad()
                y = forward()
                y.grad = gy
                y.backward()
            forward_ms = median_ms(forward)
            backward_ms = median_ms(forward_backward) - forward_ms
            print(f'{str(shape):<22}{mode:<11}{forward_ms:11.1f}{backward_ms:13.1f}'
                  f'{backward_ms / forward_ms:7.1f}')


if __name__ == '__main__':
    main()
