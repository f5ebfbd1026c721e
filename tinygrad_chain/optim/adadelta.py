"""Adadelta (torch's formulas: L2 weight decay, an lr that scales the update): formulas.py's adadelta row."""
from .optimizer import Optimizer, _check_hyper, sign, zeros_like
from ._scalars import check_lr, number


class Adadelta(Optimizer):
    """foreach, capturable and differentiable are accepted and ignored (see optim/_scalars.py)."""
    _row = "adadelta"

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *, capturable=False,
                 maximize=False, differentiable=False):
        check_lr(lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        _check_hyper("epsilon value", eps)
        _check_hyper("weight_decay value", weight_decay)
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                                      capturable=capturable, foreach=foreach, differentiable=differentiable))

    def _init_state(self, p, group, state):
        state.update(step=0, square_avg=zeros_like(p), acc_delta=zeros_like(p))

    def _state_keys(self, group):
        return ("square_avg", "acc_delta")

    def _scalars(self, p, group, state, step):
        rho = group["rho"]
        return sign(group), group["weight_decay"], rho, 1 - rho, number(group["lr"]), group["eps"]
