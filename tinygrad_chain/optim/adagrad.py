"""Adagrad (torch's formulas: lr decay, L2 weight decay, initial accumulator): formulas.py's adagrad row."""
from tinygrad_chain.tensor import Tensor

from .optimizer import Optimizer, _check_hyper, sign


class Adagrad(Optimizer):
    _row = "adagrad"

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None):  # (torch's kernel choices)
        _check_hyper("learning rate", lr)
        _check_hyper("lr_decay value", lr_decay)
        _check_hyper("weight_decay value", weight_decay)
        _check_hyper("initial_accumulator_value value", initial_accumulator_value)
        _check_hyper("epsilon value", eps)
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps,
                                      maximize=maximize))
        for group in self.param_groups:  # torch creates the state at construction
            for p in group["params"]:
                self._init_state(p, group, self.state[p])

    def _init_state(self, p, group, state):
        b = p._b
        state["step"] = 0
        state["sum"] = Tensor._make(b.full(p.shape, group["initial_accumulator_value"], p.dtype), b, False, None, [0])

    def _state_keys(self, group):
        return ("sum",)

    def _scalars(self, p, group, state, step):
        clr = group["lr"] / (1 + (step - 1) * group["lr_decay"])
        return sign(group), group["weight_decay"], clr, group["eps"]
