"""L-BFGS (torch's loop, tolerances, history and optional strong-Wolfe line search).

One step runs up to max_iter iterations and calls the closure (with grad enabled) as often as
they need. All parameters are read and moved as one flat vector, so there is one parameter
group and every parameter lives on one device, as in torch. Scalars that torch keeps as 0-d
tensors (ys, ro, H_diag, the step t after the first iteration) are 0-d tensors here too: they
round as torch's do in float32, and the state dict has torch's layout.
"""
from tinygrad_chain.autograd import enable_grad, no_grad
from tinygrad_chain.creation import zeros
from tinygrad_chain.functions import cat
from tinygrad_chain.ops.inplace import write_

from ._line_search import strong_wolfe
from ._scalars import check_lr, number
from .optimizer import Optimizer

_STATE = ("d", "t", "old_dirs", "old_stps", "ro", "H_diag", "prev_flat_grad", "prev_loss")


class LBFGS(Optimizer):
    _unshaped_state = ("func_evals", "n_iter", "al") + _STATE

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7, tolerance_change=1e-9,
                 history_size=100, line_search_fn=None):
        check_lr(lr)
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        super().__init__(params, dict(lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
                                      tolerance_change=tolerance_change, history_size=history_size,
                                      line_search_fn=line_search_fn))
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")

    @property
    def _params(self):
        return self.param_groups[0]["params"]

    def _flat_grad(self):
        return cat([p.grad.reshape(-1) if p.grad is not None else zeros(p.numel(), dtype=p.dtype, device=p.device)
                    for p in self._params], 0)

    def _move(self, t, d):
        """Parameters += t * d, d read as one flat vector."""
        offset = 0
        for p in self._params:
            n = p.numel()
            p.add_(d[offset:offset + n].reshape(p.shape), alpha=t)
            offset += n

    def _evaluate_at(self, closure, x, t, d):
        """(loss, flat gradient) at x + t d; the parameters return to x."""
        self._move(t, d)
        loss = float(closure())
        flat_grad = self._flat_grad()
        for p, saved in zip(self._params, x):
            write_("LBFGS.step", p, saved)
        return loss, flat_grad

    def step(self, closure):
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        with no_grad():
            return self._step(closure, self.param_groups[0])

    def _step(self, user_closure, group):
        def closure():
            with enable_grad():
                return user_closure()
        lr, max_iter, max_eval = number(group["lr"]), group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        history_size, line_search_fn = group["history_size"], group["line_search_fn"]
        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss = closure()
        loss = float(orig_loss)
        evals = 1
        state["func_evals"] += 1
        flat_grad = self._flat_grad()
        if flat_grad.abs().max() <= tolerance_grad:  # already optimal
            return orig_loss
        d, t, old_dirs, old_stps, ro, H_diag, prev_flat_grad, prev_loss = (state.get(k) for k in _STATE)

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:  # steepest descent, and an empty history
                d = flat_grad.neg()
                old_dirs, old_stps, ro, H_diag = [], [], [], 1
            else:
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = y.dot(s)
                if ys > 1e-10:  # keep the pair only where the curvature is positive
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    H_diag = ys / y.dot(y)
                d = _two_loop(flat_grad, old_dirs, old_stps, ro, H_diag, state.setdefault("al", [None] * history_size))
            prev_flat_grad = flat_grad.clone()
            prev_loss = loss
            # the first step is scaled down to at most lr / |g|_1
            t = min(1.0, 1.0 / flat_grad.abs().sum()) * lr if state["n_iter"] == 1 else lr
            gtd = flat_grad.dot(d)
            if gtd > -tolerance_change:  # not a descent direction
                break

            step_evals = 0
            if line_search_fn is not None:
                if line_search_fn != "strong_wolfe":
                    raise RuntimeError("only 'strong_wolfe' is supported")
                x = [p.clone() for p in self._params]
                loss, flat_grad, t, step_evals = strong_wolfe(
                    lambda x_, t_, d_: self._evaluate_at(closure, x_, t_, d_), x, t, d, loss, flat_grad, gtd,
                    max_ls=max_eval - evals)
                self._move(t, d)
                optimal = flat_grad.abs().max() <= tolerance_grad
            else:
                self._move(t, d)
                if n_iter != max_iter:  # the last iteration's loss is the next step's first evaluation
                    loss = float(closure())
                    flat_grad = self._flat_grad()
                    optimal = flat_grad.abs().max() <= tolerance_grad
                    step_evals = 1
            evals += step_evals
            state["func_evals"] += step_evals

            if n_iter == max_iter or evals >= max_eval or optimal:
                break
            if (d * t).abs().max() <= tolerance_change or abs(loss - prev_loss) < tolerance_change:
                break

        state.update(d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=H_diag,
                     prev_flat_grad=prev_flat_grad, prev_loss=prev_loss)
        return orig_loss


def _two_loop(flat_grad, old_dirs, old_stps, ro, H_diag, al):
    """The L-BFGS direction -H g from the history (y: old_dirs, s: old_stps, ro = 1 / y.s) and the
    initial scaling H_diag; al holds the first loop's coefficients (kept in the state, as torch)."""
    q = flat_grad.neg()
    for i in range(len(old_dirs) - 1, -1, -1):
        al[i] = old_stps[i].dot(q) * ro[i]
        q = q - old_dirs[i] * al[i]
    r = q * H_diag
    for i in range(len(old_dirs)):
        be_i = old_dirs[i].dot(r) * ro[i]
        r = r + old_stps[i] * (al[i] - be_i)
    return r
