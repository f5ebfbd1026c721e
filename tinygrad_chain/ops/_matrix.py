"""Matrix helpers in Tensor ops for the linalg VJPs (recorded, so they differentiate again)."""
import numpy

from .registry import constant


def eye_like(x, n):
    """An n x n identity of x's dtype on x's device (a constant)."""
    b = x._b
    return constant(b.eye(n, n, x.dtype), b)


def tril(x, k=0):
    """x with the entries above its k-th diagonal zeroed (a product with a constant mask)."""
    b = x._b
    m, n = x.shape[-2:]
    return x * constant(b.asarray(numpy.tri(m, n, k), x.dtype), b)


def diag_embed(v):
    """Matrices (..., n, n) with the vectors v (..., n) on their diagonals."""
    return v.unsqueeze(-1) * eye_like(v, v.shape[-1])


def diagonal(x):
    """The diagonals (..., n) of square matrices x (..., n, n)."""
    return (x * eye_like(x, x.shape[-1])).sum(-1)


def skew(x):
    return x - x.mT


def pack(b, arrays, batch):
    """Arrays that share the batch shape, flattened past it and joined on one last axis: how an
    op with several outputs returns them (one node; the API slices them apart)."""
    return b.concatenate([b.reshape(a, batch + (-1,)) for a in arrays], len(batch))


def unpack(packed, shapes):
    """The tensors pack joined, as slices of `packed` in the given shapes (past the batch)."""
    batch, out, start = packed.shape[:-1], [], 0
    for shape in shapes:
        size = int(numpy.prod(shape, dtype=numpy.int64))
        out.append(packed[..., start:start + size].reshape(tuple(batch) + tuple(shape)))
        start += size
    return out
