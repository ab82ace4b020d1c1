"""``keras.datasets.reuters``: 11,228 newswires as word-index sequences, 46 topics."""
import json

import numpy as np

from .keras_cache import (TF_KERAS_DATASETS, cached_path, limit_words, load_npz,
                          prepare_sequences)

URL = TF_KERAS_DATASETS + 'reuters.npz'
WORD_INDEX_URL = TF_KERAS_DATASETS + 'reuters_word_index.json'
LABEL_NAMES = ('cocoa', 'grain', 'veg-oil', 'earn', 'acq', 'wheat', 'copper', 'housing',
               'money-supply', 'coffee', 'sugar', 'trade', 'reserves', 'ship', 'cotton',
               'carcass', 'crude', 'nat-gas', 'cpi', 'money-fx', 'interest', 'gnp',
               'meal-feed', 'alum', 'oilseed', 'gold', 'tin', 'strategic-metal', 'livestock',
               'retail', 'ipi', 'iron-steel', 'rubber', 'heat', 'jobs', 'lei', 'bop', 'zinc',
               'orange', 'pet-chem', 'dlr', 'gas', 'silver', 'wpi', 'hog', 'lead')


def load_data(path='reuters.npz', num_words=None, skip_top=0, maxlen=None, test_split=0.2,
              seed=113, start_char=1, oov_char=2, index_from=3):
    """((x_train, y_train), (x_test, y_test)) as Keras makes them from its
    cached ``reuters.npz``: the wires shuffled by ``np.random.RandomState(seed)``,
    processed as ``imdb.load_data`` describes, the last ``test_split`` for testing."""
    data = load_npz(cached_path([path], URL, 'reuters.load_data'))
    indices = np.arange(len(data['x']))
    np.random.RandomState(seed).shuffle(indices)
    xs, labels = prepare_sequences(data['x'][indices], data['y'][indices], maxlen, start_char,
                                   index_from)
    xs = limit_words(xs, num_words, skip_top, oov_char)
    split = int(len(xs) * (1 - test_split))
    return ((np.array(xs[:split], dtype='object'), np.array(labels[:split])),
            (np.array(xs[split:], dtype='object'), np.array(labels[split:])))


def get_word_index(path='reuters_word_index.json'):
    """{word: index} from Keras's cached ``reuters_word_index.json``."""
    with open(cached_path([path], WORD_INDEX_URL, 'reuters.get_word_index')) as f:
        return json.load(f)


def get_label_names():
    """The 46 topic names, in label order."""
    return LABEL_NAMES
