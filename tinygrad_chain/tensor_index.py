"""Tensor methods that index along a dim: scatter, index_select, index_add, nonzero, ...

All are built on three differentiable ops (movement.py): IndexPut (x with x[index] = v), IndexAddZeros
(zeros with v added at index, repeats accumulating) and Gather; so their gradients, and every device,
come from those. Only the data-dependent shapes (nonzero, unique, bincount) are computed on the host.
"""
import builtins

import numpy

from tinygrad_chain import dtypes
from tinygrad_chain.autograd.tensor_core import TensorCore
from tinygrad_chain.dims import check_index_range, dim_index
from tinygrad_chain.ops import movement as M
from tinygrad_chain.ops.registry import apply


def _long_index(op, index):
    if not isinstance(index, TensorCore) or index.dtype not in (dtypes.int64, dtypes.int32):
        raise RuntimeError(f"{op}(): Expected dtype int64 for index, got "
                           f"{getattr(index, 'dtype', type(index).__name__)}")
    return index


def _grid(x, index, d):
    """The full index that scatter writes through: `index` at axis d, an arange over each other axis."""
    nd = index.ndim
    out = []
    for i, n in enumerate(index.shape):
        if i == d:
            out.append(index._data)
        else:
            out.append(x._b.reshape(x._b.arange(0, n, 1, dtypes.int64), (1,) * i + (n,) + (1,) * (nd - i - 1)))
    return tuple(out)


def _scatter_checks(op, x, d, index, src):
    _long_index(op, index)
    if index.ndim != x.ndim or (isinstance(src, TensorCore) and src.ndim != x.ndim):
        raise RuntimeError(f"{op}(): Index tensor must have the same number of dimensions as self tensor "
                           f"({index.ndim} vs {x.ndim})")
    for i, n in enumerate(index.shape):
        if (i != d and n > x.shape[i]) or (isinstance(src, TensorCore) and n > src.shape[i]):
            raise RuntimeError(f"{op}(): Expected index {list(index.shape)} to be smaller than self "
                               f"{list(x.shape)} apart from dimension {d} and to be smaller size than src "
                               f"{list(getattr(src, 'shape', ()))}")
    check_index_range(op, index, x.shape[d], d)


def _head(src, shape):
    """src cut to `shape` (torch reads only index's extent of src)."""
    if tuple(src.shape) == tuple(shape):
        return src
    return src[tuple(slice(0, n) for n in shape)]


def _along(index, d, shape):
    """A 1-d index along dim d, expanded to `shape` (index_add and index_copy as scatters)."""
    view = [1] * len(shape)
    view[d] = -1
    return index.reshape(view).expand(*shape)


class TensorIndex:
    __slots__ = ()

    # ---- scatter ---------------------------------------------------------------
    def scatter(self, dim, index, src=None, value=None, reduce=None):
        d = dim_index(dim, self.ndim, "scatter")
        src = value if src is None else src
        _scatter_checks("scatter", self, d, index, src)
        if reduce is not None:
            if reduce != "add":
                raise NotImplementedError(f"scatter(): reduce={reduce!r} is not supported (only 'add')")
            src = src if isinstance(src, TensorCore) else self.new_full(index.shape, src)
            return self.scatter_add(d, index, src)
        v = _head(src, index.shape) if isinstance(src, TensorCore) else src
        if isinstance(v, TensorCore) and v.dtype is not self.dtype:
            v = v.to(self.dtype)
        return apply(M.IndexPut, self, v, index=_grid(self, index, d))

    def scatter_add(self, dim, index, src):
        d = dim_index(dim, self.ndim, "scatter_add")
        _scatter_checks("scatter_add", self, d, index, src)
        v = _head(src, index.shape)
        return self + apply(M.IndexAddZeros, v.to(self.dtype), shape=tuple(self.shape), index=_grid(self, index, d))

    def scatter_reduce(self, dim, index, src, reduce, include_self=True):
        if reduce not in ("sum", "mean"):
            raise NotImplementedError(f"scatter_reduce(): reduce={reduce!r} is not supported (only 'sum', 'mean')")
        d = dim_index(dim, self.ndim, "scatter_reduce")
        base = self if include_self else self.scatter(d, index, 0)
        out = base.scatter_add(d, index, src)
        if reduce == "mean":
            count = self.new_ones(self.shape).scatter(d, index, 1 if include_self else 0)
            count = count.scatter_add(d, index, self.new_ones(index.shape)).clamp(min=1)
            out = out / count if out.dtype.is_floating_point else out.div(count, rounding_mode="floor")
        return out

    # ---- along a dim with a 1-d index ----------------------------------------------
    def index_select(self, dim, index):
        d = dim_index(dim, self.ndim, "index_select")
        _long_index("index_select", index)
        if index.ndim > 1:
            raise IndexError("index_select(): Index is supposed to be a vector")
        check_index_range("index_select", index, self.shape[d], d, IndexError)
        return self[(slice(None),) * d + (index.reshape(-1),)]

    def index_add(self, dim, index, source, alpha=1):
        d = dim_index(dim, self.ndim, "index_add")
        check_index_range("index_add", _long_index("index_add", index), self.shape[d], d, IndexError)
        source = source * alpha if alpha != 1 else source
        return self.scatter_add(d, _along(index, d, source.shape), source)

    def index_copy(self, dim, index, source):
        d = dim_index(dim, self.ndim, "index_copy")
        check_index_range("index_copy", _long_index("index_copy", index), self.shape[d], d, IndexError)
        return self.scatter(d, _along(index, d, source.shape), source)

    def index_fill(self, dim, index, value):
        d = dim_index(dim, self.ndim, "index_fill")
        index = (slice(None),) * d + (_long_index("index_fill", index).reshape(-1)._data,)
        return apply(M.IndexPut, self, value, index=index)

    def index_put(self, indices, values, accumulate=False):
        index = tuple(i._data if isinstance(i, TensorCore) else i for i in indices)
        if not accumulate:
            return apply(M.IndexPut, self, values, index=index)
        values = self._wrap(values).to(self.dtype).expand(*self[tuple(indices)].shape)
        return self + apply(M.IndexAddZeros, values, shape=tuple(self.shape), index=index)

    def select(self, dim, index):
        d = dim_index(dim, self.ndim, "select")
        return self[(slice(None),) * d + (index,)]

    def take(self, index):
        return self.reshape(-1)[index]

    def take_along_dim(self, indices, dim=None):
        if dim is None:
            return self.reshape(-1)[indices.reshape(-1)]
        d = dim_index(dim, self.ndim, "take_along_dim")
        shape = [builtins.max(a, b) for a, b in zip(self.shape, indices.shape)]
        x_shape, i_shape = list(shape), list(shape)
        x_shape[d], i_shape[d] = self.shape[d], indices.shape[d]
        return self.expand(*x_shape).gather(d, indices.expand(*i_shape))

    def masked_select(self, mask):
        shape = tuple(numpy.broadcast_shapes(tuple(self.shape), tuple(mask.shape)))
        return self.expand(*shape)[mask.expand(*shape)]

    def repeat_interleave(self, repeats=None, dim=None, output_size=None):
        if repeats is None:  # torch.repeat_interleave(counts): each position i, counts[i] times
            counts = self._b.to_numpy(self._data)
            return self._from_host(numpy.repeat(numpy.arange(len(counts)), counts))
        x = self.reshape(-1) if dim is None else self
        d = 0 if dim is None else dim_index(dim, self.ndim, "repeat_interleave")
        n = x.shape[d]
        reps = self._b.to_numpy(repeats._data) if isinstance(repeats, TensorCore) else repeats
        if numpy.min(reps, initial=0) < 0:
            raise RuntimeError(f"repeat_interleave: Repeats must be non-negative, got {reps}")
        order = numpy.repeat(numpy.arange(n), numpy.broadcast_to(reps, (n,)) if numpy.ndim(reps) else reps)
        return x.index_select(d, self._from_host(order))

    # ---- data-dependent shapes: computed on the host ------------------------------
    def _from_host(self, array, dtype=dtypes.int64):
        return type(self)._make(self._b.asarray(numpy.ascontiguousarray(array, dtype=dtypes.numpy_dtype(dtype))),
                                self._b, False, None, [0])

    def nonzero(self, as_tuple=False):
        where = numpy.nonzero(numpy.atleast_1d(self._b.to_numpy(self._data)))  # (NumPy refuses a 0-d array)
        if as_tuple:
            return tuple(self._from_host(w) for w in where)
        if not self.ndim:  # torch: one row of no coordinates if the scalar is nonzero
            return self._from_host(numpy.zeros((len(where[0]), 0)))
        return self._from_host(numpy.stack(where, 1))

    argwhere = nonzero

    def unique(self, sorted=True, return_inverse=False, return_counts=False, dim=None):  # noqa: A002
        if dim is not None:
            raise NotImplementedError("unique(): dim= is not supported")
        values = self._b.to_numpy(self._data).reshape(-1)
        uniq, inverse, counts = numpy.unique(values, return_inverse=True, return_counts=True)
        out = [self._from_host(uniq, self.dtype)]
        if return_inverse:
            out.append(self._from_host(inverse.reshape(tuple(self.shape))))
        if return_counts:
            out.append(self._from_host(counts))
        return out[0] if len(out) == 1 else tuple(out)

    def bincount(self, weights=None, minlength=0):
        if self.ndim != 1 or self.dtype.is_floating_point:
            raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
        w = None if weights is None else self._b.to_numpy(weights._data)
        counts = numpy.bincount(self._b.to_numpy(self._data), w, minlength)
        return self._from_host(counts, dtypes.int64 if weights is None else dtypes.float64 if
                               weights.dtype is dtypes.float64 else dtypes.float32)

    def count_nonzero(self, dim=None):
        return (self != 0).sum(dim)
