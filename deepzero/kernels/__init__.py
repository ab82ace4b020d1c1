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
    cpu/          the kernel set for NumPy arrays (threads, workspace pool)

Choosing a kernel set: an op calls ``for_arrays(x)`` and then a kernel of
the set it gets, e.g. ``for_arrays(x).conv2d(x, kernel, bias, spec)``. A set
is a module exporting the functions of ``cpu/__init__.py``, with the same
signatures. A set for CuPy arrays would be a package ``kernels/cupy/`` beside
``cpu/``, registered in ``_SETS`` under ``'cupy'``: this is the one place
where arrays choose their kernels. Until one exists, CuPy arrays run the cpu
set, whose kernels ask ``get_array_module`` for their array calls.
"""
from ..core import get_array_module
from . import cpu

_SETS = {'numpy': cpu}  # array module name -> kernel set


def for_arrays(*arrays):
    """The kernel set for the array module of ``arrays`` (see above)."""
    return _SETS.get(get_array_module(*arrays).__name__, cpu)
