"""Factory functions: tensor, zeros, ones, arange, rand, ... (torch's signatures)."""
import json
import math
import random
import reprlib
import warnings

import numpy as np

from tinygrad_chain import backends, dtypes
from tinygrad_chain.autograd.tensor_core import TensorCore
from tinygrad_chain.backends import dlpack
from tinygrad_chain.device import backend_for, get_default_device
from tinygrad_chain.dims import check_sizes, int_arg, number_arg, shape_arg
from tinygrad_chain.generator import native_rng


def _new(b, data, requires_grad):
    t = TensorCore.make(data, b, False, None, [0])
    return t.requires_grad_(True) if requires_grad else t


def _float(dtype):
    return dtypes.get(dtype) if dtype is not None else dtypes.get_default_dtype()


def _size(size, op, dtype):
    """The shape that `size` gives (f(2, 3) or f((2, 3))), refused before any allocation if bad."""
    return check_sizes(shape_arg(size, op), op, dtype.itemsize)


def _full(op, size, fill_value, dtype, device, requires_grad):
    fill_value = number_arg(fill_value, op, "fill_value")
    if dtype is None:
        dtype = (dtypes.bool_ if isinstance(fill_value, bool) else dtypes.int64 if isinstance(fill_value, int)
                 else dtypes.get_default_dtype())
    dtype = dtypes.get(dtype)
    b = backend_for(device)
    return _new(b, b.full(_size(size, op, dtype), fill_value, dtype), requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    return _full("full", size, fill_value, dtype, device, requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad=False):
    return _full("zeros", size, 0, _float(dtype), device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False):
    return _full("ones", size, 1, _float(dtype), device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False):
    b = backend_for(device)
    dtype = _float(dtype)
    return _new(b, b.empty(_size(size, "empty", dtype), dtype), requires_grad)


def _like(x, dtype, device, op):
    if not isinstance(x, TensorCore):
        raise TypeError(f"{op}(): argument 'input' must be Tensor, not {type(x).__name__}")
    return (dtype if dtype is not None else x.dtype), (device if device is not None else x.device)


def zeros_like(x, dtype=None, device=None, requires_grad=False, memory_format=None):
    dtype, device = _like(x, dtype, device, "zeros_like")
    return full(x.shape, 0, dtype, device, requires_grad)


def ones_like(x, dtype=None, device=None, requires_grad=False, memory_format=None):
    dtype, device = _like(x, dtype, device, "ones_like")
    return full(x.shape, 1, dtype, device, requires_grad)


def full_like(x, fill_value, dtype=None, device=None, requires_grad=False, memory_format=None):
    dtype, device = _like(x, dtype, device, "full_like")
    return full(x.shape, fill_value, dtype, device, requires_grad)


def empty_like(x, dtype=None, device=None, requires_grad=False, memory_format=None):
    dtype, device = _like(x, dtype, device, "empty_like")
    return empty(x.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    if end is None:
        start, end = 0, start
    start, end, step = (number_arg(v, "arange", arg) for v, arg in ((start, "start"), (end, "end"), (step, "step")))
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if not all(math.isfinite(v) for v in (start, end)):
        raise RuntimeError(f"arange: unsupported range: {start} -> {end}")
    if (end - start) * step < 0:
        raise RuntimeError(f"arange: upper bound and larger bound inconsistent with step sign "
                           f"(start {start}, end {end}, step {step})")
    if dtype is None:
        integral = all(isinstance(v, int) for v in (start, end, step))
        dtype = dtypes.int64 if integral else dtypes.get_default_dtype()
    dtype = dtypes.get(dtype)
    check_sizes((math.ceil((end - start) / step),), "arange", dtype.itemsize)
    b = backend_for(device)
    return _new(b, b.arange(start, end, step, dtype), requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    start, end = number_arg(start, "linspace", "start"), number_arg(end, "linspace", "end")
    if int_arg(steps, "linspace", "steps") < 0:
        raise RuntimeError(f"linspace(): number of steps must be non-negative, got {steps}")
    dtype = _float(dtype)
    check_sizes((steps,), "linspace", dtype.itemsize)
    b = backend_for(device)
    return _new(b, b.linspace(start, end, steps, dtype), requires_grad)


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False):
    b = backend_for(device)
    dtype = _float(dtype)
    return _new(b, b.rand(_size(size, "rand", dtype), dtype, native_rng(b, generator)), requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False):
    b = backend_for(device)
    dtype = _float(dtype)
    return _new(b, b.randn(_size(size, "randn", dtype), dtype, native_rng(b, generator)), requires_grad)


def randint(low, high=None, size=None, dtype=None, device=None, requires_grad=False, *, generator=None):
    if size is None and isinstance(high, (tuple, list)):  # torch.randint(high, size)
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    if size is None:
        raise TypeError("randint() missing required argument 'size'")
    if high <= low:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    b = backend_for(device)
    dtype = dtypes.get(dtype or dtypes.int64)
    return _new(b, b.randint(low, high, _size(size, "randint", dtype), dtype, native_rng(b, generator)), requires_grad)


def rand_like(x, dtype=None, device=None, requires_grad=False, memory_format=None):
    dtype, device = _like(x, dtype, device, "rand_like")
    return rand(x.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def randn_like(x, dtype=None, device=None, requires_grad=False, memory_format=None):
    dtype, device = _like(x, dtype, device, "randn_like")
    return randn(x.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def randperm(n, dtype=None, device=None, *, generator=None):
    _size((n,), "randperm", dtypes.int64)
    b = backend_for(device)
    return _new(b, b.astype(b.permutation(n, native_rng(b, generator)), dtypes.get(dtype or dtypes.int64)), False)


def from_numpy(array):
    """A CPU tensor sharing memory with a NumPy array: on the default device when it is a CPU one
    (numpy or cpp, whose arrays are NumPy's), as torch's meets the script's other CPU tensors."""
    default = get_default_device().backend
    b = default if default.device_type == "cpu" else backends.get("cpu")
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy(): expected np.ndarray (got {type(array).__name__})")
    try:
        b.dtype_of(array)
    except KeyError:
        raise TypeError(f"from_numpy(): can't share the memory of a {array.dtype} array: the dtypes are "
                        f"{', '.join(d.name for d in dtypes.ALL)} (tc.tensor(array) copies it, widening "
                        f"uint16/uint32 exactly)") from None
    if not array.flags.writeable:  # as torch: said once here, not at every in-place write that fails
        warnings.warn("from_numpy(): the given NumPy array is not writable: the tensor shares its memory, so any "
                      "in-place op on it (an optimizer step, add_, x[i] = ...) raises a RuntimeError before "
                      "anything is written; copy it (tc.tensor(array)) or make it writable first",
                      UserWarning, stacklevel=2)
    return _new(b, b.from_numpy(array), False)


def from_dlpack(ext_tensor):
    """A tensor sharing memory with `ext_tensor`: a NumPy or CuPy array, a torch tensor, any object
    with __dlpack__ and __dlpack_device__, or a DLPack capsule (consumed). CUDA memory lands on
    "cupy". bfloat16 crosses where the other side has it (backends/dlpack.py)."""
    if dlpack.is_capsule(ext_tensor):
        kind = dlpack.device_of(ext_tensor)[0]
    elif hasattr(ext_tensor, "__dlpack__"):
        kind = ext_tensor.__dlpack_device__()[0]
    else:
        raise TypeError(f"from_dlpack(): expected an object with __dlpack__ or a DLPack capsule, got "
                        f"{type(ext_tensor).__name__}")
    if kind == dlpack.CPU:  # as from_numpy: the default device when it is a CPU one
        default = get_default_device().backend
        b = default if default.device_type == "cpu" else backends.get("cpu")
    elif kind == dlpack.CUDA:
        b = backends.get("cupy")
    else:
        raise BufferError(f"from_dlpack(): the memory is on DLPack device type {int(kind)}; tinygrad_chain "
                          f"shares CPU (1) and CUDA (2) memory")
    arr = b.from_dlpack(ext_tensor)
    try:
        b.dtype_of(arr)
    except KeyError:
        raise TypeError(f"from_dlpack(): can't share the memory of a {arr.dtype} tensor: the dtypes are "
                        f"{', '.join(d.name for d in dtypes.ALL)} (convert it on its side first)") from None
    return _new(b, arr, False)


def manual_seed(seed):
    """Seed every random draw: creation, initialisation, dropout, shuffling."""
    backends.manual_seed(int(seed))


def seed():
    """Seed every random draw from a non-deterministic source; returns the seed."""
    value = random.SystemRandom().getrandbits(63)
    manual_seed(value)
    return value


def initial_seed():
    return backends.initial_seed()


def get_rng_state():
    """The default device's RNG state as a 1-d int64 tensor of bytes (torch's is a uint8 ByteTensor): what
    set_rng_state takes back, and tc.save can store."""
    state = json.dumps(backend_for(None).rng_state(), sort_keys=True).encode()
    return tensor(list(state), dtype=dtypes.int64)


def set_rng_state(new_state):
    try:
        state = json.loads(bytes(int(v) for v in new_state.tolist()).decode())
    except (ValueError, UnicodeDecodeError, TypeError) as e:
        raise RuntimeError("set_rng_state: expected a state from tc.get_rng_state()") from e
    backend_for(None).set_rng_state(state)


# NumPy dtypes with no tinygrad_chain counterpart, and the supported one that holds every value exactly
_WIDER = {"uint16": "int64", "uint32": "int64"}


def _supported_data(data, dtype):
    """data, as an array of a dtype every backend has: exact widenings (uint16 -> int64) are made,
    anything else is refused here, naming what was passed, before a backend meets it (it would
    fail with a KeyError on the NumPy dtype)."""
    given = data
    if not hasattr(data, "dtype"):  # Python data: NumPy infers the dtype we then check
        try:
            data = np.asarray(data)
        except ValueError:
            raise ValueError(f"tensor(): expected a rectangular nested sequence (all lists at one depth of one "
                             f"length), got {_shown(given)}") from None
    dt = np.dtype(data.dtype)
    if dt.name == "uint64" and hasattr(given, "dtype") and (not data.size or data.max() <= 2 ** 63 - 1):
        return data.astype("int64")  # an array whose values fit: exact
    # NumPy types Python ints beyond int64 as uint64, object, or (mixed with small ints) float64
    big_ints = dt.kind == "O" or dt.name == "uint64" or (
        dt.kind == "f" and isinstance(given, (list, tuple)) and data.size and np.abs(data).max() >= 2.0 ** 63)
    if big_ints:
        return _numbers(given, dtype)
    if dt.kind in "biufV" and dt.name in dtypes._BY_NAME:  # V: ml_dtypes' bfloat16
        return data
    if dt.name in _WIDER:
        return data.astype(_WIDER[dt.name])
    if dt.kind in "US":
        raise TypeError(f"tensor(): can't convert a string to a number: got {_shown(given)}")
    what = "complex numbers are" if dt.kind == "c" else f"dtype {dt} is"
    raise TypeError(f"tensor(): {what} not supported (supported: {', '.join(d.name for d in dtypes.ALL)}); got "
                    f"{_shown(given)}")


def _numbers(given, dtype):
    """Data NumPy could not type as int64 or float, by torch's rule: any float (or a float dtype asked
    for) makes it float64 data; ints only must fit int64."""
    values = np.asarray(given, dtype=object)
    for v in values.flat:
        if not isinstance(v, (int, float, np.integer, np.floating)):
            raise TypeError(f"tensor(): can't convert {v!r} (type {type(v).__name__}) to a number")
    if (dtype is not None and dtypes.get(dtype).is_floating_point) or any(
            isinstance(v, (float, np.floating)) for v in values.flat):
        return values.astype("float64")
    int64 = np.iinfo(np.int64)
    if all(int64.min <= v <= int64.max for v in values.flat):
        return values.astype("int64")
    raise OverflowError(f"tensor(): value out of range for int64, the widest integer dtype: got {_shown(given)}")


def _shown(data):
    """data, briefly, for a message."""
    if hasattr(data, "shape"):
        return f"a {data.dtype} array of shape {list(data.shape)}"
    return reprlib.repr(data)


def tensor(data, dtype=None, device=None, requires_grad=False):
    """A new leaf tensor holding a copy of data (torch.tensor)."""
    if isinstance(data, TensorCore):
        data = data.detach()
        b = backend_for(device) if device is not None else data._b
        arr = b.copy(b.asarray(data._b.to_numpy(data._data)) if b is not data._b else data._data)
    else:
        b = backend_for(device)
        if isinstance(data, (list, tuple)) and any(isinstance(e, TensorCore) for e in data):
            data = [e.tolist() if isinstance(e, TensorCore) else e for e in data]
        native = hasattr(data, "dtype")
        arr = b.asarray(_supported_data(data, dtype))
        if native:
            arr = b.copy(arr)
        if dtype is None and not native:
            dt = b.dtype_of(arr) if arr.dtype.kind != "f" else dtypes.get_default_dtype()
            dtype = dt
    if dtype is not None:
        dtype = dtypes.get(dtype)
        if b.dtype_of(arr) is not dtype:
            arr = b.astype(arr, dtype)
    t = TensorCore.make(arr, b, False, None, [0])
    if requires_grad:
        t.requires_grad_(True)
    return t
