"""Adamax: Adam with the infinity norm in place of the second moment (torch's formulas)."""
from .adam import _zeros_like
from ._decay import followed_grad
from .optimizer import Optimizer, _check_hyper
from .rmsprop import _lerp
from ._scalars import check_betas, check_lr, number


class Adamax(Optimizer):
    """foreach, capturable and differentiable are accepted and ignored (see optim/_scalars.py)."""

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, foreach=None, *,
                 maximize=False, differentiable=False, capturable=False):
        check_lr(lr)
        _check_hyper("epsilon value", eps)
        check_betas(betas)
        _check_hyper("weight_decay value", weight_decay)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable, capturable=capturable))

    def _update(self, p, grad, group, state):
        b, x = p._b, p._writable()
        if not state:
            state["step"] = 0
            state["exp_avg"] = _zeros_like(p)
            state["exp_inf"] = _zeros_like(p)
        state["step"] += 1
        beta1, beta2 = group["betas"]
        g = followed_grad(b, x, grad, group)
        m, u = state["exp_avg"]._writable(), state["exp_inf"]._writable()
        b.copy_into(m, _lerp(b, m, g, 1 - beta1))
        b.copy_into(u, b.binary("maximum", b.binary("mul", u, beta2), b.binary("add", b.unary("abs", g), group["eps"])))
        clr = number(group["lr"]) / (1 - beta1 ** state["step"])
        b.copy_into(x, b.binary("add", x, b.binary("div", b.binary("mul", m, -clr), u)))
