"""Rprop: a per-element step size grown or shrunk by the sign of successive gradients (torch's rules):
formulas.py's rprop row."""
from tinygrad_chain.tensor import Tensor

from .optimizer import Optimizer, sign, zeros_like
from ._scalars import check_lr, number


class Rprop(Optimizer):
    """foreach, capturable and differentiable are accepted and ignored (see optim/_scalars.py)."""
    _row = "rprop"

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *, capturable=False, foreach=None,
                 maximize=False, differentiable=False):
        check_lr(lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        super().__init__(params, dict(lr=lr, etas=etas, step_sizes=step_sizes, foreach=foreach, maximize=maximize,
                                      differentiable=differentiable, capturable=capturable))

    def _init_state(self, p, group, state):
        b = p._b
        state.update(step=0, prev=zeros_like(p),
                     step_size=Tensor._make(b.full(p.shape, number(group["lr"]), p.dtype), b, False, None, [0]))

    def _state_keys(self, group):
        return ("prev", "step_size")

    def _scalars(self, p, group, state, step):
        (eta_minus, eta_plus), (lo, hi) = group["etas"], group["step_sizes"]
        return sign(group), eta_minus, eta_plus, lo, hi
