"""Adamax: Adam with the infinity norm in place of the second moment (torch's formulas): formulas.py's adamax row."""
from .optimizer import Optimizer, _check_hyper, lerp_scalars, sign, zeros_like
from ._scalars import check_betas, check_lr, number


class Adamax(Optimizer):
    """foreach, capturable and differentiable are accepted and ignored (see optim/_scalars.py)."""
    _row = "adamax"

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, foreach=None, *,
                 maximize=False, differentiable=False, capturable=False):
        check_lr(lr)
        _check_hyper("epsilon value", eps)
        check_betas(betas)
        _check_hyper("weight_decay value", weight_decay)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable, capturable=capturable))

    def _init_state(self, p, group, state):
        state.update(step=0, exp_avg=zeros_like(p), exp_inf=zeros_like(p))

    def _state_keys(self, group):
        return ("exp_avg", "exp_inf")

    def _scalars(self, p, group, state, step):
        beta1, beta2 = group["betas"]
        clr = number(group["lr"]) / (1 - beta1 ** step)
        return (sign(group), group["weight_decay"], *lerp_scalars(1 - beta1), beta2, group["eps"], clr)
