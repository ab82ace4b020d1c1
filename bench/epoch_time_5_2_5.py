"""Epoch time of listing 5.2.5's setup: deepzero.keras against Keras 3 on TensorFlow, one run.

    bash bench/setup_keras_tf.sh     # once: Keras/TF's environment, .venv-bench-tf/
    python bench/epoch_time_5_2_5.py [--rounds 5] [--epochs 3] [--warmup 1] [--data FOLDER]
                                     [--frameworks deepzero_keras,keras_tf] [--out epoch_5_2_5]

The setup: the augmentation + dropout convnet (bench/workloads_keras.py's
book_convnet), RMSprop lr 1e-4, ``flow_from_directory`` at batch 32 on
cats_and_dogs_small (under --data: $DEEPZERO_DATA, or ../shared/data beside the
repository), the same code for both frameworks with only the imports changed.
An epoch is one pass over the images for both: 63 training steps (2000 images,
the last batch 16) and 32 validation steps (1000 images), the iterators' lengths.
The listing's 100 + 50 steps are more than one pass, which Keras 3 cuts short;
and 62 + 31 steps (a pass less one batch, as this script ran before) leave
Keras 3's iterator one batch into its pass, so that its every second epoch
runs that one batch and stops ("Your input ran out of data"), while deepzero
(like Keras 2) carries on into the next pass.

Each round runs every framework once, each in a fresh process (Keras/TF in
.venv-bench-tf/'s Python), in an order rotated per round; each process fits
--epochs epochs. The first --warmup epochs (default 1: TensorFlow's tracing, the
first allocations) are timed apart; the medians are over the later epochs of all
rounds. On this machine many of Keras/TF's later epochs take 10-18 s longer
than the others, in their first step as far as measured (the JSON keeps every
epoch's first step); they count, as they do for its users, and min..max shows
its epochs without that. OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are removed from the runs'
environment, as in bench/run.py. Results: bench/results/OUT.json (every epoch's
time and its first step's, each run's peak RSS) and bench/results/OUT.md, the
table also printed at the end.
"""
import argparse
import json
import os
import pathlib
import resource
import statistics
import subprocess
import sys
import tempfile
import time

from harness import (REPO, environment, int_at_least, names_from, python_for, rotated,
                     write_results)

FRAMEWORKS = ['deepzero_keras', 'keras_tf']
BASELINE = 'keras_tf'


def main():
    args = parse_args()
    if args.run:
        fit_and_report(args.run, args.epochs, args.data, args.report)
        return
    images = args.data / 'cats_and_dogs_small'
    if not (images / 'train').is_dir() or not (images / 'validation').is_dir():
        raise SystemExit(f'--data: {images} has no train/ and validation/ folders '
                         '(set DEEPZERO_DATA or --data to the folder holding cats_and_dogs_small/)')
    for fw in args.frameworks:
        python_for(fw)  # a missing environment stops the run here, in one line
    print('OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset in the benchmark runs.')
    results = {'rounds': args.rounds, 'epochs': args.epochs, 'warmup': args.warmup,
               'loadavg_start': os.getloadavg(),
               'runs': {fw: [] for fw in args.frameworks}}
    for r in range(args.rounds):
        for fw in rotated(args.frameworks, r):
            results['runs'][fw].append(run_one(fw, args.epochs, args.data))
        print(f'round {r + 1}/{args.rounds} done', file=sys.stderr)
    results['loadavg_end'] = os.getloadavg()
    results['summary'] = summarise(results['runs'], args.warmup)
    table = render(results)
    print(table)
    write_results(args.out, results, table)


def parse_args():
    default_data = os.environ.get('DEEPZERO_DATA', REPO.parent / 'shared' / 'data')
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--rounds', type=int_at_least(1), default=5)
    parser.add_argument('--epochs', type=int_at_least(2), default=3,
                        help='epochs per run, more than --warmup')
    parser.add_argument('--warmup', type=int_at_least(1), default=1,
                        help='the first epochs of each run, timed apart and left out of the '
                             'medians (default 1: tracing, first allocations)')
    parser.add_argument('--frameworks', default=FRAMEWORKS, type=names_from(FRAMEWORKS))
    parser.add_argument('--data', type=pathlib.Path, default=pathlib.Path(default_data),
                        help='folder holding cats_and_dogs_small/ (default: $DEEPZERO_DATA '
                             'or ../shared/data beside the repository)')
    parser.add_argument('--out', default='epoch_5_2_5',
                        help='results name: bench/results/OUT.json and OUT.md')
    # One framework's fit, in the process that the driver starts for it.
    parser.add_argument('--run', choices=FRAMEWORKS, help=argparse.SUPPRESS)
    parser.add_argument('--report', type=pathlib.Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.epochs <= args.warmup:
        parser.error(f'argument --epochs: must be more than --warmup ({args.warmup}), '
                     f'not {args.epochs}')
    return args


def run_one(framework, epochs, data):
    """Fit ``epochs`` epochs of ``framework`` in a fresh process; returns its report."""
    with tempfile.TemporaryDirectory() as tmp:
        report = pathlib.Path(tmp) / 'report.json'
        done = subprocess.run([python_for(framework), __file__, '--run', framework,
                               '--epochs', str(epochs), '--data', str(data),
                               '--report', str(report)],
                              env=environment(framework))
        if done.returncode != 0:
            raise SystemExit(f'the {framework} run exited with status {done.returncode} '
                             '(its error is above)')
        return json.loads(report.read_text())


def fit_and_report(framework, epochs, data, report):
    """The child's side: the listing's fit, each epoch timed; writes ``report``."""
    from workloads_keras import book_convnet, configure_tensorflow
    if framework == 'keras_tf':
        configure_tensorflow()
        import keras
        # Keras 3 exports ImageDataGenerator only as tf.keras.preprocessing.image's,
        # which is this class.
        from keras.src.legacy.preprocessing.image import ImageDataGenerator
    else:
        import deepzero.keras as keras
        from deepzero.keras.preprocessing.image import ImageDataGenerator

    class EpochTimer(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.seconds = []

            self.first_step_seconds = []

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()
            self.first_step_seconds.append(None)

        def on_train_batch_end(self, batch, logs=None):
            if self.first_step_seconds[-1] is None:
                self.first_step_seconds[-1] = time.perf_counter() - self.start

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self.start)
            print(f'{framework} epoch {epoch + 1}: {self.seconds[-1]:.1f} s '
                  f'(first step {self.first_step_seconds[-1]:.2f} s)', flush=True)

    model = book_convnet(keras)
    model.compile(loss='binary_crossentropy', metrics=['acc'],
                  optimizer=keras.optimizers.RMSprop(learning_rate=1e-4))
    augment = dict(rotation_range=40, width_shift_range=0.2, height_shift_range=0.2,
                   shear_range=0.2, zoom_range=0.2, horizontal_flip=True)
    flow = dict(target_size=(150, 150), batch_size=32, class_mode='binary')
    images = data / 'cats_and_dogs_small'
    train = ImageDataGenerator(rescale=1 / 255, **augment).flow_from_directory(
        str(images / 'train'), **flow)
    val = ImageDataGenerator(rescale=1 / 255).flow_from_directory(
        str(images / 'validation'), **flow)
    timer = EpochTimer()
    history = model.fit(train, steps_per_epoch=len(train), epochs=epochs, validation_data=val,
                        validation_steps=len(val), callbacks=[timer], verbose=2)
    report.write_text(json.dumps({
        'framework': framework, 'epoch_s': timer.seconds,
        'first_step_s': timer.first_step_seconds,
        'steps_per_epoch': len(train), 'validation_steps': len(val),
        'max_rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        'history': {k: [float(v) for v in vs] for k, vs in history.history.items()}}))


def summarise(runs, warmup):
    """{framework: medians over epochs warmup + 1.. of all runs, each warm-up epoch's median,
    the steps, the peak RSS}."""
    summary = {}
    for fw, reports in runs.items():
        measured = [s for rep in reports for s in rep['epoch_s'][warmup:]]
        steps = {f"{rep['steps_per_epoch']} + {rep['validation_steps']}" for rep in reports}
        summary[fw] = {'steps': ', '.join(sorted(steps)),
                       'median_epoch_s': statistics.median(measured),
                       'min_epoch_s': min(measured), 'max_epoch_s': max(measured),
                       'measured_epochs': len(measured),
                       'median_warmup_epoch_s': [
                           statistics.median(rep['epoch_s'][e] for rep in reports)
                           for e in range(warmup)],
                       'max_rss_mb': max(rep['max_rss_mb'] for rep in reports)}
    return summary


def render(results):
    """The Markdown table of ``results`` (as main() saves them)."""
    summary = results['summary']
    base = summary.get(BASELINE, {}).get('median_epoch_s')
    warmup = ('epoch 1 is' if results['warmup'] == 1 else
              f"epochs 1-{results['warmup']} are")
    lines = ['Listing 5.2.5 epochs (training + validation steps of 32 augmented images): '
             f"{results['rounds']} rounds x {results['epochs']} epochs per framework, "
             f"alternating; medians of epochs {results['warmup'] + 1}.. ({warmup} the "
             'warm-up, timed apart). '
             'Load average at start / end: '
             f"{results['loadavg_start'][0]:.2f} / {results['loadavg_end'][0]:.2f}.",
             '', '| framework | steps | median epoch s | min..max | epochs measured '
             '| warm-up epochs s (medians) | vs Keras/TF | peak RSS MB |',
             '|---|---|---|---|---|---|---|---|']
    for fw, s in summary.items():
        ratio = f"{s['median_epoch_s'] / base:.2f}" if base else '-'
        lines.append(f"| {fw} | {s['steps']} | {s['median_epoch_s']:.1f} | {s['min_epoch_s']:.1f}.."
                     f"{s['max_epoch_s']:.1f} | {s['measured_epochs']} | "
                     f"{', '.join(f'{e:.1f}' for e in s['median_warmup_epoch_s'])} | {ratio} | "
                     f"{s['max_rss_mb']:.0f} |")
    return '\n'.join(lines) + '\n'


if __name__ == '__main__':
    main()
