"""``TensorBoard``: event files that TensorBoard reads, with Keras 3's
folders, tags and steps (``tensorboard --logdir <log_dir>`` shows them).

The event format is written by tensorboardX, an optional extra
(``pip install 'deepzero[tensorboard]'``).

Layout under ``log_dir``, as Keras 3's callback writes it::

    train/       epoch_<name> (loss, metrics, learning_rate), batch_<name>,
                 <weight path>/histogram, <weight path>/image, the model graph
    validation/  epoch_<name> (from the val_<name> logs),
                 evaluation_<name>_vs_iterations
"""
import os
import time

import numpy as np

from ..core import cuda
from .callback import Callback

INSTALL_HINT = "pip install 'deepzero[tensorboard]'"

# TensorBoard's Graphs dashboard draws a summary with this plugin name (the
# model's JSON config) as the model's conceptual graph: one node per layer.
KERAS_MODEL_PLUGIN = 'graph_keras_model'


def _summary_writer_class():
    try:
        from tensorboardX import SummaryWriter
    except ImportError as e:
        raise ImportError("keras.callbacks.TensorBoard writes its event files with "
                          f"tensorboardX, which is not installed: {INSTALL_HINT}") from e
    return SummaryWriter


class TensorBoard(Callback):
    """Log training to TensorBoard event files.

    log_dir: folder of the run; ``train/`` and ``validation/`` are made in it.
    histogram_freq: every this many epochs (epoch % histogram_freq == 0,
        0-based), a histogram of each weight of each layer,
        '<weight path>/histogram' (step: the epoch); 0: none.
    write_graph: write the model's config (``model.to_json()``) as the
        summary 'keras' in train/ at step 0, which TensorBoard's Graphs
        dashboard draws as the layer graph (Functional and Sequential models;
        a subclassed model has no layer graph to give).
    write_images: with histograms, also each weight as an image,
        '<weight path>/image': a Dense kernel as one picture (transposed to
        be wider than tall), a bias as a column, a kernel that is 3-D once
        its size-1 axes go (a Conv2D kernel with one input channel) as one
        tile per output channel. Values are clipped to [0, 1] as
        TensorFlow's image summary does. Other shapes are skipped.
    write_steps_per_second: also log 'epoch_steps_per_second' and, at the
        batches that get batch scalars, 'batch_steps_per_second'.
    update_freq: 'epoch' (scalars at epoch end only), 'batch' (also
        'batch_<name>' after every batch) or an integer N (after every N-th
        batch). A batch's step is its number counted from the start of fit
        (1-based); its values are the logs of that batch (the epoch's running
        means). Epoch scalars are written at every epoch end in any case.
    profile_batch: 0 only; profiling is not available (ValueError, as Keras
        3 raises on its torch backend).
    embeddings_freq, embeddings_metadata: 0 and None only (ValueError):
        the embedding projector is not supported.

    After each evaluation (validation in fit, or ``evaluate``) the results go
    to validation/ as 'evaluation_<name>_vs_iterations', at the step
    ``model.optimizer.iterations``. Files are flushed at each epoch end and
    closed when fit (or a lone evaluate) ends.
    """
    rank_zero_only = True   # one writer per job

    def __init__(self, log_dir='logs', histogram_freq=0, write_graph=True, write_images=False,
                 write_steps_per_second=False, update_freq='epoch', profile_batch=0,
                 embeddings_freq=0, embeddings_metadata=None):
        super().__init__()
        self._writer_class = _summary_writer_class()
        if update_freq not in ('epoch', 'batch') and not (
                isinstance(update_freq, int) and not isinstance(update_freq, bool)
                and update_freq > 0):
            raise ValueError(f"TensorBoard: update_freq must be 'epoch', 'batch' or a positive "
                             f"integer, got {update_freq!r}")
        if not (isinstance(histogram_freq, int) and histogram_freq >= 0):
            raise ValueError(f"TensorBoard: histogram_freq must be a non-negative integer, "
                             f"got {histogram_freq!r}")
        if profile_batch not in (0, None):
            raise ValueError("TensorBoard: profiling is not available in deepzero (Keras 3 has "
                             "it on its TensorFlow and JAX backends only); received "
                             f"profile_batch={profile_batch!r} (must be 0)")
        if embeddings_freq or embeddings_metadata is not None:
            raise ValueError("TensorBoard: the embedding projector is not supported; received "
                             f"embeddings_freq={embeddings_freq!r}, embeddings_metadata="
                             f"{embeddings_metadata!r} (must be 0 and None)")
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = histogram_freq
        self.write_graph = write_graph
        self.write_images = write_images
        self.write_steps_per_second = write_steps_per_second
        self.update_freq = 1 if update_freq == 'batch' else update_freq
        self.embeddings_freq = embeddings_freq
        self.embeddings_metadata = embeddings_metadata
        self._writers = {}
        self._in_fit = False
        self._global_train_batch = 0
        self._graph_written_for = None

    # --- writers: made at first use, so that a run without validation has no validation/ ---
    def _writer(self, run):
        if run not in self._writers:
            self._writers[run] = self._writer_class(os.path.join(self.log_dir, run))
        return self._writers[run]

    def _close_writers(self):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    def set_model(self, model):
        super().set_model(model)
        # fit, evaluate and predict each set the model: its graph is written once
        if self.write_graph and model is not self._graph_written_for:
            self._write_model_graph(model)
            self._graph_written_for = model

    def _write_model_graph(self, model):
        if type(model).__name__ not in ('Functional', 'Sequential'):
            return   # as Keras: a subclassed model's layers are wired only inside call()
        from tensorboardX.proto.summary_pb2 import Summary, SummaryMetadata
        from tensorboardX.proto.tensor_pb2 import TensorProto
        metadata = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(
            plugin_name=KERAS_MODEL_PLUGIN, content=b'1'))
        config = TensorProto(dtype='DT_STRING', string_val=[model.to_json().encode()])
        summary = Summary(value=[Summary.Value(tag='keras', metadata=metadata, tensor=config)])
        writer = self._writer('train')
        writer.file_writer.add_summary(summary, global_step=0)
        writer.flush()

    # --- fit ------------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        self._in_fit = True
        self._global_train_batch = 0

    def on_train_end(self, logs=None):
        self._in_fit = False
        self._close_writers()

    def on_epoch_begin(self, epoch, logs=None):
        if self.write_steps_per_second:
            self._epoch_start = (time.perf_counter(), self.model.optimizer.iterations)

    def on_train_batch_begin(self, batch, logs=None):
        self._global_train_batch += 1
        self._batch_start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        step = self._global_train_batch
        if self.update_freq == 'epoch' or step % self.update_freq:
            return
        writer = self._writer('train')
        if self.write_steps_per_second:
            writer.add_scalar('batch_steps_per_second',
                              1.0 / (time.perf_counter() - self._batch_start), step)
        for name, value in (logs or {}).items():
            writer.add_scalar(f'batch_{name}', float(value), step)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        train_logs = {k: v for k, v in logs.items() if not k.startswith('val_')}
        optimizer = getattr(self.model, 'optimizer', None)
        if optimizer is not None:
            train_logs['learning_rate'] = optimizer.learning_rate
        if self.write_steps_per_second:
            started, iterations = self._epoch_start
            train_logs['steps_per_second'] = ((optimizer.iterations - iterations)
                                              / (time.perf_counter() - started))
        train = self._writer('train')
        for name, value in train_logs.items():
            train.add_scalar(f'epoch_{name}', float(value), epoch)
        val_logs = {k[len('val_'):]: v for k, v in logs.items() if k.startswith('val_')}
        if val_logs:
            validation = self._writer('validation')
            for name, value in val_logs.items():
                validation.add_scalar(f'epoch_{name}', float(value), epoch)
            validation.flush()
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._log_weights(train, epoch)
        train.flush()

    # --- evaluation -------------------------------------------------------------------------
    def on_test_end(self, logs=None):
        optimizer = getattr(self.model, 'optimizer', None)
        if optimizer is not None:
            validation = self._writer('validation')
            for name, value in (logs or {}).items():
                validation.add_scalar(f'evaluation_{name}_vs_iterations', float(value),
                                      optimizer.iterations)
            validation.flush()
        if not self._in_fit:
            self._close_writers()

    # --- weights ----------------------------------------------------------------------------
    def _log_weights(self, writer, epoch):
        for layer in self.model.layers:
            for weight in layer.weights:
                name = weight.path.replace(':', '_')
                values = cuda.as_numpy(weight.data)
                writer.add_histogram(f'{name}/histogram', values, epoch)
                if self.write_images:
                    image = weight_image(values)
                    if image is not None:
                        writer.add_images(f'{name}/image', image, epoch, dataformats='NHWC')


def weight_image(values):
    """A weight array as Keras's TensorBoard draws it: uint8 images of shape
    (tiles, height, width, 1), or None for a shape it does not draw.

    Size-1 axes are dropped first. 1-D (a bias, length n): one n x 1 column.
    2-D (a Dense kernel): one picture, transposed when taller than wide. 3-D
    (kh, kw, filters), channels last: one kh x kw tile per filter. Values
    are clipped to [0, 1] (TensorFlow's image summary does so for floats)."""
    image = np.squeeze(values)
    if image.ndim == 1:
        image = image.reshape(1, image.shape[0], 1, 1)
    elif image.ndim == 2:
        if image.shape[0] > image.shape[1]:
            image = image.T
        image = image.reshape(1, image.shape[0], image.shape[1], 1)
    elif image.ndim == 3:
        image = np.transpose(image, (2, 0, 1))[..., np.newaxis]
    else:
        return None
    return np.round(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)
