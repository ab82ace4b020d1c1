"""Per-layer and whole-step timings of the book's convnet (W1) at batch 32:
deepzero's conv/pool ops against PyTorch (NCHW and channels_last) in the same
process, and deepzero's conv + ReLU + pool as one op (``pool_size=2``, as a
Keras model runs them) against the same ops apart. Run: env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/conv_profile.py

``--algorithms``: each 3x3 conv layer of W1 (batch 32) and of VGG16's base
(batch 20) by each conv algorithm (direct im2col, Winograd F(2x2,3x3), F(3x3,3x3) and
F(4x4,3x3)): forward (+ bias + ReLU), input gradient and kernel gradient,
median ms, the algorithm 'auto' picks, and the table as JSON (``--out``).

``--accuracy``: each algorithm's float32 error against a float64 direct conv,
forward and both gradients, as max |error| / max |exact value|, on ReLU
activations (half zeros) with He-initialised kernels at three VGG16 layer
sizes, and with two of SqueezeNet's trained kernels (from $DEEPZERO_DATA, else
../shared/data, when there).

ReLU, dense, dropout and the loss are minimal stand-ins written here, so that
the step measures the conv and pooling ops; the update is a plain RMSprop.
"""
import argparse
import resource
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as TF

sys.path.insert(0, __file__.rsplit('/bench/', 1)[0])
import deepzero.functions as F  # noqa: E402
from deepzero import Function, Parameter, Variable, no_grad  # noqa: E402
from deepzero.core.operators import matmul  # noqa: E402

BATCH = 32
LAYERS = [(150, 3, 32), (74, 32, 64), (36, 64, 128), (17, 128, 128)]  # (H, C_in, C_out)


def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def median_time(fn, repeat):
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


class ReLU(Function):
    def forward(self, x):
        return np.maximum(x, 0, out=np.empty_like(x))

    def backward(self, gy):
        return gy * Variable(self.inputs[0].data > 0)


class SigmoidBCE(Function):
    def forward(self, z, t):
        self.p = 1 / (1 + np.exp(-z))
        p = np.clip(self.p, 1e-7, 1 - 1e-7)
        return np.asarray(-np.mean(t * np.log(p) + (1 - t) * np.log(1 - p)), z.dtype)

    def backward(self, gy):
        z, t = self.inputs
        return gy * Variable((self.p - t.data) / z.shape[0]), None


def per_layer(repeat):
    rng = np.random.default_rng(0)
    print(f"{'layer':<28}{'dz fwd':>9}{'dz bwd':>9}{'t fwd':>9}{'t bwd':>9}{'tcl fwd':>9}{'tcl bwd':>9}  (ms)")
    for i, (h, cin, cout) in enumerate(LAYERS):
        x = rng.random((BATCH, h, h, cin), dtype=np.float32)
        k = (rng.standard_normal((3, 3, cin, cout)) * 0.1).astype(np.float32)
        xv = Variable(x, requires_grad=i > 0)
        kv = Parameter(k)
        y = F.conv2d(xv, kv)
        gy = Variable(rng.standard_normal(y.shape).astype(np.float32))

        def dz_fwd():
            F.conv2d(xv, kv)

        def dz_bwd():
            kv.cleargrad(); xv.cleargrad()
            y = F.conv2d(xv, kv)
            y.grad = gy
            y.backward()
        f = median_time(dz_fwd, repeat)
        b = median_time(dz_bwd, repeat) - f
        row = [f, b]
        for cl in (False, True):
            tx = torch.tensor(x.transpose(0, 3, 1, 2).copy(), requires_grad=i > 0)
            tk = torch.tensor(k.transpose(3, 2, 0, 1).copy(), requires_grad=True)
            tg = torch.tensor(gy.data.transpose(0, 3, 1, 2).copy())
            if cl:
                tx = tx.detach().to(memory_format=torch.channels_last).requires_grad_(i > 0)
                tk = tk.detach().to(memory_format=torch.channels_last).requires_grad_(True)
                tg = tg.to(memory_format=torch.channels_last)

            def t_fwd():
                with torch.no_grad():
                    TF.conv2d(tx, tk)

            def t_bwd():
                tk.grad = None
                TF.conv2d(tx, tk).backward(tg)
            tf_ = median_time(t_fwd, repeat)
            row += [tf_, median_time(t_bwd, repeat) - tf_]
        print(f"conv{i + 1} {h}x{h}x{cin}->{cout:<10}" + ''.join(f"{v * 1e3:9.1f}" for v in row))
        # the pool after it
        p = F.conv2d(xv, kv).data
        pv = Variable(p)

        def pool_fb():
            pv.cleargrad()
            z = F.max_pool2d(pv)
            z.grad = Variable(np.ones(z.shape, np.float32))
            z.backward()

        def pool_f():
            F.max_pool2d(pv)
        tp = torch.tensor(p.transpose(0, 3, 1, 2).copy(), requires_grad=True)

        def tpool_fb():
            tp.grad = None
            z = TF.max_pool2d(tp, 2)
            z.backward(torch.ones_like(z))
        pf = median_time(pool_f, repeat)
        print(f"  maxpool {p.shape}: dz fwd {pf * 1e3:.1f} bwd "
              f"{(median_time(pool_fb, repeat) - pf) * 1e3:.1f}; torch fwd+bwd "
              f"{median_time(tpool_fb, repeat) * 1e3:.1f}")
        # conv + ReLU + pool as a Keras model runs them (one op), against the ops apart
        bv = Parameter(np.zeros(cout, np.float32))
        fused = lambda: F.conv2d(xv, kv, bv, activation='relu', pool_size=2)
        apart = lambda: F.max_pool2d(F.conv2d(xv, kv, bv, activation='relu'), 2)
        times = []
        for run in (fused, apart):
            def forward_backward(run=run):
                kv.cleargrad(), bv.cleargrad(), xv.cleargrad()
                z = run()
                z.grad = Variable(np.ones(z.shape, np.float32))
                z.backward()
            f = median_time(run, repeat)
            times += [f, median_time(forward_backward, repeat) - f]
        print("  conv+ReLU+pool: one op fwd {:.1f} bwd {:.1f}; apart fwd {:.1f} bwd {:.1f}".format(
            *(t * 1e3 for t in times)))


# (name, batch, H = W, C_in, C_out, padding): every distinct 3x3 conv of W1 and W2/W3
ALGORITHM_LAYERS = [('W1 conv1', 32, 150, 3, 32, 'valid'), ('W1 conv2', 32, 74, 32, 64, 'valid'),
                    ('W1 conv3', 32, 36, 64, 128, 'valid'),
                    ('W1 conv4', 32, 17, 128, 128, 'valid'),
                    ('VGG block1_conv1', 20, 150, 3, 64, 'same'),
                    ('VGG block1_conv2', 20, 150, 64, 64, 'same'),
                    ('VGG block2_conv1', 20, 75, 64, 128, 'same'),
                    ('VGG block2_conv2', 20, 75, 128, 128, 'same'),
                    ('VGG block3_conv1', 20, 37, 128, 256, 'same'),
                    ('VGG block3_conv2', 20, 37, 256, 256, 'same'),
                    ('VGG block4_conv1', 20, 18, 256, 512, 'same'),
                    ('VGG block4_conv2', 20, 18, 512, 512, 'same'),
                    ('VGG block5_conv2', 20, 9, 512, 512, 'same')]
ALGORITHMS = ['direct', 'winograd2', 'winograd3', 'winograd4']


def per_algorithm(repeat, out):
    from deepzero.kernels import cpu
    from deepzero.kernels.cpu import winograd
    from deepzero.kernels.geometry import ConvSpec, WindowGeometry
    rng = np.random.default_rng(0)
    rows = []
    print(f"{'layer':<38}" + ''.join(f"{a + ' f/gx/gk':>22}" for a in ALGORITHMS) +
          '  auto  (ms)')
    for name, batch, hw, cin, cout, padding in ALGORITHM_LAYERS:
        x = np.maximum(rng.standard_normal((batch, hw, hw, cin), dtype=np.float32), 0)
        w = (rng.standard_normal((3, 3, cin, cout)) * np.sqrt(2 / (9 * cin))).astype(np.float32)
        b = np.zeros(cout, np.float32)
        row = {'layer': name, 'shape': [batch, hw, hw, cin, cout], 'padding': padding}
        for algorithm in ALGORITHMS:
            spec = ConvSpec(WindowGeometry('conv2d', (hw, hw), (3, 3), (1, 1), (1, 1), padding),
                            1, 'channels_last', cin, algorithm)
            gy = rng.standard_normal((batch,) + spec.geometry.out_hw + (cout,),
                                     dtype=np.float32)
            row[algorithm] = [median_time(fn, repeat) * 1e3 for fn in (
                lambda: cpu.conv2d(x, w, b, spec, relu=True, keep_mask=True),
                lambda: cpu.conv2d_transpose(gy, w, None, spec),
                lambda: cpu.conv2d_kernel_grad(x, gy, spec, True))]
        auto = ConvSpec(WindowGeometry('conv2d', (hw, hw), (3, 3), (1, 1), (1, 1), padding),
                        1, 'channels_last', cin, 'auto')
        row['auto'] = {0: 'direct', 2: 'winograd2', 3: 'winograd3', 4: 'winograd4'}[
            winograd.tile_size(auto, np.float32, cout)]
        rows.append(row)
        print(f"{name + f' {hw}x{hw}x{cin}->{cout}':<38}" +
              ''.join(f"{'/'.join(f'{v:.0f}' for v in row[a]):>22}" for a in ALGORITHMS) +
              f"  {row['auto']}", flush=True)
    if out:
        import json
        with open(out, 'w') as f:
            json.dump({'repeat': repeat, 'layers': rows}, f, indent=1)


def trained_kernels():
    """SqueezeNet v1.1's trained 3x3 kernels and biases (ImageNet) from the
    shared data, if it is there: {name: (kernel, bias)}."""
    import os
    import h5py
    path = os.path.join(os.environ.get('DEEPZERO_DATA', '../shared/data'), 'pretrained',
                        'squeezenet_weights_tf_dim_ordering_tf_kernels_notop.h5')
    if not os.path.exists(path):
        print(f'(no trained kernels: {path} is absent)')
        return {}
    out = {}
    with h5py.File(path, 'r') as f:
        for fire in ('fire4', 'fire9'):
            group = f[f'{fire}/expand3x3']
            arrays = {name: group[name] for name in group if isinstance(group[name], h5py.Dataset)}
            kernel = next(a for a in arrays.values() if a.ndim == 4)[...]
            bias = group[f'{fire}/expand3x3_b'][...]
            out[f'SqueezeNet {fire}_expand3x3'] = (kernel.astype(np.float64),
                                                   bias.astype(np.float64))
    return out


def accuracy():
    rng = np.random.default_rng(0)
    print(f"{'layer (batch 2)':<40}" + ''.join(f'{a + " y/gx/gk":>30}' for a in ALGORITHMS))
    layers = []
    for hw, channels in [(37, 64), (18, 256), (9, 512)]:
        k = rng.standard_normal((3, 3, channels, channels)) * np.sqrt(2 / (9 * channels))
        layers.append((f'He-initialised {hw}x{hw}x{channels}->{channels}', hw, k,
                       rng.standard_normal(channels) * 0.1))
    for (name, (k, b)), hw in zip(trained_kernels().items(), (27, 13)):
        layers.append((f'{name} {hw}x{hw}x{k.shape[2]}->{k.shape[3]}', hw, k, b))
    for name, hw, k, b in layers:
        x = np.maximum(rng.standard_normal((2, hw, hw, k.shape[2])), 0)
        gy = rng.standard_normal((2, hw, hw, k.shape[3]))

        def run(dtype, algorithm):
            xs = [Variable(a.astype(dtype)) for a in (x, k, b)]
            y = F.conv2d(*xs, padding='same', algorithm=algorithm)
            y.grad = Variable(gy.astype(dtype))
            y.backward()
            return y.data, xs[0].grad.data, xs[1].grad.data
        exact = run(np.float64, 'direct')
        row = f"{name:<40}"
        for algorithm in ALGORITHMS:
            got = run(np.float32, algorithm)
            row += f"{'/'.join(f'{np.abs(g - e).max() / np.abs(e).max():.1e}' for g, e in zip(got, exact)):>30}"
        print(row, flush=True)


class DZNet:
    def __init__(self, rng):
        self.kernels, self.biases = [], []
        for _, cin, cout in LAYERS:
            self.kernels.append(Parameter((rng.standard_normal((3, 3, cin, cout)) *
                                           np.sqrt(2 / (9 * cin))).astype(np.float32)))
            self.biases.append(Parameter(np.zeros(cout, np.float32)))
        self.w1 = Parameter((rng.standard_normal((6272, 512)) * 0.02).astype(np.float32))
        self.b1 = Parameter(np.zeros(512, np.float32))
        self.w2 = Parameter((rng.standard_normal((512, 1)) * 0.05).astype(np.float32))
        self.b2 = Parameter(np.zeros(1, np.float32))
        self.params = self.kernels + self.biases + [self.w1, self.b1, self.w2, self.b2]
        self.ms = [np.zeros_like(p.data) for p in self.params]

    def step(self, x, t, rng):
        h = Variable(x, requires_grad=False)
        for k, b in zip(self.kernels, self.biases):
            h = F.max_pool2d(ReLU()(F.conv2d(h, k, b)))
        h = h.reshape(h.shape[0], -1)
        keep = Variable((rng.random(h.shape) >= 0.5).astype(np.float32) * np.float32(2))
        h = h * keep
        h = ReLU()(matmul(h, self.w1) + self.b1)
        z = matmul(h, self.w2) + self.b2
        loss = SigmoidBCE()(z, t)
        for p in self.params:
            p.cleargrad()
        loss.backward()
        with no_grad():
            for p, m in zip(self.params, self.ms):
                g = p.grad.data
                m *= np.float32(0.9)
                m += np.float32(0.1) * g * g
                p.data -= np.float32(1e-4) * g / (np.sqrt(m) + np.float32(1e-7))
        return float(loss.data)


def torch_net(channels_last):
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 32, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 64, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(64, 128, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(128, 128, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Dropout(0.5), torch.nn.Linear(6272, 512),
        torch.nn.ReLU(), torch.nn.Linear(512, 1), torch.nn.Sigmoid())
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    opt = torch.optim.RMSprop(net.parameters(), lr=1e-4, alpha=0.9, eps=1e-7)
    loss_fn = torch.nn.BCELoss()

    def step(x, t):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(x), t)
        loss.backward()
        opt.step()
        return loss.item()
    return step


def whole_step(repeat, rounds):
    rng = np.random.default_rng(0)
    x = rng.random((BATCH, 150, 150, 3), dtype=np.float32)
    t = (rng.random((BATCH, 1)) > 0.5).astype(np.float32)
    net = DZNet(rng)
    tx = torch.tensor(x.transpose(0, 3, 1, 2).copy())
    txcl = tx.to(memory_format=torch.channels_last)
    tt = torch.tensor(t)
    runners = {'deepzero': lambda: net.step(x, t, rng),
               'torch NCHW': (lambda s: lambda: s(tx, tt))(torch_net(False)),
               'torch channels_last': (lambda s: lambda: s(txcl, tt))(torch_net(True))}
    samples = {name: [] for name in runners}
    fault_counts = {name: [] for name in runners}
    for fn in runners.values():
        fn(); fn()
    for _ in range(rounds):  # alternate so that noise hits all alike
        for name, fn in runners.items():
            for _ in range(repeat):
                f0 = faults()
                t0 = time.perf_counter()
                fn()
                samples[name].append(time.perf_counter() - t0)
                fault_counts[name].append(faults() - f0)
    base = statistics.median(samples['torch NCHW'])
    for name, s in samples.items():
        med = statistics.median(s)
        print(f"{name:<22} median {med:.3f} s  (p25 {np.percentile(s, 25):.3f}, "
              f"p75 {np.percentile(s, 75):.3f})  vs torch NCHW {med / base:.2f}  "
              f"faults/step {int(statistics.median(fault_counts[name]))}")


if __name__ == '__main__':
    parser = argparse.ArgumentParser()
    parser.add_argument('--layers', action='store_true')
    parser.add_argument('--algorithms', action='store_true',
                        help='per-layer times of each conv algorithm (no torch)')
    parser.add_argument('--out', help='with --algorithms: write the table as JSON here')
    parser.add_argument('--accuracy', action='store_true',
                        help="each algorithm's float32 error against float64 (no torch)")
    parser.add_argument('--step', action='store_true')
    parser.add_argument('--repeat', type=int, default=5)
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--mallopt', action='store_true',
                        help='keep freed memory in the process via glibc mallopt')
    parser.add_argument('--no-pool', action='store_true', help='disable the workspace pool')
    args = parser.parse_args()
    if args.mallopt:
        import ctypes
        libc = ctypes.CDLL('libc.so.6')
        M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
        libc.mallopt(M_MMAP_THRESHOLD, 1 << 30)  # glibc caps it at 32 MiB on 64-bit (HEAP_MAX/2)
        libc.mallopt(M_TRIM_THRESHOLD, 16 << 30)
    if args.no_pool:
        from deepzero.core import workspace
        workspace.workspace.max_bytes = 0
    if args.accuracy:
        accuracy()
    if args.algorithms:
        per_algorithm(args.repeat, args.out)
    if args.accuracy or args.algorithms:
        sys.exit()
    if args.layers or not args.step:
        per_layer(args.repeat)
    if args.step or not args.layers:
        whole_step(args.repeat, args.rounds)
