"""ASGD: SGD with a decaying step and a running average of the iterates (torch's formulas): formulas.py's
asgd row."""
from .optimizer import Optimizer, _check_hyper, sign, zeros_like
from ._scalars import check_lr, number, read, scalar_state, write


class ASGD(Optimizer):
    """The average is state["ax"]. foreach, capturable and differentiable are accepted and
    ignored (see optim/_scalars.py)."""
    _unshaped_state = ("step", "eta", "mu")
    _row = "asgd"

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, foreach=None, maximize=False,
                 differentiable=False, capturable=False):
        check_lr(lr)
        _check_hyper("weight_decay value", weight_decay)
        super().__init__(params, dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                                      foreach=foreach, maximize=maximize, differentiable=differentiable,
                                      capturable=capturable))

    def _init_state(self, p, group, state):
        # eta and mu in torch's scalar dtype: see _scalars.py
        state.update(step=0, eta=scalar_state(number(group["lr"]), p), mu=scalar_state(1.0, p), ax=zeros_like(p))

    def _state_keys(self, group):
        return ("ax",)

    def _scalars(self, p, group, state, step):
        lr, lambd = number(group["lr"]), group["lambd"]
        eta, mu = read(state["eta"]), read(state["mu"])
        # the next step's, torch writes them after this update (nothing reads them before)
        write(state["eta"], lr / ((1 + lambd * lr * step) ** group["alpha"]))
        write(state["mu"], 1 / max(1, step - group["t0"]))
        return sign(group), group["weight_decay"], 1 - lambd * eta, eta, mu != 1, mu
