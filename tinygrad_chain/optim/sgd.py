"""SGD with momentum, dampening, Nesterov momentum and L2 weight decay (torch's formulas)."""
from tinygrad_chain.ops.inplace import update_
from tinygrad_chain.tensor import Tensor

from .optimizer import Optimizer, _check_hyper


class SGD(Optimizer):
    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False):
        _check_hyper("learning rate", lr)
        _check_hyper("momentum value", momentum)
        _check_hyper("weight_decay value", weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize))

    def _step(self, p, grad, group, state):
        momentum = group["momentum"]
        buf = state.get("momentum_buffer") if momentum else None
        new = update_("sgd_step", _sgd_step, (p, grad, buf), (0, 2), group, self._scratch())
        if momentum and buf is None:  # the first step creates the buffer (a copy of the update)
            state["momentum_buffer"] = Tensor._make(new, p._b, False, None, [0])


def _sgd_step(b, x, g, buf, group, scratch):
    g = b.unary("neg", g) if group["maximize"] else g
    return b.sgd_step(x, g, buf, group["lr"], group["momentum"], group["dampening"], group["nesterov"],
                      group["weight_decay"], scratch=scratch)
