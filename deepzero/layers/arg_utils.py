"""Argument checks and normalization shared by layers (Keras's rules)."""
from ..core import runtime
# the output-size rules of conv and pool windows, one for layers and ops
from ..kernels.geometry import conv_output_length, deconv_output_length  # noqa: F401


def check_no_constraint(layer, **constraints):
    """Weight constraints are not implemented; Keras configs hold None."""
    given = [name for name, value in constraints.items() if value is not None]
    if given:
        raise ValueError(f"{type(layer).__name__} '{layer.name}': weight constraints "
                         f"({', '.join(given)}) are not supported")


def normalize_tuple(value, n, name, layer_name, allow_zero=False):
    """An int or an n-sequence of ints -> an n-tuple of ints."""
    values = (value,) * n if isinstance(value, int) else value
    if (not isinstance(values, (list, tuple)) or len(values) != n
            or not all(isinstance(v, int) for v in values)):
        raise ValueError(f"{layer_name}: {name} must be an int or {n} ints, got {value!r}")
    smallest = 0 if allow_zero else 1
    if any(v < smallest for v in values):
        raise ValueError(f"{layer_name}: {name} must be >= {smallest}, got {value!r}")
    return tuple(values)


def normalize_padding(padding, layer_name):
    padding = padding.lower() if isinstance(padding, str) else padding
    if padding not in ('valid', 'same'):
        raise ValueError(f"{layer_name}: padding must be 'valid' or 'same', got {padding!r}")
    return padding


def normalize_data_format(data_format, layer_name):
    data_format = data_format or runtime.get('image_data_format')
    if data_format not in ('channels_last', 'channels_first'):
        raise ValueError(f"{layer_name}: data_format must be 'channels_last' or "
                         f"'channels_first', got {data_format!r}")
    return data_format


def spatial_axes(data_format):
    """(height axis, width axis, channel axis) of a 4-d image batch."""
    return (1, 2, 3) if data_format == 'channels_last' else (2, 3, 1)
