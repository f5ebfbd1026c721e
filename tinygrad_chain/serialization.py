"""tc.save / tc.load: checkpoints that never unpickle.

File layout (little-endian)::

    b"TGCCKPT1"                  magic and format version
    uint64 header length
    header                       UTF-8 JSON: the object tree and a table of tensors
    data                         the tensors' raw bytes, each 64-byte aligned
    uint32 CRC-32 of header+data, then b"TEND"

The tree encodes None, bools, ints, floats, strings directly and tags the
rest ({"$list": [...]}, {"$tuple": [...]}, {"$dict": [[key, value], ...]},
{"$tensor": index}, {"$dtype": name}, {"$device": name}), so dict keys keep
their types (optimizer state is keyed by ints) and nothing is ever executed
when a file is read. Saving writes a temporary file in the target's folder,
fsyncs it and renames it over the target, so an interrupted save leaves the
previous checkpoint whole.
"""
import json
import os
import struct
import tempfile
import zlib

import numpy  # raw-buffer I/O only: the arrays' bytes in and out of files

from tinygrad_chain import backends, dtypes
from tinygrad_chain.device import backend_for, device
from tinygrad_chain.tensor import Tensor

MAGIC = b"TGCCKPT1"
END = b"TEND"
_ALIGN = 64


class CheckpointError(RuntimeError):
    """A file that is not a readable tinygrad_chain checkpoint."""


# ---- save ----------------------------------------------------------------------
def save(obj, f):
    """Write obj (nested dicts/lists/tuples of tensors, numbers, strings, bools, None) to path or file f."""
    tensors = []
    tree = _encode(obj, tensors, {}, "obj")
    if hasattr(f, "write"):
        _write_payload(f, tree, tensors)
        return
    path = os.fspath(f)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            _write_payload(fh, tree, tensors)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(folder)


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


def _encode(obj, tensors, memo, where):
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, Tensor):
        key = id(obj)
        if key not in memo:
            memo[key] = len(tensors)
            tensors.append(obj)
        return {"$tensor": memo[key]}
    if isinstance(obj, dict):
        return {"$dict": [[_encode(k, tensors, memo, f"{where} key {k!r}"), _encode(v, tensors, memo,
                                                                                   f"{where}[{k!r}]")]
                          for k, v in obj.items()]}
    if isinstance(obj, list):
        return {"$list": [_encode(v, tensors, memo, f"{where}[{i}]") for i, v in enumerate(obj)]}
    if isinstance(obj, tuple):
        return {"$tuple": [_encode(v, tensors, memo, f"{where}[{i}]") for i, v in enumerate(obj)]}
    if isinstance(obj, dtypes.DType):
        return {"$dtype": obj.name}
    if isinstance(obj, device):
        return {"$device": obj.name}
    if type(obj).__module__ == "numpy" and hasattr(obj, "item") and getattr(obj, "ndim", None) == 0:
        return _encode(obj.item(), tensors, memo, where)  # a NumPy scalar
    raise TypeError(f"tc.save cannot store {where}, an object of type {type(obj).__name__}: checkpoints hold "
                    f"tensors, numbers, strings, bools, None, and dicts/lists/tuples of them")


def _write_payload(fh, tree, tensors):
    """Write the whole file to the binary file object fh."""
    table, arrays, offset = [], [], 0
    for t in tensors:
        arr = numpy.asarray(t._b.to_numpy(t._array))
        if not arr.flags.c_contiguous:
            arr = arr.copy(order="C")  # (ascontiguousarray would make 0-d arrays 1-d)
        offset = -(-offset // _ALIGN) * _ALIGN
        table.append({"dtype": t.dtype.name, "shape": list(arr.shape), "offset": offset, "nbytes": arr.nbytes,
                      "device": t._b.name, "requires_grad": t.requires_grad,
                      "parameter": type(t).__name__ == "Parameter"})
        arrays.append((offset, arr))
        offset += arr.nbytes
    header = json.dumps({"format": "tinygrad_chain checkpoint", "version": 1, "tree": tree, "tensors": table,
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
    if hasattr(f, "read"):
        raw = f.read()
    else:
        with open(f, "rb") as fh:
            raw = fh.read()
    header, data = _parse(raw, name)
    tensors = [_tensor(entry, data, i, map_location, name) for i, entry in enumerate(header["tensors"])]
    return _decode(header["tree"], tensors, name)


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
        header = json.loads(raw[16:16 + hlen].decode("utf-8"))
        data_bytes = int(header["data_bytes"])
        header["tree"], header["tensors"]  # noqa: B018  (both must be present)
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{name} is corrupt: its header cannot be read ({type(e).__name__}: {e})") from None
    expected = 16 + hlen + data_bytes + 8
    if len(raw) < expected:
        raise CheckpointError(f"{name} is truncated: expected {expected} bytes, found {len(raw)}")
    if len(raw) > expected:
        raise CheckpointError(f"{name} is corrupt: {len(raw) - expected} unexpected bytes after the end")
    body = memoryview(raw)[16:16 + hlen + data_bytes]
    crc, end = struct.unpack_from("<I4s", raw, expected - 8)
    if end != END or crc != zlib.crc32(body):
        raise CheckpointError(f"{name} is corrupt: the checksum of its contents does not match")
    return header, memoryview(raw)[16 + hlen:16 + hlen + data_bytes]


def _tensor(entry, data, i, map_location, name):
    try:
        dt = dtypes.get(entry["dtype"])
        shape = tuple(int(n) for n in entry["shape"])
        offset, nbytes = int(entry["offset"]), int(entry["nbytes"])
        count = 1
        for n in shape:
            count *= n
        if count * dt.itemsize != nbytes or offset < 0 or offset + nbytes > len(data):
            raise ValueError(f"shape {list(shape)} of {dt.name} does not fit {nbytes} bytes at offset {offset}")
        arr = numpy.frombuffer(data, dtype=numpy.dtype(dt.name).newbyteorder("<"), count=count, offset=offset)
        arr = arr.reshape(shape).astype(dt.name)  # a private, writable, native-order copy
        saved = str(entry["device"])
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{name} is corrupt: tensor {i} is malformed ({e})") from None
    b = backends.get("numpy")
    t = Tensor._make(b.asarray(arr), b, False, None, [0])
    if callable(map_location) and not isinstance(map_location, (str, device)):
        t = map_location(t, saved)
    else:
        target = map_location.get(saved, saved) if isinstance(map_location, dict) else map_location
        t = _move(t, target if target is not None else saved, saved, name)
    if entry.get("requires_grad") and t.dtype.is_floating_point:
        t.requires_grad_(True)
    if entry.get("parameter"):
        t = _as_parameter(t)
    return t


def _move(t, target, saved, name):
    target = str(target)
    try:
        b = backend_for(target)
    except RuntimeError as e:
        if target == saved and saved in ("numpy", "cpp"):
            b = backend_for("cpu")  # a CPU checkpoint loads on whichever CPU device works here
        else:
            raise RuntimeError(f"tc.load({name}): the checkpoint holds tensors on device {saved!r}, which is not "
                               f"available here ({e}); pass map_location='cpu' to load them on the CPU") from None
    if b is t._b:
        return t
    return Tensor._make(b.asarray(t._array), b, False, None, [0])


def _as_parameter(t):
    try:
        from tinygrad_chain.nn import Parameter
    except ImportError:
        return t
    return Parameter(t, requires_grad=t.requires_grad)


def _decode(node, tensors, name):
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if isinstance(node, dict) and len(node) == 1:
        (tag, value), = node.items()
        try:
            if tag == "$tensor":
                return tensors[value]
            if tag == "$list":
                return [_decode(v, tensors, name) for v in value]
            if tag == "$tuple":
                return tuple(_decode(v, tensors, name) for v in value)
            if tag == "$dict":
                return {_decode(k, tensors, name): _decode(v, tensors, name) for k, v in value}
            if tag == "$dtype":
                return dtypes.get(value)
            if tag == "$device":
                return device(value)
        except (TypeError, ValueError, IndexError, RuntimeError) as e:
            raise CheckpointError(f"{name} is corrupt: a malformed {tag} entry ({e})") from None
    raise CheckpointError(f"{name} is corrupt: unexpected entry {str(node)[:80]!r} in its object tree")


__all__ = ["CheckpointError", "load", "save"]
