"""Op database records for sorting and selection: the argsort primitive, and the
values of sort / msort / topk / kthvalue / median, which gather through it.

The reference orders each row with Python's `sorted` (stable in both directions,
NaN keyed as the largest value), independently of NumPy's argsort. Gradients are
checked on samples with distinct values; ties and NaN are forward-only.
"""
import numpy as np

from . import OpInfo, Sample
from .core import DISTINCT, TIES


def _order(row, descending):
    """Stable order of a 1-D row; NaN is the largest value (torch)."""
    def key(i):
        v = row[i]
        return (1, 0.0) if v != v else (0, float(v))
    return sorted(range(len(row)), key=key, reverse=descending)


def _argsort_ref(np, x, dim=-1, descending=False):
    if x.ndim == 0:
        return np.array(0, dtype=np.int64)
    moved = np.moveaxis(x, dim, -1)
    out = np.empty(moved.shape, dtype=np.int64)
    for pos in np.ndindex(moved.shape[:-1]):
        out[pos] = _order(moved[pos], descending)
    return np.moveaxis(out, -1, dim)


def _take(np, x, idx, dim):
    if x.ndim == 0:
        return x.copy()
    return np.take_along_axis(x, idx, dim)


def _sort_ref(np, x, dim=-1, descending=False):
    return _take(np, x, _argsort_ref(np, x, dim, descending), dim)


def _topk_ref(np, x, k, dim=-1, largest=True):
    idx = _argsort_ref(np, x, dim, largest)
    if x.ndim:
        idx = np.take(idx, range(k), axis=dim)
    return _take(np, x, idx, dim)


def _kth_ref(np, x, k, dim=-1, keepdim=False):
    if x.ndim == 0:
        return x.copy()
    idx = np.take(_argsort_ref(np, x, dim), [k - 1], axis=dim)
    out = np.take_along_axis(x, idx, dim)
    return out if keepdim else np.squeeze(out, dim)


def _median_ref(np, x, dim=None, keepdim=False):
    if dim is None:
        flat = np.sort(x.reshape(-1))
        return np.array(np.nan if np.isnan(flat).any() else flat[(flat.size - 1) // 2], dtype=x.dtype)
    # the lower median of each row, NaN when the row has one
    moved = np.moveaxis(x, dim, -1)
    n = moved.shape[-1]
    out = np.sort(moved, axis=-1)[..., (n - 1) // 2]
    out = np.where(np.isnan(moved).any(axis=-1), np.nan, out).astype(x.dtype)
    return np.expand_dims(out, dim) if keepdim else out


def _nan_row(dtype):
    return np.array([[3.0, np.nan, 1.0, np.nan, 2.0], [0.5, -1.0, 4.0, 2.0, -3.0]], dtype=dtype)


def _argsort_samples(rng, dtype):
    return [Sample((DISTINCT(rng, dtype, (2, 4)),), {}),
            Sample((DISTINCT(rng, dtype, (3, 2, 2)),), {"dim": 0, "descending": True}),
            Sample((TIES(dtype, (2, 7)),), {"dim": 1}),                       # stable: ties keep their order
            Sample((TIES(dtype, (2, 7)),), {"dim": -1, "descending": True}),
            Sample((_nan_row(dtype),), {"dim": 1}),
            Sample((_nan_row(dtype),), {"dim": 1, "descending": True}),
            Sample((DISTINCT(rng, dtype, ()),), {}),
            Sample((DISTINCT(rng, dtype, (0, 3)),), {"dim": 0})]


def _sort_samples(rng, dtype):
    return [Sample((DISTINCT(rng, dtype, (2, 4)),), {}),
            Sample((DISTINCT(rng, dtype, (3, 2, 2)),), {"dim": 0, "descending": True}),
            Sample((DISTINCT(rng, dtype, (5,)),), {"dim": -1, "descending": True}),
            Sample((DISTINCT(rng, dtype, ()),), {}),
            Sample((TIES(dtype, (2, 6)),), {"dim": 1}, grad=False),
            Sample((_nan_row(dtype),), {"dim": 1, "descending": True}, grad=False)]


def _msort_samples(rng, dtype):
    return [Sample((DISTINCT(rng, dtype, (4, 2)),)), Sample((DISTINCT(rng, dtype, (3,)),))]


def _topk_samples(rng, dtype):
    return [Sample((DISTINCT(rng, dtype, (2, 5)),), {"k": 3}),
            Sample((DISTINCT(rng, dtype, (4, 3)),), {"k": 2, "dim": 0, "largest": False}),
            Sample((DISTINCT(rng, dtype, (2, 3, 2)),), {"k": 1, "dim": 1}),
            Sample((DISTINCT(rng, dtype, (3,)),), {"k": 0}, grad=False),  # empty output
            Sample((_nan_row(dtype),), {"k": 2, "dim": 1}, grad=False)]


def _kth_samples(rng, dtype):
    return [Sample((DISTINCT(rng, dtype, (2, 5)),), {"k": 2}),
            Sample((DISTINCT(rng, dtype, (4, 3)),), {"k": 4, "dim": 0, "keepdim": True}),
            Sample((DISTINCT(rng, dtype, (2, 3, 2)),), {"k": 1, "dim": -2}),
            Sample((DISTINCT(rng, dtype, ()),), {"k": 1}),
            Sample((_nan_row(dtype),), {"k": 4, "dim": 1}, grad=False)]


def _median_samples(rng, dtype):
    return [Sample((DISTINCT(rng, dtype, (2, 5)),), {}),
            Sample((DISTINCT(rng, dtype, (2, 4)),), {}),                          # even count: the lower one
            Sample((DISTINCT(rng, dtype, (2, 4)),), {"dim": 1}),
            Sample((DISTINCT(rng, dtype, (3, 2, 2)),), {"dim": 0, "keepdim": True}),
            Sample((DISTINCT(rng, dtype, (4,)),), {"dim": -1}),
            Sample((TIES(dtype, (2, 5)),), {"dim": 1}, grad=False),
            Sample((_nan_row(dtype),), {"dim": 1}, grad=False),
            Sample((_nan_row(dtype),), {}, grad=False)]


def _values(method):
    def call(tc, x, **k):
        out = getattr(x, method)(**k)
        return out if method == "median" and "dim" not in k else out.values
    return call


OPS = [
    OpInfo(ops=("argsort",), name="argsort", call=lambda tc, x, **k: x.argsort(**k), samples=_argsort_samples,
           ref=_argsort_ref, differentiable=False),
    OpInfo(ops=("argsort", "gather"), name="sort_values", call=_values("sort"), samples=_sort_samples,
           ref=_sort_ref),
    OpInfo(ops=("argsort", "gather"), name="msort", call=lambda tc, x: tc.msort(x), samples=_msort_samples,
           ref=lambda np, x: _sort_ref(np, x, 0)),
    OpInfo(ops=("argsort", "gather"), name="topk_values", call=_values("topk"), samples=_topk_samples,
           ref=_topk_ref),
    OpInfo(ops=("argsort", "gather"), name="kthvalue_values", call=_values("kthvalue"), samples=_kth_samples,
           ref=_kth_ref),
    OpInfo(ops=("argsort", "gather"), name="median", call=_values("median"), samples=_median_samples,
           ref=_median_ref),
]
