"""Argument checks shared by the conv and pooling ops (Keras's rules, errors
that name the op and the argument). The array work is in deepzero/kernels.
"""
import numbers

DATA_FORMATS = ('channels_last', 'channels_first')


def pair(value, name, op, smallest=1):
    """``value`` as a pair of ints >= ``smallest`` (1, positive, or 0,
    non-negative): an int or a sequence of two."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value, value)
    try:
        a, b = value
        ok = all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= smallest
                 for v in (a, b))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        kind = 'positive' if smallest else 'non-negative'
        raise ValueError(f"{op}: {name} must be a {kind} int or a pair of them, "
                         f"got {value!r}")
    return int(a), int(b)


def check_data_format(data_format, op):
    if data_format not in DATA_FORMATS:
        raise ValueError(f"{op}: data_format must be 'channels_last' or "
                         f"'channels_first', got {data_format!r}")
    return data_format


def check_image(x, name, op, data_format):
    if x.ndim != 4:
        layout = '(N, H, W, C)' if data_format == 'channels_last' else '(N, C, H, W)'
        raise ValueError(f"{op}: {name} must be 4-d {layout}, got shape {x.shape}")


def spatial_shape(shape, data_format):
    """(H, W) and C of an image shape in ``data_format``."""
    if data_format == 'channels_last':
        return shape[1:3], shape[3]
    return shape[2:4], shape[1]
