"""HDF5 attributes as Keras writes them, read back whatever wrote them.

Two quirks of real files meet here:

* Strings come back as ``bytes`` or ``str``. Keras 1/2 stored UTF-8 bytes
  (``name.encode('utf8')``); Keras 3 and h5py 3 store variable-length str.
  Readers decode both.
* An HDF5 object header holds at most 64 KiB of attributes, so Keras splits
  a long list attribute (the ``layer_names`` of a big model, the
  ``weight_names`` of a nested one) into ``name0``, ``name1``, ... Readers
  concatenate the chunks in order.
"""
import json

import numpy as np

# Keras's limit for one attribute (a little under HDF5's 64 KiB header).
HDF5_OBJECT_HEADER_LIMIT = 64512


def as_str(value):
    """A str from an attribute value stored as str, bytes or a NumPy bytes scalar."""
    if isinstance(value, (bytes, np.bytes_)):
        return value.decode('utf8')
    return str(value)


def read_str(obj, name, default=None):
    """Attribute ``name`` of an HDF5 group/file as str, or ``default`` if absent."""
    if name not in obj.attrs:
        return default
    return _decoded(obj, name, lambda: as_str(obj.attrs[name]))


def _decoded(obj, name, decode):
    """``decode()``; text that is not UTF-8 is a ValueError naming the file,
    the object and the attribute."""
    try:
        return decode()
    except UnicodeDecodeError:
        raise ValueError(f"{obj.file.filename}: attribute {name!r} of {obj.name!r} is "
                         "not UTF-8 text") from None


def write_str(obj, name, value):
    """Store ``value`` as UTF-8 bytes, the form every Keras version reads."""
    obj.attrs[name] = value.encode('utf8')


def read_json(obj, name):
    """Attribute ``name`` parsed as JSON (``None`` if absent). Keras's legacy
    encoder may write tuples as ``{"class_name": "__tuple__", "items": [...]}``;
    they come back as tuples. Only JSON is parsed: nothing in a file runs.
    Text that is not JSON is a ValueError naming the file, the object and
    the attribute."""
    text = read_str(obj, name)
    if text is None:
        return None
    where = f"{obj.file.filename}: attribute {name!r} of {obj.name!r}"
    try:
        return json.loads(text, object_hook=_decode_tuple)
    except json.JSONDecodeError as e:
        raise ValueError(f"{where} is not JSON: {e}") from None
    except RecursionError:  # JSON nested deeper than the parser recurses
        raise ValueError(f"{where}: JSON nested too deeply to parse") from None


def write_json(obj, name, value):
    write_str(obj, name, json.dumps(value))


def _decode_tuple(d):
    if d.get('class_name') == '__tuple__' and 'items' in d:
        return tuple(d['items'])
    return d


def read_str_list(obj, name):
    """List attribute ``name`` as a list of str, joining chunks ``name0``,
    ``name1``, ... when the writer had to split it. Absent: empty list."""
    if name in obj.attrs:
        chunks = [obj.attrs[name]]
    else:
        chunks = []
        while f'{name}{len(chunks)}' in obj.attrs:
            chunks.append(obj.attrs[f'{name}{len(chunks)}'])
    return _decoded(obj, name, lambda: [as_str(item) for chunk in chunks
                                        for item in np.atleast_1d(chunk)])


def write_str_list(obj, name, strings, limit=HDF5_OBJECT_HEADER_LIMIT):
    """Store ``strings`` as a fixed-length bytes array, split into as few
    numbered chunks as keep each under ``limit`` bytes.

    An empty list is stored as an empty float array, as Keras does (h5py
    cannot store a zero-length string array).
    """
    encoded = [s.encode('utf8') for s in strings]
    too_long = [s for s in encoded if len(s) > limit]
    if too_long:
        raise ValueError(f"attribute {name!r}: these names are longer than the "
                         f"{limit}-byte HDF5 attribute limit: {too_long}")
    if not encoded:
        obj.attrs[name] = np.zeros(0)
        return
    data = np.array(encoded)  # dtype S<longest name>
    n_chunks = 1
    chunks = [data]
    while any(chunk.nbytes > limit for chunk in chunks):
        n_chunks += 1
        chunks = np.array_split(data, n_chunks)
    if n_chunks == 1:
        obj.attrs[name] = data
    else:
        for i, chunk in enumerate(chunks):
            obj.attrs[f'{name}{i}'] = chunk
