"""Shrink a figure saved by run_listing.py into a small PNG for docs/images:
the white margin cropped, at most ``--width`` pixels wide, in a palette of
``--colors`` colours.

    python examples/docs_picture.py runs/5_4_2/figure_03.png docs/images/filters_fire3.png
"""
import argparse

import numpy as np
from PIL import Image


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('figure')
    parser.add_argument('out')
    parser.add_argument('--width', type=int, default=720)
    parser.add_argument('--colors', type=int, default=128)
    args = parser.parse_args()
    image = Image.open(args.figure).convert('RGB')
    ink = np.argwhere(np.asarray(image).min(axis=2) < 250)
    if len(ink):
        (top, left), (bottom, right) = ink.min(axis=0), ink.max(axis=0) + 1
        image = image.crop((int(left), int(top), int(right), int(bottom)))
    if image.width > args.width:
        image = image.resize((args.width, round(image.height * args.width / image.width)),
                             Image.LANCZOS)
    image.quantize(args.colors).save(args.out, optimize=True)


if __name__ == '__main__':
    main()
