"""Why a gradient has its value: the seeds' chain-rule examples explained as sums over paths.

For each worked example, tc.autograd.explain lists every path from the input to the output, the
local derivative on each edge (read from the ops' own VJPs) and the path's product; their sum
is printed beside the value derived by hand. Each example's graph is drawn to --out (Graphviz
when installed, else matplotlib), and a small sigmoid MLP trained a few steps on the digits
leaves its gradient-flow plot there.

    python examples/explain_chain_rule.py --out runs/explain_chain_rule
"""
import math

from _common import Run, parser

import tinygrad_chain as tc
from tinygrad_chain import datasets, nn

ROWS = []  # (example, quantity, sum over paths, autograd, by hand)


def leaf(v):
    return tc.tensor(float(v), dtype=tc.float64, requires_grad=True)


def explain(title, output, wrt, hand, names, quantity):
    """Print the explanation of d output / d wrt and keep its numbers beside the hand value."""
    ex = tc.autograd.explain(output, wrt, names=names)
    ok = math.isclose(ex.path_sum, hand, rel_tol=1e-9, abs_tol=1e-12)
    print(f"\n{title}: {quantity}, by hand {hand:.10g}  [{'ok' if ok else 'MISMATCH'}]")
    print(ex.table())
    ROWS.append((title, quantity, ex.path_sum, ex.gradient, hand))
    return ex


def draw(run, name, output, names):
    for fmt in ("svg", "png"):
        tc.autograd.graph.render(output, run.out / f"{name}.{fmt}", names=names)


def mygrad_pair(run):
    """Seed 003 (MyGrad): p = y x^2, q = 2x + y, g = p^2 - q^3 at x=3, y=1."""
    x, y = leaf(3), leaf(1)
    with tc.autograd.retain_grads():  # so the picture shows every tensor's gradient
        p = y * x ** 2
        q = 2 * x + y
        g = p ** 2 - q ** 3
    names = dict(x=x, y=y, p=p, q=q, g=g)
    title = "g = p^2 - q^3, p = y x^2, q = 2x + y  @ x=3, y=1"
    dg_dp, dg_dq = 2 * 9.0, -3 * 7.0 ** 2                      # 18, -147
    explain(title, g, x, dg_dp * 2 * 3 * 1 + dg_dq * 2, names, "dg/dx = dg/dp 2xy + dg/dq 2")    # -186
    explain(title, g, y, dg_dp * 3 ** 2 + dg_dq * 1, names, "dg/dy = dg/dp x^2 + dg/dq")        # 15
    explain(title, g, p, dg_dp, names, "dg/dp = 2p")
    explain(title, g, q, dg_dq, names, "dg/dq = -3q^2")
    g.backward(retain_graph=True)  # kept: the picture's edges carry the local derivatives
    draw(run, "mygrad_pair", g, names)


def sin_of_square(run):
    """Seeds 001/002: y = sin(u), u = x^2; dy/dx = cos(x^2) 2x, the gears: rates multiply."""
    x = leaf(3)
    with tc.autograd.retain_grads():
        u = x ** 2
        y = u.sin()
    names = dict(x=x, u=u, y=y)
    explain("y = sin(x^2)  @ x=3", y, x, math.cos(9) * 6, names, "dy/dx = cos(x^2) 2x")
    y.backward(retain_graph=True)
    draw(run, "sin_of_square", y, names)


def tree_diagram(run):
    """Seed 002: z = x^2 + sin(xy), x = t^2, y = e^t; dz/dt sums over the tree's paths."""
    tv = 0.7
    t = leaf(tv)
    with tc.autograd.retain_grads():
        x = t ** 2
        y = t.exp()
        z = x ** 2 + (x * y).sin()
    xv, yv = tv ** 2, math.exp(tv)
    hand = 2 * xv * 2 * tv + math.cos(xv * yv) * yv * 2 * tv + math.cos(xv * yv) * xv * yv
    names = dict(t=t, x=x, y=y, z=z)
    explain("z = x^2 + sin(xy), x = t^2, y = e^t  @ t=0.7", z, t, hand, names,
            "dz/dt = 2x 2t + cos(xy) y 2t + cos(xy) x e^t")
    z.backward(retain_graph=True)
    draw(run, "tree_diagram", z, names)


def sigmoid_network(run):
    """Seed 002's toy net: x=1, W1=0.5, b1=0.1, W2=1.5, b2=0.2, target 0.8, L = (y_hat - y)^2 / 2."""
    x = tc.tensor(1.0, dtype=tc.float64)
    W1, b1, W2, b2 = leaf(0.5), leaf(0.1), leaf(1.5), leaf(0.2)
    with tc.autograd.retain_grads():
        a1 = (W1 * x + b1).sigmoid()
        y_hat = (W2 * a1 + b2).sigmoid()
        loss = 0.5 * (y_hat - 0.8) ** 2

    def sig(v):
        return 1 / (1 + math.exp(-v))
    ha1 = sig(0.5 * 1.0 + 0.1)
    hy = sig(1.5 * ha1 + 0.2)
    dL_dz2 = (hy - 0.8) * hy * (1 - hy)
    dL_dz1 = 1.5 * dL_dz2 * ha1 * (1 - ha1)
    names = dict(W1=W1, b1=b1, W2=W2, b2=b2, a1=a1, y_hat=y_hat, L=loss)
    title = "two-layer sigmoid net (seed 002)"
    explain(title, loss, W1, dL_dz1 * 1.0, names, "dL/dW1 = dL/dz1 x")
    explain(title, loss, b1, dL_dz1, names, "dL/db1 = dL/dz1")
    explain(title, loss, W2, dL_dz2 * ha1, names, "dL/dW2 = dL/dz2 a1")
    explain(title, loss, b2, dL_dz2, names, "dL/db2 = dL/dz2")
    loss.backward(retain_graph=True)
    draw(run, "sigmoid_network", loss, names)


def mlp_gradient_flow(run, steps, lr):
    """A deep sigmoid MLP on the digits: the gradient shrinks layer by layer towards the input."""
    x, y = datasets.digits()
    x = (x.float() / 16.0)[:512].to(run.device)
    y = y.long()[:512].to(run.device)
    model = nn.Sequential(nn.Linear(64, 32), nn.Sigmoid(), nn.Linear(32, 32), nn.Sigmoid(),
                          nn.Linear(32, 32), nn.Sigmoid(), nn.Linear(32, 10)).to(run.device)
    opt = tc.optim.SGD(model.parameters(), lr=lr)
    for step in range(steps):
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward(retain_graph=step == steps - 1)  # the last graph is explained below
        run.log(loss, step)
        if step < steps - 1:
            opt.step()
    names = {**dict(model.named_parameters()), "loss": loss}
    print(f"\nsigmoid MLP 64-32-32-32-10 after {steps} steps: where the gradient of the loss flowed")
    print(tc.autograd.explain(loss, model[0].weight, names=names).table())
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    opt.step()
    flow = tc.nn.utils.gradient_flow(model, before=before)
    print("\n" + flow.table())
    flow.plot(run.out / "gradient_flow.png", title=f"gradient flow, sigmoid MLP, step {steps}")
    return flow


def main():
    p = parser(__doc__.splitlines()[0], steps=30, lr=0.5)
    args = p.parse_args()
    if args.smoke:
        args.steps = 3
    run = Run(args)
    for example in (mygrad_pair, sin_of_square, tree_diagram, sigmoid_network):
        example(run)
    flow = mlp_gradient_flow(run, args.steps, args.lr)
    mismatches = sum(not math.isclose(s, h, rel_tol=1e-9, abs_tol=1e-12) or
                     not math.isclose(a, h, rel_tol=1e-9, abs_tol=1e-12) for _, _, s, a, h in ROWS)
    run.finish({"gradients_explained": len(ROWS), "mismatches": mismatches,
                "first_layer_grad_norm": flow.rows[0].grad_norm, "last_layer_grad_norm": flow.rows[-2].grad_norm})
    raise SystemExit(1 if mismatches else 0)


if __name__ == "__main__":
    main()
