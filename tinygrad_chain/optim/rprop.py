"""Rprop: a per-element step size grown or shrunk by the sign of successive gradients (torch's rules)."""
from tinygrad_chain.tensor import Tensor

from .adam import _zeros_like
from .optimizer import Optimizer
from ._scalars import check_lr, number


class Rprop(Optimizer):
    """foreach, capturable and differentiable are accepted and ignored (see optim/_scalars.py)."""

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *, capturable=False, foreach=None,
                 maximize=False, differentiable=False):
        check_lr(lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        super().__init__(params, dict(lr=lr, etas=etas, step_sizes=step_sizes, foreach=foreach, maximize=maximize,
                                      differentiable=differentiable, capturable=capturable))

    def _update(self, p, grad, group, state):
        b, x = p._b, p._writable()
        if not state:
            state["step"] = 0
            state["prev"] = _zeros_like(p)
            state["step_size"] = Tensor._make(b.full(p.shape, number(group["lr"]), p.dtype), b, False, None, [0])
        state["step"] += 1
        (eta_minus, eta_plus), (lo, hi) = group["etas"], group["step_sizes"]
        g = b.unary("neg", grad._data) if group["maximize"] else grad._data
        prev, size = state["prev"]._writable(), state["step_size"]._writable()
        sign = b.unary("sign", b.binary("mul", g, prev))
        # the factor in the parameter's dtype: eta_plus where the gradient kept its sign, eta_minus
        # where it flipped, 1 where either was 0
        factor = b.where(b.binary("gt", sign, 0), b.full(p.shape, eta_plus, p.dtype),
                         b.where(b.binary("lt", sign, 0), b.full(p.shape, eta_minus, p.dtype),
                                 b.full(p.shape, 1, p.dtype)))
        b.copy_into(size, b.clip(b.binary("mul", size, factor), lo, hi))
        # after a sign flip the step is skipped and the gradient forgotten (torch compares with eta_minus)
        g = b.where(b.binary("eq", factor, eta_minus), b.full(p.shape, 0, p.dtype), g)
        b.copy_into(x, b.binary("add", x, b.binary("mul", b.binary("mul", b.unary("sign", g), -1), size)))
        b.copy_into(prev, g)
