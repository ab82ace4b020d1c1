"""Layout on the device: channels_first <-> channels_last, padding and its
removal, each one CuPy copy (array-API code: NumPy arrays run it too)."""
from ...core import get_array_module


def to_nhwc(x, data_format):
    """A channels_last view of ``x`` (no copy)."""
    return x if data_format == 'channels_last' else x.transpose(0, 2, 3, 1)


def from_nhwc(y, data_format):
    """``y`` (N, H, W, C) in ``data_format``, C-contiguous."""
    if data_format == 'channels_last':
        return y
    return get_array_module(y).ascontiguousarray(y.transpose(0, 3, 1, 2))


def pad_nhwc(x, geometry, fill=0.0):
    """``x`` (N, H, W, C) padded by ``geometry.pads`` with ``fill``, contiguous
    (x itself when there is no padding and it is contiguous)."""
    xp = get_array_module(x)
    if not geometry.padded:
        return xp.ascontiguousarray(x)
    (top, _), (left, _) = geometry.pads
    h, w = geometry.in_hw
    out = xp.empty((x.shape[0],) + geometry.padded_hw + (x.shape[3],), x.dtype)
    # fill only the border: the interior is overwritten by x
    out[:, :top] = fill
    out[:, top + h:] = fill
    out[:, top:top + h, :left] = fill
    out[:, top:top + h, left + w:] = fill
    out[:, top:top + h, left:left + w] = x
    return out


def crop_padding(image, geometry):
    """The unpadded interior of a padded (N, Hp, Wp, C) image, contiguous."""
    if not geometry.padded:
        return image
    (top, _), (left, _) = geometry.pads
    h, w = geometry.in_hw
    return get_array_module(image).ascontiguousarray(image[:, top:top + h, left:left + w])
