"""Adam and AdamW, with amsgrad (torch's formulas, one fused backend call per parameter group)."""
from tinygrad_chain.ops.inplace import update_all_
from tinygrad_chain.tensor import Tensor

from .optimizer import Optimizer, _check_hyper


class Adam(Optimizer):
    _decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False):
        # foreach/fused/capturable/differentiable: torch's kernel choices; every group steps fused here anyway
        if decoupled_weight_decay:
            self._decoupled = True  # torch's Adam(decoupled_weight_decay=True) is AdamW
        _check_hyper("learning rate", lr)
        _check_hyper("epsilon value", eps)
        for i, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"Invalid beta parameter at index {i}: {beta}")
        _check_hyper("weight_decay value", weight_decay)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize))

    def _state_keys(self, group):
        return ("exp_avg", "exp_avg_sq")  # (max_exp_avg_sq is made if AMSGrad is switched on later)

    def _step_group(self, group, params):
        amsgrad = group["amsgrad"]
        states = [self.state[p] for p in params]
        for p, state in zip(params, states):
            if not state:
                state["step"] = 0
                state["exp_avg"] = _zeros_like(p)
                state["exp_avg_sq"] = _zeros_like(p)
            if amsgrad and "max_exp_avg_sq" not in state:  # from the start, or amsgrad switched on later
                state["max_exp_avg_sq"] = _zeros_like(p)
        rows = [(p, p.grad, state["exp_avg"], state["exp_avg_sq"], state["max_exp_avg_sq"] if amsgrad else None)
                for p, state in zip(params, states)]
        steps = [state["step"] + 1 for state in states]  # counted once the step has passed the checks
        beta1, beta2 = group["betas"]
        update_all_("adam_step", "adam_steps", rows, (0, 2, 3, 4), group["lr"], beta1, beta2, group["eps"],
                    group["weight_decay"], amsgrad, self._decoupled, each=(steps,), maximize=group["maximize"],
                    scratch=self._scratch())
        for state, step in zip(states, steps):
            state["step"] = step


class AdamW(Adam):
    """Adam with decoupled weight decay: p *= 1 - lr * weight_decay before the Adam update."""
    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize)


def _zeros_like(p):
    b = p._b
    return Tensor._make(b.full(p.shape, 0, p.dtype), b, False, None, [0])
