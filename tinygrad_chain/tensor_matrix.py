"""Tensor methods on the structure of matrices: tril, triu, diagonal, diag, diag_embed, trace, outer.

Each is composed of differentiable ops (a mask and `where`, indexing, padding), so
gradients of any order come with them. Masked-out entries are zeros taken from `where`,
never products with 0, so an inf or nan outside the kept triangle does not leak in.
Unlike torch's, diagonal() is a copy, not a view: writing into it leaves the input alone.
"""
from tinygrad_chain import dtypes
from tinygrad_chain.dims import dim_index
from tinygrad_chain.ops import elementwise as E
from tinygrad_chain.ops import movement as M
from tinygrad_chain.ops.registry import apply, constant


class TensorMatrix:
    __slots__ = ()

    def tril(self, diagonal=0):
        """The lower triangle of each matrix (the last two dims): j - i <= diagonal kept."""
        return E.where(_offsets(self, "tril") <= diagonal, self, _zero(self))

    def triu(self, diagonal=0):
        """The upper triangle of each matrix (the last two dims): j - i >= diagonal kept."""
        return E.where(_offsets(self, "triu") >= diagonal, self, _zero(self))

    def diagonal(self, offset=0, dim1=0, dim2=1):
        """The diagonal of the matrices in dims (dim1, dim2), as the last dim of the result."""
        d1, d2 = _two_dims(self.ndim, dim1, dim2, "diagonal")
        x = self.permute(*[d for d in range(self.ndim) if d not in (d1, d2)], d1, d2)
        rows, cols = x.shape[-2], x.shape[-1]
        length = max(0, min(rows, cols - offset) if offset >= 0 else min(rows + offset, cols))
        start_row, start_col = max(0, -offset), max(0, offset)
        b = self._b
        i = b.arange(start_row, start_row + length, 1, dtypes.int64)
        j = b.arange(start_col, start_col + length, 1, dtypes.int64)
        return apply(M.GetItemCopy, x, index=(Ellipsis, i, j))

    def diag_embed(self, offset=0, dim1=-2, dim2=-1):
        """Matrices whose diagonal (offset) holds the last dim of self, in dims (dim1, dim2)."""
        ndim = self.ndim + 1
        d1, d2 = _two_dims(ndim, dim1, dim2, "diag_embed")
        k = abs(offset)
        padded = self if k == 0 else apply(M.Pad, self, widths=((0, 0),) * (self.ndim - 1) + ((0, k),))
        # the entry at (i, i + offset) comes from row i when offset >= 0, else from column i + offset
        values = padded.unsqueeze(-1) if offset >= 0 else padded.unsqueeze(-2)
        n = padded.shape[-1]
        out = E.where(_arange(self, 0, n).reshape(1, n) - _arange(self, 0, n).reshape(n, 1) == offset, values, 0)
        batch = iter(range(ndim - 2))  # out's batch dims, then (dim1, dim2): put them in place
        return out.permute(*[ndim - 2 if d == d1 else ndim - 1 if d == d2 else next(batch) for d in range(ndim)])

    def diag(self, diagonal=0):
        """A 1-D tensor's diagonal matrix, or a 2-D tensor's diagonal."""
        if self.ndim == 1:
            return self.diag_embed(diagonal, 0, 1)
        if self.ndim == 2:
            return self.diagonal(diagonal)
        raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {self.ndim}D")

    def trace(self):
        if self.ndim != 2:
            raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {self.ndim}")
        return self.diagonal().sum()

    def outer(self, vec2):
        vec2 = self._wrap(vec2)
        if self.ndim != 1 or vec2.ndim != 1:
            raise RuntimeError(f"outer: expected 1D tensors, but got {self.ndim}D and {vec2.ndim}D tensors")
        return self.unsqueeze(1) * vec2.unsqueeze(0)

    ger = outer


def _arange(x, start, n):
    """start, start + 1, ... (n of them), as an int64 tensor on x's device."""
    return constant(x._b.arange(start, start + n, 1, dtypes.int64), x._b)


def _offsets(x, name):
    """(j - i) for each position of a matrix shaped like x's last two dims."""
    if x.ndim < 2:
        raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions")
    rows, cols = x.shape[-2], x.shape[-1]
    return _arange(x, 0, cols).reshape(1, cols) - _arange(x, 0, rows).reshape(rows, 1)


def _two_dims(ndim, dim1, dim2, name):
    d1, d2 = dim_index(dim1, ndim, name), dim_index(dim2, ndim, name)
    if d1 == d2:
        raise RuntimeError(f"{name}: dim1 and dim2 cannot be identical, but got dim1={dim1} and dim2={dim2}")
    return d1, d2


def _zero(x):
    """The 0 that keeps x's dtype in where(): False for a bool x (an int 0 would promote it to int64)."""
    return False if x.dtype is dtypes.bool_ else 0
