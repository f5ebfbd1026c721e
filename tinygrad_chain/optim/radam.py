"""RAdam: Adam whose adaptive step is switched on once its variance is tractable (torch's formulas)."""
from .adam import _zeros_like
from ._decay import followed_grad
from .optimizer import Optimizer, _check_hyper
from .rmsprop import _lerp
from ._scalars import check_betas, check_lr, number


class RAdam(Optimizer):
    """decoupled_weight_decay=True decays the parameter as AdamW does. foreach, capturable and
    differentiable are accepted and ignored (see optim/_scalars.py)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, decoupled_weight_decay=False,
                 *, foreach=None, maximize=False, capturable=False, differentiable=False):
        check_lr(lr)
        _check_hyper("epsilon value", eps)
        check_betas(betas)
        _check_hyper("weight_decay value", weight_decay)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize,
                                      foreach=foreach, capturable=capturable,
                                      decoupled_weight_decay=decoupled_weight_decay, differentiable=differentiable))

    def _update(self, p, grad, group, state):
        b, x = p._b, p._writable()
        if not state:
            state["step"] = 0
            state["exp_avg"] = _zeros_like(p)
            state["exp_avg_sq"] = _zeros_like(p)
        state["step"] += 1
        step, lr = state["step"], number(group["lr"])
        beta1, beta2 = group["betas"]
        g = followed_grad(b, x, grad, group, lr)
        m, v = state["exp_avg"]._writable(), state["exp_avg_sq"]._writable()
        b.copy_into(m, _lerp(b, m, g, 1 - beta1))
        b.copy_into(v, b.binary("add", b.binary("mul", v, beta2), b.binary("mul", b.binary("mul", g, 1 - beta2), g)))
        bias2 = 1 - beta2 ** step
        update = b.binary("mul", b.binary("div", m, 1 - beta1 ** step), lr)
        # the length of the approximated simple moving average; above 5 the variance is tractable
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2 ** step) / bias2
        if rho_t > 5.0:
            adaptive = b.binary("div", bias2 ** 0.5, b.binary("add", b.unary("sqrt", v), group["eps"]))
            rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
            update = b.binary("mul", b.binary("mul", update, adaptive), rect)
        b.copy_into(x, b.binary("sub", x, update))
