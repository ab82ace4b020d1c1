"""``Sequential``: a plain stack of layers, each feeding the next."""
import numpy as np

from ..core.naming import unique_name
from ..layers.input_layer import InputLayer
from ..layers.layer import Layer
from ..layers.node import KerasTensor
from ..saving.serialization import deserialize_layer, serialize_layer
from .model import Model


class Sequential(Model):
    """``Sequential([layer, ...])`` or ``.add(layer)`` one at a time.

    The model builds as soon as its input shape is known: an ``Input`` /
    ``InputLayer`` first, ``input_shape=`` on the first layer, or a
    functional model first (a conv base); otherwise at the first call. Building records a functional graph (as Keras does),
    which gives every layer its output shape for ``summary()``.
    """

    def __init__(self, layers=None, trainable=True, name=None):
        super().__init__(name=name or unique_name('sequential'), trainable=trainable)
        self._stack = []
        self.__dict__['_functional'] = None
        for layer in layers or []:
            self.add(layer, rebuild=False)
        self._build_if_shape_known()

    @property
    def layers(self):
        """The added layers, without the InputLayer."""
        return [layer for layer in self._stack if not isinstance(layer, InputLayer)]

    def add(self, layer, rebuild=True):
        """Append a layer (or an ``Input`` tensor / InputLayer as the first item)."""
        if isinstance(layer, KerasTensor) and isinstance(layer.keras_history[0], InputLayer):
            layer = layer.keras_history[0]
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential '{self.name}': only layers can be added, "
                            f"got {layer!r}")
        if isinstance(layer, InputLayer) and self._stack:
            raise ValueError(f"Sequential '{self.name}': an InputLayer can only be the "
                             "first item")
        if any(known.name == layer.name for known in self._stack):
            raise ValueError(f"All layers added to a Sequential model should have unique "
                             f"names. Name '{layer.name}' is already the name of a layer "
                             f"in model '{self.name}'")
        self._stack.append(layer)
        self._restack()
        if rebuild:
            self._build_if_shape_known()

    def pop(self, rebuild=True):
        """Remove and return the last layer."""
        if not self.layers:
            raise IndexError(f"Sequential '{self.name}' has no layers to pop")
        layer = self._stack.pop()
        self._restack()
        if rebuild:
            self._build_if_shape_known()
        return layer

    def _restack(self):
        self.__dict__['_sublayers'] = list(self._stack)
        self.__dict__['_functional'] = None
        self.built = False

    def _build_if_shape_known(self):
        if not self._stack:
            return
        first = self._stack[0]
        if isinstance(first, InputLayer):
            if len(self._stack) > 1:
                self.build(first.batch_shape)
        elif first._batch_input_shape is not None:
            self.build(first._batch_input_shape)
        elif isinstance(first, Model) and len(self._stack) > 1:
            try:  # a functional model (a conv base) knows its input shape
                input_shape = first.input_shape
            except AttributeError:
                return
            if isinstance(input_shape, tuple):
                self.build(input_shape)

    def build(self, input_shape=None):
        """Create all weights for ``input_shape`` (batch axis included)."""
        if input_shape is None:
            raise ValueError(f"Sequential '{self.name}': build needs an input shape")
        if not self.layers:
            raise ValueError(f"Sequential '{self.name}' has no layers to build")
        input_shape = tuple(input_shape)
        if not isinstance(self._stack[0], InputLayer):
            self._stack.insert(0, InputLayer(batch_shape=input_shape))
            self.__dict__['_sublayers'] = list(self._stack)
        elif self._stack[0].batch_shape != input_shape:
            self._stack[0] = InputLayer(batch_shape=input_shape)
            self.__dict__['_sublayers'] = list(self._stack)
        from .functional import Functional
        x = inputs = self._stack[0].output_tensor
        for layer in self.layers:
            x = layer(x)
        self.__dict__['_functional'] = Functional(inputs, x)
        self._build_input_shape = input_shape

    def _maybe_build(self, input_shape):
        if not self.built:
            self.build((None,) + tuple(input_shape[1:]))

    def call(self, inputs, training=None):
        if not self.built:  # model.call(x) itself (model(x) builds first)
            self._maybe_build(np.shape(inputs))
        # the steps of the recorded graph: the layers in order, a Conv2D and
        # the MaxPooling2D after it as one op (models/layer_fusion.py)
        x = inputs
        for step in self._functional._fusion_plan.steps():
            x = step(x, training)
        return x

    def compute_output_shape(self, input_shape):
        for layer in self.layers:
            input_shape = layer.compute_output_shape(input_shape)
        return input_shape

    def check_input(self, input_shape):
        self.layers[0].check_input(input_shape)

    @property
    def inputs(self):
        return self._built_functional().inputs

    @property
    def outputs(self):
        return self._built_functional().outputs

    def _built_functional(self):
        if self._functional is None:
            raise AttributeError(f"Sequential '{self.name}' is not built yet, so it has no "
                                 "inputs/outputs; give the first layer an input shape or "
                                 "call the model once")
        return self._functional

    # --- config -----------------------------------------------------------------
    def get_config(self):
        """Keras 3's form: name, trainable, dtype, layers (InputLayer first when
        the input shape is known), build_input_shape."""
        config = {'name': self.name, 'trainable': self.trainable,
                  'dtype': super().get_config()['dtype'],
                  'layers': [serialize_layer(layer) for layer in self._stack]}
        if self._build_input_shape is not None:
            config['build_input_shape'] = list(self._build_input_shape)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """From Keras 3's form or Keras 2's (a bare list of layer dicts, or a
        dict whose first layer carries batch_input_shape)."""
        if isinstance(config, list):
            config = {'layers': config}
        model = cls(name=config.get('name'), trainable=config.get('trainable', True))
        for layer_data in config['layers']:
            model.add(deserialize_layer(layer_data, custom_objects), rebuild=False)
        if config.get('build_input_shape') and not model._stack_starts_with_input():
            model.build(tuple(config['build_input_shape']))
        else:
            model._build_if_shape_known()
        return model

    def _stack_starts_with_input(self):
        return bool(self._stack) and isinstance(self._stack[0], InputLayer)
