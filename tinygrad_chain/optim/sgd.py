"""SGD with momentum, dampening, Nesterov momentum and L2 weight decay (torch's formulas)."""
from tinygrad_chain.ops.inplace import update_all_
from tinygrad_chain.tensor import Tensor

from .optimizer import Optimizer, _check_hyper


class SGD(Optimizer):
    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, foreach=None, differentiable=False, fused=None):  # (torch's kernel choices)
        _check_hyper("learning rate", lr)
        _check_hyper("momentum value", momentum)
        _check_hyper("weight_decay value", weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize))

    def _step_group(self, group, params):
        momentum = group["momentum"]
        states = [self.state[p] for p in params]
        rows = [(p, p.grad, state.get("momentum_buffer") if momentum else None) for p, state in zip(params, states)]
        bufs = update_all_("sgd_step", _sgd_steps, rows, (0, 2), group, self._scratch())
        if momentum:
            for (p, _, had), state, buf in zip(rows, states, bufs):
                if had is None:  # the first step creates the buffer (a copy of the update)
                    state["momentum_buffer"] = Tensor._make(buf, p._b, False, None, [0])


def _sgd_steps(b, params, grads, bufs, group, scratch):
    if group["maximize"]:
        grads = [b.unary("neg", g) for g in grads]
    return b.sgd_steps(params, grads, bufs, group["lr"], group["momentum"], group["dampening"], group["nesterov"],
                       group["weight_decay"], scratch=scratch)
