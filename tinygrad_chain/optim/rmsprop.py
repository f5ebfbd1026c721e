"""RMSprop (torch's formulas: optional centering, momentum and L2 weight decay): formulas.py's rmsprop row."""
from .optimizer import Optimizer, _check_hyper, lerp_scalars, sign, zeros_like


class RMSprop(Optimizer):
    _row = "rmsprop"

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False, *,
                 capturable=False, foreach=None, maximize=False, differentiable=False):  # (torch's kernel choices)
        _check_hyper("learning rate", lr)
        _check_hyper("epsilon value", eps)
        _check_hyper("momentum value", momentum)
        _check_hyper("weight_decay value", weight_decay)
        _check_hyper("alpha value", alpha)
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered, maximize=maximize))

    def _init_state(self, p, group, state):
        state.update(step=0, square_avg=zeros_like(p))
        if group["momentum"] > 0:
            state["momentum_buffer"] = zeros_like(p)
        if group["centered"]:
            state["grad_avg"] = zeros_like(p)

    def _state_keys(self, group):
        return ("square_avg", "grad_avg" if group["centered"] else None,
                "momentum_buffer" if group["momentum"] > 0 else None)

    def _scalars(self, p, group, state, step):
        alpha, momentum = group["alpha"], group["momentum"]
        return (sign(group), group["weight_decay"], alpha, *lerp_scalars(1 - alpha), bool(group["centered"]),
                group["eps"], momentum, momentum > 0, group["lr"])
