"""SVD, symmetric eigendecomposition and the pseudoinverse, each op with its VJP in Tensor ops.

The VJPs divide by differences of singular values (eigenvalues): where two coincide the
gradient through U, V (the eigenvectors) is undefined, as in torch; the values' own gradient
never divides (gap_divide, and the svdvals op).
"""
from ._matrix import check_matrices, diag_embed, eye_like, lapack, pack, skew, unpack
from .elementwise import where
from .registry import Op, apply, register


def gap_divide(x, gaps):
    """x / gaps, with 0 where x is exactly 0: a vector output that is not used (its gradient is 0)
    does not turn a repeated value's zero gap into nan, as torch's undefined gradient does not."""
    return x / where(x == 0, 1.0, gaps)


def svd_shapes(m, n, full_matrices):
    k = min(m, n)
    return [(m, m if full_matrices else k), (k,), (n if full_matrices else k, n)]


def svd_parts(a, full_matrices=False):
    """(U, S, Vh) of a as recorded tensors (the op's packed output, split)."""
    m, n = a.shape[-2:]
    return unpack(apply(Svd, a, full_matrices=full_matrices), svd_shapes(m, n, full_matrices))


@register
class Svd(Op):
    """(U, S, Vh) packed (tc.linalg.svd splits them)."""
    name = "linalg_svd"
    backward_name = "LinalgSvdBackward0"
    saves_output = True

    def check(self, a, full_matrices=True):
        check_matrices("linalg.svd", a, square=False)

    def forward(self, b, a, full_matrices=True):
        u, s, vh = lapack(lambda: b.svd(a, full_matrices), "linalg.svd: The algorithm failed to converge because the "
                                                           "input matrix is ill-conditioned or has too many repeated "
                                                           "singular values.")
        return pack(b, [u, s, vh], tuple(a.shape[:-2]))

    def vjp(self, ctx, g):
        m, n = ctx.in_meta[0][0][-2:]
        k = min(m, n)
        shapes = svd_shapes(m, n, ctx.attrs.get("full_matrices", True))
        u, s, vh = unpack(ctx.output, shapes)
        gu, gs, gvh = unpack(g, shapes)
        # full_matrices: the columns past k are not determined by A; their gradients are dropped, as torch's
        u, gu, vh, gvh = u[..., :k], gu[..., :k], vh[..., :k, :], gvh[..., :k, :]
        # with F_ij = 1 / (s_j^2 - s_i^2): U [diag(gS) + (F o skew(U^T gU)) S + S (F o skew(V^T gV))] V^T
        s2 = s * s
        e = s2.unsqueeze(-2) - s2.unsqueeze(-1) + eye_like(s, k)
        core = gap_divide(skew(u.mT @ gu) * s.unsqueeze(-2) + s.unsqueeze(-1) * skew(vh @ gvh.mT), e) + diag_embed(gs)
        if m > n:  # the part of gU outside U's columns: (I - U U^T) gU S^-1
            gus = gu / s.unsqueeze(-2)
            return ((u @ core + gus - u @ (u.mT @ gus)) @ vh,)
        if m < n:  # and of gVh outside Vh's rows: S^-1 gVh (I - Vh^T Vh)
            sgv = gvh / s.unsqueeze(-1)
            return (u @ (core @ vh + sgv - (sgv @ vh.mT) @ vh),)
        return (u @ core @ vh,)


@register
class Svdvals(Op):
    """The singular values alone: their gradient U diag(gS) V^T never divides by a gap."""
    name = "linalg_svdvals"
    backward_name = "LinalgSvdBackward0"
    saves_inputs = True

    def check(self, a):
        check_matrices("linalg.svdvals", a, square=False)

    def forward(self, b, a):
        return lapack(lambda: b.svd(a, False, compute_uv=False), "linalg.svd: The algorithm failed to converge.")

    def vjp(self, ctx, g):
        u, _, vh = svd_parts(ctx.inputs[0])
        return ((u * g.unsqueeze(-2)) @ vh,)


@register
class Eigh(Op):
    """(eigenvalues ascending, eigenvectors) packed (tc.linalg.eigh splits them); reads the UPLO triangle."""
    name = "linalg_eigh"
    backward_name = "LinalgEighBackward0"
    saves_output = True

    def check(self, a, uplo="L"):
        check_matrices("linalg.eigh", a)
        if uplo not in ("L", "U"):
            raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {uplo}")

    def forward(self, b, a, uplo="L"):
        w, v = lapack(lambda: b.eigh(a, uplo), "linalg.eigh: The algorithm failed to converge because the input "
                                               "matrix is ill-conditioned or has too many repeated eigenvalues.")
        return pack(b, [w, v], tuple(a.shape[:-2]))

    def vjp(self, ctx, g):
        n = ctx.in_meta[0][0][-1]
        lam, v = unpack(ctx.output, [(n,), (n, n)])
        gl, gv = unpack(g, [(n,), (n, n)])
        # V (diag(gL) + skew(V^T gV) / 2 / (l_j - l_i)) V^T: symmetric, as torch's
        e = lam.unsqueeze(-2) - lam.unsqueeze(-1) + eye_like(lam, n)
        return (v @ (gap_divide(0.5 * skew(v.mT @ gv), e) + diag_embed(gl)) @ v.mT,)


@register
class Pinv(Op):
    """The Moore-Penrose pseudoinverse: singular values (|eigenvalues| when hermitian) at or below
    max(atol, rtol * the largest) count as zero (the API sets torch's defaults)."""
    name = "linalg_pinv"
    backward_name = "LinalgPinvBackward0"
    saves_inputs = True
    saves_output = True

    def check(self, a, atol=0.0, rtol=0.0, hermitian=False):
        check_matrices("linalg.pinv", a, square=hermitian)

    def forward(self, b, a, atol=0.0, rtol=0.0, hermitian=False):
        m, n = a.shape[-2:]
        if min(m, n) == 0:
            return b.full(a.shape[:-2] + (n, m), 0, b.dtype_of(a))
        if hermitian:
            w, v = lapack(lambda: b.eigh(a, "L"), "linalg.pinv: eigh failed to converge.")
            size = b.unary("abs", w)
            left, right = v, b.transpose(v, tuple(range(v.ndim - 2)) + (v.ndim - 1, v.ndim - 2))
        else:
            u, w, vh = lapack(lambda: b.svd(a, False), "linalg.pinv: svd failed to converge.")
            size = w
            left = b.transpose(vh, tuple(range(vh.ndim - 2)) + (vh.ndim - 1, vh.ndim - 2))
            right = b.transpose(u, tuple(range(u.ndim - 2)) + (u.ndim - 1, u.ndim - 2))
        largest = b.reduce("max", size, (size.ndim - 1,), True)
        tol = b.binary("maximum", b.binary("mul", largest, rtol), atol)
        keep = b.binary("gt", size, tol)
        inv = b.where(keep, b.binary("div", 1, b.where(keep, w, 1)), 0)
        return b.matmul(b.binary("mul", left, b.reshape(inv, inv.shape[:-1] + (1, -1))), right)

    def vjp(self, ctx, g):
        # dP = -P dA P + P P^T dA^T (I - A P) + (I - P A) dA^T P^T P (where the rank does not change)
        a, p = ctx.inputs[0], ctx.output
        pt, gt = p.mT, g.mT
        m, n = a.shape[-2:]
        return (-(pt @ g @ pt) + (eye_like(a, m) - a @ p) @ gt @ (p @ pt)
                + (pt @ p) @ gt @ (eye_like(a, n) - p @ a),)
