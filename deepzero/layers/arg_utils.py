"""Argument checks and normalization shared by layers (Keras's rules)."""


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
    data_format = data_format or 'channels_last'
    if data_format not in ('channels_last', 'channels_first'):
        raise ValueError(f"{layer_name}: data_format must be 'channels_last' or "
                         f"'channels_first', got {data_format!r}")
    return data_format


def conv_output_length(length, kernel, padding, stride, dilation=1):
    """Spatial output size of a conv/pool window; None stays None."""
    if length is None:
        return None
    span = (kernel - 1) * dilation + 1
    if padding == 'same':
        return (length + stride - 1) // stride
    return max(0, (length - span) // stride + 1)


def deconv_output_length(length, kernel, padding, stride, output_padding=None, dilation=1):
    """Spatial output size of a transposed convolution (Keras's formula)."""
    if length is None:
        return None
    span = (kernel - 1) * dilation + 1
    if output_padding is None:
        if padding == 'valid':
            return length * stride + max(span - stride, 0)
        return length * stride
    pad = span // 2 if padding == 'same' else 0
    return (length - 1) * stride + span - 2 * pad + output_padding


def spatial_axes(data_format):
    """(height axis, width axis, channel axis) of a 4-d image batch."""
    return (1, 2, 3) if data_format == 'channels_last' else (2, 3, 1)
