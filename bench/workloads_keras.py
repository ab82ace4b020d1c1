"""The benchmark workloads written with Keras's own API, for any module that offers it.

``workloads(keras)`` takes the Keras to use: ``keras`` itself (the ``keras_tf``
worker, Keras 3 on TensorFlow) or ``deepzero.keras`` (the ``deepzero_keras``
worker). The code is the same for both, as a user's program is when only its
imports change. The workloads are those of bench/workloads_deepzero.py, at the
same batch sizes, on random float32 inputs and 0/1 labels made in advance:

- W1_train: ``train_on_batch`` of the book's convnet (conv 32-64-128-128 3x3
  valid ReLU, each + 2x2 max pool, flatten, dropout 0.5, dense 512 ReLU, dense 1
  sigmoid), binary crossentropy, RMSprop lr 1e-4, batch 32 at 150x150x3.
- W1_infer: ``predict_on_batch`` of the same net, batch 32.
- W2_vgg_fwd: ``predict_on_batch`` of ``VGG16(weights=None, include_top=False)``
  (random weights), batch 20.
- W3_finetune: ``train_on_batch`` of that base with block5 trainable, plus
  flatten, dense 256 ReLU, dense 1 sigmoid; RMSprop lr 1e-5, batch 20.

Models are compiled with their defaults: Keras on TensorFlow runs each step as a
``tf.function`` graph, and its ``jit_compile='auto'`` means no XLA on a machine
without an accelerator; a training step's ``facts`` (reported by bench/worker.py)
record what it chose.
"""
import numpy as np

INPUT_SHAPE = (150, 150, 3)


def configure_tensorflow():
    """Two compute threads, as the other workers use on this 2-core machine: TF's
    intra-op pool (where its oneDNN and Eigen kernels run) gets 2, its inter-op pool 1,
    so that independent ops do not run side by side on more threads than cores.
    Must run before TensorFlow executes anything."""
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(2)
    tf.config.threading.set_inter_op_parallelism_threads(1)


def book_convnet(keras):
    """The convnet of listing 5.2.5 (``Sequential``, 150x150x3 input), uncompiled."""
    layers = keras.layers
    return keras.Sequential([
        layers.Input(INPUT_SHAPE),
        layers.Conv2D(32, 3, activation='relu'), layers.MaxPooling2D(2),
        layers.Conv2D(64, 3, activation='relu'), layers.MaxPooling2D(2),
        layers.Conv2D(128, 3, activation='relu'), layers.MaxPooling2D(2),
        layers.Conv2D(128, 3, activation='relu'), layers.MaxPooling2D(2),
        layers.Flatten(), layers.Dropout(0.5),
        layers.Dense(512, activation='relu'), layers.Dense(1, activation='sigmoid')])


def _batch(batch, seed):
    rng = np.random.default_rng(seed)
    x = rng.random((batch,) + INPUT_SHAPE, dtype=np.float32)
    t = (rng.random((batch, 1)) > 0.5).astype(np.float32)
    return x, t


def _train_step(model, x, t):
    def step():
        return model.train_on_batch(x, t)
    step.facts = {'jit_compile': getattr(model, 'jit_compile', None)}
    return step


def _predict_step(model, x):
    def step():
        return model.predict_on_batch(x)
    return step


def w1_train(keras, batch=32, seed=0):
    keras.utils.set_random_seed(seed)
    model = book_convnet(keras)
    model.compile(loss='binary_crossentropy',
                  optimizer=keras.optimizers.RMSprop(learning_rate=1e-4))
    return _train_step(model, *_batch(batch, seed + 1))


def w1_infer(keras, batch=32, seed=0):
    keras.utils.set_random_seed(seed)
    x, _ = _batch(batch, seed + 1)
    return _predict_step(book_convnet(keras), x)


def _vgg16_base(keras):
    return keras.applications.VGG16(weights=None, include_top=False, input_shape=INPUT_SHAPE)


def w2_vgg_forward(keras, batch=20, seed=0):
    keras.utils.set_random_seed(seed)
    x, _ = _batch(batch, seed + 1)
    return _predict_step(_vgg16_base(keras), x)


def w3_finetune(keras, batch=20, seed=0):
    """Blocks 1-4 frozen, block5 and the head trained (the book's fine-tuning)."""
    keras.utils.set_random_seed(seed)
    return _train_step(finetune_model(keras), *_batch(batch, seed + 1))


def finetune_model(keras):
    """W3's model, compiled: the VGG16 base with block5 trainable, and the head."""
    conv_base = _vgg16_base(keras)
    for layer in conv_base.layers:
        layer.trainable = layer.name.startswith('block5')
    layers = keras.layers
    model = keras.Sequential([
        conv_base, layers.Flatten(), layers.Dense(256, activation='relu'),
        layers.Dense(1, activation='sigmoid')])
    model.compile(loss='binary_crossentropy',
                  optimizer=keras.optimizers.RMSprop(learning_rate=1e-5))
    return model


def workloads(keras):
    """{name: (make_step, images per call)}, as the other workload modules give."""
    return {'W1_train': (lambda: w1_train(keras), 32),
            'W1_infer': (lambda: w1_infer(keras), 32),
            'W2_vgg_fwd': (lambda: w2_vgg_forward(keras), 20),
            'W3_finetune': (lambda: w3_finetune(keras), 20)}
