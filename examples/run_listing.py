"""Run a book listing unattended: figures the listing shows are saved as PNGs,
its History is written as JSON, and the run's stdout is teed to a log.

    python examples/run_listing.py examples/listing_5_2_5_augmentation.py --out runs/5_2_5
        [--epochs N] [--steps N]

The listing itself is untouched. ``--epochs``/``--steps`` override the
listing's fit arguments (for a quick try); the documented runs use neither.
Files the listing saves (the .h5 model) land in --out.
"""
import argparse
import json
import os
import pathlib
import runpy
import time

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402

from deepzero.models.trainer import Trainer  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('listing')
    parser.add_argument('--out', required=True)
    parser.add_argument('--epochs', type=int)
    parser.add_argument('--steps', type=int)
    args = parser.parse_args()
    listing = pathlib.Path(args.listing).resolve()
    out = pathlib.Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault('DEEPZERO_DATA', str(listing.parent.parent.parent / 'shared' / 'data'))

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
            kwargs['epochs'] = args.epochs
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
    cwd = os.getcwd()
    os.chdir(out)
    try:
        runpy.run_path(str(listing), run_name='__main__')
    finally:
        os.chdir(cwd)
        Trainer.fit = original_fit
    summary = [{'history': h.history, 'epochs': len(h.epoch), 'seconds': h.params['seconds']}
               for h in histories]
    (out / 'history.json').write_text(json.dumps(summary, indent=1))
    print(f'figures: {shown}; history: {out / "history.json"}')


if __name__ == '__main__':
    main()
