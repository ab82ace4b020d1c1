"""Layout passes: channels_first <-> channels_last, zero (or -inf) padding
and its removal. Memory-bound copies, split over the batch on every core
(core/parallel.py); large results come from the workspace pool."""
from ...core import get_array_module, parallel, workspace


def to_nhwc(x, data_format):
    """A channels_last view of ``x`` (no copy)."""
    return x if data_format == 'channels_last' else x.transpose(0, 2, 3, 1)


def from_nhwc(y, data_format):
    """``y`` (N, H, W, C) in ``data_format``, C-contiguous."""
    if data_format == 'channels_last':
        return y
    xp = get_array_module(y)
    out = workspace.empty((y.shape[0], y.shape[3], y.shape[1], y.shape[2]), y.dtype, xp)
    parallel.over_batch(assign, out, y.transpose(0, 3, 1, 2))
    return out


def assign(target, source):
    """``target[...] = source`` (a function, for ``parallel.over_batch``)."""
    target[...] = source


def pad_nhwc(x, geometry, fill=0.0):
    """``x`` (N, H, W, C) padded by ``geometry.pads`` with ``fill`` (x itself
    when there is no padding)."""
    if not geometry.padded:
        return x
    xp = get_array_module(x)
    (top, _), (left, _) = geometry.pads
    h, w = geometry.in_hw
    out = workspace.empty((x.shape[0],) + geometry.padded_hw + (x.shape[3],), x.dtype, xp)
    # fill only the border: the interior is overwritten by x
    out[:, :top] = fill
    out[:, top + h:] = fill
    out[:, top:top + h, :left] = fill
    out[:, top:top + h, left + w:] = fill
    parallel.over_batch(assign, out[:, top:top + h, left:left + w], x)
    return out


def crop_padding(image, geometry):
    """The unpadded interior of a padded (N, Hp, Wp, C) image, contiguous."""
    if not geometry.padded:
        return image
    xp = get_array_module(image)
    (top, _), (left, _) = geometry.pads
    h, w = geometry.in_hw
    out = workspace.empty((image.shape[0], h, w, image.shape[3]), image.dtype, xp)
    parallel.over_batch(assign, out, image[:, top:top + h, left:left + w, :])
    return out
