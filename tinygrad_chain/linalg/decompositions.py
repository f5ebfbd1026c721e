"""tc.linalg.cholesky, qr, svd, svdvals, eigh and eigvalsh."""
from collections import namedtuple

from tinygrad_chain.creation import empty
from tinygrad_chain.ops._matrix import unpack
from tinygrad_chain.ops.linalg_factor import Cholesky, Qr
from tinygrad_chain.ops.linalg_spectral import Eigh, Svd, Svdvals, svd_shapes
from tinygrad_chain.ops.registry import apply

qr_result = namedtuple("linalg_qr", ["Q", "R"])
svd_result = namedtuple("linalg_svd", ["U", "S", "Vh"])
eigh_result = namedtuple("linalg_eigh", ["eigenvalues", "eigenvectors"])


def cholesky(A, *, upper=False):  # noqa: N803  (torch's argument names)
    """L with A = L L^T (read from A's lower triangle); upper=True returns L^T."""
    low = apply(Cholesky, A)
    return low.mT if upper else low


def qr(A, mode="reduced"):  # noqa: N803
    """(Q, R) with A = QR; mode "reduced", "complete", or "r" (Q is then an empty tensor)."""
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), 'r', "
                           f"or 'complete'")
    m, n = A.shape[-2:] if A.ndim >= 2 else (0, 0)
    k = m if mode == "complete" else min(m, n)
    q, r = unpack(apply(Qr, A, mode="complete" if mode == "complete" else "reduced"), [(m, k), (k, n)])
    if mode == "r":
        q = empty(0, dtype=A.dtype, device=A.device)
    return qr_result(q, r)


def svd(A, full_matrices=True, *, driver=None):  # noqa: N803
    """(U, S, Vh) with A = U diag(S) Vh, S descending. driver (cuSOLVER's choice in torch) is ignored."""
    m, n = A.shape[-2:] if A.ndim >= 2 else (0, 0)
    return svd_result(*unpack(apply(Svd, A, full_matrices=full_matrices), svd_shapes(m, n, full_matrices)))


def svdvals(A, *, driver=None):  # noqa: N803
    return apply(Svdvals, A)


def eigh(A, UPLO="L"):  # noqa: N803
    """(eigenvalues ascending, eigenvectors as columns) of the symmetric matrices whose UPLO
    triangle A holds."""
    n = A.shape[-1] if A.ndim >= 2 else 0
    lam, v = unpack(apply(Eigh, A, uplo=UPLO), [(n,), (n, n)])
    return eigh_result(lam, v)


def eigvalsh(A, UPLO="L"):  # noqa: N803
    return eigh(A, UPLO).eigenvalues
