"""``Input()`` / ``InputLayer``: the entry points of a functional model."""
from ..core.naming import unique_name
from .layer import Layer
from .node import KerasTensor, Node


class InputLayer(Layer):
    """Holds the symbolic input of a model.

    Args:
        shape: input shape without the batch axis, e.g. (150, 150, 3).
        batch_size: fixed batch size, default None (any).
        batch_shape: the full shape instead of ``shape`` + ``batch_size``
            (what Keras 3 writes in configs).
        input_shape: Keras 2 spelling of ``shape``.
    """

    def __init__(self, shape=None, batch_size=None, dtype=None, batch_shape=None, name=None,
                 sparse=False, ragged=False, optional=False, input_shape=None,
                 batch_input_shape=None, **kwargs):
        kwargs.pop('trainable', None)  # Keras 2 configs carry it; an input has no weights
        super().__init__(name=name or unique_name('input_layer'), dtype=dtype, **kwargs)
        if sparse or ragged:
            raise ValueError(f"InputLayer '{self.name}': sparse and ragged inputs are "
                             "not supported")
        shape = shape if shape is not None else input_shape
        batch_shape = batch_shape if batch_shape is not None else batch_input_shape
        if batch_shape is None:
            if shape is None:
                raise ValueError("InputLayer needs shape= (without the batch axis) or "
                                 "batch_shape=")
            shape = (shape,) if isinstance(shape, int) else tuple(shape)
            batch_shape = (batch_size,) + shape
        elif shape is not None:
            raise ValueError(f"InputLayer '{self.name}': give shape= or batch_shape=, not both")
        self.batch_shape = tuple(batch_shape)
        self.optional = optional
        self.built = True
        self.output_tensor = KerasTensor(self.batch_shape, self.dtype, name=self.name)
        Node(self, None, None, [self.output_tensor])

    def call(self, inputs, training=None):
        return inputs

    def get_config(self):
        return {'batch_shape': list(self.batch_shape), 'dtype': self.dtype, 'sparse': False,
                'ragged': False, 'name': self.name, 'optional': self.optional}


def Input(shape=None, batch_size=None, dtype=None, batch_shape=None, name=None,
          sparse=False, ragged=False, optional=False, tensor=None):
    """A symbolic input tensor (a KerasTensor) for the functional API:
    ``x = Input((150, 150, 3))``."""
    if tensor is not None:
        raise ValueError("Input(tensor=...) is not supported")
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype,
                       batch_shape=batch_shape, name=name, sparse=sparse, ragged=ragged,
                       optional=optional)
    return layer.output_tensor
