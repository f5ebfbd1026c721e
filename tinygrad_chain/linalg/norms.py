"""tc.linalg.norm, vector_norm and matrix_norm (torch's rules for ord, dim and keepdim)."""
import math

from tinygrad_chain.dims import dim_index
from tinygrad_chain.ops.linalg_solve import torch_type_name

from .decompositions import svdvals


def _check_float(name, x):
    if not x.dtype.is_floating_point:
        raise RuntimeError(f"{name}: Expected a floating point or complex tensor as input. Got "
                           f"{torch_type_name(x.dtype)}")


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):  # noqa: A002  (torch's names)
    """The ord-norm of x's entries over dim (all of them by default): ord any real, inf, -inf, or
    0 (the number of non-zero entries)."""
    if dtype is not None:
        x = x.to(dtype)
    _check_float("linalg.vector_norm", x)
    ord = float(ord)  # noqa: A001
    if isinstance(dim, int):
        dim = (dim,)
    if dim is not None:
        dim = tuple(dim)
    if ord == -math.inf:
        if x.numel() == 0:
            raise RuntimeError("linalg.vector_norm cannot compute the -inf norm on an empty tensor because the "
                               "operation does not have an identity")
        if dim is None:
            out = x.abs().amin()
            return out.reshape((1,) * x.ndim) if keepdim else out
        return x.abs().amin(dim=dim, keepdim=keepdim)
    if dim is None and keepdim:
        return x.reshape(-1).norm(p=ord, dim=0, keepdim=True).reshape((1,) * x.ndim)
    return x.norm(p=ord, dim=dim, keepdim=keepdim)


_MATRIX_ORDS = ("fro", "nuc", math.inf, -math.inf, 1, -1, 2, -2)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):  # noqa: N803, A002
    """The matrix norm over the two dims: "fro", "nuc", +-1 (column sums), +-inf (row sums),
    +-2 (the largest or smallest singular value)."""
    if dtype is not None:
        A = A.to(dtype)  # noqa: N806
    _check_float("linalg.matrix_norm", A)
    if A.ndim < 2:
        raise RuntimeError("linalg.matrix_norm: The input tensor A must have at least 2 dimensions.")
    if not isinstance(dim, (tuple, list)) or len(dim) != 2:
        raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got "
                           f"{list(dim) if isinstance(dim, (tuple, list)) else dim}")
    if ord not in _MATRIX_ORDS:
        raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")
    d0, d1 = (dim_index(d, A.ndim, "linalg.matrix_norm") for d in dim)
    if d0 == d1:
        raise RuntimeError(f"linalg.matrix_norm: dims must be different. Got ({dim[0]}, {dim[1]})")
    if ord == "fro":
        return vector_norm(A, 2, (d0, d1), keepdim)
    if ord in ("nuc", 2, -2):
        # the singular values of the matrices that dims d0, d1 hold, moved last
        rest = [i for i in range(A.ndim) if i not in (d0, d1)]
        s = svdvals(A.permute(*rest, d0, d1))
        out = s.sum(-1) if ord == "nuc" else (s.amax(-1) if ord == 2 else s.amin(-1))
        if keepdim:
            for d in sorted((d0, d1)):
                out = out.unsqueeze(d)
        return out
    # 1: the largest column sum of |A| (summed over d0); inf: the largest row sum (over d1)
    summed, other = (d0, d1) if abs(ord) == 1 else (d1, d0)
    sums = A.abs().sum(dim=summed, keepdim=True)
    out = sums.amax(dim=other, keepdim=True) if ord > 0 else sums.amin(dim=other, keepdim=True)
    return out if keepdim else out.squeeze(max(d0, d1)).squeeze(min(d0, d1))


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):  # noqa: N803, A002
    """A vector norm over one dim (or all of a flattened A when ord and dim are None), a matrix
    norm over two dims (or of a 2-D A when ord is given)."""
    if isinstance(ord, str):  # "fro" or "nuc": a matrix norm whatever dim says (torch's rule)
        return matrix_norm(A, ord, (-2, -1) if dim is None else dim, keepdim, dtype=dtype)
    if isinstance(dim, int):
        dim = (dim,)
    if dim is not None:
        dim = tuple(dim)
        if len(dim) == 1:
            return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)
        if len(dim) == 2:
            return matrix_norm(A, "fro" if ord is None else ord, dim, keepdim, dtype=dtype)
        raise RuntimeError(f"linalg.norm: If dim is specified, it must be of length 1 or 2. Got {list(dim)}")
    if ord is None:
        return vector_norm(A, 2, None, keepdim, dtype=dtype)
    if A.ndim == 1:
        return vector_norm(A, ord, None, keepdim, dtype=dtype)
    if A.ndim == 2:
        return matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype)
    raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. Got "
                       f"{A.ndim}D.")
