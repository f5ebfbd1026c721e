"""Adagrad (torch's formulas: lr decay, L2 weight decay, initial accumulator)."""
from tinygrad_chain.tensor import Tensor

from .optimizer import Optimizer, _check_hyper


class Adagrad(Optimizer):
    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10, *,
                 maximize=False):
        _check_hyper("learning rate", lr)
        _check_hyper("lr_decay value", lr_decay)
        _check_hyper("weight_decay value", weight_decay)
        _check_hyper("initial_accumulator_value value", initial_accumulator_value)
        _check_hyper("epsilon value", eps)
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps,
                                      maximize=maximize))
        # torch creates the state at construction
        for group in self.param_groups:
            for p in group["params"]:
                b = p._b
                self.state[p]["step"] = 0
                self.state[p]["sum"] = Tensor._make(b.full(p.shape, group["initial_accumulator_value"], p.dtype),
                                                    b, False, None, [0])

    def _update(self, p, grad, group, state):
        b, x = p._b, p._writable()
        state["step"] += 1
        g = b.unary("neg", grad._data) if group["maximize"] else grad._data
        if group["weight_decay"]:
            g = b.binary("add", g, b.binary("mul", x, group["weight_decay"]))
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        s = state["sum"]._writable()
        b.copy_into(s, b.binary("add", s, b.binary("mul", g, g)))
        std = b.binary("add", b.unary("sqrt", s), group["eps"])
        b.copy_into(x, b.binary("add", x, b.binary("div", b.binary("mul", g, -clr), std)))
