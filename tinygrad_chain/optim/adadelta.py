"""Adadelta (torch's formulas: L2 weight decay, an lr that scales the update)."""
from .adam import _zeros_like
from ._decay import followed_grad
from .optimizer import Optimizer, _check_hyper
from ._scalars import check_lr, number


class Adadelta(Optimizer):
    """foreach, capturable and differentiable are accepted and ignored (see optim/_scalars.py)."""

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *, capturable=False,
                 maximize=False, differentiable=False):
        check_lr(lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        _check_hyper("epsilon value", eps)
        _check_hyper("weight_decay value", weight_decay)
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                                      capturable=capturable, foreach=foreach, differentiable=differentiable))

    def _update(self, p, grad, group, state):
        b, x = p._b, p._writable()
        if not state:
            state["step"] = 0
            state["square_avg"] = _zeros_like(p)
            state["acc_delta"] = _zeros_like(p)
        state["step"] += 1
        rho, eps = group["rho"], group["eps"]
        g = followed_grad(b, x, grad, group)
        sq, acc = state["square_avg"]._writable(), state["acc_delta"]._writable()
        b.copy_into(sq, b.binary("add", b.binary("mul", sq, rho), b.binary("mul", b.binary("mul", g, 1 - rho), g)))
        std = b.unary("sqrt", b.binary("add", sq, eps))
        delta = b.binary("mul", b.binary("div", b.unary("sqrt", b.binary("add", acc, eps)), std), g)
        b.copy_into(acc, b.binary("add", b.binary("mul", acc, rho),
                                  b.binary("mul", b.binary("mul", delta, 1 - rho), delta)))
        b.copy_into(x, b.binary("add", x, b.binary("mul", delta, -number(group["lr"]))))
