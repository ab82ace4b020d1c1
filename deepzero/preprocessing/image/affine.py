"""Affine transform matrices and image resampling.

Geometry (the same as Keras's ``apply_affine_transform``): a point is
``(x, y)`` = (column, row) in pixel units, pixel centres on integers. The
transform is the *inverse map*: an output pixel ``p`` takes its value from the
input at ``A @ (p - c) + R @ t + c``, where ``c`` is the image centre
``((w - 1) / 2, (h - 1) / 2)``, ``R`` the rotation, ``t = (tx, ty)`` the shift
and ``A = R @ Shear @ Zoom``. So ``tx = 2`` moves the content 2 pixels to the
left, ``theta = 90`` turns it counter-clockwise on screen and ``zx = 0.5``
magnifies it 2x horizontally.

Keras computes the centre as ``(h/2 - 0.5, w/2 - 0.5)`` in (x, y) order, i.e.
with height and width swapped; that only matters for non-square images, where
Keras rotates and zooms about an off-centre point. Here it is the true centre.

Resampling: OpenCV's ``warpAffine`` when OpenCV is installed (fast, releases
the GIL), otherwise a NumPy gather with the same geometry. Fill modes follow
SciPy's ``ndimage`` (what Keras uses): 'constant' (points outside the image get
``cval``), 'nearest' (edge pixel repeated), 'reflect' (``dcba|abcd|dcba``) and
'wrap' (SciPy's wrap, whose period is ``n - 1``: OpenCV's period-``n`` wrap is
different, so 'wrap' always uses the NumPy path). Orders 0 (nearest) and 1
(bilinear) are resampled here; orders 2 to 5 are SciPy's spline interpolation,
exactly what Keras runs (SciPy is then needed: ``pip install scipy``).
"""
import math

import numpy as np

from ...core import runtime
from ...kernels.image import reflect_index

try:
    import cv2
except ImportError:  # optional extra 'fast'
    cv2 = None

FILL_MODES = ('constant', 'nearest', 'reflect', 'wrap')
ORDERS = (0, 1, 2, 3, 4, 5)
# A source point this far outside the image still counts as inside for 'constant'
# (so that exact edge coordinates computed with rounding error are kept).
_EDGE_TOLERANCE = 1e-4
_NEAREST_TIE_NUDGE = 1e-3

_NEEDS_OPENCV = ("the 'opencv' warp backend needs opencv-python-headless "
                 "(pip install 'deepzero[fast]')")


def set_warp_backend(name):
    """Choose the resampler: 'opencv' (needs ``cv2``), 'numpy', or 'auto'
    (OpenCV when installed; the default). Sets the ``warp_backend`` runtime
    setting (``DEEPZERO_WARP_BACKEND``) and returns its previous value."""
    if name not in ('auto', 'opencv', 'numpy'):
        raise ValueError(f"warp backend must be 'opencv', 'numpy' or 'auto', got {name!r}")
    if name == 'opencv' and cv2 is None:
        raise ImportError(_NEEDS_OPENCV)
    return runtime.configure(warp_backend=name)['warp_backend']


def get_warp_backend():
    """The resampler in use: 'opencv' or 'numpy'."""
    name = runtime.get('warp_backend')
    if name == 'auto':
        return 'opencv' if cv2 is not None else 'numpy'
    if name == 'opencv' and cv2 is None:  # asked for by DEEPZERO_WARP_BACKEND
        raise ImportError(_NEEDS_OPENCV)
    return name


def transform_matrix(height, width, theta=0.0, tx=0.0, ty=0.0, shear=0.0, zx=1.0, zy=1.0,
                     flip_horizontal=False, flip_vertical=False):
    """The 2x3 inverse map (see the module docstring) of an image of
    ``height`` x ``width`` pixels.

    Args:
        theta: rotation in degrees (counter-clockwise on screen).
        tx, ty: shift in pixels along x (columns) and y (rows); positive moves
            the content left / up.
        shear: shear angle in degrees.
        zx, zy: zoom factors along x and y; below 1 magnifies.
        flip_horizontal, flip_vertical: mirror the result left-right / up-down
            (the same as flipping after the resample, as Keras does).
    Returns:
        float64 array (2, 3): ``[[a, b, e], [c, d, f]]``, input = (a x + b y + e, c x + d y + f).
    """
    angle, shear_angle = math.radians(theta), math.radians(shear)
    cos_t, sin_t = math.cos(angle), math.sin(angle)
    # A = R(theta) @ [[1, -sin(shear)], [0, cos(shear)]] @ diag(zx, zy)
    a, b = cos_t * zx, -zy * math.sin(angle + shear_angle)
    c, d = sin_t * zx, zy * math.cos(angle + shear_angle)
    if flip_horizontal:
        a, c = -a, -c
    if flip_vertical:
        b, d = -b, -d
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    e = cos_t * tx - sin_t * ty + cx - (a * cx + b * cy)
    f = sin_t * tx + cos_t * ty + cy - (c * cx + d * cy)
    return np.array([[a, b, e], [c, d, f]])


def source_coordinates(matrix, height, width):
    """Input (x, y) coordinates of every output pixel: two float64 arrays (height, width)."""
    (a, b, e), (c, d, f) = matrix
    cols = np.arange(width, dtype=np.float64)[np.newaxis, :]
    rows = np.arange(height, dtype=np.float64)[:, np.newaxis]
    return a * cols + (b * rows + e), c * cols + (d * rows + f)


def _outside_mask(matrix, out_height, out_width, in_height, in_width):
    src_x, src_y = source_coordinates(matrix, out_height, out_width)
    return ((src_x < -_EDGE_TOLERANCE) | (src_x > in_width - 1 + _EDGE_TOLERANCE)
            | (src_y < -_EDGE_TOLERANCE) | (src_y > in_height - 1 + _EDGE_TOLERANCE))


def _wrap_coordinates(coordinate, size):
    """SciPy's 'wrap' on continuous coordinates: outside [0, n-1] they move by
    whole periods of n - 1 (a point exactly a period below 0 lands on n - 1)."""
    if size <= 1:
        return np.zeros_like(coordinate)
    period = size - 1
    below = coordinate < 0
    above = coordinate > period
    wrapped = np.where(below, coordinate + period * (np.trunc(-coordinate / period) + 1),
                       coordinate)
    return np.where(above, coordinate - period * np.trunc(coordinate / period), wrapped)


def _map_indices(index, size, fill_mode):
    """Integer tap positions -> valid indices, by SciPy's boundary rules."""
    if fill_mode == 'reflect':
        return reflect_index(index, size)
    if fill_mode == 'wrap' and size > 1:  # SciPy's wrap: period n - 1 outside the image
        inside = (index >= 0) & (index <= size - 1)
        return np.where(inside, index, np.mod(index, size - 1))
    # 'nearest'; 'constant' clamps too (points outside are overwritten with cval).
    return np.clip(index, 0, size - 1)


def _taps(coordinate, order):
    """[(integer index array, weight array or None)] for one axis."""
    if order == 0:
        return [(np.floor(coordinate + 0.5).astype(np.intp), None)]
    base = np.floor(coordinate)
    fraction = (coordinate - base).astype(np.float32)
    base = base.astype(np.intp)
    return [(base, 1.0 - fraction), (base + 1, fraction)]


def _warp_numpy(image, matrix, out, order, fill_mode, cval):
    """image (h, w, c) -> out (H, W, c) by gathering the taps of every output pixel."""
    in_height, in_width, channels = image.shape
    out_height, out_width = out.shape[:2]
    src_x, src_y = source_coordinates(matrix, out_height, out_width)
    if fill_mode == 'wrap':
        src_x, src_y = _wrap_coordinates(src_x, in_width), _wrap_coordinates(src_y, in_height)
    flat = image.reshape(in_height * in_width, channels)
    x_taps = [(_map_indices(i, in_width, fill_mode), w) for i, w in _taps(src_x, order)]
    y_taps = [(_map_indices(i, in_height, fill_mode) * in_width, w)
              for i, w in _taps(src_y, order)]
    work_dtype = image.dtype if image.dtype in (np.float32, np.float64) else np.float32
    total = np.zeros((out_height, out_width, channels), dtype=work_dtype)
    for row_offset, wy in y_taps:
        for col_index, wx in x_taps:
            values = flat[row_offset + col_index]
            if wy is None:  # order 0: one tap, weight 1
                total += values
            else:
                total += values * (wy * wx)[..., np.newaxis]
    if fill_mode == 'constant':
        total[_outside_mask(matrix, out_height, out_width, in_height, in_width)] = cval
    if np.issubdtype(out.dtype, np.integer):
        limits = np.iinfo(out.dtype)
        total = np.clip(np.rint(total), limits.min, limits.max)
    out[...] = total


if cv2 is not None:
    _CV2_INTERPOLATION = {0: cv2.INTER_NEAREST, 1: cv2.INTER_LINEAR}
    # 'constant': taps are clamped like 'nearest', then points outside get cval
    # (SciPy never blends cval into the edge pixels, as OpenCV's constant border does).
    _CV2_BORDER = {'constant': cv2.BORDER_REPLICATE, 'nearest': cv2.BORDER_REPLICATE,
                   'reflect': cv2.BORDER_REFLECT}
    _CV2_DTYPES = (np.uint8, np.uint16, np.int16, np.float32, np.float64)


def _cv2_can_warp(image, order, fill_mode):
    return (get_warp_backend() == 'opencv' and order in _CV2_INTERPOLATION
            and fill_mode in _CV2_BORDER and image.dtype in _CV2_DTYPES)


def _warp_scipy(image, matrix, out, order, fill_mode, cval):
    """Spline orders 2-5 with SciPy's ``ndimage.affine_transform``, channel by
    channel, as Keras does; SciPy's coordinates are (row, col), ours (x, y)."""
    try:
        from scipy import ndimage
    except ImportError:
        raise ImportError(f'interpolation order {order} uses SciPy\'s spline '
                          'interpolation: pip install scipy') from None
    row_col = matrix[::-1, [1, 0, 2]]
    work = image.astype(np.float64) if image.dtype != np.float64 else image
    for c in range(image.shape[2]):
        plane = ndimage.affine_transform(work[:, :, c], row_col[:, :2], offset=row_col[:, 2],
                                         output_shape=out.shape[:2], order=order,
                                         mode=fill_mode, cval=cval)
        if np.issubdtype(out.dtype, np.integer):
            limits = np.iinfo(out.dtype)
            plane = np.clip(np.rint(plane), limits.min, limits.max)
        out[:, :, c] = plane


def _warp_cv2(image, matrix, out, order, fill_mode, cval):
    """image (h, w, c) -> out (H, W, c) with OpenCV, at most 4 channels per call."""
    runtime.limit_opencv_threads(cv2)
    out_height, out_width = out.shape[:2]
    flags = _CV2_INTERPOLATION[order] | cv2.WARP_INVERSE_MAP
    warp_matrix = matrix
    if order == 0:
        # OpenCV rounds a coordinate exactly halfway between two pixels down, SciPy
        # up; a nudge of 1/1000 pixel makes the ties go up here too.
        warp_matrix = matrix + [[0, 0, _NEAREST_TIE_NUDGE], [0, 0, _NEAREST_TIE_NUDGE]]
    border = _CV2_BORDER[fill_mode]
    for start in range(0, image.shape[2], 4):
        src = image[:, :, start:start + 4]
        dst = out[:, :, start:start + 4]
        if src.shape[2] == 1:  # OpenCV drops a trailing axis of 1: use 2-D planes
            src, dst = src[:, :, 0], dst[:, :, 0]
        src = np.ascontiguousarray(src)
        result = cv2.warpAffine(src, warp_matrix, (out_width, out_height),
                                dst=dst if dst.flags.c_contiguous else None, flags=flags,
                                borderMode=border)
        if not np.shares_memory(result, dst):
            dst[...] = result.reshape(dst.shape)
    if fill_mode == 'constant':
        out[_outside_mask(matrix, out_height, out_width, *image.shape[:2])] = cval


def warp_affine(image, matrix, output_size=None, channel_axis=-1, order=1, fill_mode='nearest',
                cval=0.0, out=None):
    """Resample one image through an inverse affine map.

    Args:
        image: array of rank 3 with channels on ``channel_axis`` (0 or -1/2).
        matrix: (2, 3) inverse map in (x, y) pixel coordinates (see ``transform_matrix``).
        output_size: ``(height, width)`` of the result (default: the input's).
        order: 0 (nearest), 1 (bilinear) or a spline order 2-5 (SciPy).
        fill_mode: one of ``FILL_MODES``; cval: fill for 'constant'.
        out: optional array to write into (shape of the result, any dtype).
    Returns:
        The resampled image (``out`` if given), same layout and dtype as ``image``.
    """
    if image.ndim != 3:
        raise ValueError(f'warp_affine: expected an image of rank 3, got shape {image.shape}')
    if order not in ORDERS:
        raise ValueError(f'interpolation order must be one of {ORDERS} '
                         f'(0 nearest, 1 bilinear, 2-5 splines), got {order!r}')
    if fill_mode not in FILL_MODES:
        raise ValueError(f'fill_mode must be one of {FILL_MODES}, got {fill_mode!r}')
    channels_first = channel_axis == 0
    hwc = image.transpose(1, 2, 0) if channels_first else image
    height, width = output_size if output_size is not None else hwc.shape[:2]
    out_shape = (hwc.shape[2], height, width) if channels_first else (height, width, hwc.shape[2])
    if out is None:
        out = np.empty(out_shape, dtype=image.dtype)
    elif out.shape != out_shape:
        raise ValueError(f'warp_affine: out has shape {out.shape}, expected {out_shape}')
    out_hwc = out.transpose(1, 2, 0) if channels_first else out
    matrix = np.asarray(matrix, dtype=np.float64)
    if order > 1:
        _warp_scipy(hwc, matrix, out_hwc, order, fill_mode, cval)
    elif _cv2_can_warp(hwc, order, fill_mode):
        _warp_cv2(hwc, matrix, out_hwc, order, fill_mode, cval)
    else:
        _warp_numpy(hwc, matrix, out_hwc, order, fill_mode, cval)
    return out
