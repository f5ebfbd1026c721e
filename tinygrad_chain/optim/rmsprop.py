"""RMSprop (torch's formulas: optional centering, momentum and L2 weight decay)."""
from .adam import _zeros_like
from .optimizer import Optimizer, _check_hyper


class RMSprop(Optimizer):
    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False, *,
                 maximize=False):
        _check_hyper("learning rate", lr)
        _check_hyper("epsilon value", eps)
        _check_hyper("momentum value", momentum)
        _check_hyper("weight_decay value", weight_decay)
        _check_hyper("alpha value", alpha)
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered, maximize=maximize))

    def _update(self, p, grad, group, state):
        b, x = p._b, p._writable()
        if not state:
            state["step"] = 0
            state["square_avg"] = _zeros_like(p)
            if group["momentum"] > 0:
                state["momentum_buffer"] = _zeros_like(p)
            if group["centered"]:
                state["grad_avg"] = _zeros_like(p)
        state["step"] += 1
        alpha, lr = group["alpha"], group["lr"]
        g = b.unary("neg", grad._data) if group["maximize"] else grad._data
        if group["weight_decay"]:
            g = b.binary("add", g, b.binary("mul", x, group["weight_decay"]))
        sq = state["square_avg"]._writable()
        b.copy_into(sq, b.binary("add", b.binary("mul", sq, alpha), b.binary("mul", b.binary("mul", g, 1 - alpha), g)))
        if group["centered"]:
            ga = state["grad_avg"]._writable()
            b.copy_into(ga, _lerp(b, ga, g, 1 - alpha))
            avg = b.unary("sqrt", b.binary("sub", sq, b.binary("mul", ga, ga)))
        else:
            avg = b.unary("sqrt", sq)
        avg = b.binary("add", avg, group["eps"])
        if group["momentum"] > 0:
            buf = state["momentum_buffer"]._writable()
            b.copy_into(buf, b.binary("add", b.binary("mul", buf, group["momentum"]), b.binary("div", g, avg)))
            b.copy_into(x, b.binary("add", x, b.binary("mul", buf, -lr)))
        else:
            b.copy_into(x, b.binary("add", x, b.binary("div", b.binary("mul", g, -lr), avg)))


def _lerp(b, start, end, w):
    """torch's lerp: the form that is exact at whichever end w is near."""
    if abs(w) < 0.5:
        return b.binary("add", start, b.binary("mul", b.binary("sub", end, start), w))
    return b.binary("sub", end, b.binary("mul", b.binary("sub", end, start), 1 - w))
