"""``Concatenate``: join a list of inputs along an axis (Inception's branches)."""
from .. import functions as F
from .base_merge import Merge
from .layer import format_shape


class Concatenate(Merge):
    """Args: axis, default -1 (channels). All other axes must agree."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def compute_output_shape(self, input_shape):
        shapes = self._shapes(input_shape)
        rank = len(shapes[0])
        if any(len(s) != rank for s in shapes) or not -rank <= self.axis < rank:
            raise ValueError(f"Layer '{self.name}' cannot concatenate along axis {self.axis} "
                             f"inputs of shapes {', '.join(format_shape(s) for s in shapes)}")
        axis = self.axis % rank
        output = list(shapes[0])
        for i in range(rank):
            sizes = [s[i] for s in shapes]
            if i == axis:
                output[i] = None if None in sizes else sum(sizes)
            else:
                known = {d for d in sizes if d is not None}
                if len(known) > 1:
                    raise ValueError(
                        f"Layer '{self.name}' (Concatenate, axis={self.axis}) needs inputs "
                        f"that match on all other axes; input shapes "
                        f"{', '.join(format_shape(s) for s in shapes)}")
                output[i] = known.pop() if known else None
        return tuple(output)

    def merge(self, inputs):
        return F.concat(inputs, axis=self.axis)

    def get_config(self):
        return {**super().get_config(), 'axis': self.axis}
