"""``grad(outputs, inputs)``: gradients of some Variables with respect to
others, as ``torch.autograd.grad`` gives them, without touching ``.grad``.

``Variable.backward`` fills the ``.grad`` of every leaf that requires one
(a model's weights included). ``grad`` answers a narrower question: the
gradient of ``sum(outputs)`` with respect to the Variables named, which may
be leaves or intermediate results. It walks only the functions that lie on a
path from an output down to one of them, and during each backward it tells
the function to skip its other inputs (``needs_input_grad``), so asking for
the gradient with respect to an image does not compute a model's weight
gradients. Nothing is written to any ``.grad``.
"""
from .array_module import get_array_module
from .config import using_config
from .variable import FunctionQueue, Variable, seed_for


def grad(outputs, inputs, grad_outputs=None, create_graph=False):
    """d(sum of ``outputs``)/d(each of ``inputs``).

    Args:
        outputs: a Variable or a list of them (any shapes; each is summed,
            i.e. seeded with ones, unless ``grad_outputs`` is given).
        inputs: a Variable or a list of them: leaves or intermediate results
            of the graph that made ``outputs``.
        grad_outputs: seeds, one per output (arrays, scalars or Variables,
            None for ones); default ones. Each must have its output's shape
            (ValueError) and is cast to its output's dtype where NumPy's
            'same_kind' rule allows (a float64 seed for float32 data gives
            float32 gradients; a complex seed for real data is a TypeError):
            ``variable.seed_for``, the rule ``Variable.backward`` follows too.
        create_graph: record the gradient computation, so the gradients can
            be differentiated again.

    Returns:
        A list with one gradient Variable per input (its shape and dtype),
        or None for an input that the outputs do not depend on through
        Variables that require a gradient.
    """
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    inputs = inputs if isinstance(inputs, (list, tuple)) else [inputs]
    for what, items in (('outputs', outputs), ('inputs', inputs)):
        bad = [type(v).__name__ for v in items if not isinstance(v, Variable)]
        if bad:
            raise TypeError(f"grad: {what} must be Variables, got {bad}")
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad: {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")

    targets = {id(v) for v in inputs}
    leads = _leading_to(outputs, targets)
    grads = {}  # id(Variable) -> this call's gradient, summed over its users
    keep = {}   # id -> Variable, so ids stay valid while the walk runs
    queue = FunctionQueue()
    push = queue.push

    def add(variable, g):
        keep[id(variable)] = variable
        grads[id(variable)] = g if id(variable) not in grads else grads[id(variable)] + g
        if variable.creator is not None and id(variable.creator) in leads:
            push(variable.creator)

    for i, (y, seed) in enumerate(zip(outputs, grad_outputs)):
        seed = seed_for(y, seed, f"grad: grad_outputs[{i}]", f"outputs[{i}]")
        if id(y) not in targets and (y.creator is None or id(y.creator) not in leads):
            continue
        add(y, seed)

    while queue:
        f = queue.pop()
        outs = [ref() for ref in f.outputs]
        gys = [None if y is None else grads.get(id(y)) for y in outs]
        if all(g is None for g in gys):
            continue
        needed = tuple(need and _leads(x, targets, leads)
                       for need, x in zip(f.needs_input_grad, f.inputs))
        with using_config('enable_backprop', create_graph):
            if len(gys) > 1:  # an unused output of a multi-output op gets zeros
                xp = get_array_module(f.inputs[0].data)
                gys = [g if g is not None else
                       Variable(xp.zeros(shape, dtype), requires_grad=False)
                       for g, (shape, dtype) in zip(gys, f.output_meta)]
            recorded, f.needs_input_grad = f.needs_input_grad, needed
            try:
                gxs = f.backward(*gys)
            finally:
                f.needs_input_grad = recorded
        if not isinstance(gxs, tuple):
            gxs = (gxs,)
        for x, gx, need in zip(f.inputs, gxs, needed):
            if need and gx is not None:
                add(x, gx)
    return [grads.get(id(x)) for x in inputs]


def _leads(x, targets, leads):
    """Whether Variable ``x`` is a target or made by a function on a path to one."""
    return x.requires_grad and (id(x) in targets or
                                (x.creator is not None and id(x.creator) in leads))


def _leading_to(outputs, targets):
    """The ids of the functions, below ``outputs``, that have an input which
    is a target or is made by such a function (iterative: graphs are deep)."""
    leads, done = set(), set()
    stack = [y.creator for y in outputs if y.creator is not None]
    while stack:
        f = stack[-1]
        if id(f) in done:
            stack.pop()
            continue
        pending = [x.creator for x in f.inputs
                   if x.creator is not None and id(x.creator) not in done]
        if pending:
            stack.extend(pending)
            continue
        stack.pop()
        done.add(id(f))
        if any(_leads(x, targets, leads) for x in f.inputs):
            leads.add(id(f))
    return leads
