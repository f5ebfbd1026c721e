"""tc.nn.utils.gradient_flow: per-parameter gradient norms and update ratios, as a table and a plot.

The plot people write by hand to find vanishing or exploding gradients: for each layer's
parameters, the size of their gradients, and how large a step is next to the weights
(an update ratio near 1e-3 is the usual rule of thumb; far below, the layer barely learns;
far above, it is unstable).
"""
import math
from dataclasses import dataclass

import numpy as np

from tinygrad_chain.autograd.local_grad import host

HEALTHY_UPDATE = 1e-3


@dataclass(frozen=True)
class ParamFlow:
    name: str
    layer: str              # the module path: "0" for "0.weight", "encoder.fc" for "encoder.fc.bias"
    shape: tuple
    grad_norm: float        # nan without a gradient
    grad_mean_abs: float
    grad_max_abs: float
    param_norm: float
    update_ratio: float     # |update| / |param|, nan when unknown (see gradient_flow)
    status: str             # "ok", "no grad", "zero grad" or "non-finite grad"


class GradientFlow:
    """The rows of gradient_flow; str() is the table, plot() the figure."""

    def __init__(self, rows, update_source):
        self.rows = rows
        self.update_source = update_source  # how update_ratio was obtained

    def __iter__(self):
        return iter(self.rows)

    def __len__(self):
        return len(self.rows)

    def problems(self):
        """The rows whose gradient is missing, zero or non-finite."""
        return [r for r in self.rows if r.status != "ok"]

    def table(self):
        head = ("parameter", "shape", "|grad|", "mean |g|", "max |g|", "|param|", "update ratio", "status")
        body = [(r.name, str(list(r.shape)), _num(r.grad_norm), _num(r.grad_mean_abs), _num(r.grad_max_abs),
                 _num(r.param_norm), _num(r.update_ratio), r.status) for r in self.rows]
        widths = [max(len(row[c]) for row in [head] + body) for c in range(len(head))]
        lines = ["  ".join(cell.ljust(w) if c in (0, 1, 7) else cell.rjust(w)
                           for c, (cell, w) in enumerate(zip(row, widths))).rstrip() for row in [head] + body]
        lines.append(f"update ratio: {self.update_source}")
        return "\n".join(lines)

    def __str__(self):
        return self.table()

    def plot(self, path=None, title="gradient flow"):
        """Bars of |grad| (mean and max of |g|, log scale) per parameter, in layer order, and the
        update ratios beside the 1e-3 rule of thumb. Saves to `path` (returned) or returns the figure."""
        has_update = any(math.isfinite(r.update_ratio) for r in self.rows)
        size = (max(6.0, 0.45 * len(self.rows) + 2), 3.2 + 2.6 * has_update)
        if path is None:  # for a notebook or a window: pyplot's figure
            import matplotlib.pyplot as plt
            fig = plt.figure(figsize=size)
        else:  # for a file: no pyplot, so no backend switch and nothing left open
            from matplotlib.figure import Figure
            fig = Figure(figsize=size)
        axes = fig.subplots(1 + has_update, 1, squeeze=False, sharex=True)
        xs = np.arange(len(self.rows))
        colours = _layer_colours(self.rows)
        ax = axes[0][0]
        ax.bar(xs, [_positive(r.grad_mean_abs) for r in self.rows], color=colours, label="mean |grad|")
        ax.plot(xs, [_positive(r.grad_max_abs) for r in self.rows], "k_", markersize=14, mew=2, label="max |grad|")
        for x, r in zip(xs, self.rows):
            if r.status != "ok":
                ax.annotate(r.status, (x, 1), xycoords=("data", "axes fraction"), xytext=(0, -4),
                            textcoords="offset points", ha="center", va="top", rotation=90, fontsize=7, color="red")
        ax.set_yscale("log")
        ax.set_ylabel("|grad|")
        ax.set_title(title)
        ax.legend(fontsize=7, loc="best")
        ax.grid(alpha=0.3, axis="y")
        if has_update:
            ax = axes[1][0]
            ax.bar(xs, [_positive(r.update_ratio) for r in self.rows], color=colours)
            ax.axhline(HEALTHY_UPDATE, color="k", ls="--", lw=1, label=f"{HEALTHY_UPDATE:g} (rule of thumb)")
            ax.set_yscale("log")
            ax.set_ylabel("|update| / |param|")
            ax.legend(fontsize=7)
            ax.grid(alpha=0.3, axis="y")
        axes[-1][0].set_xticks(xs, [r.name for r in self.rows], rotation=60, ha="right", fontsize=7)
        fig.tight_layout()
        if path is None:
            return fig
        fig.savefig(path, dpi=100)
        return path


def gradient_flow(model, *, lr=None, before=None):
    """Gradient statistics of every parameter of `model` after a backward, in registration order.

    model: a Module, or (name, tensor) pairs.
    before: {name: tensor} copies of the parameters taken before optimizer.step(); the update
        ratio is then the measured |param - before| / |before|, right for any optimizer.
    lr: else, a float or an optimizer (each parameter's group lr): the update ratio is
        lr |grad| / |param|, the step plain SGD would take.
    Without either, update ratios are nan.
    """
    named = list(model.named_parameters() if hasattr(model, "named_parameters") else model)
    lrs = _learning_rates(lr, named)
    rows = [_row(name, p, lrs.get(id(p)), None if before is None else before.get(name)) for name, p in named]
    source = ("measured: |param - before| / |before|" if before is not None else
              "lr |grad| / |param| (a plain SGD step)" if lr is not None else "unknown (pass lr= or before=)")
    return GradientFlow(rows, source)


def _row(name, p, lr, previous):
    weights = host(p)
    param_norm = float(np.linalg.norm(weights))
    layer = name.rsplit(".", 1)[0] if "." in name else name
    if p.grad is None:
        nan = float("nan")
        return ParamFlow(name, layer, tuple(p.shape), nan, nan, nan, param_norm, nan, "no grad")
    g = host(p.grad)
    a = np.abs(g)
    norm = float(np.linalg.norm(g))
    status = ("non-finite grad" if not np.isfinite(g).all() else "zero grad" if not a.any() else "ok")
    if previous is not None:
        old = host(previous)
        ratio = _ratio(float(np.linalg.norm(weights - old)), float(np.linalg.norm(old)))
    elif lr is not None:
        ratio = _ratio(lr * norm, param_norm)
    else:
        ratio = float("nan")
    return ParamFlow(name, layer, tuple(p.shape), norm, float(a.mean()) if a.size else 0.0,
                     float(a.max()) if a.size else 0.0, param_norm, ratio, status)


def _learning_rates(lr, named):
    if lr is None:
        return {}
    if hasattr(lr, "param_groups"):
        return {id(p): float(group["lr"]) for group in lr.param_groups for p in group["params"]}
    return {id(p): float(lr) for _, p in named}


def _ratio(a, b):
    return a / b if b else float("nan")


def _num(v):
    return "-" if not isinstance(v, float) or math.isnan(v) else f"{v:.3g}"


def _positive(v):
    """A bar height for a log axis: nothing (nan) for a missing or zero value."""
    return v if isinstance(v, float) and v > 0 and math.isfinite(v) else float("nan")


def _layer_colours(rows):
    palette = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f"]
    order = list(dict.fromkeys(r.layer for r in rows))
    return [palette[order.index(r.layer) % len(palette)] for r in rows]
