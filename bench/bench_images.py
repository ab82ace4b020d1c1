"""Image pipeline speed, side by side with Keras 3's legacy ImageDataGenerator
(and PyTorch's grid_sample, the resampler torchvision.transforms.v2.RandomAffine
runs on tensors), in one process.

    python bench/bench_images.py [--rounds 5] [--data ../shared/data]

Workloads (the book's 5.2.5 augmentation: rotation 40, shifts 0.2, shear 0.2,
zoom 0.2, horizontal flip, fill 'nearest', rescale 1/255):
- augment: 200 images of 150x150x3 float32 drawn from a pool of 50 random
  images; per image ``standardize(random_transform(x))`` (what ``flow`` does),
  and the batched ``flow(x)`` pipeline (batch 32).
- directory: ``flow_from_directory`` over the full-resolution cats-and-dogs
  train split (JPEG decode, resize to 150x150 NEAREST, augmentation, batch 32,
  class_mode='binary'): 10 batches per call, files in the page cache.
- fit-wait: ``next()`` on the directory iterator with a simulated training step
  (a float32 matmul loop of ~0.25 s per batch) in between; reports the share
  of time the consumer waited for data.

Each round runs every variant once, in an order rotated per round; results are
medians. Writes bench/results/images.json (atomically) and prints a Markdown
table. OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are removed from this process's
environment (it re-executes itself) because they slow a current NumPy.
"""
import os
import sys

_OPENBLAS_VARS = ('OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE')
if any(v in os.environ for v in _OPENBLAS_VARS):
    env = {k: v for k, v in os.environ.items() if k not in _OPENBLAS_VARS}
    env['DEEPZERO_BENCH_UNSET_OPENBLAS'] = ','.join(
        f'{v}={os.environ[v]}' for v in _OPENBLAS_VARS if v in os.environ)
    os.execve(sys.executable, [sys.executable] + sys.argv, env)

import argparse  # noqa: E402  (after the re-exec, before NumPy loads)
import contextlib  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import pathlib  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

os.environ.setdefault('KERAS_BACKEND', 'torch')
REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from deepzero.preprocessing.image import (ImageDataGenerator, get_warp_backend,  # noqa: E402
                                          iterator)

BOOK_AUGMENTATION = dict(rotation_range=40, width_shift_range=0.2, height_shift_range=0.2,
                         shear_range=0.2, zoom_range=0.2, horizontal_flip=True,
                         fill_mode='nearest', rescale=1 / 255)
AUGMENT_IMAGES, BATCH = 200, 32
AUGMENT_BATCHES, DIRECTORY_BATCHES = 20, 12  # more than the prefetch queue (10)


def keras_generator_class():
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        from keras.src.legacy.preprocessing.image import ImageDataGenerator as KerasGenerator
    return KerasGenerator


# ------------------------------------------------------------- augment
def per_image(generator, pool):
    def run():
        for i in range(AUGMENT_IMAGES):
            generator.standardize(generator.random_transform(pool[i % len(pool)].copy()))
        return AUGMENT_IMAGES
    return run


def stream(make_iterator, batches, images_of=lambda batch: batch):
    """Time ``batches`` batches of a fresh iterator (made before the clock starts;
    a prefetching one starts its threads on the first ``next()``, so its queue
    starts empty) and close it, so no background work spills into other timings."""
    def run():
        with contextlib.redirect_stdout(io.StringIO()):  # "Found N images ..." each round
            it = make_iterator()
        run.start = time.perf_counter()
        count = sum(len(images_of(next(it))) for _ in range(batches))
        if hasattr(it, 'close'):  # Keras's iterators have no threads to stop
            it.close()
        return count
    return run


def torch_grid_sample(pool):
    """What torchvision.transforms.v2 RandomAffine + RandomHorizontalFlip do on a
    uint8 3x150x150 tensor: affine_grid + grid_sample (bilinear, zero fill) per
    image, then the flip, then /255 as float32."""
    import torch
    import torch.nn.functional as F
    images = [torch.from_numpy(np.ascontiguousarray(p.astype(np.uint8).transpose(2, 0, 1)))
              for p in pool]
    rng = np.random.default_rng(0)

    def run():
        with torch.inference_mode():
            for i in range(AUGMENT_IMAGES):
                angle = np.deg2rad(rng.uniform(-40, 40))
                shear = np.deg2rad(rng.uniform(-11.46, 11.46))
                scale = rng.uniform(0.8, 1.2)
                tx, ty = rng.uniform(-0.2, 0.2, 2) * 2
                a, b = np.cos(angle) / scale, -np.sin(angle + shear) / scale
                c, d = np.sin(angle) / scale, np.cos(angle + shear) / scale
                theta = torch.tensor([[[a, b, tx], [c, d, ty]]], dtype=torch.float32)
                x = images[i % len(images)].unsqueeze(0).float()
                grid = F.affine_grid(theta, x.shape, align_corners=False)
                out = F.grid_sample(x, grid, mode='bilinear', padding_mode='zeros',
                                    align_corners=False)
                if rng.random() < 0.5:
                    out = out.flip(-1)
                (out.round().clamp(0, 255).to(torch.uint8).float() / 255)
        return AUGMENT_IMAGES
    return run


# ------------------------------------------------------------- directory
def first(batch):
    return batch[0]


def warm_page_cache(folder):
    for path in pathlib.Path(folder).rglob('*.jpg'):
        path.read_bytes()


def simulated_fit_wait(make_iterator, steps=12, step_seconds=0.25):
    """Share of wall time a consumer spends waiting in next() when each training
    step takes ``step_seconds`` of CPU (float32 matmuls)."""
    a = np.random.default_rng(0).standard_normal((384, 384)).astype(np.float32)
    start = time.perf_counter()
    a @ a
    per_matmul = max(time.perf_counter() - start, 1e-4)
    matmuls = max(1, int(step_seconds / per_matmul))
    it = make_iterator()
    start = time.perf_counter()
    for _ in range(steps):
        next(it)
        for _ in range(matmuls):
            a @ a
    total = time.perf_counter() - start
    it.close()
    return {'steps': steps, 'wall_s': total, 'wait_s': it.stats.wait_seconds,
            'wait_share': it.stats.wait_seconds / total}


# ------------------------------------------------------------- driver
def measure(variants, rounds):
    samples = {name: [] for name in variants}
    names = list(variants)
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            run = variants[name]
            run.start = time.perf_counter()  # a stream() run restarts it after setup
            count = run()
            samples[name].append((time.perf_counter() - run.start, count))
    results = {}
    for name, runs in samples.items():
        seconds = statistics.median(s for s, _ in runs)
        count = runs[0][1]
        results[name] = {'median_s': seconds, 'images': count, 'images_per_s': count / seconds,
                         'all_s': [s for s, _ in runs]}
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--data', default=os.environ.get('DEEPZERO_DATA',
                                                         str(REPO.parent / 'shared' / 'data')))
    parser.add_argument('--out', default=str(REPO / 'bench' / 'results' / 'images.json'))
    args = parser.parse_args()
    unset = os.environ.get('DEEPZERO_BENCH_UNSET_OPENBLAS')
    print('OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset in this process'
          + (f' (were {unset})' if unset else ' (neither was set)'))
    import cv2
    workers = iterator.default_workers()
    print(f'warp backend: {get_warp_backend()} (OpenCV {cv2.__version__}, '
          f'{cv2.getNumThreads()} threads); prefetch workers: {workers}; '
          f'{os.cpu_count()} CPUs')

    KerasGenerator = keras_generator_class()
    pool = np.random.default_rng(0).uniform(0, 255, (50, 150, 150, 3)).astype(np.float32)
    ours, keras = ImageDataGenerator(**BOOK_AUGMENTATION), KerasGenerator(**BOOK_AUGMENTATION)
    augment = {
        'keras per image': per_image(keras, pool),
        'keras flow (batch 32)': stream(lambda: keras.flow(pool, batch_size=BATCH, seed=0),
                                        AUGMENT_BATCHES // 2),
        'torch grid_sample (torchvision v2 RandomAffine path)': torch_grid_sample(pool),
        'deepzero per image': per_image(ours, pool),
        'deepzero flow, workers=0': stream(
            lambda: ours.flow(pool, batch_size=BATCH, seed=0, workers=0), AUGMENT_BATCHES),
        f'deepzero flow, workers={workers}': stream(
            lambda: ours.flow(pool, batch_size=BATCH, seed=0, workers=workers), AUGMENT_BATCHES),
    }
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)
        results = {'augment': measure(augment, args.rounds)}

    train_dir = pathlib.Path(args.data) / 'cats_and_dogs_small_fullres' / 'train'
    if train_dir.is_dir():
        warm_page_cache(train_dir)
        flow_args = dict(target_size=(150, 150), batch_size=BATCH, class_mode='binary', seed=0)
        directory = {
            'keras flow_from_directory': stream(
                lambda: keras.flow_from_directory(str(train_dir), **flow_args),
                DIRECTORY_BATCHES // 3, images_of=first),
            'deepzero flow_from_directory, workers=0': stream(
                lambda: ours.flow_from_directory(train_dir, workers=0, **flow_args),
                DIRECTORY_BATCHES, images_of=first),
            f'deepzero flow_from_directory, workers={workers}': stream(
                lambda: ours.flow_from_directory(train_dir, workers=workers, **flow_args),
                DIRECTORY_BATCHES, images_of=first),
        }
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', DeprecationWarning)
            results['directory'] = measure(directory, args.rounds)
            results['fit_wait'] = simulated_fit_wait(
                lambda: ours.flow_from_directory(train_dir, workers=workers, **flow_args))
    else:
        print(f'skipping the directory workloads: {train_dir} not found')

    report = {'machine': {'cpus': os.cpu_count(), 'platform': platform.platform(),
                          'python': platform.python_version(), 'numpy': np.__version__,
                          'opencv': cv2.__version__},
              'openblas_env_unset': unset or '', 'warp_backend': get_warp_backend(),
              'workers': workers, 'rounds': args.rounds, 'results': results}
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile('w', dir=out.parent, suffix='.tmp', delete=False) as f:
        json.dump(report, f, indent=2)
    os.replace(f.name, out)
    print(markdown_table(results))
    print(f'written: {out}')


def markdown_table(results):
    lines = ['| workload | variant | images/s | vs Keras |', '|---|---|---|---|']
    for workload, keras_name in (('augment', 'keras per image'),
                                 ('directory', 'keras flow_from_directory')):
        if workload not in results:
            continue
        base = results[workload][keras_name]['images_per_s']
        for name, row in results[workload].items():
            lines.append(f"| {workload} | {name} | {row['images_per_s']:,.0f} | "
                         f"{row['images_per_s'] / base:.1f}x |")
    if 'fit_wait' in results:
        wait = results['fit_wait']
        step = wait['wall_s'] / wait['steps']
        lines.append(f"| fit-wait | {wait['steps']} simulated train steps of {step:.2f} s, "
                     f"prefetching | waited {100 * wait['wait_share']:.1f}% of the time | |")
    return '\n'.join(lines)


if __name__ == '__main__':
    main()
