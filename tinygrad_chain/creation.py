"""Factory functions: zeros, ones, arange, rand, ... (torch's signatures)."""
import numpy as np

from tinygrad_chain import backends, dtypes
from tinygrad_chain.backends import dlpack
from tinygrad_chain.device import backend_for, get_default_device
from tinygrad_chain.dims import shape_arg
from tinygrad_chain.generator import native_rng
from tinygrad_chain.ops import fusion
from tinygrad_chain.tensor import Tensor


def _new(b, data, requires_grad):
    t = Tensor._make(data, b, False, None, [0])
    return t.requires_grad_(True) if requires_grad else t


def _float(dtype):
    return dtypes.get(dtype) if dtype is not None else dtypes.get_default_dtype()


def _size(size):
    shape = shape_arg(size)
    for n in shape:
        if n < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {n}: {list(shape)}")
    return shape


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    if dtype is None:
        dtype = (dtypes.bool_ if isinstance(fill_value, bool) else dtypes.int64 if isinstance(fill_value, int)
                 else dtypes.get_default_dtype())
    b = backend_for(device)
    return _new(b, b.full(_size(size), fill_value, dtypes.get(dtype)), requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad=False):
    return full(size, 0, _float(dtype), device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False):
    return full(size, 1, _float(dtype), device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False):
    b = backend_for(device)
    return _new(b, b.empty(_size(size), _float(dtype)), requires_grad)


def _like(x, dtype, device):
    return (dtype if dtype is not None else x.dtype), (device if device is not None else x.device)


def zeros_like(x, dtype=None, device=None, requires_grad=False):
    dtype, device = _like(x, dtype, device)
    return full(x.shape, 0, dtype, device, requires_grad)


def ones_like(x, dtype=None, device=None, requires_grad=False):
    dtype, device = _like(x, dtype, device)
    return full(x.shape, 1, dtype, device, requires_grad)


def full_like(x, fill_value, dtype=None, device=None, requires_grad=False):
    dtype, device = _like(x, dtype, device)
    return full(x.shape, fill_value, dtype, device, requires_grad)


def empty_like(x, dtype=None, device=None, requires_grad=False):
    dtype, device = _like(x, dtype, device)
    return empty(x.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if dtype is None:
        integral = all(isinstance(v, int) for v in (start, end, step))
        dtype = dtypes.int64 if integral else dtypes.get_default_dtype()
    b = backend_for(device)
    return _new(b, b.arange(start, end, step, dtypes.get(dtype)), requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    b = backend_for(device)
    return _new(b, b.linspace(start, end, steps, _float(dtype)), requires_grad)


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False):
    b = backend_for(device)
    return _new(b, b.rand(_size(size), _float(dtype), native_rng(b, generator)), requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False):
    b = backend_for(device)
    return _new(b, b.randn(_size(size), _float(dtype), native_rng(b, generator)), requires_grad)


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
    return _new(b, b.randint(low, high, _size(size), dtypes.get(dtype or dtypes.int64), native_rng(b, generator)),
                requires_grad)


def rand_like(x, dtype=None, device=None, requires_grad=False):
    dtype, device = _like(x, dtype, device)
    return rand(x.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def randn_like(x, dtype=None, device=None, requires_grad=False):
    dtype, device = _like(x, dtype, device)
    return randn(x.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def randperm(n, dtype=None, device=None, *, generator=None):
    _size((n,))
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
                        f"uint8/int8/int16/uint16/uint32 exactly)") from None
    if b.fused_ops:
        fusion.expose(array)  # the caller keeps the array and may write it: never read it lazily
    return _new(b, array, False)


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
    if b.fused_ops:
        fusion.expose(arr)  # the other side may write it at any time: never read it lazily
    return _new(b, arr, False)


def manual_seed(seed):
    """Seed every random draw: creation, initialisation, dropout, shuffling."""
    backends.manual_seed(int(seed))
