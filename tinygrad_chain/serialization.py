"""tc.save / tc.load: checkpoints that never unpickle.

File layout (little-endian)::

    b"TGCCKPT1"                  magic and format version
    uint64 header length
    header                       UTF-8 JSON: the object tree and a table of tensors
    data                         the tensors' raw bytes, each 64-byte aligned
    uint32 CRC-32 of header+data, then b"TEND"

The tree encodes None, bools, ints, floats, strings directly and tags the
rest ({"$list": [...]}, {"$tuple": [...]}, {"$dict": [[key, value], ...]},
{"$tensor": index}, {"$ndarray": index}, {"$dtype": name}, {"$device": name}),
so dict keys keep their types (optimizer state is keyed by ints) and nothing is
ever executed when a file is read. The table lists the tensors and NumPy arrays
(an array's entry has no device, requires_grad or parameter field). A whole
module or optimizer is refused: its state_dict() is what a checkpoint holds.

Saving writes a temporary file in the target's folder, fsyncs it and renames
it over the target, so an interrupted save leaves the previous checkpoint whole.
A symlink at the path stays a link: the file it points to is the one replaced.
The new file gets the mode open() would give it (the umask's), or the mode of
the file it replaces; the writer holds a lock on its temporary file, so the next
save to that path can tell the files of killed writers from those of live ones
and removes them. Loading checks the header
against the format strictly: any file tc.save could not have written raises
CheckpointError.
"""
import argparse
import contextlib
import json
import math
import os
import re
import secrets
import stat
import struct
import zlib

try:
    import fcntl  # POSIX; without it, saves take no lock and leave stale temporary files alone
except ImportError:
    fcntl = None

import numpy  # raw-buffer I/O only: the arrays' bytes in and out of files

from tinygrad_chain import backends, dtypes
from tinygrad_chain.device import backend_for, device
from tinygrad_chain.nn import Parameter
from tinygrad_chain.tensor import Tensor

MAGIC = b"TGCCKPT1"
END = b"TEND"
FORMAT = "tinygrad_chain checkpoint"
_ALIGN = 64
_MAX_DEPTH = 100  # containers inside containers: far beyond real checkpoints, far inside the recursion limit
_MAX_NDIM = 64  # NumPy's limit


class CheckpointError(RuntimeError):
    """A file that is not a readable tinygrad_chain checkpoint."""


# ---- save ----------------------------------------------------------------------
def save(obj, f):
    """Write obj (nested dicts/lists/tuples of tensors, NumPy arrays, numbers, strings, bools, None) to
    path or file f."""
    tensors = []
    tree = _encode(obj, tensors, {}, "obj", 0)
    if hasattr(f, "write"):
        _write_payload(f, tree, tensors)
        return
    path = os.path.realpath(os.fspath(f))  # a symlink stays one: its target is replaced, as open() writes it
    if os.path.isdir(path):
        raise IsADirectoryError(f"tc.save: {os.fspath(f)!r} is a directory")
    folder, base = os.path.dirname(path), os.path.basename(path)
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)  # a replaced file keeps its permissions
    except FileNotFoundError:
        mode = None  # a new file gets open()'s: 0o666 less the umask
    _remove_dead_temps(folder, base)
    fd, tmp = _new_temp(folder, base)
    try:
        with os.fdopen(fd, "wb") as fh:
            if mode is not None:
                os.chmod(tmp, mode)  # before any data is in it
            _write_payload(fh, tree, tensors)
            fh.flush()
            os.fsync(fh.fileno())
            os.replace(tmp, path)  # still locked: no other save takes it for a dead writer's file
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(folder)


def _new_temp(folder, base):
    """Create (as open() would: the umask applies) and lock a new temporary file beside the target."""
    while True:
        tmp = os.path.join(folder, f".{base}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        except FileExistsError:
            continue
        if fcntl is None:
            return fd, tmp
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:  # a file system without locks: nothing can be cleaned there either
            return fd, tmp
        try:
            if os.path.samestat(os.fstat(fd), os.stat(tmp)):
                return fd, tmp
        except FileNotFoundError:
            pass
        os.close(fd)  # another save removed it between our create and our lock: start again


def _remove_dead_temps(folder, base):
    """Delete the temporary files of earlier saves to this path whose writer died (kill -9, power cut).

    A live writer holds an exclusive lock on its file until the rename, so a file
    that can be locked has no writer left.
    """
    if fcntl is None:
        return
    # ours have 8 hex digits in the middle; 8 of [a-z0-9_] also takes in those of tempfile.mkstemp (older versions)
    pattern = re.compile(re.escape(f".{base}.") + r"[a-z0-9_]{8}\.tmp")
    try:
        names = [n for n in os.listdir(folder) if pattern.fullmatch(n)]
    except OSError:
        return
    for n in names:
        tmp = os.path.join(folder, n)
        try:
            fd = os.open(tmp, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        except OSError:
            continue
        try:
            if stat.S_ISREG(os.fstat(fd).st_mode):
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                os.unlink(tmp)  # while we hold the lock, so a writer that just created it sees it gone
        except OSError:
            pass  # its writer is alive (locked), or another save removed it first
        finally:
            os.close(fd)


def _fsync_dir(folder):
    # makes the rename itself durable; not every platform can open a directory
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _encode(obj, tensors, memo, where, depth):
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if depth >= _MAX_DEPTH and isinstance(obj, (dict, list, tuple)):
        raise ValueError(f"tc.save cannot store {where}: containers nest more than {_MAX_DEPTH} deep there")
    if isinstance(obj, (Tensor, numpy.ndarray)):  # into the table, once however often named
        if isinstance(obj, numpy.ndarray) and _ARRAY_DTYPES.get(obj.dtype.name) != obj.dtype.kind:
            raise TypeError(f"tc.save cannot store {where}, a NumPy array of dtype {obj.dtype}: arrays of "
                            f"{', '.join(_ARRAY_DTYPES)} can be stored")
        key = id(obj)
        if key not in memo:
            memo[key] = len(tensors)
            tensors.append(obj)
        return {"$tensor" if isinstance(obj, Tensor) else "$ndarray": memo[key]}
    if isinstance(obj, dict):
        return {"$dict": [[_encode(k, tensors, memo, f"{where} key {k!r}", depth + 1),
                           _encode(v, tensors, memo, f"{where}[{k!r}]", depth + 1)] for k, v in obj.items()]}
    if isinstance(obj, list):
        return {"$list": [_encode(v, tensors, memo, f"{where}[{i}]", depth + 1) for i, v in enumerate(obj)]}
    if isinstance(obj, tuple):
        return {"$tuple": [_encode(v, tensors, memo, f"{where}[{i}]", depth + 1) for i, v in enumerate(obj)]}
    if isinstance(obj, dtypes.DType):
        return {"$dtype": obj.name}
    if isinstance(obj, device):
        return {"$device": obj.name}
    if type(obj).__module__ == "numpy" and hasattr(obj, "item") and getattr(obj, "ndim", None) == 0:
        return _encode(obj.item(), tensors, memo, where, depth)  # a NumPy scalar
    what = type(obj).__name__
    if callable(getattr(obj, "state_dict", None)):  # a Module, an Optimizer, a scheduler
        raise TypeError(f"tc.save cannot store {where}, a whole {what}: that would need pickle, which tc.load "
                        f"never runs. Save its state_dict() instead (tc.save(model.state_dict(), path)) and load it "
                        f"into a new {what} with load_state_dict(tc.load(path)).")
    if isinstance(obj, argparse.Namespace):
        raise TypeError(f"tc.save cannot store {where}, an argparse.Namespace: save vars(args), a dict of its "
                        f"values, instead")
    raise TypeError(f"tc.save cannot store {where}, an object of type {what}: checkpoints hold tensors, NumPy "
                    f"arrays, numbers, strings, bools, None, and dicts/lists/tuples of them")


def _write_payload(fh, tree, tensors):
    """Write the whole file to the binary file object fh."""
    table, arrays, offset = [], [], 0
    for t in tensors:  # tensors and NumPy arrays
        arr = t if isinstance(t, numpy.ndarray) else numpy.asarray(t._b.to_numpy(t._data))
        if not arr.flags.c_contiguous:
            arr = arr.copy(order="C")  # (ascontiguousarray would make 0-d arrays 1-d)
        offset = -(-offset // _ALIGN) * _ALIGN
        entry = {"dtype": arr.dtype.name, "shape": list(arr.shape), "offset": offset, "nbytes": arr.nbytes}
        if isinstance(t, Tensor):
            entry.update(device=t._b.name, requires_grad=t.requires_grad, parameter=type(t).__name__ == "Parameter")
        table.append(entry)
        arrays.append((offset, arr))
        offset += arr.nbytes
    header = json.dumps({"format": FORMAT, "version": 1, "tree": tree, "tensors": table,
                         "data_bytes": offset}, separators=(",", ":")).encode("utf-8")
    fh.write(MAGIC)
    fh.write(struct.pack("<Q", len(header)))
    fh.write(header)
    crc, pos = zlib.crc32(header), 0
    for start, arr in arrays:
        if start > pos:
            pad = bytes(start - pos)
            fh.write(pad)
            crc = zlib.crc32(pad, crc)
        view = memoryview(arr.astype(arr.dtype.newbyteorder("<"), copy=False).reshape(-1).view(numpy.uint8))
        fh.write(view)
        crc = zlib.crc32(view, crc)
        pos = start + arr.nbytes
    fh.write(struct.pack("<I", crc) + END)


# ---- load ----------------------------------------------------------------------
def load(f, map_location=None, weights_only=True):
    """Read a checkpoint written by tc.save. Nothing in the file is ever executed.

    map_location: None (each tensor's saved device), a device name or tc.device,
    a dict {saved_device: device}, or a function (tensor, saved_device) -> tensor.
    weights_only is accepted for torch compatibility; loading is always weights-only.
    """
    name = repr(f) if hasattr(f, "read") else repr(os.fspath(f))
    _check_map_location(map_location, name)
    if hasattr(f, "read"):
        raw = f.read()
    else:
        with open(f, "rb") as fh:
            raw = fh.read()
    header, data = _parse(raw, name)
    table, made = header["tensors"], []

    def tensor(i, tag):  # tc.save numbers the tensors and arrays in the order the tree first names them
        if i > len(made):
            raise _corrupt(name, f"its object tree names tensor {i} before tensor {len(made)}")
        if (tag == "$ndarray") != _is_array(table[i]):
            raise _corrupt(name, f"a {tag} entry refers to tensor {i} of its table, which is "
                                 f"{'a NumPy array' if _is_array(table[i]) else 'a tensor'}")
        if i == len(made):
            made.append(_array(table[i], data) if tag == "$ndarray" else _tensor(table[i], data, map_location, name))
        return made[i]

    obj = _decode(header["tree"], tensor, len(table), 0, name)
    if len(made) != len(table):
        raise _corrupt(name, f"tensor {len(made)} of its table is nowhere in its object tree")
    return obj


def _check_map_location(map_location, name):
    """Unknown device names fail here, naming themselves, before the file is read."""
    if map_location is None or callable(map_location):
        return
    if not isinstance(map_location, (str, device, dict)):
        raise TypeError(f"tc.load: map_location must be None, a device name, a tc.device, a dict or a function, "
                        f"not {type(map_location).__name__}")
    for target in map_location.values() if isinstance(map_location, dict) else (map_location,):
        if not isinstance(target, (str, device)):
            raise TypeError(f"tc.load: map_location maps to {target!r}, which is not a device name or tc.device")
        try:
            backends.resolve(str(target))
        except RuntimeError as e:
            raise CheckpointError(f"tc.load({name}): map_location names device {str(target)!r}, which does not "
                                  f"exist ({e})") from None


def _corrupt(name, what):
    return CheckpointError(f"{name} is corrupt: {what}")


def _unique_keys(pairs):
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("a JSON object names the same key twice")
    return obj


_JSON_TYPES = {dict: "an object", list: "an array", str: "a string", int: "an integer", float: "a number",
               bool: "a boolean", type(None): "null"}
_HEADER_FIELDS = {"format": str, "version": int, "tree": object, "tensors": list, "data_bytes": int}
_TENSOR_FIELDS = {"dtype": str, "shape": list, "offset": int, "nbytes": int, "device": str, "requires_grad": bool,
                  "parameter": bool}
_ARRAY_FIELDS = {"dtype": str, "shape": list, "offset": int, "nbytes": int}
_DTYPES = {d.name: d for d in dtypes.ALL}  # the names tc.save writes, no aliases
# the NumPy dtypes of arrays tc.save stores, with their kinds (a name NumPy gives no other dtype)
_ARRAY_DTYPES = {"bool": "b", "int8": "i", "int16": "i", "int32": "i", "int64": "i", "uint8": "u", "uint16": "u",
                 "uint32": "u", "uint64": "u", "float16": "f", "float32": "f", "float64": "f", "complex64": "c",
                 "complex128": "c"}
_DEVICES = "numpy, cpp or cupy"  # likewise: the backends' own names


def _short(value):
    try:
        text = repr(value)
    except RecursionError:  # a value nested as deeply as the JSON parser allows
        text = "[[[[..."
    return text if len(text) <= 60 else text[:57] + "..."


def _describe(value):
    return f"{_JSON_TYPES[type(value)]} ({_short(value)})"


def _check_fields(obj, fields, what, name):
    """obj must be a JSON object with exactly these fields, of exactly these types (a bool is no integer)."""
    if type(obj) is not dict:
        raise _corrupt(name, f"{what} is {_describe(obj)}, not an object")
    if set(obj) != set(fields):
        raise _corrupt(name, f"{what} has the fields {_short(sorted(obj))}, not {sorted(fields)}")
    for key, kind in fields.items():
        if kind is not object and type(obj[key]) is not kind:
            raise _corrupt(name, f"{what}: {key!r} must be {_JSON_TYPES[kind]}, not {_describe(obj[key])}")


def _is_device_name(value):
    # only the canonical names tc.save writes: not "cpu", "cuda:99" or "CPP"
    try:
        return type(value) is str and backends.resolve(value) == value
    except RuntimeError:
        return False


def _parse(raw, name):
    if not raw.startswith(MAGIC):
        if raw[:1] == b"\x80" or raw[:2] in (b"(d", b"(l", b"}q", b"]q"):
            raise CheckpointError(f"{name} is a pickle file (as torch.save and pickle write): tc.load never "
                                  f"unpickles, because unpickling can run arbitrary code. Re-save the data with "
                                  f"tc.save.")
        if raw[:4] == b"PK\x03\x04":
            raise CheckpointError(f"{name} is a zip archive (torch.save's format, which holds a pickle): tc.load "
                                  f"never unpickles. Re-save the data with tc.save.")
        if len(raw) < len(MAGIC) and MAGIC.startswith(raw):
            raise CheckpointError(f"{name} is truncated: {len(raw)} bytes, not even a complete header")
        raise CheckpointError(f"{name} is not a tinygrad_chain checkpoint (it does not start with {MAGIC!r})")
    if len(raw) < 16:
        raise CheckpointError(f"{name} is truncated: {len(raw)} bytes, not even a complete header")
    (hlen,) = struct.unpack_from("<Q", raw, 8)
    if 16 + hlen + 8 > len(raw):
        raise CheckpointError(f"{name} is truncated: the header says {hlen} header bytes but the file has "
                              f"{len(raw)} bytes in all")
    try:
        header = json.loads(raw[16:16 + hlen].decode("utf-8"), object_pairs_hook=_unique_keys)
    except RecursionError:
        raise _corrupt(name, "its header nests too deeply to be read") from None
    except ValueError as e:  # not UTF-8, not JSON, a key given twice, an integer with too many digits
        raise _corrupt(name, f"its header cannot be read ({type(e).__name__}: {e})") from None
    _check_fields(header, _HEADER_FIELDS, "its header", name)
    data_bytes = header["data_bytes"]
    if data_bytes < 0:
        raise _corrupt(name, f"its header gives a negative data size, {data_bytes}")
    if data_bytes > len(raw):  # (such a number may have too many digits to print)
        raise CheckpointError(f"{name} is truncated: its header gives {_short(data_bytes)} bytes of data but the file "
                              f"has {len(raw)} bytes in all")
    expected = 16 + hlen + data_bytes + 8
    if len(raw) < expected:
        raise CheckpointError(f"{name} is truncated: expected {expected} bytes, found {len(raw)}")
    if len(raw) > expected:
        raise CheckpointError(f"{name} is corrupt: {len(raw) - expected} unexpected bytes after the end")
    body = memoryview(raw)[16:16 + hlen + data_bytes]
    crc, end = struct.unpack_from("<I4s", raw, expected - 8)
    if end != END or crc != zlib.crc32(body):
        raise CheckpointError(f"{name} is corrupt: the checksum of its contents does not match")
    if header["format"] != FORMAT or header["version"] != 1:
        raise _corrupt(name, f"its header says format {_short(header['format'])} version "
                             f"{_short(header['version'])}, not {FORMAT!r} version 1")
    used = 0
    for i, entry in enumerate(header["tensors"]):
        used = _check_tensor(entry, i, used, name)
    if used != data_bytes:
        raise _corrupt(name, f"its tensors fill {used} bytes of data but its header gives {data_bytes}")
    return header, memoryview(raw)[16 + hlen:16 + hlen + data_bytes]


def _is_array(entry):
    return set(entry) == set(_ARRAY_FIELDS)


def _check_tensor(entry, i, start, name):
    """Check entry i of the tensor table, whose data begins at the first aligned byte from start; return its end."""
    what = f"tensor {i} of its table"
    array = type(entry) is dict and _is_array(entry)  # a NumPy array: the first four fields only
    _check_fields(entry, _ARRAY_FIELDS if array else _TENSOR_FIELDS, what, name)
    names = _ARRAY_DTYPES if array else _DTYPES
    if entry["dtype"] not in names:
        raise _corrupt(name, f"{what} has dtype {_short(entry['dtype'])}, not one of {', '.join(names)}")
    dt, shape = numpy.dtype(entry["dtype"]) if array else _DTYPES[entry["dtype"]], entry["shape"]
    if len(shape) > _MAX_NDIM or not all(type(n) is int and n >= 0 for n in shape):
        raise _corrupt(name, f"{what} has shape {_short(shape)}: a shape is a list of at most {_MAX_NDIM} "
                             f"non-negative integers")
    if math.prod(max(n, 1) for n in shape) * dt.itemsize >= 2 ** 63:  # what NumPy can index, even if empty
        raise _corrupt(name, f"{what} has shape {shape}, too large for any array")
    offset, nbytes = -(-start // _ALIGN) * _ALIGN, math.prod(shape) * dt.itemsize
    if entry["offset"] != offset or entry["nbytes"] != nbytes:
        raise _corrupt(name, f"{what} gives {_short(entry['nbytes'])} bytes at offset {_short(entry['offset'])}; "
                             f"shape {shape} of {dt.name}, after the tensors before it, takes {nbytes} bytes at "
                             f"offset {offset}")
    if array:
        return offset + nbytes
    if not _is_device_name(entry["device"]):
        raise _corrupt(name, f"{what} is on device {_short(entry['device'])}, not {_DEVICES}")
    if entry["requires_grad"] and not dt.is_floating_point:
        raise _corrupt(name, f"{what} requires grad, which only floating point tensors can; its dtype is {dt.name}")
    return offset + nbytes


def _array(entry, data):
    """The NumPy array a checked table entry describes: a private, writable, native-order copy."""
    name = entry["dtype"]  # bfloat16 is ml_dtypes', imported by dtypes.numpy_dtype on first use
    dt, shape = dtypes.numpy_dtype(name) if name in _DTYPES else numpy.dtype(name), tuple(entry["shape"])
    arr = numpy.frombuffer(data, dtype=dt.newbyteorder("<"), count=math.prod(shape), offset=entry["offset"])
    return arr.reshape(shape).astype(dt)


def _tensor(entry, data, map_location, name):
    """The tensor a checked table entry describes, on the device map_location asks for."""
    arr = _array(entry, data)
    b, saved = backends.get("numpy"), entry["device"]
    t = Tensor._make(b.asarray(arr), b, False, None, [0])
    if callable(map_location):
        t = map_location(t, saved)
        if not isinstance(t, Tensor):
            raise TypeError(f"tc.load: map_location returned {type(t).__name__}, not a tensor")
    else:
        target = map_location.get(saved, saved) if isinstance(map_location, dict) else map_location
        t = _move(t, saved if target is None else str(target), saved, name)
    if entry["requires_grad"] and t.dtype.is_floating_point:
        t.requires_grad_(True)
    if entry["parameter"]:
        t = _as_parameter(t)
    return t


def _move(t, target, saved, name):
    try:
        b = backend_for(target)
    except RuntimeError as e:
        if target != saved:
            raise CheckpointError(f"tc.load({name}): map_location sends the tensors of device {saved!r} to device "
                                  f"{target!r}, which is not available here ({e})") from None
        if saved not in ("numpy", "cpp"):
            raise CheckpointError(f"tc.load({name}): the checkpoint holds tensors on device {saved!r}, which is not "
                                  f"available here ({e}); pass map_location='cpu' to load them on the CPU") from None
        b = backend_for("cpu")  # a CPU checkpoint loads on whichever CPU device works here
    if b is t._b:
        return t
    return Tensor._make(b.asarray(t._data), b, False, None, [0])


def _as_parameter(t):
    return Parameter(t, requires_grad=t.requires_grad)


def _decode(node, tensor, count, depth, name):
    """The object tree node encodes; tensor(i) makes tensor i of the table (count of them)."""
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if type(node) is dict and len(node) == 1:
        (tag, value), = node.items()
        if tag in ("$list", "$tuple", "$dict"):
            if depth >= _MAX_DEPTH:
                raise _corrupt(name, f"its object tree nests containers more than {_MAX_DEPTH} deep")
            if type(value) is not list:
                raise _corrupt(name, f"a {tag} entry holds {_describe(value)}, not an array")
            if tag == "$list":
                return [_decode(v, tensor, count, depth + 1, name) for v in value]
            if tag == "$tuple":
                return tuple(_decode(v, tensor, count, depth + 1, name) for v in value)
            out = {}
            for pair in value:
                if type(pair) is not list or len(pair) != 2:
                    raise _corrupt(name, f"a $dict item is {_describe(pair)}, not a [key, value] pair")
                key = _decode(pair[0], tensor, count, depth + 1, name)
                try:
                    if key in out:
                        raise _corrupt(name, f"a $dict has the key {_short(key)} twice")
                except TypeError:
                    raise _corrupt(name, f"a $dict has a key of type {type(key).__name__}, which is not "
                                         f"hashable") from None
                out[key] = _decode(pair[1], tensor, count, depth + 1, name)
            return out
        if tag in ("$tensor", "$ndarray"):
            if type(value) is not int or not 0 <= value < count:
                raise _corrupt(name, f"a {tag} entry refers to tensor {_short(value)}; the table has {count}")
            return tensor(value, tag)
        if tag == "$dtype":
            if type(value) is not str or value not in _DTYPES:
                raise _corrupt(name, f"a $dtype entry names {_short(value)}, not one of {', '.join(_DTYPES)}")
            return _DTYPES[value]
        if tag == "$device":
            if not _is_device_name(value):
                raise _corrupt(name, f"a $device entry names {_short(value)}, not {_DEVICES}")
            return device(value)
    raise _corrupt(name, f"unexpected entry {_short(node)} in its object tree")


# ---- torch.serialization's allow-list, for scripts that call it ------------------------------
def add_safe_globals(safe_globals):
    """A no-op, for torch compatibility: torch's allow-list says which classes unpickling may build;
    tc.load never unpickles, so it builds none."""


@contextlib.contextmanager
def safe_globals(safe_globals):
    """A no-op context manager, for torch compatibility (see add_safe_globals)."""
    yield


def get_safe_globals():
    """Always []: nothing is ever unpickled, so nothing needs allowing."""
    return []


def clear_safe_globals():
    """A no-op, for torch compatibility (see add_safe_globals)."""


__all__ = ["CheckpointError", "add_safe_globals", "clear_safe_globals", "get_safe_globals", "load", "safe_globals",
           "save"]
