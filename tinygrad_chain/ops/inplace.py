"""In-place updates no graph records: optimizer steps, initialisers, running statistics.

They pass through `update_`, which makes the checks every op makes, before anything is written:
the tensors on one device, and of the dtype and shape of the first (a kernel writes them element
by element); then the kernel runs on their arrays (pending fused reads of the written memory
computed first) and each written tensor's version counter moves, so that a node which saved one
notices at backward.
"""
from tinygrad_chain.autograd.tensor_core import TensorCore


def update_(name, kernel, tensors, written, *args, **kwargs):
    """kernel(b, *arrays, *args, **kwargs) on the arrays of `tensors` (None stays None); it writes
    those at the indices `written` in place. `kernel` is a function of the backend b, or the name
    of a backend method. Returns what the kernel returns."""
    _check(name, tensors, written)
    arrays = [None if t is None else (t._writable() if i in written else t._data) for i, t in enumerate(tensors)]
    out = _call(kernel, tensors[0]._b, arrays, args, kwargs)
    _bump(tensors, written)
    return out


def update_all_(name, kernel, rows, written, *args, each=(), **kwargs):
    """update_ on several rows of tensors (a parameter group's, one row per parameter) in one kernel
    call per device, as torch's foreach steps: every row is checked before any is written, and
    kernel(b, *columns, *each, *args, **kwargs) gets lists of arrays, column by column, then the lists
    in `each` (a value per row, as a step count). Returns, row by row, what the kernel returns for
    that row (its list's element), or Nones."""
    by_device = {}
    for r, tensors in enumerate(rows):
        _check(name, tensors, written)
        by_device.setdefault(tensors[0]._b, []).append(r)
    out = [None] * len(rows)
    for b, indices in by_device.items():
        part = [rows[r] for r in indices]
        columns = [[t if t is None else t._writable() if i in written else t._data for t in column]
                   for i, column in enumerate(zip(*part))]
        columns += [[values[r] for r in indices] for values in each]
        got = _call(kernel, b, columns, args, kwargs)
        for k, r in enumerate(indices):
            _bump(rows[r], written)
            out[r] = None if got is None else got[k]
    return out


def _check(name, tensors, written):
    first = tensors[0]
    b, data = first._b, first._data
    dtype, shape = data.dtype, data.shape  # native ones (a pending fused value answers them too): cheap to read
    for t in tensors:
        if t is not None and (not isinstance(t, TensorCore) or t._b is not b or t._data.dtype != dtype
                              or t._data.shape != shape):
            raise _mismatch(name, tensors)
    for i in written:
        if tensors[i] is not None:
            check_writable(name, tensors[i])


def check_writable(name, t, what="the written-to tensor"):
    """Refuse to write into read-only memory before anything is written: NumPy's own error would come
    mid-update (an optimizer's step, after the parameters before this one)."""
    flags = getattr(t._data, "flags", None)
    if flags is not None and not getattr(flags, "writeable", True):
        raise read_only_error(name, t, what)


def read_only_error(name, t, what="the written-to tensor"):
    return RuntimeError(f"{name}: unsupported operation: {what} ({list(t.shape)} {t.dtype.name} on {t._b.name}) is "
                        f"read-only memory (an expand()ed or broadcast view, where more than one element refers to a "
                        f"single memory location, or from_numpy of a non-writable array). Please clone() the tensor "
                        f"before performing the operation.")


def _call(kernel, b, arrays, args, kwargs):
    if isinstance(kernel, str):
        return getattr(b, kernel)(*arrays, *args, **kwargs)
    return kernel(b, *arrays, *args, **kwargs)


def _bump(tensors, written):
    for i in written:
        if tensors[i] is not None:
            tensors[i]._version[0] += 1


def write_(name, dst, src):
    """dst's values replaced by src, a tensor of dst's device, dtype and shape or a number, as an
    in-place op named `name`; returns dst."""
    if isinstance(src, TensorCore):
        update_(name, "copy_into", (dst, src), (0,))
    else:
        update_(name, "copy_into", (dst,), (0,), src)
    return dst


def _mismatch(name, tensors):
    described = ", ".join("None" if t is None else f"{list(t.shape)} {t.dtype.name} on {t._b.name}"
                          if isinstance(t, TensorCore) else type(t).__name__ for t in tensors)
    return RuntimeError(f"{name}: expected tensors on one device with one dtype and shape, got {described}")
