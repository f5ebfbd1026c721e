"""tinygrad_chain: a tensor autograd engine with PyTorch's API.

    import tinygrad_chain as tc      # where you would write `import torch`
"""
import builtins

from tinygrad_chain import backends  # noqa: F401  (tc.backends.available())
from tinygrad_chain import cuda  # noqa: F401  (tc.cuda.is_available(); never imports cupy)
from tinygrad_chain import amp  # noqa: F401  (tc.amp.GradScaler; autocast runs ops in their own dtypes)
from tinygrad_chain.amp import autocast, is_autocast_enabled  # noqa: F401
from tinygrad_chain import accelerator  # noqa: F401  (tc.accelerator.current_accelerator())
from tinygrad_chain import autograd, dtypes, nn  # noqa: F401
from tinygrad_chain.autograd import (enable_grad, inference_mode, is_grad_enabled, is_inference_mode_enabled, no_grad,
                                     set_grad_enabled)
from tinygrad_chain.creation import get_rng_state, initial_seed, seed, set_rng_state  # noqa: F401
from tinygrad_chain.creation import (arange, empty, empty_like, from_numpy, full, full_like, linspace, manual_seed,
                                     ones, ones_like, rand, rand_like, randint, randn, randn_like, randperm, zeros,
                                     zeros_like)
from tinygrad_chain.device import device, get_default_device, set_default_device
from tinygrad_chain.layout import (channels_last, channels_last_3d, contiguous_format, layout,  # noqa: F401
                                   memory_format, preserve_format, strided)
from tinygrad_chain.dtypes import (bool_ as bool, double, float, float32, float64, get_default_dtype,  # noqa: A004
                                   int, int8, int16, int32, int64, long, set_default_dtype, short, uint8)
from tinygrad_chain.dtypes import bfloat16, finfo, float16, half  # stored in 2 bytes, computed in float32
from tinygrad_chain.creation import from_dlpack  # DLPack: zero-copy with NumPy, torch, CuPy
from tinygrad_chain.ops.elementwise import where
from tinygrad_chain.out import with_out
from tinygrad_chain.size import Size
from tinygrad_chain.threads import get_num_threads, set_num_threads
from tinygrad_chain.functions import cat, chunk, concat, concatenate, einsum, eye, gather, split, stack
from tinygrad_chain.tensor import Tensor, tensor
from tinygrad_chain.functions_more import (  # noqa: F401  (torch.* beyond the Tensor methods)
    are_deterministic_algorithms_enabled, as_tensor, asarray, atleast_1d, atleast_2d, bernoulli, broadcast_tensors,
    bucketize, can_cast, cartesian_prod, cdist, column_stack, dist, dstack, get_float32_matmul_precision, histc,
    hstack, iinfo, is_complex, is_floating_point, is_nonzero, isclose, isin, logspace, meshgrid, normal,
    promote_types, quantile, randint_like, result_type, row_stack, searchsorted, set_float32_matmul_precision,
    set_printoptions, std_mean, tensor_split, tensordot, tril_indices, triu_indices, use_deterministic_algorithms,
    var_mean, vstack)
from tinygrad_chain.legacy import CPU as _LEGACY_TYPES
from tinygrad_chain.tensor_sort import multinomial, return_types  # noqa: F401
from tinygrad_chain import datasets, optim, utils  # noqa: F401,E402  (tc.optim, tc.utils.data, tc.datasets)
from tinygrad_chain import distributed  # noqa: F401,E402  (imports no MPI: init_process_group starts it)
from tinygrad_chain import linalg, testing  # noqa: F401,E402  (tc.linalg, tc.testing.assert_close)
from tinygrad_chain import distributions  # noqa: F401,E402  (Categorical and Normal)
from tinygrad_chain.generator import Generator  # noqa: E402
from tinygrad_chain.serialization import load, save  # noqa: E402
from tinygrad_chain.compile import compile  # noqa: A004,E402  (torch's name: a traced, replayed step)
from tinygrad_chain import onnx, sparse  # noqa: F401,E402  (importable; both say what is not supported)
from tinygrad_chain.sparse import sparse_coo_tensor, sparse_csr_tensor, spmm  # noqa: F401,E402

DType = dtypes.DType
dtype = dtypes.DType
globals().update(_LEGACY_TYPES)  # FloatTensor, DoubleTensor, LongTensor, IntTensor, BoolTensor

__version__ = "0.1.0"


def _method_as_function(name):
    def fn(input, *args, **kwargs):  # noqa: A002
        return getattr(input, name)(*args, **kwargs)
    fn.__name__ = name
    fn.__doc__ = f"tc.{name}(x, ...) is x.{name}(...)."
    return fn


# torch's functional spellings of Tensor methods: tc.exp(x), tc.sum(x, dim), ...; where torch's take
# out=, these do too (out.py)
_WITH_OUT = ("abs", "neg", "negative", "exp", "log", "log1p", "expm1", "sqrt", "rsqrt", "sin", "cos", "tan", "tanh",
             "sigmoid", "sign", "reciprocal", "floor", "ceil", "round", "erf", "square", "maximum", "minimum", "clamp",
             "clip", "pow", "add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide",
             "floor_divide", "remainder", "sum", "mean", "var", "std", "prod", "amax", "amin", "argmax", "argmin",
             "logsumexp", "softmax", "log_softmax", "norm", "cumsum", "matmul", "mm", "bmm", "dot", "eq", "ne", "lt",
             "le", "gt", "ge", "logical_and", "logical_or", "logical_xor", "logical_not", "bitwise_and", "bitwise_or",
             "bitwise_xor", "bitwise_not", "all", "any", "max", "min",
             "sort", "msort", "topk", "kthvalue", "median", "tril", "triu", "diag", "outer", "ger", "trunc", "frac",
             "fmod", "log2", "log10", "exp2", "sinh", "cosh", "logit", "xlogy", "hypot", "lerp", "addcmul",
             "addcdiv", "clamp_min", "clamp_max", "nan_to_num", "nansum", "nanmean", "cumprod", "index_select",
             "index_add", "index_copy", "index_fill", "scatter", "scatter_add", "scatter_reduce", "take",
             "take_along_dim", "masked_select", "nonzero", "argwhere", "mv", "addmm", "addmv", "baddbmm", "addbmm",
             "cross", "kron", "diff", "movedim", "moveaxis", "swapdims", "ravel", "fliplr", "flipud", "tile",
             "repeat_interleave", "unique", "bincount", "count_nonzero", "select", "isfinite", "isposinf",
             "isneginf", "signbit", "index_put", "cummax", "cummin", "logcumsumexp", "atan", "asin", "acos",
             "arctan", "arcsin", "arccos", "atan2", "arctan2")
_NO_OUT = ("nonzero", "argwhere", "unique", "bincount", "select", "index_put", "take_along_dim", "masked_select",
           "repeat_interleave", "movedim", "moveaxis", "swapdims", "ravel", "fliplr", "flipud", "tile", "diff")
for _name in _WITH_OUT + ("relu", "reshape", "flatten", "unsqueeze", "squeeze", "transpose", "permute", "swapaxes", "t",
                          "broadcast_to", "flip", "roll", "isnan", "isinf", "allclose", "equal", "narrow", "unbind",
                          "masked_fill", "clone", "detach", "numel", "argsort", "diagonal", "diag_embed", "trace"):
    globals()[_name] = _method_as_function(_name)
    if _name in _WITH_OUT and _name not in _NO_OUT:
        globals()[_name] = with_out(globals()[_name])
del _name
cat, concat, concatenate, stack, gather, where = (with_out(f, name) for f, name in (
    (cat, "cat"), (concat, "concat"), (concatenate, "concatenate"), (stack, "stack"), (gather, "gather"),
    (where, "where")))


from tinygrad_chain.functions_more import pow  # noqa: A004,E402  (torch.pow(2, t): a number base)
pow = with_out(pow)  # noqa: A001


def is_tensor(obj):
    return isinstance(obj, Tensor)


def broadcast_shapes(*shapes):
    # builtins: this module's max and int are tc.max and tc.int. An int is a 1-d shape, as in torch.
    shapes = [(s,) if isinstance(s, builtins.int) else tuple(s) for s in shapes]
    ndim = builtins.max(map(len, shapes), default=0)
    out = [1] * ndim
    for i, shape in enumerate(shapes):
        for d, n in enumerate(shape, ndim - len(shape)):
            if n != 1 and out[d] not in (1, n):
                raise RuntimeError(f"Attempting to broadcast a dimension of length {n} at {d - ndim}! Mismatching "
                                   f"argument at index {i} had {shape}; but expected shape should be broadcastable "
                                   f"to {out}")
            out[d] = n if n != 1 else out[d]
    return Size(out)
