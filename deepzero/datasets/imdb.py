"""``keras.datasets.imdb``: 50,000 movie reviews as word-index sequences."""
import json

import numpy as np

from .keras_cache import (TF_KERAS_DATASETS, cached_path, limit_words, load_npz,
                          prepare_sequences)

URL = TF_KERAS_DATASETS + 'imdb.npz'
WORD_INDEX_URL = TF_KERAS_DATASETS + 'imdb_word_index.json'


def load_data(path='imdb.npz', num_words=None, skip_top=0, maxlen=None, seed=113, start_char=1,
              oov_char=2, index_from=3):
    """((x_train, y_train), (x_test, y_test)) as Keras makes them from its
    cached ``imdb.npz``: object arrays of lists of word indices, int labels.

    Args (Keras's): num_words: keep the most frequent words (indices below
    num_words, after the shift); skip_top: also drop the most frequent ones;
    maxlen: drop reviews of maxlen words or more; seed: the shuffle of each
    split (``np.random.RandomState``); start_char: index put first (None:
    none); oov_char: index of dropped words (None: remove them); index_from:
    shift of real word indices.
    """
    data = load_npz(cached_path([path], URL, 'imdb.load_data'))
    rng = np.random.RandomState(seed)
    splits = []
    for x_key, y_key in (('x_train', 'y_train'), ('x_test', 'y_test')):
        indices = np.arange(len(data[x_key]))
        rng.shuffle(indices)
        splits.append(prepare_sequences(data[x_key][indices], data[y_key][indices], maxlen,
                                        start_char, index_from))
    (x_train, labels_train), (x_test, labels_test) = splits
    if maxlen and (not x_train or not x_test):
        raise ValueError(f'imdb.load_data: no review is shorter than maxlen={maxlen}; '
                         'increase maxlen')
    xs = limit_words(x_train + x_test, num_words, skip_top, oov_char)
    labels = np.concatenate([labels_train, labels_test])
    split = len(x_train)
    return ((np.array(xs[:split], dtype='object'), labels[:split]),
            (np.array(xs[split:], dtype='object'), labels[split:]))


def get_word_index(path='imdb_word_index.json'):
    """{word: index} from Keras's cached ``imdb_word_index.json``."""
    with open(cached_path([path], WORD_INDEX_URL, 'imdb.get_word_index')) as f:
        return json.load(f)
