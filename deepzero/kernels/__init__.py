"""Array kernels: the loops, copies and GEMMs under the conv, pooling and ReLU ops.

Layering: ``core`` -> ``kernels`` -> ``functions``. The ops in
``deepzero.functions`` are ``Function`` classes whose forward and backward
each call one kernel on arrays; a kernel owns its loops (chunks, window
offsets, threads) and knows nothing of Variables or graphs. State a gradient
needs (a max pool's winners, a ReLU mask) is returned by the forward kernel
and handed by the op to its gradient op.

    geometry.py   window geometry: padding, output sizes (the one rule, also
                  the layers' shape inference), window offsets, ConvSpec/PoolSpec
    reference.py  conv2d in a dozen lines (im2col + matmul on Variables): the
                  door into the fast path, and a second oracle for the tests
    image.py      Keras 3's image resampling: resize (PyTorch's interpolate rules)
                  and the affine resample of the random geometric layers
                  (array-API code, NumPy or CuPy)
    windows.py    window views, the gather and scatter over window offsets,
                  the pools' padding value, winner dtype and counts: array-API
                  code shared by both sets
    cpu/          the kernel set for NumPy arrays (threads, workspace pool)
    gpu/          the kernel set for CuPy arrays (im2col + cuBLAS, CuPy's
                  memory pool), and the optimizers' fused device updates

Choosing a kernel set: an op calls ``for_arrays(x)`` and then a kernel of
the set it gets, e.g. ``for_arrays(x).conv2d(x, kernel, bias, spec)``. A set
is a module exporting the functions of ``cpu/__init__.py``, with the same
signatures, registered in ``_SETS`` under its array module's name: this is
the one place where arrays choose their kernels. ``gpu`` imports without
CuPy (it is only ever chosen for CuPy arrays).
"""
from ..core import get_array_module
from . import cpu, gpu

_SETS = {'numpy': cpu, 'cupy': gpu}  # array module name -> kernel set


def for_arrays(*arrays):
    """The kernel set for the array module of ``arrays`` (see above)."""
    return _SETS.get(get_array_module(*arrays).__name__, cpu)
