"""NAdam: Adam with Nesterov momentum and a momentum schedule (torch's formulas)."""
from .adam import _zeros_like
from ._decay import followed_grad
from .optimizer import Optimizer, _check_hyper
from .rmsprop import _lerp
from ._scalars import check_betas, check_lr, number, read, scalar_state, write


class NAdam(Optimizer):
    """decoupled_weight_decay=True decays the parameter as AdamW does. foreach, capturable and
    differentiable are accepted and ignored (see optim/_scalars.py)."""
    _unshaped_state = ("step", "mu_product")

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False):
        check_lr(lr)
        _check_hyper("epsilon value", eps)
        check_betas(betas)
        _check_hyper("weight_decay value", weight_decay)
        _check_hyper("momentum_decay value", momentum_decay)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay, decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize, foreach=foreach, capturable=capturable,
                                      differentiable=differentiable))

    def _update(self, p, grad, group, state):
        b, x = p._b, p._writable()
        if not state:
            state["step"] = 0
            state["mu_product"] = scalar_state(1.0, p)  # torch's scalar dtype: see _scalars.py
            state["exp_avg"] = _zeros_like(p)
            state["exp_avg_sq"] = _zeros_like(p)
        state["step"] += 1
        step, lr = state["step"], number(group["lr"])
        beta1, beta2 = group["betas"]
        g = followed_grad(b, x, grad, group, lr)
        mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * group["momentum_decay"])))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * group["momentum_decay"])))
        mp = state["mu_product"]
        write(mp, mp._b.binary("mul", mp._data, mu))  # the product in the scalar's dtype, as torch's *=
        mu_product = read(mp)
        m, v = state["exp_avg"]._writable(), state["exp_avg_sq"]._writable()
        b.copy_into(m, _lerp(b, m, g, 1 - beta1))
        b.copy_into(v, b.binary("add", b.binary("mul", v, beta2), b.binary("mul", b.binary("mul", g, 1 - beta2), g)))
        denom = b.binary("add", b.unary("sqrt", b.binary("div", v, 1 - beta2 ** step)), group["eps"])
        # two addcdiv steps, torch's: the gradient now and the momentum ahead
        grad_scale = -lr * (1.0 - mu) / (1.0 - mu_product)
        momentum_scale = -lr * mu_next / (1.0 - mu_product * mu_next)
        b.copy_into(x, b.binary("add", x, b.binary("div", b.binary("mul", g, grad_scale), denom)))
        b.copy_into(x, b.binary("add", x, b.binary("div", b.binary("mul", m, momentum_scale), denom)))
