"""The layering, executable: a package of deepzero never imports one above it
(the README's layout table, bottom to top), not even inside a function.

Every ``import`` and ``from ... import`` in every module is read from the
source (so deferred imports count too) and resolved to the deepzero unit it
names: a subpackage (``deepzero.layers``) or a top-level module
(``deepzero.losses``).
"""
import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / 'deepzero'

# Bottom to top; units on one line are one level and may import each other.
LEVELS = [
    ['core', 'cuda'],  # deepzero.cuda re-exports core/cuda.py (DeZero's dezero.cuda)
    ['kernels'],
    ['functions'],
    ['activations', 'initializers', 'regularizers', 'layers'],
    ['losses', 'metrics', 'optimizers', 'callbacks'],
    ['saving'],
    ['models', 'distributed'],
    ['preprocessing', 'applications', 'utils', 'datasets'],
    ['keras', 'dezero'],
    ['demo', 'demo_transfer', 'cli'],
]
LEVEL = {unit: i for i, units in enumerate(LEVELS) for unit in units}


def module_name(path):
    parts = list(path.relative_to(PACKAGE.parent).with_suffix('').parts)
    return parts[:-1] if parts[-1] == '__init__' else parts


def is_module(parts):
    where = PACKAGE.parent.joinpath(*parts)
    return where.is_dir() or where.with_suffix('.py').is_file()


def imported_modules(path):
    """The deepzero modules that ``path`` imports, as lists of name parts."""
    name = module_name(path)
    package = name if path.name == '__init__.py' else name[:-1]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name.split('.') for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            source = base + (node.module.split('.') if node.module else [])
            for alias in node.names:  # `from . import layers` names a module
                yield source + [alias.name] if is_module(source + [alias.name]) else source


def unit(parts):
    """'deepzero.layers.dense' -> 'layers'; None for the package itself or
    anything outside deepzero."""
    return parts[1] if len(parts) > 1 and parts[0] == 'deepzero' else None


MODULES = sorted(PACKAGE.rglob('*.py'))


def test_every_unit_has_a_level():
    units = {unit(module_name(path)) for path in MODULES} - {None}
    assert units <= set(LEVEL), f"add {sorted(units - set(LEVEL))} to LEVELS"


@pytest.mark.parametrize('path', MODULES, ids=lambda p: str(p.relative_to(PACKAGE.parent)))
def test_no_module_imports_a_higher_level(path):
    own = unit(module_name(path))
    higher = sorted({'.'.join(parts) for parts in imported_modules(path)
                     if own and unit(parts) and LEVEL[unit(parts)] > LEVEL[own]})
    assert not higher, f"{own} (level {LEVEL[own]}) imports {higher} from above it"


def test_no_op_shares_a_name_with_a_keras_class():
    """An op (a Function subclass) named like a Keras layer, loss or metric
    carries the suffix Function (Conv2DFunction beside the Conv2D layer), so a
    class name says which of the two it is."""
    import inspect

    import deepzero.functions as F
    from deepzero import layers, losses, metrics
    from deepzero.core import Function
    keras_names = {name for module in (layers, losses, metrics)
                   for name, obj in vars(module).items() if inspect.isclass(obj)}
    ops = {cls.__name__ for cls in _subclasses(Function)}
    assert not ops & keras_names


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)

