"""``deepzero demo --transfer``: the book's section 5.3 with SqueezeNet, small and quick.

1. Fast feature extraction: the pretrained SqueezeNet conv base (v1.1: 150x150
   inputs -> (8, 8, 512), then a 2x2 max pooling 'pool9' -> (4, 4, 512),
   VGG16's output shape, as the section 5.3 listings' SqueezeNet stand-in in
   examples/pretrained_base.py) runs once over the training and validation
   images, with ``predict``'s progress bar. The features are cached on disk
   (:mod:`deepzero.applications.feature_cache`), so a second run skips this.
2. A classifier -- the book's Flatten, Dense(256, relu), Dropout(0.5),
   Dense(1, sigmoid) -- is trained on the features (RMSprop 2e-5, batch 20).
3. Fine-tuning: the trained classifier is put on top of the conv base; the
   base is frozen up to its last fire module (the book unfreezes VGG16's last
   block from 'block5_conv1'; here from 'fire9_squeeze1x1') and the whole is
   trained on augmented images at RMSprop 1e-5 (the book's settings).

Images are given SqueezeNet's input convention (Caffe: BGR, 0..255 minus its
channel means) through ``ImageDataGenerator(preprocessing_function=
squeezenet.preprocess_input)`` instead of the book's ``rescale=1./255``.

Data: the generated stripes dataset of ``deepzero demo`` by default, or
``--data DIR`` with ``train/`` and ``validation/`` (or ``val/``) class folders,
and optionally ``test/`` (evaluated at the end), or class folders only (20%
held out for validation): ``deepzero.demo.split_folders``, the rule of both
demos. Weights: ``--weights PATH`` (the keras-squeezenet notop file), else
Keras's or deepzero's cache, else a download; offline and not cached, a
``WeightsUnavailableError`` names the file and where to put it.
"""
import os
import pathlib
import time

IMAGE_SIZE = (150, 150)
FIRST_FINE_TUNED_LAYER = 'fire9_squeeze1x1'
AUGMENTATION = dict(rotation_range=40, width_shift_range=0.2, height_shift_range=0.2,
                    shear_range=0.2, zoom_range=0.2, horizontal_flip=True, fill_mode='nearest')


def default_cache_dir():
    """``$DEEPZERO_HOME/features`` (default ``~/.deepzero/features``)."""
    home = os.environ.get('DEEPZERO_HOME') or os.path.join(os.path.expanduser('~'),
                                                          '.deepzero')
    return os.path.join(home, 'features')


def load_conv_base(weights=None):
    """SqueezeNet's notop conv base at 150x150 and a 2x2 max pooling ('pool9'),
    (4, 4, 512) features; weights from ``weights`` (a path) or, when None,
    from the caches or a download."""
    from .applications import SqueezeNet
    from .applications.squeezenet import WEIGHTS_FILE_NO_TOP
    from .applications.weights import WeightsUnavailableError
    from .layers import MaxPooling2D
    from .models import Functional
    if weights is not None and not os.path.isfile(weights):
        raise FileNotFoundError(f"--weights: no file at {weights}; give the path of "
                                f"{WEIGHTS_FILE_NO_TOP.name}, or leave --weights out to use the "
                                "caches or a download")
    try:
        base = SqueezeNet(include_top=False, weights=weights or 'imagenet',
                          input_shape=IMAGE_SIZE + (3,))
    except WeightsUnavailableError as error:
        raise WeightsUnavailableError(f"{error} Or pass its path with --weights PATH.") \
            from error
    features = MaxPooling2D((2, 2), name='pool9')(base.output)
    return Functional(base.input, features, name='squeezenet')


def iterators(data_dir, batch_size, seed):
    """Iterators with SqueezeNet's preprocessing: 'features_train' and
    'validation' in file order, 'augmented_train' (the book's augmentation,
    shuffled), and 'test' (None without a test folder)."""
    from .applications.squeezenet import preprocess_input
    from .demo import split_folders
    from .preprocessing.image import ImageDataGenerator
    flow = dict(target_size=IMAGE_SIZE, batch_size=batch_size, class_mode='binary', seed=seed)
    folders = split_folders(data_dir)
    if folders is not None:
        plain = ImageDataGenerator(preprocessing_function=preprocess_input)
        augmenting = ImageDataGenerator(preprocessing_function=preprocess_input, **AUGMENTATION)
        sources = {name: (folders[name], {}) for name in ('train', 'validation')}
    else:
        plain = ImageDataGenerator(preprocessing_function=preprocess_input,
                                   validation_split=0.2)
        augmenting = ImageDataGenerator(preprocessing_function=preprocess_input,
                                        validation_split=0.2, **AUGMENTATION)
        sources = {'train': (data_dir, {'subset': 'training'}),
                   'validation': (data_dir, {'subset': 'validation'})}
    train_dir, train_subset = sources['train']
    validation_dir, validation_subset = sources['validation']
    result = {
        'features_train': plain.flow_from_directory(train_dir, shuffle=False, **train_subset,
                                                    **flow),
        'augmented_train': augmenting.flow_from_directory(train_dir, **train_subset, **flow),
        'validation': plain.flow_from_directory(validation_dir, shuffle=False,
                                                **validation_subset, **flow),
        'test': None,
    }
    if folders is not None and folders['test'] is not None:
        result['test'] = plain.flow_from_directory(folders['test'], shuffle=False, **flow)
    return result


def classifier(feature_shape):
    """The book's densely connected classifier on flattened features."""
    from .keras import layers, models
    return models.Sequential([
        layers.Input(shape=feature_shape),
        layers.Flatten(),
        layers.Dense(256, activation='relu'),
        layers.Dropout(0.5),
        layers.Dense(1, activation='sigmoid'),
    ])


def unfreeze_from(conv_base, name):
    """The book's fine-tuning loop: layers from ``name`` on train, those before do not."""
    conv_base.trainable = True
    set_trainable = False
    for layer in conv_base.layers:
        if layer.name == name:
            set_trainable = True
        layer.trainable = set_trainable


def run_transfer_demo(data=None, weights=None, epochs=30, fine_tune_epochs=3,
                      out='deepzero-transfer-demo', batch_size=20, seed=0, cache_dir=None):
    """Run the three stages (see the module docstring).

    Args:
        data: image folder; None for the generated stripes dataset.
        weights: path of the SqueezeNet notop weight file; None looks in the
            caches and downloads.
        epochs: epochs of the classifier on the cached features.
        fine_tune_epochs: epochs of fine-tuning on augmented images.
        out: folder for the curves PNGs and the model file.
        batch_size, seed: of the image iterators (and ``set_random_seed`` for
            the layers' initializers and dropout).
        cache_dir: feature cache folder (default ``default_cache_dir()``).

    Returns:
        dict with 'val_acc' (after the classifier), 'fine_tuned_val_acc',
        'test_acc' (None without a test folder) and 'seconds' per stage.
    """
    from .applications.feature_cache import extract_features
    from .demo import default_data_dir, describe_device, output_folder
    from .keras import models, optimizers
    from .utils import set_random_seed

    set_random_seed(seed)
    data_dir = pathlib.Path(data) if data else default_data_dir()
    print(f"deepzero demo --transfer: the book's section 5.3 with SqueezeNet on {data_dir}")
    print(describe_device())
    batches = iterators(data_dir, batch_size, seed)
    conv_base = load_conv_base(weights)
    seconds = {}

    print('1. fast feature extraction (the conv base runs once per image; cached)')
    start = time.perf_counter()
    cache_dir = default_cache_dir() if cache_dir is None else cache_dir
    train_features, train_labels = extract_features(conv_base, batches['features_train'],
                                                    cache_dir=cache_dir)
    validation_features, validation_labels = extract_features(conv_base, batches['validation'],
                                                              cache_dir=cache_dir)
    seconds['features'] = time.perf_counter() - start

    print(f'2. the classifier on the {train_features.shape[1:]} features')
    start = time.perf_counter()
    head = classifier(train_features.shape[1:])
    head.compile(optimizer=optimizers.RMSprop(learning_rate=2e-5),
                 loss='binary_crossentropy', metrics=['acc'])
    head_history = head.fit(train_features, train_labels, epochs=epochs, batch_size=20,
                            validation_data=(validation_features, validation_labels),
                            verbose=2)
    seconds['classifier'] = time.perf_counter() - start

    print(f'3. fine-tuning from {FIRST_FINE_TUNED_LAYER} on augmented images')
    start = time.perf_counter()
    model = models.Sequential([conv_base] + head.layers)
    unfreeze_from(conv_base, FIRST_FINE_TUNED_LAYER)
    model.compile(loss='binary_crossentropy', optimizer=optimizers.RMSprop(learning_rate=1e-5),
                  metrics=['acc'])
    fine_history = model.fit(batches['augmented_train'], epochs=fine_tune_epochs,
                             validation_data=batches['validation'])
    seconds['fine_tuning'] = time.perf_counter() - start

    test_acc = None
    if batches['test'] is not None:
        _, test_acc = model.evaluate(batches['test'], verbose=0)
    with output_folder(out) as out:
        model.save(out / 'model.h5')
        curves = _save_curves({'features': head_history, 'fine_tuning': fine_history}, out)
    results = {'val_acc': head_history.history['val_acc'][-1],
               'fine_tuned_val_acc': fine_history.history['val_acc'][-1],
               'test_acc': test_acc, 'seconds': seconds}
    print(f"done in {sum(seconds.values()):.0f}s (features {seconds['features']:.0f}s, "
          f"classifier {seconds['classifier']:.0f}s, fine-tuning "
          f"{seconds['fine_tuning']:.0f}s): val_acc {results['val_acc']:.3f} on the "
          f"features, {results['fine_tuned_val_acc']:.3f} after fine-tuning"
          + ('' if test_acc is None else f', test_acc {test_acc:.3f}')
          + f"; model in {out / 'model.h5'}{curves}")
    return results


def _save_curves(histories, out):
    from .utils import plot_history
    try:
        for name, history in histories.items():
            plot_history(history, to_file=str(out / f'curves_{name}.png'))
    except ImportError as err:  # matplotlib is an optional extra
        return f' (no curves: {err})'
    return f", curves in {out / 'curves_*.png'}"
