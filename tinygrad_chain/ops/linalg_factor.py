"""Cholesky and QR factorizations, each op with its VJP in Tensor ops (torch's formulas)."""
from ._matrix import diag_embed, diagonal, pack, tril, unpack
from .linalg_solve import Solve, check_matrices, lapack
from .movement import cat
from .registry import Op, apply, register


@register
class Cholesky(Op):
    """The lower factor L of A = L L^T, read from A's lower triangle (upper=True is L^T, in the API)."""
    name = "linalg_cholesky"
    backward_name = "LinalgCholeskyExBackward0"
    saves_output = True

    def check(self, a):
        check_matrices("linalg.cholesky", a)

    def forward(self, b, a):
        return lapack(lambda: b.cholesky(a), "linalg.cholesky: The factorization could not be completed because the "
                                             "input is not positive-definite.")

    def vjp(self, ctx, g):
        # dA = dL L^T + L dL^T; with P = tril(L^T gL) and its diagonal halved, mirrored into a symmetric
        # Phi = (P + tril(P, -1)^T) / 2, the gradient is L^-T Phi L^-1
        l = ctx.output
        p = tril(l.mT @ g)
        phi = 0.5 * (p + tril(p, -1).mT)
        left = apply(Solve, l.mT, phi)  # L^-T Phi
        return (apply(Solve, l.mT, left.mT).mT,)  # (L^-T (L^-T Phi)^T)^T = L^-T Phi L^-1


@register
class Qr(Op):
    """(Q, R) packed (the API splits them); mode "reduced" or "complete"."""
    name = "linalg_qr"
    backward_name = "LinalgQrBackward0"
    saves_output = True

    def check(self, a, mode="reduced"):
        check_matrices("linalg.qr", a, square=False)

    def forward(self, b, a, mode="reduced"):
        q, r = b.qr(a, mode)
        return pack(b, [q, r], tuple(a.shape[:-2]))

    def vjp(self, ctx, g):
        m, n = ctx.in_meta[0][0][-2:]
        mode = ctx.attrs.get("mode", "reduced")
        k = m if mode == "complete" else min(m, n)
        if mode == "complete" and m > n:
            raise RuntimeError("The QR decomposition is not differentiable when mode='complete' and nrows > ncols.")
        q, r = unpack(ctx.output, [(m, k), (k, n)])
        gq, gr = unpack(g, [(m, k), (k, n)])
        if m >= n:
            return (_qr_tall_vjp(q, r, gq, gr),)
        # A = [X | Y] with X square: X = Q R_x and R_y = Q^T Y, so Y = Q R_y reaches Q's gradient too
        rx, ry, grx, gry = r[..., :m], r[..., m:], gr[..., :m], gr[..., m:]
        gx = _qr_tall_vjp(q, rx, gq + (q @ ry) @ gry.mT, grx)
        return (cat([gx, q @ gry], -1),)


def _qr_tall_vjp(q, r, gq, gr):
    """The VJP of A = QR for A with at least as many rows as columns (Q m x n, R n x n):
    M = R gR^T - gQ^T Q, gA = (gQ + Q copyltu(M)) R^-T, copyltu mirroring M's lower triangle."""
    m_ = r @ gr.mT - gq.mT @ q
    low = tril(m_, -1)
    sym = low + low.mT + diag_embed(diagonal(m_))
    rhs = gq + q @ sym
    return apply(Solve, r, rhs.mT).mT  # rhs R^-T = (R^-1 rhs^T)^T
