"""``Model``: a layer made of layers, with training (``Trainer``) and saving.

``Model(inputs, outputs)`` builds a functional model (``Functional``, a
graph of layers); subclassing ``Model`` and writing ``call`` gives a
define-by-run model whose sub-layers are the Layer attributes.
"""
import json

import numpy as np

from .. import saving
from ..core import no_grad, test_mode
from ..core.naming import auto_name
from ..layers.layer import Layer, training_scope
from ..layers.node import flatten
from .trainer import Trainer


class Model(Trainer, Layer):
    """Base of every model.

    ``Model(inputs, outputs, name=None)`` returns a functional model; a
    subclass defines its layers in ``__init__`` and the math in ``call``.
    """

    def __new__(cls, *args, **kwargs):
        if cls is Model and (args or 'inputs' in kwargs or 'outputs' in kwargs):
            from .functional import Functional
            return super().__new__(Functional)
        return super().__new__(cls)

    def __init__(self, *args, name=None, trainable=True, dtype=None, **kwargs):
        if args:
            raise TypeError(f"{type(self).__name__}() takes keyword arguments only "
                            "(name, trainable); use Model(inputs, outputs) for a "
                            "functional model")
        Layer.__init__(self, name=name or auto_name(type(self).__name__),
                       trainable=trainable, dtype=dtype, **kwargs)
        Trainer.__init__(self)
        self.stop_training = False

    # --- layers -----------------------------------------------------------------
    @property
    def layers(self):
        """The model's layers in order (a functional model includes its InputLayers)."""
        return list(self._sublayers)

    def get_layer(self, name=None, index=None):
        """A layer by ``name`` or by position ``index`` in ``layers``."""
        if (name is None) == (index is None):
            raise ValueError(f"Model '{self.name}': get_layer needs exactly one of name= "
                             "or index=")
        layers = self.layers
        if index is not None:
            if not -len(layers) <= index < len(layers):
                raise ValueError(f"Model '{self.name}': get_layer index {index} is out of "
                                 f"range; the model has {len(layers)} layers")
            return layers[index]
        for layer in layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No such layer: {name}. Existing layers are: "
                         f"{[layer.name for layer in layers]}.")

    def _batch_device(self):
        """Batches go where the weights are, trainable or not."""
        return self.weights_device()

    # --- building a subclassed model ---------------------------------------------
    def build(self, input_shape):
        """Subclassed models build by running once on zeros (batch 1) in
        inference mode, which creates every sub-layer's weights."""
        self._run_on_zeros(input_shape)

    def compute_output_shape(self, input_shape):
        """For a subclassed model: run once on zeros and read the shapes back."""
        outputs = self._run_on_zeros(input_shape)
        shapes = [(None,) + tuple(o.shape[1:]) for o in flatten(outputs)]
        return shapes if isinstance(outputs, (list, tuple)) else shapes[0]

    def _run_on_zeros(self, input_shape):
        if type(self).call is Model.call:
            raise ValueError(f"Model '{self.name}' has no call() to build from")
        shapes = input_shape if isinstance(input_shape, list) else [input_shape]
        zeros = [np.zeros(tuple(1 if d is None else d for d in s), self.dtype) for s in shapes]
        takes_training, _ = self._call_training_arg()
        # inference mode, also for sub-layers called without ``training`` and
        # whatever call this build runs in: zeros must not move BN statistics
        with no_grad(), test_mode(), training_scope(False):
            return self.call(zeros if isinstance(input_shape, list) else zeros[0],
                             **({'training': False} if takes_training else {}))

    # --- symbolic inputs and outputs -------------------------------------------------
    @property
    def input(self):
        """The input tensor (a list for several): ``Model(base.input, head(base.output))``."""
        return _one_or_list(self.inputs)

    @property
    def output(self):
        return _one_or_list(self.outputs)

    @property
    def input_shape(self):
        return _one_or_list([t.shape for t in self.inputs])

    @property
    def output_shape(self):
        return _one_or_list([t.shape for t in self.outputs])

    # --- summary and saving ----------------------------------------------------------
    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False, layer_range=None):
        """Print Keras 3's summary table (plain text) and parameter totals."""
        from .summary import print_summary
        print_summary(self, line_length=line_length, positions=positions, print_fn=print_fn,
                      expand_nested=expand_nested, show_trainable=show_trainable,
                      layer_range=layer_range)

    def save(self, filepath, overwrite=True, include_optimizer=True):
        saving.save_model(self, filepath, overwrite=overwrite, include_optimizer=include_optimizer)

    def save_weights(self, filepath, overwrite=True):
        saving.save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath, by_name=False, skip_mismatch=False):
        return saving.load_weights(self, filepath, by_name=by_name, skip_mismatch=skip_mismatch)

    # --- config ---------------------------------------------------------------------
    def to_json(self, **kwargs):
        """The model's Keras 3 config (what a .keras file's config.json holds)
        as a JSON string; ``kwargs`` go to ``json.dumps``."""
        return json.dumps(saving.keras_zip.model_file_config(self), **kwargs)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """A functional config (with 'layers' and 'input_layers') rebuilds the
        graph; otherwise the subclass's constructor gets the config."""
        if 'input_layers' in config and 'layers' in config:
            from .functional import Functional
            return Functional.from_config(config, custom_objects)
        return cls(**config)

    # --- saving (Keras's protocol; see Layer) ---------------------------------------
    def save_own_variables(self, store):
        """A model keeps no weights of its own: each of its layers saves its own."""

    def load_own_variables(self, store):
        """Nothing of its own to load (see ``save_own_variables``)."""


def _one_or_list(items):
    return items[0] if len(items) == 1 else items
