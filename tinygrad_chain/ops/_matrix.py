"""Matrix helpers of the linalg ops: torch's checks and errors, and Tensor-op helpers for the VJPs
(recorded, so they differentiate again)."""
import numpy

from .registry import constant


class LinAlgError(RuntimeError):
    """A matrix the factorization cannot handle (singular, not positive-definite)."""


_TORCH_NAMES = {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool",
                "float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16"}


def torch_type_name(dtype):
    return _TORCH_NAMES.get(dtype.name, dtype.name)


def check_matrices(name, a, square=True):
    """torch's checks of a stack of matrices: floating point, 2 or more dims, square."""
    if not a.dtype.is_floating_point:
        raise RuntimeError(f"{name}: Expected a floating point or complex tensor as input. Got "
                           f"{torch_type_name(a.dtype)}")
    if a.ndim < 2:
        raise RuntimeError(f"{name}: The input tensor A must have at least 2 dimensions.")
    if square and a.shape[-1] != a.shape[-2]:
        raise RuntimeError(f"{name}: A must be batches of square matrices, but they are {a.shape[-2]} by "
                           f"{a.shape[-1]} matrices")


def lapack(call, message):
    """call(), with NumPy's LinAlgError raised as ours (torch's message)."""
    try:
        return call()
    except numpy.linalg.LinAlgError:
        raise LinAlgError(message) from None



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
