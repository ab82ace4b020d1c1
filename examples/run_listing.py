"""Run a book listing unattended: figures the listing shows are saved as PNGs,
its History is written as JSON, and the run's stdout is teed to a log.

    python examples/run_listing.py examples/listing_5_2_5_augmentation.py --out runs/5_2_5
        [--epochs N[,N...]] [--steps N] [--base auto|vgg16|squeezenet]

The listing itself is untouched. ``--epochs``/``--steps`` override the
listing's fit arguments (for a quick try); ``--epochs 10,5`` gives the first
fit 10 epochs and every later one 5. Files the listing saves (the .h5 model)
land in --out; the listing's folder is on ``sys.path``, as when Python runs it.

``--base`` picks the conv base that the section 5.3 listings' ``VGG16(...)``
call builds: 'auto' (default) keeps VGG16 when its weight file is cached and
uses SqueezeNet from ``$DEEPZERO_DATA/pretrained`` otherwise; see
``pretrained_base.py`` for how SqueezeNet stands in (its input convention,
output shape and layer names). Listings that build no VGG16 are unaffected.
"""
import argparse
import json
import os
import pathlib
import sys
import time

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402

import pretrained_base  # noqa: E402  (beside this script, so on sys.path)
from deepzero.models.trainer import Trainer  # noqa: E402


def epoch_counts(text):
    """'10' -> [10]; '10,5' -> [10, 5] (the last count serves every later fit)."""
    counts = [int(part) for part in text.split(',')]
    if any(n <= 0 for n in counts):
        raise argparse.ArgumentTypeError(f'epochs must be positive, got {text!r}')
    return counts


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('listing')
    parser.add_argument('--out', required=True)
    parser.add_argument('--epochs', type=epoch_counts)
    parser.add_argument('--steps', type=int)
    parser.add_argument('--base', default='auto', choices=('auto',) + pretrained_base.BASES)
    args = parser.parse_args()
    listing = pathlib.Path(args.listing).resolve()
    out = pathlib.Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault('DEEPZERO_DATA', str(listing.parent.parent.parent / 'shared' / 'data'))
    base = pretrained_base.resolve_base(args.base)
    print(f'conv base for VGG16(...) calls: {base}')

    shown = []

    def save_figures(*_, **__):
        for number in plt.get_fignums():
            path = out / f'figure_{len(shown) + 1:02d}.png'
            plt.figure(number).savefig(path, dpi=80)
            shown.append(path.name)
        plt.close('all')

    histories = []
    original_fit = Trainer.fit

    def fit(self, *fit_args, **kwargs):
        if args.epochs:
            kwargs['epochs'] = args.epochs[min(len(histories), len(args.epochs) - 1)]
        if args.steps:
            kwargs['steps_per_epoch'] = args.steps
            if kwargs.get('validation_steps'):
                kwargs['validation_steps'] = args.steps
        start = time.perf_counter()
        history = original_fit(self, *fit_args, **kwargs)
        history.params['seconds'] = time.perf_counter() - start
        histories.append(history)
        return history

    plt.show = save_figures
    Trainer.fit = fit
    source = pretrained_base.map_layer_names(listing.read_text(), base)
    sys.path.insert(0, str(listing.parent))
    cwd = os.getcwd()
    os.chdir(out)
    try:
        with pretrained_base.substituted(base, os.environ['DEEPZERO_DATA']):
            exec(compile(source, str(listing), 'exec'),
                 {'__name__': '__main__', '__file__': str(listing)})
    finally:
        os.chdir(cwd)
        Trainer.fit = original_fit
    summary = [{'history': h.history, 'epochs': len(h.epoch), 'seconds': h.params['seconds']}
               for h in histories]
    (out / 'history.json').write_text(json.dumps(summary, indent=1))
    print(f'figures: {shown}; history: {out / "history.json"}')


if __name__ == '__main__':
    main()
