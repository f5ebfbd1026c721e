"""The chain rule, worked by hand and by tinygrad_chain's autograd, side by side.

Every intermediate gradient (dg/dp, dg/dq, dg/dx, ...) is printed beside its hand-derived value.
Interior tensors keep their .grad inside `tc.autograd.retain_grads()`.

    python examples/chain_rule.py --out runs/chain_rule
"""
import math

from _common import Run, parser

import tinygrad_chain as tc

ROWS = []  # (example, quantity, autograd value, hand value)


def check(example, quantity, auto, hand):
    ROWS.append((example, quantity, float(auto), float(hand)))


def leaf(v):
    return tc.tensor(float(v), dtype=tc.float64, requires_grad=True)


def mygrad_example_1():
    """x=3, y=1: p = y x^2, q = 2x + y, g = p^2 - q^3."""
    x, y = leaf(3), leaf(1)
    with tc.autograd.retain_grads():
        p = y * x ** 2
        q = 2 * x + y
        g = p ** 2 - q ** 3
    g.backward()
    pv, qv, xv, yv = 9.0, 7.0, 3.0, 1.0
    dg_dp, dg_dq = 2 * pv, -3 * qv ** 2                     # 18, -147
    name = "g = p^2 - q^3, p = y x^2, q = 2x + y  @ x=3, y=1"
    check(name, "dg/dp = 2p", p.grad, dg_dp)
    check(name, "dg/dq = -3q^2", q.grad, dg_dq)
    check(name, "dg/dx = dg/dp*2xy + dg/dq*2", x.grad, dg_dp * 2 * xv * yv + dg_dq * 2)   # -186
    check(name, "dg/dy = dg/dp*x^2 + dg/dq*1", y.grad, dg_dp * xv ** 2 + dg_dq)            # 15


def mygrad_example_2():
    """x=5, y=4: p = 4y - x, q = 3xy - 4y, g = p^2 q."""
    x, y = leaf(5), leaf(4)
    with tc.autograd.retain_grads():
        p = 4 * y - x
        q = 3 * x * y - 4 * y
        g = p ** 2 * q
    g.backward()
    xv, yv = 5.0, 4.0
    pv, qv = 4 * yv - xv, 3 * xv * yv - 4 * yv              # 11, 44
    dg_dp, dg_dq = 2 * pv * qv, pv ** 2                     # 968, 121
    name = "g = p^2 q, p = 4y - x, q = 3xy - 4y  @ x=5, y=4"
    check(name, "dg/dp = 2pq", p.grad, dg_dp)
    check(name, "dg/dq = p^2", q.grad, dg_dq)
    check(name, "dg/dx = dg/dp*(-1) + dg/dq*3y", x.grad, -dg_dp + dg_dq * 3 * yv)          # 484
    check(name, "dg/dy = dg/dp*4 + dg/dq*(3x-4)", y.grad, dg_dp * 4 + dg_dq * (3 * xv - 4))  # 5203


def single_variable():
    """y = sin(u), u = x^2: dy/dx = cos(x^2) 2x; and y = e^sqrt(x)."""
    x = leaf(3)
    with tc.autograd.retain_grads():
        u = x ** 2
        y = u.sin()
    y.backward()
    name = "y = sin(u), u = x^2  @ x=3"
    check(name, "dy/du = cos(u)", u.grad, math.cos(9))
    check(name, "dy/dx = cos(x^2) 2x", x.grad, math.cos(9) * 6)

    x = leaf(2)
    y = x.sqrt().exp()
    y.backward()
    check("y = e^sqrt(x)  @ x=2", "dy/dx = e^sqrt(x) / (2 sqrt(x))", x.grad,
          math.exp(math.sqrt(2)) / (2 * math.sqrt(2)))


def multivariable():
    """z = x^2 + sin(xy), x = t^2, y = e^t: dz/dt = dz/dx dx/dt + dz/dy dy/dt (sum over both paths)."""
    tv = 0.7
    t = leaf(tv)
    with tc.autograd.retain_grads():
        x = t ** 2
        y = t.exp()
        z = x ** 2 + (x * y).sin()
    z.backward()
    xv, yv = tv ** 2, math.exp(tv)
    dz_dx = 2 * xv + math.cos(xv * yv) * yv
    dz_dy = math.cos(xv * yv) * xv
    name = "z = x^2 + sin(xy), x = t^2, y = e^t  @ t=0.7"
    check(name, "dz/dx = 2x + y cos(xy)", x.grad, dz_dx)
    check(name, "dz/dy = x cos(xy)", y.grad, dz_dy)
    # (the seed text writes cos(xy) y (2x) for the second term; the chain rule gives cos(xy) y (2t))
    check(name, "dz/dt = dz/dx 2t + dz/dy e^t", t.grad, dz_dx * 2 * tv + dz_dy * math.exp(tv))


def sigmoid_network():
    """Seed 002's toy net: x=1, W1=0.5, b1=0.1, W2=1.5, b2=0.2, y=0.8, L = (y_hat - y)^2 / 2."""
    x = tc.tensor([1.0], dtype=tc.float64)
    W1, b1 = leaf(0.5), leaf(0.1)
    W2, b2 = leaf(1.5), leaf(0.2)
    with tc.autograd.retain_grads():
        z1 = W1 * x + b1
        a1 = z1.sigmoid()
        z2 = W2 * a1 + b2
        y_hat = z2.sigmoid()
        loss = (0.5 * (y_hat - 0.8) ** 2).sum()
    loss.backward()

    # the hand-written backprop of the seed, in plain floats
    def sig(v):
        return 1 / (1 + math.exp(-v))
    hz1 = 0.5 * 1.0 + 0.1
    ha1 = sig(hz1)
    hz2 = 1.5 * ha1 + 0.2
    hy = sig(hz2)
    dL_dyhat = hy - 0.8
    dL_dz2 = dL_dyhat * hy * (1 - hy)
    dL_da1 = 1.5 * dL_dz2
    dL_dz1 = dL_da1 * ha1 * (1 - ha1)
    name = "two-layer sigmoid net (seed 002)"
    check(name, "dL/dy_hat = y_hat - y", y_hat.grad[0], dL_dyhat)
    check(name, "dL/dz2 = dL/dy_hat s'(z2)", z2.grad[0], dL_dz2)
    check(name, "dL/dW2 = dL/dz2 a1", W2.grad, dL_dz2 * ha1)
    check(name, "dL/db2 = dL/dz2", b2.grad, dL_dz2)
    check(name, "dL/da1 = W2 dL/dz2", a1.grad[0], dL_da1)
    check(name, "dL/dz1 = dL/da1 s'(z1)", z1.grad[0], dL_dz1)
    check(name, "dL/dW1 = dL/dz1 x", W1.grad, dL_dz1 * 1.0)
    check(name, "dL/db1 = dL/dz1", b1.grad, dL_dz1)


def second_derivative():
    """d2/dx2 sin(x^2) = f''(g) g'^2 + f'(g) g'' = -sin(x^2) (2x)^2 + cos(x^2) 2, by grad of grad."""
    xv = 1.3
    x = leaf(xv)
    y = (x ** 2).sin()
    (dy,) = tc.autograd.grad(y, x, create_graph=True)   # dy is itself on the tape
    (d2y,) = tc.autograd.grad(dy, x)
    name = "second derivative of y = sin(x^2)  @ x=1.3"
    check(name, "dy/dx = cos(x^2) 2x", dy, math.cos(xv ** 2) * 2 * xv)
    check(name, "d2y/dx2 = -sin(x^2)(2x)^2 + 2cos(x^2)", d2y, -math.sin(xv ** 2) * 4 * xv ** 2 + 2 * math.cos(xv ** 2))


def table():
    lines, current = [], None
    for example, quantity, auto, hand in ROWS:
        if example != current:
            lines.append(f"\n{example}")
            current = example
        ok = "ok" if math.isclose(auto, hand, rel_tol=1e-9, abs_tol=1e-12) else "MISMATCH"
        lines.append(f"  {quantity:<42} autograd {auto:>14.6f}   by hand {hand:>14.6f}   {ok}")
    return "\n".join(lines)


def plot_sin_square(ax):
    """Autograd's dy/dx of sin(x^2) over a grid (one backward through a vector) against the formula."""
    x = tc.linspace(-3, 3, 301, dtype=tc.float64, requires_grad=True)
    (x ** 2).sin().sum().backward()
    xs = x.detach().tolist()
    ax.plot(xs, [math.sin(v * v) for v in xs], label="sin(x^2)", lw=1)
    ax.plot(xs, x.grad.tolist(), label="autograd dy/dx", lw=3, alpha=0.5)
    ax.plot(xs, [math.cos(v * v) * 2 * v for v in xs], "k--", label="cos(x^2) 2x", lw=1)
    ax.set_title("chain rule: d/dx sin(x^2)")
    ax.legend(fontsize=7)


def main():
    args = parser(__doc__.splitlines()[0]).parse_args()
    run = Run(args)
    for example in (mygrad_example_1, mygrad_example_2, single_variable, multivariable, sigmoid_network,
                    second_derivative):
        example()
    text = table()
    print(text)
    (run.out / "chain_rule.txt").write_text(text.lstrip() + "\n")
    mismatches = sum(not math.isclose(a, h, rel_tol=1e-9, abs_tol=1e-12) for _, _, a, h in ROWS)
    run.finish({"gradients_checked": len(ROWS), "mismatches": mismatches}, extra_plot=plot_sin_square)
    raise SystemExit(1 if mismatches else 0)


if __name__ == "__main__":
    main()
