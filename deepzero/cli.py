"""The ``deepzero`` command: ``deepzero demo`` and ``deepzero datasets ...``."""
import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog='deepzero', description='deepzero command line')
    sub = parser.add_subparsers(dest='command', required=True)

    demo = sub.add_parser('demo', help="train the book's convnet with data augmentation")
    demo.add_argument('--data', help='image folder (train/ and validation/ class folders, or '
                                     'class folders only); default: a generated dataset')
    demo.add_argument('--epochs', type=int, default=5, help='training epochs (default 5)')
    demo.add_argument('--out', default='deepzero-demo',
                      help='folder for the curves PNG and the model file')
    demo.add_argument('--seed', type=int, default=0)

    datasets = sub.add_parser('datasets', help='prepare datasets')
    dsub = datasets.add_subparsers(dest='dataset', required=True)
    cats = dsub.add_parser('cats-dogs-small',
                           help="make the book's 1000/500/500 split from Kaggle cat.N.jpg / "
                                'dog.N.jpg files')
    cats.add_argument('source', help='folder holding cat.N.jpg and dog.N.jpg')
    cats.add_argument('dest', help='folder to create train/ validation/ test/ in')

    args = parser.parse_args(argv)
    if args.command == 'demo':
        from .demo import run_demo
        return run_demo(data=args.data, epochs=args.epochs, out=args.out, seed=args.seed)
    if args.command == 'datasets':
        from .datasets import make_cats_dogs_small
        counts = make_cats_dogs_small(args.source, args.dest)
        for split, per_class in counts.items():
            print(f'{split}: ' + ', '.join(f'{n} {name}' for name, n in per_class.items()))
        return 0


if __name__ == '__main__':
    sys.exit(main())
