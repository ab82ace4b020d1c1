"""Pictures of the computational graph, in Graphviz's DOT language.

Variables are ellipses (name, shape and dtype with ``verbose=True``),
Functions are boxes; edges follow the data from inputs to outputs.
"""
import os
import shutil
import subprocess

from ..core.files import atomic_write


def _variable_node(v, verbose):
    label = v.name or ''
    if verbose and v.data is not None:
        label += (': ' if label else '') + f'{v.shape} {v.dtype}'
    return f'{id(v)} [label="{label}", color=orange, style=filled]\n'


def _function_node(f):
    text = f'{id(f)} [label="{type(f).__name__}", color=lightblue, style=filled, shape=box]\n'
    for x in f.inputs:
        text += f'{id(x)} -> {id(f)}\n'
    for ref in f.outputs:
        y = ref()
        if y is not None:
            text += f'{id(f)} -> {id(y)}\n'
    return text


def get_dot_graph(output, verbose=False):
    """Return DOT text for the graph that produced ``output`` (a Variable)."""
    lines = _variable_node(output, verbose)
    seen_funcs, seen_vars = set(), {id(output)}
    funcs = [output.creator] if output.creator is not None else []
    while funcs:
        f = funcs.pop()
        if id(f) in seen_funcs:
            continue
        seen_funcs.add(id(f))
        lines += _function_node(f)
        for y in (ref() for ref in f.outputs):
            if y is not None and id(y) not in seen_vars:
                seen_vars.add(id(y))
                lines += _variable_node(y, verbose)
        for x in f.inputs:
            if id(x) not in seen_vars:
                seen_vars.add(id(x))
                lines += _variable_node(x, verbose)
            if x.creator is not None:
                funcs.append(x.creator)
    return 'digraph g {\n' + lines + '}'


def render_dot(text, to_file):
    """Render DOT ``text`` to an image with Graphviz's ``dot`` (written to a
    temporary file beside ``to_file``, then renamed: ``core.files.atomic_write``).

    The format follows the file extension (png, svg, pdf, ...). Raises
    RuntimeError with install instructions when ``dot`` is missing.
    """
    dot = shutil.which('dot')
    if dot is None:
        raise RuntimeError("Drawing a graph needs Graphviz's `dot` program: install it with "
                           "`apt-get install graphviz` (Debian/Ubuntu), `brew install graphviz` "
                           "(macOS) or `conda install graphviz`; get_dot_graph() and "
                           "model_to_dot() give the DOT text without it")
    fmt = os.path.splitext(to_file)[1][1:] or 'png'
    with atomic_write(to_file) as temp_image:
        subprocess.run([dot, '-T', fmt, '-o', temp_image], input=text, text=True, check=True,
                       capture_output=True)


def plot_dot_graph(output, verbose=True, to_file='graph.png'):
    """Render the graph of ``output`` to an image with Graphviz's ``dot``
    (see ``render_dot``)."""
    render_dot(get_dot_graph(output, verbose), to_file)
