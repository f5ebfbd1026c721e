"""Op database records for tc.linalg (issue 14, item 9): the factorization and solver ops, and
the norms and least squares composed from them.

Samples keep away from where a function has no derivative: matrices well conditioned, singular
values and eigenvalues apart. Where a factor is unique only up to signs (QR, SVD, eigh), the
record's call fixes the signs (each column times the sign of its sum, or R's diagonal made
positive) in ops both libraries spell alike, so NumPy, torch and tc agree on values and on the
gradients of those sign-free functions. Symmetric inputs (cholesky, eigh, hermitian pinv) are
symmetrized in the call, as those factorizations read one triangle only.
"""
import numpy as np

from . import OpInfo, Sample
from .core import DISTINCT, NZ, U


# ---- sample helpers ----------------------------------------------------------------------
def WELL(rng, dtype, shape):
    """Square matrices with a strong diagonal: well conditioned, determinant away from 0."""
    n = shape[-1]
    a = rng.uniform(-1, 1, size=shape) + np.where(rng.random(shape[:-1]) < 0.5, -2.5, 2.5)[..., None] * np.eye(n)
    return np.asarray(a, dtype=dtype)


def SPD(rng, dtype, shape):
    """Symmetric positive-definite matrices with eigenvalues in about [1, 4]."""
    n = shape[-1]
    m = rng.uniform(-1, 1, size=shape) / np.sqrt(n)
    return np.asarray(m @ np.swapaxes(m, -1, -2) + np.eye(n) * 1.5, dtype=dtype)


def SPREAD(rng, dtype, shape):
    """Matrices whose singular values are well apart (2^k scaled): smooth SVD and pseudoinverse."""
    m, n = shape[-2:]
    k = min(m, n)
    q1 = np.linalg.qr(rng.standard_normal(shape[:-2] + (m, m)))[0]
    q2 = np.linalg.qr(rng.standard_normal(shape[:-2] + (n, n)))[0]
    s = np.zeros(shape[:-2] + (m, n))
    for i in range(k):
        s[..., i, i] = 3.0 / 1.7 ** i
    return np.asarray(q1 @ s @ q2, dtype=dtype)


def SYM(rng, dtype, shape):
    """Symmetric matrices with eigenvalues well apart."""
    n = shape[-1]
    q = np.linalg.qr(rng.standard_normal(shape[:-2] + (n, n)))[0]
    lam = np.arange(n) * 1.3 - 1.3 * (n // 2) + 0.6  # |eigenvalues| >= 0.6
    return np.asarray(q @ (lam[:, None] * np.swapaxes(q, -1, -2)), dtype=dtype)


def _sym(x):
    return (x + x.mT) / 2


def _column_signs(u):
    """+-1 per column: the sign of its sum (away from 0 for the samples here)."""
    return u.sum(-2).sign()


# ---- inverse, solve, determinants ----------------------------------------------------------
def _inv_samples(rng, dtype):
    return [Sample((WELL(rng, dtype, (3, 3)),)), Sample((WELL(rng, dtype, (2, 3, 3)),)),
            Sample((WELL(rng, dtype, (1, 1)),)), Sample((WELL(rng, dtype, (2, 1, 2, 2)),))]


def _np_solve(np, a, b, left=True):
    if not left:
        return np.swapaxes(_np_solve(np, np.swapaxes(a, -1, -2), np.swapaxes(b, -1, -2)), -1, -2)
    if b.ndim == 1 or (b.ndim == a.ndim - 1 and b.shape == a.shape[:-1]):
        return np.linalg.solve(a, b[..., None])[..., 0]
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    return np.linalg.solve(np.broadcast_to(a, batch + a.shape[-2:]), np.broadcast_to(b, batch + b.shape[-2:]))


def _solve_samples(rng, dtype):
    return [Sample((WELL(rng, dtype, (3, 3)), U(rng, dtype, (3, 2)))),
            Sample((WELL(rng, dtype, (3, 3)), U(rng, dtype, (3,)))),                 # a vector
            Sample((WELL(rng, dtype, (2, 3, 3)), U(rng, dtype, (2, 3)))),            # a batch of vectors
            Sample((WELL(rng, dtype, (2, 3, 3)), U(rng, dtype, (3, 2)))),            # B broadcast over A's batch
            Sample((WELL(rng, dtype, (3, 3)), U(rng, dtype, (2, 3, 1)))),            # A broadcast over B's
            Sample((WELL(rng, dtype, (3, 3)), U(rng, dtype, (2, 3))), {"left": False})]


def _det_samples(rng, dtype):
    return [Sample((WELL(rng, dtype, (3, 3)),)), Sample((WELL(rng, dtype, (2, 2, 2)),)),
            Sample((WELL(rng, dtype, (1, 1)),))]


def _singular_det_samples(rng, dtype):
    rank2 = U(rng, np.float64, (3, 2)) @ U(rng, np.float64, (2, 3))
    rank1 = U(rng, np.float64, (3, 1)) @ U(rng, np.float64, (1, 3))  # every 2x2 minor 0: gradient 0
    return [Sample((np.asarray(rank2, dtype=dtype),)), Sample((np.asarray(np.stack([rank2, rank1]), dtype=dtype),))]


def _slogdet_samples(rng, dtype):
    return [Sample((WELL(rng, dtype, (3, 3)),)), Sample((WELL(rng, dtype, (2, 3, 3)) * 0.3,)),
            Sample((WELL(rng, dtype, (1, 1)),))]


# ---- factorizations ----------------------------------------------------------------------------
def _cholesky_call(lib, a, upper=False):
    return lib.linalg.cholesky(_sym(a), upper=upper)


def _cholesky_ref(np, a, upper=False):
    low = np.linalg.cholesky((a + np.swapaxes(a, -1, -2)) / 2)
    return np.swapaxes(low, -1, -2) if upper else low


def _cholesky_samples(rng, dtype):
    return [Sample((SPD(rng, dtype, (3, 3)),)), Sample((SPD(rng, dtype, (2, 3, 3)),)),
            Sample((SPD(rng, dtype, (3, 3)),), {"upper": True}), Sample((SPD(rng, dtype, (1, 1)),))]


def _qr_call(lib, a, mode="reduced"):
    q, r = lib.linalg.qr(a, mode=mode)
    # R's diagonal made positive; past min(m, n), a complete Q holds any basis of the complement
    k = min(r.shape[-2:])
    d = (r[..., :k, :k] * lib.eye(k, dtype=r.dtype)).sum(-1).sign()
    r = r[..., :k, :] * d.unsqueeze(-1)
    return (r,) if mode == "r" else (q[..., :k] * d.unsqueeze(-2), r)


def _qr_ref(np, a, mode="reduced"):
    q, r = np.linalg.qr(a)
    d = np.sign(np.diagonal(r, axis1=-2, axis2=-1))
    return (r * d[..., None],) if mode == "r" else (q * d[..., None, :], r * d[..., None])


def _qr_samples(rng, dtype):
    return [Sample((U(rng, dtype, (4, 3)),)), Sample((U(rng, dtype, (3, 3)),)), Sample((U(rng, dtype, (2, 4, 2)),)),
            Sample((U(rng, dtype, (2, 4)),)),                                        # wide: A = Q [R1 | R2]
            Sample((U(rng, dtype, (3, 3)),), {"mode": "complete"}),
            Sample((U(rng, dtype, (2, 4)),), {"mode": "complete"}),
            # torch differentiates mode "r" not at all (it has no Q); ours through R, compared with NumPy
            Sample((U(rng, dtype, (4, 3)),), {"mode": "r"}, torch=False)]


def _svd_call(lib, a, full_matrices=True):
    u, s, vh = lib.linalg.svd(a, full_matrices=full_matrices)
    k = s.shape[-1]
    u, vh = u[..., :k], vh[..., :k, :]  # past k, full_matrices' columns are any basis of the complement
    d = _column_signs(u)
    return u * d.unsqueeze(-2), s, vh * d.unsqueeze(-1)


def _svd_ref(np, a, full_matrices=True):
    u, s, vh = np.linalg.svd(a, full_matrices=full_matrices)
    k = s.shape[-1]
    u, vh = u[..., :k], vh[..., :k, :]
    d = np.sign(u.sum(-2))
    return u * d[..., None, :], s, vh * d[..., :, None]


def _svd_samples(rng, dtype):
    return [Sample((SPREAD(rng, dtype, (3, 3)),)), Sample((SPREAD(rng, dtype, (4, 2)),)),
            Sample((SPREAD(rng, dtype, (2, 4)),), {"full_matrices": False}),
            Sample((SPREAD(rng, dtype, (2, 3, 2)),), {"full_matrices": False}), Sample((SPREAD(rng, dtype, (2, 3)),))]


def _svdvals_samples(rng, dtype):
    return [Sample((SPREAD(rng, dtype, (3, 3)),)), Sample((SPREAD(rng, dtype, (2, 4, 3)),)),
            Sample((SPREAD(rng, dtype, (2, 5)),)),
            Sample((np.asarray(np.eye(3) * 2, dtype=dtype),), grad=False)]  # repeated: no derivative


def _eigh_call(lib, a, UPLO="L", symmetrize=True):  # noqa: N803
    lam, v = lib.linalg.eigh(_sym(a) if symmetrize else a, UPLO=UPLO)
    return lam, v * _column_signs(v).unsqueeze(-2)


def _eigh_ref(np, a, UPLO="L", symmetrize=True):  # noqa: N803
    lam, v = np.linalg.eigh((a + np.swapaxes(a, -1, -2)) / 2 if symmetrize else a, UPLO=UPLO)
    return lam, v * np.sign(v.sum(-2))[..., None, :]


def _eigh_samples(rng, dtype):
    return [Sample((SYM(rng, dtype, (3, 3)),)), Sample((SYM(rng, dtype, (2, 3, 3)),)),
            Sample((SYM(rng, dtype, (3, 3)),), {"UPLO": "U"}), Sample((SYM(rng, dtype, (1, 1)),)),
            # one triangle read: the function of the other triangle is constant (forward only)
            Sample((U(rng, dtype, (3, 3)),), {"UPLO": "U", "symmetrize": False}, grad=False)]


def _eigvalsh_samples(rng, dtype):
    return [Sample((SYM(rng, dtype, (3, 3)),)), Sample((SYM(rng, dtype, (2, 4, 4)),)),
            Sample((np.asarray(np.diag([1.0, 1.0, 3.0]), dtype=dtype),), grad=False)]  # repeated eigenvalue


def _pinv_call(lib, a, hermitian=False, **k):
    return lib.linalg.pinv(_sym(a) if hermitian else a, hermitian=hermitian, **k)


def _pinv_ref(np, a, hermitian=False, atol=None, rtol=None):
    if hermitian:
        a = (a + np.swapaxes(a, -1, -2)) / 2
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    keep = s > np.maximum(atol or 0.0, (rtol or 0.0) * s[..., :1])  # full-rank samples use the defaults
    inv = np.where(keep, 1 / np.where(keep, s, 1), 0)
    return np.swapaxes(vh, -1, -2) @ (inv[..., :, None] * np.swapaxes(u, -1, -2))


def _pinv_samples(rng, dtype):
    low_rank = np.asarray(U(rng, np.float64, (4, 2)) @ U(rng, np.float64, (2, 3)), dtype=dtype)
    return [Sample((SPREAD(rng, dtype, (3, 2)),)), Sample((SPREAD(rng, dtype, (2, 4)),)),
            Sample((SPREAD(rng, dtype, (2, 3, 3)),)), Sample((SYM(rng, dtype, (3, 3)),), {"hermitian": True}),
            # rank-deficient: the cut-off decides the rank (no derivative across a rank change)
            Sample((low_rank,), {"rtol": 1e-6}, grad=False), Sample((low_rank,), {"atol": 1e-6}, grad=False)]


# ---- composites: least squares, norms, cross -----------------------------------------------------------
def _lstsq_call(lib, a, b, **k):
    return lib.linalg.lstsq(a, b, **k).solution


def _lstsq_ref(np, a, b, **k):
    if b.ndim == 1:
        return np.linalg.lstsq(a, b)[0]
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a, b = np.broadcast_to(a, batch + a.shape[-2:]), np.broadcast_to(b, batch + b.shape[-2:])
    out = [np.linalg.lstsq(x, y)[0] for x, y in zip(a.reshape((-1,) + a.shape[-2:]), b.reshape((-1,) + b.shape[-2:]))]
    return np.stack(out).reshape(batch + out[0].shape)


def _lstsq_samples(rng, dtype):
    return [Sample((SPREAD(rng, dtype, (5, 3)), U(rng, dtype, (5, 2)))),        # overdetermined
            Sample((SPREAD(rng, dtype, (2, 4)), U(rng, dtype, (2, 1)))),        # underdetermined: least norm
            Sample((SPREAD(rng, dtype, (2, 4, 3)), U(rng, dtype, (2, 4, 2)))),
            Sample((SPREAD(rng, dtype, (4, 3)), U(rng, dtype, (4,)))),
            Sample((SPREAD(rng, dtype, (4, 3)), U(rng, dtype, (4, 2))), {"driver": "gelsd"})]


def _lstsq_extras_call(lib, a, b, driver):
    r = lib.linalg.lstsq(a, b, driver=driver)
    return r.rank, r.singular_values


def _lstsq_extras_ref(np, a, b, driver):
    x, residuals, rank, s = np.linalg.lstsq(a, b)
    return np.asarray(rank, dtype=np.int64), s


def _lstsq_extras_samples(rng, dtype):
    return [Sample((SPREAD(rng, dtype, (5, 3)), U(rng, dtype, (5, 2))), {"driver": d}) for d in ("gelsd", "gelss")]


def _cross_samples(rng, dtype):
    return [Sample((U(rng, dtype, (3,)), U(rng, dtype, (3,)))), Sample((U(rng, dtype, (2, 3)), U(rng, dtype, (2, 3)))),
            Sample((U(rng, dtype, (1, 3)), U(rng, dtype, (4, 3)))),
            Sample((U(rng, dtype, (3, 2)), U(rng, dtype, (3, 2))), {"dim": 0}),
            Sample((U(rng, dtype, (2, 3, 2)), U(rng, dtype, (2, 3, 2))), {"dim": -2})]


def _vector_norm_ref(np, x, ord=2, dim=None, keepdim=False):  # noqa: A002
    a = np.abs(x)
    if ord == np.inf:
        return a.max(axis=dim, keepdims=keepdim)
    if ord == -np.inf:
        return a.min(axis=dim, keepdims=keepdim)
    if ord == 0:
        return (a != 0).sum(axis=dim, keepdims=keepdim).astype(x.dtype)
    return (a ** ord).sum(axis=dim, keepdims=keepdim) ** (1.0 / ord)


def _vector_norm_samples(rng, dtype):
    d = DISTINCT(rng, dtype, (2, 3), 0.3) + 0.1
    return [Sample((NZ(rng, dtype, (2, 3)),)), Sample((NZ(rng, dtype, (2, 3)),), {"ord": 1, "dim": 1}),
            Sample((NZ(rng, dtype, (2, 3, 2)),), {"ord": 3.5, "dim": (0, 2), "keepdim": True}),
            Sample((NZ(rng, dtype, (2, 3)),), {"ord": -1.5, "dim": -1}),
            Sample((d,), {"ord": float("inf")}), Sample((d,), {"ord": float("-inf"), "dim": 0}),
            Sample((d,), {"ord": float("-inf"), "keepdim": True}),
            Sample((NZ(rng, dtype, (2, 3)),), {"ord": 0, "dim": 1}),
            Sample((NZ(rng, dtype, (2, 3)),), {"keepdim": True})]


def _matrix_norm_ref(np, a, ord="fro", dim=(-2, -1), keepdim=False):  # noqa: A002
    return np.linalg.norm(a, ord=ord, axis=dim, keepdims=keepdim)


def _matrix_norm_samples(rng, dtype):
    x = SPREAD(rng, dtype, (2, 3, 4))
    return ([Sample((x,), {"ord": o}) for o in ("fro", "nuc", 2, -2, 1, -1, float("inf"), float("-inf"))] +
            [Sample((SPREAD(rng, dtype, (3, 3)),), {"ord": 1, "dim": (1, 0), "keepdim": True}),
             Sample((np.moveaxis(SPREAD(rng, dtype, (2, 3, 4)), 0, 2).copy(),), {"ord": "nuc", "dim": (0, 1)}),
             Sample((x,), {"ord": 2, "dim": (2, 1), "keepdim": True})])


def _norm_ref(np, a, ord=None, dim=None, keepdim=False):  # noqa: A002
    if dim is None and ord is None:
        return np.linalg.norm(a.reshape(-1), keepdims=False).reshape((1,) * a.ndim if keepdim else ())
    return np.linalg.norm(a, ord=ord, axis=dim, keepdims=keepdim)


def _norm_samples(rng, dtype):
    return [Sample((NZ(rng, dtype, (2, 3, 2)),)), Sample((NZ(rng, dtype, (2, 3, 2)),), {"keepdim": True}),
            Sample((NZ(rng, dtype, (4,)),), {"ord": 3}), Sample((SPREAD(rng, dtype, (3, 4)),), {"ord": "nuc"}),
            Sample((SPREAD(rng, dtype, (3, 4)),), {"ord": -2}), Sample((NZ(rng, dtype, (2, 3)),), {"dim": 1}),
            Sample((SPREAD(rng, dtype, (2, 3, 4)),), {"ord": float("inf"), "dim": (1, 2)})]


OPS = [
    OpInfo(ops=("linalg_inv",), name="linalg_inv", call=lambda lib, a: lib.linalg.inv(a), samples=_inv_samples,
           ref=lambda np, a: np.linalg.inv(a)),
    OpInfo(ops=("linalg_solve",), name="linalg_solve", call=lambda lib, a, b, **k: lib.linalg.solve(a, b, **k),
           samples=_solve_samples, ref=_np_solve),
    OpInfo(ops=("linalg_det",), name="linalg_det", call=lambda lib, a: lib.linalg.det(a), samples=_det_samples,
           ref=lambda np, a: np.linalg.det(a)),
    # at a singular matrix the gradient (the adjugate) comes from the SVD, as torch's; its derivative
    # would need that of a singular value at 0, |s|, which has none (torch's differs from central
    # differences there too)
    OpInfo(ops=("linalg_det",), name="linalg_det_singular", call=lambda lib, a: lib.linalg.det(a),
           samples=_singular_det_samples, ref=lambda np, a: np.linalg.det(a), gradgrad=False, atol=1e-5, atol64=1e-12),
    OpInfo(ops=("linalg_slogdet",), name="linalg_slogdet", call=lambda lib, a: tuple(lib.linalg.slogdet(a)),
           samples=_slogdet_samples, ref=lambda np, a: tuple(np.linalg.slogdet(a))),
    OpInfo(ops=("linalg_cholesky",), name="linalg_cholesky", call=_cholesky_call, samples=_cholesky_samples,
           ref=_cholesky_ref),
    OpInfo(ops=("linalg_qr",), name="linalg_qr", call=_qr_call, samples=_qr_samples, ref=_qr_ref),
    OpInfo(ops=("linalg_svd",), name="linalg_svd", call=_svd_call, samples=_svd_samples, ref=_svd_ref),
    OpInfo(ops=("linalg_svdvals",), name="linalg_svdvals", call=lambda lib, a: lib.linalg.svdvals(a),
           samples=_svdvals_samples, ref=lambda np, a: np.linalg.svd(a, compute_uv=False)),
    OpInfo(ops=("linalg_eigh",), name="linalg_eigh", call=_eigh_call, samples=_eigh_samples, ref=_eigh_ref),
    OpInfo(ops=(), name="linalg_eigvalsh", call=lambda lib, a: lib.linalg.eigvalsh(_sym(a)),
           samples=_eigvalsh_samples, ref=lambda np, a: np.linalg.eigvalsh((a + np.swapaxes(a, -1, -2)) / 2)),
    OpInfo(ops=("linalg_pinv",), name="linalg_pinv", call=_pinv_call, samples=_pinv_samples, ref=_pinv_ref,
           torch_tolerances={"float32": dict(rtol=1e-5, atol=5e-6)}),  # as lstsq's
    # float32: the VJP (pinv's) sums three products of order 1, which torch orders otherwise:
    # a few 1e-6 apart on small entries
    OpInfo(ops=(), name="linalg_lstsq", call=_lstsq_call, samples=_lstsq_samples, ref=_lstsq_ref,
           torch_tolerances={"float32": dict(rtol=1e-5, atol=5e-6)}),
    OpInfo(ops=(), name="linalg_lstsq_residuals", samples=_lstsq_extras_samples,
           call=lambda lib, a, b, driver: lib.linalg.lstsq(a, b, driver=driver).residuals,
           ref=lambda np, a, b, driver: np.linalg.lstsq(a, b)[1]),
    OpInfo(ops=(), name="linalg_lstsq_rank_and_singular_values", call=_lstsq_extras_call,
           samples=_lstsq_extras_samples, ref=_lstsq_extras_ref, differentiable=False),
    OpInfo(ops=("linalg_cross",), name="linalg_cross", call=lambda lib, a, b, **k: lib.linalg.cross(a, b, **k),
           samples=_cross_samples, ref=lambda np, a, b, dim=-1: np.cross(a, b, axis=dim)),
    OpInfo(ops=(), name="linalg_vector_norm", call=lambda lib, x, **k: lib.linalg.vector_norm(x, **k),
           samples=_vector_norm_samples, ref=_vector_norm_ref),
    OpInfo(ops=(), name="linalg_matrix_norm", call=lambda lib, a, **k: lib.linalg.matrix_norm(a, **k),
           samples=_matrix_norm_samples, ref=_matrix_norm_ref),
    OpInfo(ops=(), name="linalg_norm", call=lambda lib, a, **k: lib.linalg.norm(a, **k), samples=_norm_samples,
           ref=_norm_ref),
]
