"""Run under ``mpirun -np 2`` by tests/test_distributed_fit.py:
``fault_and_resume.py MODE FOLDER``.

A data-parallel fit of 4 epochs (``shard=True``, DistributedOptimizer) in
which rank 0 saves ``FOLDER/checkpoint.keras`` after every epoch (and, for the
test to compare, the weights it saved as ``FOLDER/weights-<epoch>.npy``).

- MODE ``raise``: rank 1 raises RuntimeError after the first batch of epoch
  2 (0-based; that batch's allreduce means rank 0 has finished writing the
  checkpoint of epoch 1), printing ``FAULT <unix time>`` first.
- MODE ``kill``: rank 1 kills itself with SIGKILL at the same point.
- MODE ``resume``: trains the same 4 epochs without a fault as the reference,
  then loads the checkpoint on every rank (``hvd.load_model``: the optimizer
  with its momentum and iteration count, wrapped in a DistributedOptimizer)
  and continues with ``initial_epoch=2``; the weights and the optimizer's
  state must match the reference's. Prints
  'OK <rank> <size>'.
"""
import os
import signal
import sys
import time

import numpy as np

import deepzero.keras.distributed as hvd
from deepzero.callbacks import Callback, ModelCheckpoint
from deepzero.core import runtime
from deepzero.layers import Dense, Input
from deepzero.models import Sequential
from deepzero.optimizers import SGD

EPOCHS = 4
FAULT_EPOCH = 2


class SaveWeightsCopy(Callback):
    """Rank 0 (``rank_zero_only``): the weights at each epoch's end, as .npy."""
    rank_zero_only = True

    def __init__(self, folder):
        super().__init__()
        self.folder = folder

    def on_epoch_end(self, epoch, logs=None):
        np.save(os.path.join(self.folder, f'weights-{epoch}.npy'),
                np.concatenate([w.reshape(-1) for w in self.model.get_weights()]))


class Fault(Callback):
    def __init__(self, mode):
        super().__init__()
        self.mode, self.epoch = mode, None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if hvd.rank() != 1 or self.epoch != FAULT_EPOCH or batch != 0:
            return
        print(f'FAULT {time.time()}', file=sys.stderr, flush=True)
        if self.mode == 'kill':
            os.kill(os.getpid(), signal.SIGKILL)
        raise RuntimeError(f'injected fault in epoch {FAULT_EPOCH}')


def data():
    rng = np.random.default_rng(0)
    return (rng.standard_normal((64, 5)).astype(np.float32),
            rng.standard_normal((64, 2)).astype(np.float32))


def new_model():
    runtime.set_random_seed(0)
    model = Sequential([Input((5,)), Dense(8, activation='tanh'), Dense(2)])
    model.compile(optimizer=hvd.DistributedOptimizer(SGD(0.05, momentum=0.9)), loss='mse')
    return model


def train(model, callbacks, initial_epoch=0):
    x, y = data()
    return model.fit(x, y, batch_size=8, epochs=EPOCHS, initial_epoch=initial_epoch,
                     shuffle=False, shard=True, verbose=0, callbacks=callbacks)


def main():
    mode, folder = sys.argv[1], sys.argv[2]
    hvd.init()
    checkpoint = os.path.join(folder, 'checkpoint.keras')
    if mode in ('raise', 'kill'):
        train(new_model(), [hvd.callbacks.BroadcastGlobalVariablesCallback(0),
                            ModelCheckpoint(checkpoint), SaveWeightsCopy(folder), Fault(mode)])
        raise AssertionError('the fault did not happen')
    reference = new_model()
    train(reference, [hvd.callbacks.BroadcastGlobalVariablesCallback(0)])
    model = hvd.load_model(checkpoint)
    assert model.optimizer.iterations == FAULT_EPOCH * 4, model.optimizer.iterations
    history = train(model, [hvd.callbacks.BroadcastGlobalVariablesCallback(0)],
                    initial_epoch=FAULT_EPOCH)
    assert len(history.history['loss']) == EPOCHS - FAULT_EPOCH, history.history
    for got, want in zip(model.get_weights() + model.optimizer.get_weights(),
                         reference.get_weights() + reference.optimizer.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    print(f'OK {hvd.rank()} {hvd.size()}', flush=True)


if __name__ == '__main__':
    main()
