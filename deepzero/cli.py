"""The ``deepzero`` command: ``deepzero demo`` (``--transfer``: the book's section 5.3)
and ``deepzero datasets ...``."""
import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog='deepzero', description='deepzero command line')
    sub = parser.add_subparsers(dest='command', required=True)

    demo = sub.add_parser('demo', help="train the book's convnet with data augmentation")
    demo.add_argument('--data', help='image folder (train/ and validation/ class folders, or '
                                     'class folders only); default: a generated dataset')
    demo.add_argument('--epochs', type=int,
                      help='training epochs (default 5; with --transfer, epochs of the '
                           'classifier on the features, default 30)')
    demo.add_argument('--out', help='folder for the curves PNG and the model file (default '
                                    'deepzero-demo, with --transfer deepzero-transfer-demo)')
    demo.add_argument('--seed', type=int, default=0)
    demo.add_argument('--transfer', action='store_true',
                      help="section 5.3 instead: fast feature extraction with a pretrained "
                           "SqueezeNet (cached features), then fine-tuning")
    demo.add_argument('--weights', help='with --transfer: the SqueezeNet notop weight file '
                                        '(default: the caches, else a download)')
    demo.add_argument('--fine-tune-epochs', type=int, default=3,
                      help='with --transfer: fine-tuning epochs (default 3)')

    datasets = sub.add_parser('datasets', help='prepare datasets')
    dsub = datasets.add_subparsers(dest='dataset', required=True)
    cats = dsub.add_parser('cats-dogs-small',
                           help="make the book's 1000/500/500 split from Kaggle cat.N.jpg / "
                                'dog.N.jpg files')
    cats.add_argument('source', help='folder holding cat.N.jpg and dog.N.jpg')
    cats.add_argument('dest', help='folder to create train/ validation/ test/ in')

    args = parser.parse_args(argv)
    if args.command == 'demo' and args.transfer:
        from .applications.weights import WeightsUnavailableError
        from .demo_transfer import run_transfer_demo
        try:
            run_transfer_demo(data=args.data, weights=args.weights,
                              epochs=args.epochs or 30, fine_tune_epochs=args.fine_tune_epochs,
                              out=args.out or 'deepzero-transfer-demo', seed=args.seed)
        except (WeightsUnavailableError, FileNotFoundError) as error:
            print(f'deepzero demo --transfer: {error}', file=sys.stderr)
            return 1
        return 0
    if args.command == 'demo':
        if args.weights:
            parser.error('--weights needs --transfer')
        from .demo import run_demo
        return run_demo(data=args.data, epochs=args.epochs or 5, out=args.out or 'deepzero-demo',
                        seed=args.seed)
    if args.command == 'datasets':
        from .datasets import make_cats_dogs_small
        counts = make_cats_dogs_small(args.source, args.dest)
        for split, per_class in counts.items():
            print(f'{split}: ' + ', '.join(f'{n} {name}' for name, n in per_class.items()))
        return 0


if __name__ == '__main__':
    sys.exit(main())
