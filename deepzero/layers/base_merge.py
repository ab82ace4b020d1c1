"""``Merge``: layers that combine a list of same-shaped tensors."""
from .layer import Layer, format_shape
from .node import is_shape


class Merge(Layer):
    """Takes a list of at least two inputs. Subclasses implement
    ``merge(inputs)``; the default output shape is the broadcast shape."""

    def _shapes(self, input_shape):
        if is_shape(input_shape) or len(input_shape) < 2:
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) must be called on "
                             f"a list of at least 2 inputs, got input shape {input_shape}")
        return input_shape

    def check_input(self, input_shape):
        self.compute_output_shape(input_shape)

    def compute_output_shape(self, input_shape):
        shapes = self._shapes(input_shape)
        if len({len(s) for s in shapes}) != 1:
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) needs inputs of "
                             f"the same rank; input shapes "
                             f"{', '.join(format_shape(s) for s in shapes)}")
        output = []
        for sizes in zip(*shapes):
            known = {d for d in sizes if d is not None and d != 1}
            if len(known) > 1:
                raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) needs inputs "
                                 f"of the same shape; input shapes "
                                 f"{', '.join(format_shape(s) for s in shapes)}")
            output.append(known.pop() if known else
                          (None if None in sizes else 1))
        return tuple(output)

    def call(self, inputs, training=None):
        return self.merge(list(inputs))

    def merge(self, inputs):
        raise NotImplementedError(f"{type(self).__name__}.merge")


def reduce_pairwise(fn, inputs):
    """fn(fn(a, b), c) ... over the list."""
    result = inputs[0]
    for x in inputs[1:]:
        result = fn(result, x)
    return result

