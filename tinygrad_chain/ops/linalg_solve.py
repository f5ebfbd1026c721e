"""Inverse, solve, determinants: the LU family of tc.linalg, each op with its VJP in Tensor ops.

The checks and messages are torch's; a singular matrix raises LinAlgError (a RuntimeError,
as torch.linalg.LinAlgError) where the backend detects it.
"""
from ._matrix import LinAlgError, check_matrices, lapack, pack, torch_type_name, unpack  # noqa: F401  (tc.linalg's)
from .linalg_spectral import svd_parts
from .movement import cat
from .registry import Op, apply, register


@register
class Inv(Op):
    name = "linalg_inv"
    backward_name = "LinalgInvExBackward0"
    saves_output = True

    def check(self, a):
        check_matrices("linalg.inv", a)

    def forward(self, b, a):
        return lapack(lambda: b.inv(a), "linalg.inv: The inversion could not be completed because the input matrix "
                                        "is singular.")

    def vjp(self, ctx, g):
        y = ctx.output  # d(A^-1) = -A^-1 dA A^-1
        return (-(y.mT @ g @ y.mT),)


@register
class Solve(Op):
    """x with a @ x = b, for a (..., n, n) and b (..., n, k), the batch axes broadcast (the API
    turns vector right-hand sides and left=False into this)."""
    name = "linalg_solve"
    backward_name = "LinalgSolveExBackward0"
    saves_inputs = (0,)
    saves_output = True

    def check(self, a, b):
        check_matrices("linalg.solve", a)
        if a.dtype is not b.dtype:
            raise RuntimeError(f"linalg.solve: Expected A and B to have the same dtype, but found A of type "
                               f"{torch_type_name(a.dtype)} and B of type {torch_type_name(b.dtype)} instead")
        if b.ndim < 2 or b.shape[-2] != a.shape[-1]:
            raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation AX = B "
                               f"({a.shape[-2]}x{a.shape[-1]} and {'x'.join(map(str, b.shape[-2:]))})")

    def forward(self, b, a, rhs):
        return lapack(lambda: b.solve(a, rhs), "linalg.solve: The solver failed because the input matrix is "
                                               "singular.")

    def vjp(self, ctx, g):
        a, x = ctx.inputs[0], ctx.output
        gb = apply(Solve, a.mT, g)  # A^T gB = g
        ga = -(gb @ x.mT) if ctx.needs_input_grad[0] else None
        return ga, gb


@register
class Det(Op):
    name = "linalg_det"
    backward_name = "LinalgDetBackward0"
    saves_inputs = True
    saves_output = True

    def check(self, a):
        check_matrices("linalg.det", a)

    def forward(self, b, a):
        return b.det(a)

    def vjp(self, ctx, g):
        a, d = ctx.inputs[0], ctx.output
        if a.shape[-1] == 1:  # det [[a]] = a: the gradient is g itself (and its derivative exactly 0)
            return (g.unsqueeze(-1).unsqueeze(-1),)
        if not bool((d != 0).all()):
            return (_singular_det_vjp(a, g),)
        # d det(A) = det(A) tr(A^-1 dA): the gradient is det(A) A^-T
        return ((g * d).unsqueeze(-1).unsqueeze(-1) * apply(Inv, a).mT,)


def _singular_det_vjp(a, g):
    """The gradient where a matrix is singular: the adjugate's transpose, from the SVD
    A = U S V^T as det(U) det(V) U adj(S) V^T with adj(S)_ii = the product of the other s_j."""
    u, s, vh = svd_parts(a, full_matrices=False)
    n = s.shape[-1]
    others = []
    for i in range(n):  # the product of the singular values but the i-th (no division by zero)
        p = s[..., :1] * 0 + 1
        for j in range(n):
            if j != i:
                p = p * s[..., j:j + 1]
        others.append(p)
    adj_s = cat(others, -1)
    sign = apply(Det, u.detach()) * apply(Det, vh.detach())  # +-1: constant under small changes
    return (g * sign).unsqueeze(-1).unsqueeze(-1) * ((u * adj_s.unsqueeze(-2)) @ vh)


@register
class Slogdet(Op):
    """(sign, log |det|) packed on a last axis of 2 (tc.linalg.slogdet splits them)."""
    name = "linalg_slogdet"
    backward_name = "LinalgSlogdetBackward0"
    saves_inputs = True

    def check(self, a):
        check_matrices("linalg.slogdet", a)

    def forward(self, b, a):
        sign, logdet = b.slogdet(a)
        return pack(b, [b.asarray(sign), b.asarray(logdet)], tuple(a.shape[:-2]))

    def vjp(self, ctx, g):
        a = ctx.inputs[0]
        _, g_log = unpack(g, [(1,), (1,)])  # the sign is piecewise constant
        return (g_log.unsqueeze(-1) * apply(Inv, a).mT,)
