"""tc.linalg.inv, solve, det, slogdet, pinv and lstsq."""
from collections import namedtuple

import numpy

from tinygrad_chain import dtypes
from tinygrad_chain.creation import empty
from tinygrad_chain.ops.linalg_solve import Det, Inv, Slogdet, Solve, check_matrices, torch_type_name
from tinygrad_chain.ops.linalg_spectral import Pinv
from tinygrad_chain.ops.registry import apply

from .decompositions import svdvals

slogdet_result = namedtuple("linalg_slogdet", ["sign", "logabsdet"])
lstsq_result = namedtuple("linalg_lstsq", ["solution", "residuals", "rank", "singular_values"])


def inv(A):  # noqa: N803  (torch's argument names)
    return apply(Inv, A)


def det(A):  # noqa: N803
    return apply(Det, A)


def slogdet(A):  # noqa: N803
    packed = apply(Slogdet, A)
    return slogdet_result(packed[..., 0], packed[..., 1])


def _is_vector_rhs(A, B):  # noqa: N803
    """torch's rule: B is a (batch of) vector(s) when 1-D, or when it is A's shape without the last dim."""
    return B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))


def solve(A, B, *, left=True):  # noqa: N803
    """X with A X = B (left) or X A = B; B may be a vector or a batch of vectors, as torch reads it."""
    check_matrices("linalg.solve", A)
    if not left:  # X A = B  <=>  A^T X^T = B^T
        return solve(A.mT, B.mT).mT
    if _is_vector_rhs(A, B):
        return apply(Solve, A, B.unsqueeze(-1)).squeeze(-1)
    if B.ndim < 2 or B.shape[-2] != A.shape[-1]:
        raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation AX = B "
                           f"({A.shape[-2]}x{A.shape[-1]} and {B.shape[-2] if B.ndim > 1 else B.shape[-1]}x"
                           f"{B.shape[-1] if B.ndim > 1 else 1})")
    return apply(Solve, A, B)


def _tolerance(A, atol, rtol):  # noqa: N803
    """torch's defaults: rtol = eps * max(m, n) unless atol is given (then 0), atol 0."""
    if rtol is None:
        rtol = _eps(A) * max(A.shape[-2:]) if atol is None or atol <= 0 else 0.0
    return float(0.0 if atol is None else atol), float(rtol)


def pinv(A, *, atol=None, rtol=None, hermitian=False):  # noqa: N803
    """The pseudoinverse; singular values at or below max(atol, rtol * the largest) count as zero."""
    if not A.dtype.is_floating_point or A.ndim < 2:
        raise RuntimeError(f"linalg.pinv({torch_type_name(A.dtype)}{{{list(A.shape)}}}): expected a tensor with 2 "
                           f"or more dimensions of float, double, cfloat or cdouble types")
    atol, rtol = _tolerance(A, atol, rtol)
    return apply(Pinv, A, atol=atol, rtol=rtol, hermitian=hermitian)


def lstsq(A, B, rcond=None, *, driver=None):  # noqa: N803
    """The least-squares solution pinv(A) B (of least norm where A is rank-deficient): what torch's
    drivers compute, and exactly the function torch differentiates. Like torch, "gelsy" (the CPU
    default) reports the rank, "gelsd" and "gelss" the rank, the singular values and (m > n, full
    rank) the squared residuals, "gels" the residuals (m > n)."""
    if driver not in (None, "gels", "gelsy", "gelsd", "gelss"):
        raise RuntimeError("torch.linalg.lstsq: parameter `driver` should be one of (gels, gelsy, gelsd, gelss)")
    check_matrices("torch.linalg.lstsq", A, square=False)
    vector = B.ndim == 1
    rhs = B.unsqueeze(-1) if vector else B
    if rhs.shape[-2] != A.shape[-2]:
        raise RuntimeError("torch.linalg.lstsq: input.size(-2) should match other.size(-2)")
    m, n = A.shape[-2:]
    rcond = _eps(A) * max(m, n) if rcond is None else float(rcond)
    x = apply(Pinv, A, atol=0.0, rtol=rcond, hermitian=False) @ rhs
    driver = driver or "gelsy"
    none, no_rank = _empty(A, A.dtype), _empty(A, dtypes.int64)
    s = svdvals(A.detach()) if min(m, n) else None
    rank = (s > rcond * s[..., :1]).sum(-1) if s is not None else no_rank
    residuals = none
    if m > n and (driver == "gels" or driver != "gelsy" and bool((rank == n).all())):
        residuals = ((A @ x - rhs) ** 2).sum(-2)
    return lstsq_result(x.squeeze(-1) if vector else x, residuals, no_rank if driver == "gels" else rank,
                        s if driver in ("gelsd", "gelss") else none)


def _eps(A):  # noqa: N803
    return float(numpy.finfo(A.dtype.name).eps)


def _empty(A, dtype):  # noqa: N803
    return empty(0, dtype=dtype, device=A.device)
