"""NAdam: Adam with Nesterov momentum and a momentum schedule (torch's formulas): formulas.py's nadam row."""
from .optimizer import Optimizer, _check_hyper, lerp_scalars, sign, zeros_like
from ._scalars import check_betas, check_lr, number, read, scalar_state, write


class NAdam(Optimizer):
    """decoupled_weight_decay=True decays the parameter as AdamW does. foreach, capturable and
    differentiable are accepted and ignored (see optim/_scalars.py)."""
    _unshaped_state = ("step", "mu_product")
    _row = "nadam"

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False):
        check_lr(lr)
        _check_hyper("epsilon value", eps)
        check_betas(betas)
        _check_hyper("weight_decay value", weight_decay)
        _check_hyper("momentum_decay value", momentum_decay)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay, decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize, foreach=foreach, capturable=capturable,
                                      differentiable=differentiable))

    def _init_state(self, p, group, state):
        # mu_product in torch's scalar dtype: see _scalars.py
        state.update(step=0, mu_product=scalar_state(1.0, p), exp_avg=zeros_like(p), exp_avg_sq=zeros_like(p))

    def _state_keys(self, group):
        return ("exp_avg", "exp_avg_sq")

    def _scalars(self, p, group, state, step):
        lr, wd, (beta1, beta2) = number(group["lr"]), group["weight_decay"], group["betas"]
        decoupled = group["decoupled_weight_decay"]
        mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * group["momentum_decay"])))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * group["momentum_decay"])))
        mp = state["mu_product"]
        write(mp, mp._b.binary("mul", mp._data, mu))  # the product in the scalar's dtype, as torch's *=
        mu_product = read(mp)
        # two addcdiv steps, torch's: the gradient now and the momentum ahead
        return (1 - lr * wd if decoupled and wd else 1.0, sign(group), 0.0 if decoupled else wd,
                *lerp_scalars(1 - beta1), beta2, 1 - beta2, 1 - beta2 ** step, group["eps"],
                -lr * (1.0 - mu) / (1.0 - mu_product), -lr * mu_next / (1.0 - mu_product * mu_next))
