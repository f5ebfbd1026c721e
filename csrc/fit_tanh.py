"""Derives the coefficients of simd_math.h's float32 tanh: tanh(x) ~ x P(x^2) / Q(x^2) on [0, 9.02],
P and Q of degree 4 with P(0) = Q(0) = 1, minimising the largest relative error. Each round solves
the linearised problem x P - t Q = 0 by weighted least squares (weights 1 / (t Q_prev)^2, so the
residual measures the relative error), and Lawson's reweighting (w *= |error|^(1/2)) moves the
least-squares fit towards the minimax one. Prints the maximum relative error in float64 and the
coefficients, lowest degree first. Run: python csrc/fit_tanh.py"""
import numpy as np

DEG_P, DEG_Q, END = 4, 4, 9.02


def fit(deg_p=DEG_P, deg_q=DEG_Q, end=END, rounds=200):
    x = np.sort(np.concatenate([np.linspace(1e-4, end, 40000), np.geomspace(1e-6, 1e-1, 2000)]))
    t = np.tanh(x)
    u = x * x / (end * end)  # x^2 scaled to [0, 1] for conditioning
    powers = lambda k: u[:, None] ** np.arange(1, k + 1)
    a = np.concatenate([x[:, None] * powers(deg_p), -t[:, None] * powers(deg_q)], 1)
    p, q, w = np.ones(1), np.ones(1), np.ones_like(x)
    for r in range(rounds):
        sw = np.sqrt(w) / (t * np.polyval(q[::-1], u))
        sol = np.linalg.lstsq(a * sw[:, None], (t - x) * sw, rcond=None)[0]
        p, q = np.concatenate([[1.0], sol[:deg_p]]), np.concatenate([[1.0], sol[deg_p:]])
        err = x * np.polyval(p[::-1], u) / np.polyval(q[::-1], u) / t - 1
        if r > 5:
            w = w * np.sqrt(np.abs(err))
        w /= w.mean()
    scale = (end * end) ** np.arange(max(deg_p, deg_q) + 1.0)  # back to powers of x^2
    return np.abs(err).max(), p / scale[:deg_p + 1], q / scale[:deg_q + 1]


if __name__ == "__main__":
    worst, p, q = fit()
    print(f"max relative error {worst:.3g}\nP = {[float(v) for v in p]}\nQ = {[float(v) for v in q]}")
