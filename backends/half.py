"""Half precision (float16, bfloat16): stored in two bytes, computed in float32.

torch's kernels compute a float16/bfloat16 op in float32 (its "opmath" type) and
round the result once. Every backend here does the same, by this one rule:

- the methods in WIDENED (reductions, GEMM, convolution, the softmax family and
  cross-entropy, the fused activations, LSTM steps, norms, layer norm) see their half
  operands as float32 copies, run (on the cpp device: its float32 kernels), and
  each float32 array they return is rounded to the half dtype once. So sums and
  dot products accumulate in float32, and a composite default (gelu made of
  several primitives) rounds once, not at every step;
- a Python number meeting a half array in `binary` is applied as torch applies
  it (`with_number`; each backend's `binary` tests for it first): in float32 for
  mul, div and floordiv, where NumPy would round it to the array's dtype first
  (x * 1e5 overflowed, x * 0.1 used 0.09998);
- random draws of a half dtype are made in float32: rand as k / 2**digits (in
  [0, 1), as torch's), randn rounded; arange and linspace are computed in float32.

Elementwise ops between arrays need nothing: NumPy and ml_dtypes compute each
half op in float32 and round once (CuPy's float16 does its arithmetic through
float too). What stays in the half dtype, as in
torch: each elementwise result, each step of an optimizer update, and the
scatter-adds (index_add, scatter_add_along_axis, max-pool's backward), which
torch also accumulates in the tensor's dtype.
"""
from tinygrad_chain import dtypes

#: backend methods run in float32 for half operands (the first array argument decides)
WIDENED = (
    "reduce", "cumsum", "sum_to_shape", "vector_norm", "logsumexp", "softmax", "log_softmax", "softmax_backward",
    "log_softmax_backward", "cross_entropy", "cross_entropy_backward", "matmul", "einsum", "linear", "conv2d",
    "conv2d_input_grad", "conv2d_weight_grad", "conv2d_backward", "avg_pool2d", "avg_pool2d_backward", "sigmoid",
    "sigmoid_backward", "tanh_backward", "gelu", "gelu_backward", "silu", "silu_backward", "softplus",
    "softplus_backward", "act", "act_backward", "lstm_cell", "lstm_cell_backward", "lstm_layer", "lstm_layer_backward", "_erf",
    "layer_norm", "layer_norm_backward",
)
#: creation methods that take a dtype: for a half one they run in float32
CREATED = ("rand", "randn", "arange", "linspace")


def install(backend, array_type):
    """Wrap `backend`'s WIDENED and CREATED methods on the instance (super() calls inside a
    backend reach the class's own methods, so nothing is widened twice)."""
    halves = backend.half_natives
    for name in WIDENED:
        setattr(backend, name, _widened(backend, getattr(backend, name), halves, array_type))
    for name in CREATED:
        setattr(backend, name, _created(backend, name, getattr(backend, name)))


def _widened(backend, method, halves, array_type):
    def call(*args, **kwargs):
        for a in args:
            if type(a) is array_type:  # the first array argument decides
                if a.dtype in halves:
                    return _in_float32(backend, method, a, args, kwargs)
                break
        return method(*args, **kwargs)
    call.__name__ = call.__qualname__ = method.__name__
    call.__doc__ = method.__doc__
    return call


def _in_float32(backend, method, first, args, kwargs):
    native, half, f32 = first.dtype, backend.dtype_of(first), backend.native_dtype(dtypes.float32)
    if _float_dtypes(args, kwargs.values()) != {native}:  # mixed with a wider float: it computes in that one
        return method(*args, **kwargs)

    def wide(a):
        if getattr(a, "dtype", None) == native:
            return a.astype(f32)
        if isinstance(a, (tuple, list)):  # saved arrays (an LSTM's) come back as a tuple
            return type(a)(wide(x) for x in a)
        return a

    def rounded(out):
        if getattr(out, "dtype", None) == f32:
            return backend.astype(out, half)
        if isinstance(out, (tuple, list)):
            return type(out)(rounded(x) for x in out)
        return out

    return rounded(method(*(wide(a) for a in args), **{k: wide(v) for k, v in kwargs.items()}))


def _float_dtypes(*groups):
    found = set()
    for group in groups:
        for a in group:
            if isinstance(a, (tuple, list)):
                found |= _float_dtypes(a)
            elif getattr(a, "ndim", None) is not None and a.dtype.kind in "fV":  # arrays (bfloat16's kind is V)
                found.add(a.dtype)
    return found


def with_number(backend, name, a, b):
    """binary(name, a, b) where a Python number meets a half array, as torch's kernels do it: mul,
    div and floordiv apply the number in float32 (x * 1e5 with x = 1e-3 is 100, not inf from 1e5
    rounded to float16 first); add, sub, remainder, pow and the comparisons round the number to
    the array's dtype first. Either way the op computes in float32 and rounds once."""
    arr = b if type(a) in NUMBERS else a
    if name in _OPMATH:
        wide = arr.astype(backend.native_dtype(dtypes.float32))
        out = backend.binary(name, wide, b) if arr is a else backend.binary(name, a, wide)
        return backend.astype(out, backend.dtype_of(arr))
    num = backend.asarray(b if arr is a else a, backend.dtype_of(arr))
    return backend.binary(name, arr, num) if arr is a else backend.binary(name, num, arr)


#: the Python numbers `binary` checks for (a bool is exact in every dtype)
NUMBERS = frozenset((int, float))
_OPMATH = frozenset(("mul", "div", "floordiv"))  # measured against torch 2.13's CPU kernels


def _created(backend, name, method):
    halves = dtypes.HALF

    def call(*args, **kwargs):
        dtype = args[_DTYPE_ARG[name]] if len(args) > _DTYPE_ARG[name] else kwargs.get("dtype")
        if dtype not in halves:
            return method(*args, **kwargs)
        args = list(args)
        if len(args) > _DTYPE_ARG[name]:
            args[_DTYPE_ARG[name]] = dtypes.float32
        else:
            kwargs["dtype"] = dtypes.float32
        out = method(*args, **kwargs)
        if name == "rand":  # k / 2**digits, k < 2**digits (torch's uniform_): in [0, 1), exact in the dtype
            scale = 2.0 / dtypes.finfo(dtype).eps  # 2**digits: eps is 2**(1 - digits)
            out = backend.binary("div", backend.unary("floor", backend.binary("mul", out, scale)), scale)
        return backend.astype(out, dtype)
    call.__name__ = call.__qualname__ = method.__name__
    call.__doc__ = method.__doc__
    return call


# where each CREATED method takes its dtype (after self): rand(shape, dtype), arange(start, end, step, dtype)
_DTYPE_ARG = {"rand": 1, "randn": 1, "arange": 3, "linspace": 3}
