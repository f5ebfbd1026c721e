"""Tensor methods: sorting and selection (sort, argsort, msort, topk, kthvalue,
median) and sampling by weight (multinomial).

One primitive does the ordering: the non-differentiable `argsort` op (stable,
NaN as the largest value, as torch). Values are then read with gather, so their
gradient is gather's VJP (a scatter-add back through the indices), which is
itself differentiable: create_graph works. Indices are int64 and carry no grad.
"""
import builtins
from collections import namedtuple

from tinygrad_chain import dtypes
from tinygrad_chain.autograd.tensor_core import TensorCore
from tinygrad_chain.dims import as_1d as _as_1d
from tinygrad_chain.generator import native_rng
from tinygrad_chain.ops import sorting as S
from tinygrad_chain.ops.elementwise import where
from tinygrad_chain.ops.registry import apply


class return_types:  # noqa: N801  (torch.return_types: (values, indices) pairs with field names)
    sort = namedtuple("sort", ["values", "indices"])
    topk = namedtuple("topk", ["values", "indices"])
    kthvalue = namedtuple("kthvalue", ["values", "indices"])
    median = namedtuple("median", ["values", "indices"])
    cummax = namedtuple("cummax", ["values", "indices"])
    cummin = namedtuple("cummin", ["values", "indices"])


class TensorSort:
    __slots__ = ()

    # ---- sorting -----------------------------------------------------------------
    def sort(self, dim=-1, descending=False, stable=False):
        """(values, indices) along `dim`. The sort is always stable (stable=False is
        allowed to be, in torch), so ties keep their order and results are deterministic."""
        x, d = _as_1d(self, dim, "sort")
        idx = _argsort(x, d, descending)
        return _result(return_types.sort, self, x.gather(d, idx), idx)

    def argsort(self, dim=-1, descending=False, stable=False):
        x, d = _as_1d(self, dim, "argsort")
        idx = _argsort(x, d, descending)
        return idx.reshape(()) if self.ndim == 0 else idx

    def msort(self):
        return self.sort(dim=0).values

    def topk(self, k, dim=-1, largest=True, sorted=True):  # noqa: A002
        """The k largest (or smallest) along `dim`, in order (sorted=False is allowed any order)."""
        x, d = _as_1d(self, dim, "topk")
        n = x.shape[d]
        k = _int_arg(k, "topk", "k")
        if not 0 <= k <= n:
            raise RuntimeError(f"topk: selected index k out of range: k={k}, but dimension {d} of the input "
                               f"(shape {list(self.shape)}) has size {n}")
        if self.ndim == 0:
            k = 1  # torch: a 0-d input gives itself for k = 0 or 1
        idx = _argsort(x, d, largest).narrow(d, 0, k)
        return _result(return_types.topk, self, x.gather(d, idx), idx)

    def kthvalue(self, k, dim=-1, keepdim=False):
        """The k-th smallest value (k counts from 1) along `dim`, and its index."""
        x, d = _as_1d(self, dim, "kthvalue")
        n = x.shape[d]
        k = _int_arg(k, "kthvalue", "k")
        if not 1 <= k <= builtins.max(n, 1) or n == 0:
            raise RuntimeError(f"kthvalue(): selected number k={k} out of range for dimension {d} of size {n} "
                               f"(input shape {list(self.shape)})")
        idx = _argsort(x, d, False).narrow(d, k - 1, 1)
        return _reduced(return_types.kthvalue, self, x, d, idx, keepdim)

    def median(self, dim=None, keepdim=False):
        """median() -> the lower median of all values (NaN if any is NaN), as torch;
        median(dim) -> (values, indices) along dim."""
        if dim is None:
            if keepdim:
                raise TypeError("median(): keepdim=True needs a dim (torch has no median(keepdim=...) "
                                "over all elements)")
            if self.numel() == 0:  # torch: NaN for an empty input
                return TensorCore.make(self._b.full((), float("nan"), _float_for(self.dtype)), self._b,
                                             False, None, [0])
            return self.reshape(-1).median(0).values
        x, d = _as_1d(self, dim, "median")
        n = x.shape[d]
        if n == 0:
            raise IndexError(f"median(): Expected reduction dim {d} to have non-zero size (input shape "
                             f"{list(self.shape)})")
        order = _argsort(x, d, False)
        if x.dtype.is_floating_point:
            # NaN sorts last; torch's median is NaN when a row has one: take the first NaN then
            nans = x.isnan().sum(d, keepdim=True)
            pos = where(nans > 0, n - nans, (n - 1) // 2)
            idx = order.gather(d, pos if pos.dtype is dtypes.int64 else pos.long())
        else:
            idx = order.narrow(d, (n - 1) // 2, 1)
        return _reduced(return_types.median, self, x, d, idx, keepdim)

    # ---- sampling ---------------------------------------------------------------
    def multinomial(self, num_samples, replacement=False, *, generator=None):
        """Category indices drawn from each row of non-negative weights (rows need not sum to 1)."""
        return multinomial(self, num_samples, replacement, generator=generator)


def _int_arg(v, op, name):
    if isinstance(v, TensorCore):
        v = v.item()
    if isinstance(v, builtins.bool) or not isinstance(v, builtins.int):
        raise TypeError(f"{op}(): argument '{name}' must be int, not {type(v).__name__}")
    return v


def _argsort(x, d, descending):
    return apply(S.Argsort, x, axis=d, descending=builtins.bool(descending))


def _result(kind, original, values, idx):
    if original.ndim == 0:
        values, idx = values.reshape(()), idx.reshape(())
    return kind(values, idx)


def _reduced(kind, original, x, d, idx, keepdim):
    """(values, indices) for one index per row along d (idx keeps d as size 1)."""
    values = x.gather(d, idx)
    if original.ndim == 0:
        return kind(values.reshape(()), idx.reshape(()))
    if not keepdim:
        values, idx = values.squeeze(d), idx.squeeze(d)
    return kind(values, idx)


def _float_for(dtype):
    return dtype if dtype.is_floating_point else dtypes.get_default_dtype()


def multinomial(input, num_samples, replacement=False, *, generator=None):  # noqa: A002
    """torch.multinomial for 1-D or 2-D weights: int64 (num_samples,) or (rows, num_samples)."""
    p = input
    shape = list(p.shape)
    if not p.dtype.is_floating_point:
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: {p.dtype.name} "
                           f"(input shape {shape})")
    if p.ndim not in (1, 2):
        raise RuntimeError(f"multinomial: prob_dist must be 1 or 2 dim, got a {p.ndim}-D input of shape {shape}")
    n = _int_arg(num_samples, "multinomial", "num_samples")
    if n <= 0:
        raise RuntimeError(f"multinomial: cannot sample n_sample <= 0 samples (num_samples={n})")
    k = p.shape[-1]
    if not replacement and n > k:
        raise RuntimeError(f"multinomial: cannot sample n_sample > prob_dist.size(-1) samples without "
                           f"replacement (num_samples={n}, input shape {shape})")
    p = p.detach()
    rows = p.reshape(1, k) if p.ndim == 1 else p
    b = p._b
    if rows.shape[0] == 0:
        out = b.full((0, n), 0, dtypes.int64)
    else:
        if builtins.bool(((rows < 0) | rows.isnan() | rows.isinf()).any()):
            raise RuntimeError(f"multinomial: probability tensor contains either `inf`, `nan` or element < 0 "
                               f"(input shape {shape})")
        if k == 0 or builtins.bool((rows.sum(-1) <= 0).any()):
            raise RuntimeError(f"multinomial: invalid multinomial distribution (sum of probabilities <= 0) "
                               f"(input shape {shape})")
        out = b.multinomial(rows._data, n, builtins.bool(replacement), native_rng(b, generator))
    t = TensorCore.make(out, b, False, None, [0])
    return t.reshape(n) if p.ndim == 1 else t
