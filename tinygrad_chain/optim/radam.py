"""RAdam: Adam whose adaptive step is switched on once its variance is tractable (torch's formulas):
formulas.py's radam row."""
from .optimizer import Optimizer, _check_hyper, lerp_scalars, sign, zeros_like
from ._scalars import check_betas, check_lr, number


class RAdam(Optimizer):
    """decoupled_weight_decay=True decays the parameter as AdamW does. foreach, capturable and
    differentiable are accepted and ignored (see optim/_scalars.py)."""
    _row = "radam"

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, decoupled_weight_decay=False,
                 *, foreach=None, maximize=False, capturable=False, differentiable=False):
        check_lr(lr)
        _check_hyper("epsilon value", eps)
        check_betas(betas)
        _check_hyper("weight_decay value", weight_decay)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize,
                                      foreach=foreach, capturable=capturable,
                                      decoupled_weight_decay=decoupled_weight_decay, differentiable=differentiable))

    def _init_state(self, p, group, state):
        state.update(step=0, exp_avg=zeros_like(p), exp_avg_sq=zeros_like(p))

    def _state_keys(self, group):
        return ("exp_avg", "exp_avg_sq")

    def _scalars(self, p, group, state, step):
        lr, wd, (beta1, beta2) = number(group["lr"]), group["weight_decay"], group["betas"]
        decoupled = group["decoupled_weight_decay"]
        bias2 = 1 - beta2 ** step
        # the length of the approximated simple moving average; above 5 the variance is tractable
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2 ** step) / bias2
        rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5 \
            if rho_t > 5.0 else 1.0
        return (1 - lr * wd if decoupled and wd else 1.0, sign(group), 0.0 if decoupled else wd,
                *lerp_scalars(1 - beta1), beta2, 1 - beta2, 1 - beta1 ** step, lr, rho_t > 5.0, bias2 ** 0.5,
                group["eps"], rect)
