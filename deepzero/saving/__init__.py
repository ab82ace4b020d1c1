"""Saving and loading models in Keras's file formats.

* ``.keras``: Keras 3's zip (config.json, model.weights.h5, metadata.json).
* ``.h5`` / ``.hdf5``: Keras's legacy HDF5 format (the book's
  ``model.save('cats_and_dogs_small_1.h5')``), readable by Keras 1, 2 and 3.
* ``.weights.h5``: Keras 3's weights-only file; other ``.h5`` names given
  to ``save_weights`` get the legacy weights-only layout, which is also the
  layout of every keras.applications download.

Files are read by their content, not their name. Loading never executes code
from a file; writing goes to a temporary file that replaces the target only
once complete (``core.files.atomic_write``). Loading checks before it changes or allocates
anything: the config field by field, every weight's shape against the file's,
and a model's weights are created only in the shapes its file holds.

Saving sits below the models (``model.save`` calls it) and knows objects
only through their protocols (``get_config``/``from_config``,
``save_own_variables``/``load_own_variables``); ``load_model`` rebuilds the
model classes that ``deepzero.models`` registers when imported (as
``deepzero.keras`` does).

Saving holds Ctrl-C back until it has returned: h5py frees its objects in
destructors, where Python cannot raise KeyboardInterrupt (it prints
"Exception ignored" and goes on), so a Ctrl-C landing there was lost and
``fit`` went on training. Held back, it is raised once the file is complete
and the last h5py object of the save is gone.
"""
import os

from ..core.interrupts import defer_interrupts
from . import keras_zip, legacy_h5
from .serialization import deserialize, resolve_class, serialize

LEGACY_SUFFIXES = ('.h5', '.hdf5')


def save_model(model, filepath, overwrite=True, include_optimizer=True):
    """Save architecture, weights and (``include_optimizer``) compile and
    optimizer state, in the format the name's suffix selects. Ctrl-C during
    the save takes effect once the file is complete."""
    write = _writer_for(filepath, (('.keras', keras_zip.save_model),
                                   (LEGACY_SUFFIXES, legacy_h5.save_model)),
                        "save_model: cannot tell the format of {name!r}: the name must end "
                        "in .keras (Keras 3 format) or .h5 / .hdf5 (legacy HDF5 format)")
    with defer_interrupts():   # see the module docstring
        write(model, filepath, overwrite, include_optimizer)


def load_model(filepath, custom_objects=None, compile=True):
    """Rebuild a model saved by deepzero or Keras (.keras or .h5).

    Args:
        custom_objects: ``{class name: class}`` for layers, losses, metrics or
            optimizers that are not part of deepzero.
        compile: recompile with the saved compile arguments and restore the
            optimizer state (so ``fit`` resumes where it stopped).
    """
    if _is_zip(filepath):
        return keras_zip.load_model(filepath, custom_objects, compile)
    return legacy_h5.load_model(filepath, custom_objects, compile)


def save_weights(model, filepath, overwrite=True):
    """``x.weights.h5``: Keras 3 layout; other ``.h5``/``.hdf5`` names: legacy
    layout. Ctrl-C during the save takes effect once the file is complete."""
    write = _writer_for(filepath, (('.weights.h5', keras_zip.save_weights),
                                   (LEGACY_SUFFIXES, legacy_h5.save_weights)),
                        "save_weights: the file name must end in .weights.h5 (Keras 3 "
                        "layout) or .h5 / .hdf5 (legacy layout); got {name!r}")
    with defer_interrupts():   # see the module docstring
        write(model, filepath, overwrite)


def load_weights(model, filepath, by_name=False, skip_mismatch=False):
    """Load weights from a .keras, .weights.h5 or legacy .h5 file.

    Legacy files load by position (the i-th layer with weights of the model
    takes the i-th such layer of the file) or, with ``by_name=True``, by layer
    name, skipping names the model lacks. ``skip_mismatch`` skips weights
    whose shape differs (and, by name, layers whose weight count differs)
    with a warning instead of raising. Otherwise it is all or nothing: a file
    that does not fit raises before any weight changes.
    """
    if _is_zip(filepath):
        _no_by_name(by_name, filepath)
        keras_zip.load_weights_from_archive(model, filepath, skip_mismatch)
        return
    with legacy_h5.open_h5(filepath) as f:
        legacy = _is_legacy_layout(f)
    if legacy:
        legacy_h5.load_weights(model, filepath, by_name, skip_mismatch)
    else:
        _no_by_name(by_name, filepath)
        keras_zip.load_weights(model, filepath, skip_mismatch)


def _writer_for(filepath, writers, unknown_suffix_error):
    """The writer that ``filepath``'s name selects: ``writers`` is a sequence
    of ``(suffix or tuple of suffixes, writer)``, the first match wins
    ('.weights.h5' before '.h5'). ValueError ``unknown_suffix_error``
    (formatted with ``name``) when none matches."""
    name = os.fspath(filepath)
    for suffixes, write in writers:
        if name.endswith(suffixes):
            return write
    raise ValueError(unknown_suffix_error.format(name=name))


def _is_zip(filepath):
    if not os.path.exists(os.fspath(filepath)):
        raise FileNotFoundError(f"No such file: {os.fspath(filepath)}")
    return keras_zip.is_zip(filepath)


def _is_legacy_layout(f):
    try:
        legacy_h5.weights_group(f)
        return True
    except ValueError:
        if 'vars' in f or 'layers' in f:
            return False
        raise


def _no_by_name(by_name, filepath):
    if by_name:
        raise ValueError(f"load_weights({os.fspath(filepath)!r}): by_name=True only "
                         "works with legacy .h5 files, whose weights are stored "
                         "under layer names")


__all__ = ['save_model', 'load_model', 'save_weights', 'load_weights',
           'serialize', 'deserialize', 'resolve_class']
