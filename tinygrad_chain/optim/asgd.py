"""ASGD: SGD with a decaying step and a running average of the iterates (torch's formulas)."""
from .adam import _zeros_like
from ._decay import followed_grad
from .optimizer import Optimizer, _check_hyper
from ._scalars import check_lr, number, read, scalar_state, write


class ASGD(Optimizer):
    """The average is state["ax"]. foreach, capturable and differentiable are accepted and
    ignored (see optim/_scalars.py)."""
    _unshaped_state = ("step", "eta", "mu")

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, foreach=None, maximize=False,
                 differentiable=False, capturable=False):
        check_lr(lr)
        _check_hyper("weight_decay value", weight_decay)
        super().__init__(params, dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                                      foreach=foreach, maximize=maximize, differentiable=differentiable,
                                      capturable=capturable))

    def _update(self, p, grad, group, state):
        b, x = p._b, p._writable()
        lr, lambd = number(group["lr"]), group["lambd"]
        if not state:
            state["step"] = 0
            state["eta"] = scalar_state(lr, p)  # torch's scalar dtype: see _scalars.py
            state["mu"] = scalar_state(1.0, p)
            state["ax"] = _zeros_like(p)
        state["step"] += 1
        step = state["step"]
        g = followed_grad(b, x, grad, group)
        eta, mu = read(state["eta"]), read(state["mu"])
        b.copy_into(x, b.binary("mul", x, 1 - lambd * eta))
        b.copy_into(x, b.binary("add", x, b.binary("mul", g, -eta)))
        ax = state["ax"]._writable()
        if mu != 1:
            b.copy_into(ax, b.binary("add", ax, b.binary("mul", b.binary("sub", x, ax), mu)))
        else:
            b.copy_into(ax, x)
        write(state["eta"], lr / ((1 + lambd * lr * step) ** group["alpha"]))
        write(state["mu"], 1 / max(1, step - group["t0"]))
