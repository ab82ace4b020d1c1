"""The ``deepzero`` command: ``deepzero demo`` (``--transfer``: the book's section 5.3)
and ``deepzero datasets ...``.

Mistakes in what the user gave (a missing folder, a data layout the demos do
not read, an image that does not decode, an existing destination, weights
neither cached nor downloadable)
print one line, ``deepzero <command>: <what is wrong and what to do>``, and
exit with status 2, as argparse does for a bad option. Anything else is a bug
and keeps its traceback.
"""
import argparse
import sys

from . import __version__
from .demo import DataLayoutError
from .preprocessing.image import UnreadableImageError


def int_at_least(low):
    """argparse type: an int >= ``low`` (0 epochs would train nothing and
    report nothing; a seed is never negative)."""
    def parse(text):
        value = int(text)
        if value < low:
            raise argparse.ArgumentTypeError(f'must be at least {low}, got {value}')
        return value
    parse.__name__ = 'int'   # argparse's "invalid int value: 'x'"
    return parse


def build_parser():
    parser = argparse.ArgumentParser(prog='deepzero', description='deepzero command line')
    parser.add_argument('--version', action='version', version=f'deepzero {__version__}')
    sub = parser.add_subparsers(dest='command', required=True)

    demo = sub.add_parser('demo', help="train the book's convnet with data augmentation")
    demo.add_argument('--data', metavar='DIR',
                      help='image folder: train/ and validation/ (or val/) class folders, '
                           'or class folders only; 2 classes (default: a dataset generated '
                           'in ~/.deepzero/datasets)')
    demo.add_argument('--epochs', type=int_at_least(1), metavar='N',
                      help='training epochs (default 5; with --transfer, epochs of the '
                           'classifier on the features, default 30)')
    demo.add_argument('--out', metavar='DIR',
                      help='folder for the curves PNG and the model file (default '
                           'deepzero-demo, with --transfer deepzero-transfer-demo)')
    demo.add_argument('--seed', type=int_at_least(0), default=0, metavar='N',
                      help='seed of the weight initialization, shuffling and augmentation '
                           '(default 0)')
    demo.add_argument('--transfer', action='store_true',
                      help="section 5.3 instead: fast feature extraction with a pretrained "
                           "SqueezeNet (cached features), then fine-tuning")
    demo.add_argument('--weights', metavar='PATH',
                      help='with --transfer: the SqueezeNet notop weight file '
                           '(default: the caches, else a download)')
    demo.add_argument('--fine-tune-epochs', type=int_at_least(1), default=3, metavar='N',
                      help='with --transfer: fine-tuning epochs (default 3)')

    datasets = sub.add_parser('datasets', help='prepare datasets')
    dsub = datasets.add_subparsers(dest='dataset', required=True)
    cats = dsub.add_parser('cats-dogs-small',
                           help="make the book's 1000/500/500 split from Kaggle cat.N.jpg / "
                                'dog.N.jpg files')
    cats.add_argument('source', help='folder holding cat.N.jpg and dog.N.jpg')
    cats.add_argument('dest', help='folder to create train/ validation/ test/ in (must not '
                                   'exist, or be empty)')
    return parser


def main(argv=None):
    """Run the command; returns the exit status (argparse exits by itself
    on a bad option, ``--help`` and ``--version``)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == 'demo' and args.weights and not args.transfer:
        parser.error('--weights needs --transfer')
    try:
        return run(args)
    # The user's mistakes: OSError covers missing and existing files and
    # weights that are not available (WeightsUnavailableError).
    except (OSError, DataLayoutError) as error:
        print(f'deepzero {args.command}: {error}', file=sys.stderr)
        return 2
    except UnreadableImageError as error:
        print(f'deepzero {args.command}: {error}; remove or replace the file', file=sys.stderr)
        return 2


def run(args):
    if args.command == 'demo' and args.transfer:
        from .demo_transfer import run_transfer_demo
        run_transfer_demo(data=args.data, weights=args.weights, epochs=args.epochs or 30,
                          fine_tune_epochs=args.fine_tune_epochs,
                          out=args.out or 'deepzero-transfer-demo', seed=args.seed)
        return 0
    if args.command == 'demo':
        from .demo import run_demo
        return run_demo(data=args.data, epochs=args.epochs or 5, out=args.out or 'deepzero-demo',
                        seed=args.seed)
    from .datasets import make_cats_dogs_small
    counts = make_cats_dogs_small(args.source, args.dest)
    for split, per_class in counts.items():
        print(f'{split}: ' + ', '.join(f'{n} {name}' for name, n in per_class.items()))
    return 0


if __name__ == '__main__':
    sys.exit(main())
