"""torch.* functions that real scripts reach for beyond the Tensor methods: as_tensor, meshgrid, normal,
var_mean, tensordot, cdist, hstack, quantile, searchsorted, iinfo, set_printoptions, ...

Each is composed from Tensor methods (so it differentiates where torch's does and runs on every device);
the host-side ones (searchsorted, iinfo, the global switches) say why.
"""
import builtins
import math

import numpy

from tinygrad_chain import creation, dtypes, formatting
from tinygrad_chain.autograd.tensor_core import TensorCore
from tinygrad_chain.dims import dim_index, shape_arg
from tinygrad_chain.functions import cat, stack


# ---- creation -------------------------------------------------------------------
def as_tensor(data, dtype=None, device=None):
    """data itself when it already is a tensor of that dtype and device; a NumPy array of a supported dtype on
    the CPU shares its memory (as torch's); anything else is copied."""
    if isinstance(data, TensorCore):
        out = data if dtype is None else data.to(dtype)
        return out if device is None else out.to(device)
    if isinstance(data, numpy.ndarray) and device is None and dtype is None:
        try:
            return creation.from_numpy(data)
        except (TypeError, ValueError):
            pass
    return creation.tensor(data, dtype=dtype, device=device)


asarray = as_tensor


def logspace(start, end, steps, base=10.0, dtype=None, device=None, requires_grad=False):
    out = base ** creation.linspace(start, end, steps, dtype=dtypes.float64, device=device)
    return out.to(dtype or dtypes.get_default_dtype()).requires_grad_(requires_grad)


def normal(mean, std=1.0, size=None, *, generator=None, dtype=None, device=None):
    """Draws of N(mean, std): mean and std may be tensors (broadcast) or numbers with a size."""
    low = float(std.amin()) if isinstance(std, TensorCore) and std.numel() else std
    if not isinstance(std, TensorCore) or std.numel():
        if not float(low) >= 0.0:
            raise RuntimeError(f"normal expects std >= 0.0, but found std {low}")
    if isinstance(mean, TensorCore) or isinstance(std, TensorCore):
        ref = mean if isinstance(mean, TensorCore) else std
        shape = numpy.broadcast_shapes(tuple(getattr(mean, "shape", ())), tuple(getattr(std, "shape", ())))
        noise = creation.randn(*shape, dtype=ref.dtype, device=ref.device, generator=generator)
        return (noise * std + mean).detach()
    return creation.randn(*shape_arg(size, "normal"), dtype=dtype, device=device, generator=generator) * std + mean


def bernoulli(input, p=None, *, generator=None):  # noqa: A002
    return input.bernoulli(p)


def randint_like(input, low=0, high=None, *, dtype=None, device=None):  # noqa: A002
    if high is None:
        low, high = 0, low
    return creation.randint(low, high, tuple(input.shape), dtype=dtype or input.dtype,
                            device=device or input.device)


def meshgrid(*tensors, indexing="ij"):
    tensors = list(tensors[0]) if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) else list(tensors)
    if indexing not in ("ij", "xy"):
        raise ValueError(f"torch.meshgrid: indexing must be one of 'xy' or 'ij', but received: {indexing}")
    swap = indexing == "xy" and len(tensors) >= 2
    if swap:
        tensors[0], tensors[1] = tensors[1], tensors[0]
    shape = [t.numel() for t in tensors]
    out = [t.reshape([-1 if i == j else 1 for j in range(len(shape))]).expand(*shape) for i, t in enumerate(tensors)]
    if swap:  # xy: the first two inputs' roles exchanged, each output back in its input's place
        out[0], out[1] = out[1], out[0]
    return tuple(out)


def tril_indices(row, col, offset=0, *, dtype=dtypes.int64, device=None):
    return creation.tensor(numpy.stack(numpy.tril_indices(row, offset, col)), dtype=dtype, device=device)


def triu_indices(row, col, offset=0, *, dtype=dtypes.int64, device=None):
    return creation.tensor(numpy.stack(numpy.triu_indices(row, offset, col)), dtype=dtype, device=device)


def cartesian_prod(*tensors):
    grids = meshgrid(*tensors, indexing="ij")
    return stack([g.reshape(-1) for g in grids], 1) if len(grids) > 1 else grids[0]


# ---- joining and splitting -----------------------------------------------------------
def atleast_1d(t):
    return t.reshape(1) if t.ndim == 0 else t


def atleast_2d(t):
    return t.reshape(1, -1) if t.ndim < 2 else t


def hstack(tensors):
    tensors = [atleast_1d(t) for t in tensors]
    return cat(tensors, 0 if tensors[0].ndim == 1 else 1)


def vstack(tensors):
    return cat([atleast_2d(t) for t in tensors], 0)


row_stack = vstack


def dstack(tensors):
    return cat([atleast_2d(t).unsqueeze(-1) if t.ndim < 3 else t for t in tensors], 2)


def column_stack(tensors):
    return cat([t.reshape(-1, 1) if t.ndim < 2 else t for t in tensors], 1)


def broadcast_tensors(*tensors):
    shape = numpy.broadcast_shapes(*(tuple(t.shape) for t in tensors))
    return tuple(t.expand(*shape) for t in tensors)


def tensor_split(input, indices_or_sections, dim=0):  # noqa: A002
    d = dim_index(dim, input.ndim, "tensor_split")
    n = input.shape[d]
    if isinstance(indices_or_sections, builtins.int):
        k = indices_or_sections
        sizes = [n // k + (1 if i < n % k else 0) for i in range(k)]
        bounds = numpy.cumsum([0] + sizes)
    else:
        bounds = [0] + [builtins.min(builtins.max(int(i), 0), n) for i in indices_or_sections] + [n]
    return tuple(input.narrow(d, int(a), int(builtins.max(b - a, 0))) for a, b in zip(bounds[:-1], bounds[1:]))


# ---- reductions and distances -------------------------------------------------------
def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):  # noqa: A002
    return (input.var(dim, unbiased=unbiased, keepdim=keepdim, correction=correction), input.mean(dim, keepdim))


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):  # noqa: A002
    return (input.std(dim, unbiased=unbiased, keepdim=keepdim, correction=correction), input.mean(dim, keepdim))


def tensordot(a, b, dims=2):
    if isinstance(dims, builtins.int):
        da, db = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        da, db = ([d] if isinstance(d, builtins.int) else list(d) for d in dims)
    da = [dim_index(d, a.ndim, "tensordot") for d in da]
    db = [dim_index(d, b.ndim, "tensordot") for d in db]
    free_a = [i for i in range(a.ndim) if i not in da]
    free_b = [i for i in range(b.ndim) if i not in db]
    k = math.prod(a.shape[d] for d in da)
    left = a.permute(*free_a, *da).reshape(-1, k)
    right = b.permute(*db, *free_b).reshape(k, -1)
    return left.matmul(right).reshape([a.shape[i] for i in free_a] + [b.shape[i] for i in free_b])


def cdist(x1, x2, p=2.0):
    if not p >= 0:
        raise RuntimeError(f"cdist only supports non-negative p values, got p={p}")
    if x1.shape[-1:] != x2.shape[-1:]:
        raise RuntimeError(f"cdist: X1 and X2 must have the same number of columns. X1: {list(x1.shape)} X2: "
                           f"{list(x2.shape)}")
    diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)
    if p == 2:
        return diff.square().sum(-1).sqrt()
    if p == 1:
        return diff.abs().sum(-1)
    if p == math.inf:
        return diff.abs().amax(-1)
    return diff.abs().pow(p).sum(-1).pow(1 / p)


def dist(input, other, p=2):  # noqa: A002
    return (input - other).norm(p)


def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):  # noqa: A002
    """Linear interpolation between the sorted values around q * (n - 1), as torch (NaN-free input)."""
    x = input.reshape(-1) if dim is None else input
    d = 0 if dim is None else dim_index(dim, input.ndim, "quantile")
    values = x.sort(d).values
    n = x.shape[d]
    qs = q.tolist() if isinstance(q, TensorCore) else q
    scalar = not isinstance(qs, (list, tuple))
    outs = []
    for qq in ([qs] if scalar else qs):
        if not 0.0 <= qq <= 1.0:
            raise RuntimeError(f"quantile() q must be in the range [0, 1] but got {qq}")
        pos = qq * (n - 1)
        lo, hi = math.floor(pos), math.ceil(pos)
        if interpolation in ("lower", "higher", "nearest"):
            i = lo if interpolation == "lower" else hi if interpolation == "higher" else round(pos)
            v = values.select(d, i)
        else:
            a, b = values.select(d, lo), values.select(d, hi)
            v = (a + b) * 0.5 if interpolation == "midpoint" else a + (b - a) * (pos - lo)
        if keepdim:
            v = v.unsqueeze(d) if dim is not None else v.reshape((1,) * input.ndim)
        outs.append(v)
    return outs[0] if scalar else stack(outs, 0)


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):  # noqa: A002
    other = input._wrap(other)
    close = (input - other).abs() <= atol + rtol * other.abs()
    close = close | (input == other)
    return close | (input.isnan() & other.isnan()) if equal_nan else close


def isin(elements, test_elements, *, invert=False):
    ref = elements if isinstance(elements, TensorCore) else test_elements
    found = numpy.isin(_host(elements), _host(test_elements), invert=invert)
    return creation.tensor(found, device=ref.device)


# ---- host-side searches over sorted values ----------------------------------------------
def _host(t):
    return t._b.to_numpy(t._data) if isinstance(t, TensorCore) else numpy.asarray(t)


def searchsorted(sorted_sequence, values, *, out_int32=False, right=False, side=None, sorter=None):
    side = side or ("right" if right else "left")
    seq, v = _host(sorted_sequence), _host(values)
    if sorter is not None:
        seq = numpy.take_along_axis(seq, _host(sorter), -1)
    if seq.ndim <= 1:
        out = numpy.searchsorted(seq, v, side=side)
    else:
        out = numpy.stack([numpy.searchsorted(s, x, side=side) for s, x in zip(seq.reshape(-1, seq.shape[-1]),
                                                                           v.reshape(-1, v.shape[-1]))])
        out = out.reshape(v.shape)
    ref = sorted_sequence if isinstance(sorted_sequence, TensorCore) else values
    return creation.tensor(out, dtype=dtypes.int32 if out_int32 else dtypes.int64, device=ref.device)


def bucketize(input, boundaries, *, out_int32=False, right=False):  # noqa: A002
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


def histc(input, bins=100, min=0, max=0):  # noqa: A002
    x = _host(input).astype(numpy.float64)
    lo, hi = (float(x.min()), float(x.max())) if min == max == 0 and x.size else (min, max)
    counts, _ = numpy.histogram(x, bins, (lo, hi))
    return creation.tensor(counts, dtype=input.dtype, device=input.device)


# ---- dtypes ----------------------------------------------------------------------------------
class iinfo:  # noqa: N801  (torch's name)
    """The limits of an integral dtype, with torch.iinfo's fields."""
    __slots__ = ("bits", "max", "min", "dtype")

    def __init__(self, type):  # noqa: A002
        d = dtypes.get(type)
        if d.is_floating_point:
            raise TypeError(f"iinfo() requires an integral input type, got {d.name}")
        info = numpy.iinfo(dtypes.numpy_dtype(d)) if d is not dtypes.bool_ else None
        self.bits = d.itemsize * 8
        self.max, self.min = (info.max, info.min) if info is not None else (1, 0)
        self.max, self.min = builtins.int(self.max), builtins.int(self.min)
        self.dtype = d.name


def is_complex(input):  # noqa: A002
    return False  # no complex dtype here


def is_floating_point(input):  # noqa: A002
    return input.dtype.is_floating_point


def is_nonzero(input):  # noqa: A002
    if input.numel() != 1:
        raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
    return builtins.bool(input.item())


def result_type(tensor1, tensor2):
    ts = [t.dtype for t in (tensor1, tensor2) if isinstance(t, TensorCore)]
    scalars = [t for t in (tensor1, tensor2) if not isinstance(t, TensorCore)]
    return dtypes.result_type(ts, scalars) if ts else dtypes.result_type([], scalars)


promote_types = dtypes.promote_types


def can_cast(from_, to):
    f, t = dtypes.get(from_), dtypes.get(to)
    if f.is_floating_point and not t.is_floating_point:
        return False
    return not (f is not dtypes.bool_ and t is dtypes.bool_)


# ---- global switches: accepted, with what they mean here ----------------------------------------
_switches = {"deterministic": False, "matmul_precision": "highest"}


def use_deterministic_algorithms(mode, *, warn_only=False):
    """Every kernel here is deterministic already; the flag is kept for are_deterministic_algorithms_enabled."""
    _switches["deterministic"] = builtins.bool(mode)


def are_deterministic_algorithms_enabled():
    return _switches["deterministic"]


def set_float32_matmul_precision(precision):
    """float32 GEMMs here are always float32 ("highest"); the setting is remembered, not used."""
    if precision not in ("highest", "high", "medium"):
        raise RuntimeError(f"Invalid precision: {precision}")
    _switches["matmul_precision"] = precision


def get_float32_matmul_precision():
    return _switches["matmul_precision"]


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None, sci_mode=None):
    """repr(tensor)'s digits, summarisation and line width (formatting.py)."""
    formatting.set_options(precision=precision, threshold=threshold, edgeitems=edgeitems, linewidth=linewidth,
                           profile=profile, sci_mode=sci_mode)


def pow(input, exponent):  # noqa: A001,A002  (torch.pow(2, t): a number base)
    return input.pow(exponent) if isinstance(input, TensorCore) else exponent.__rpow__(input)

