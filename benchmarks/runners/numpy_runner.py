"""The same computations hand-written in NumPy, gradients derived by hand.

This is the reference a NumPy-based engine is held to: plain, idiomatic NumPy
(fresh temporaries, no buffer reuse), so the gap to it is the engine's cost.
There is no autograd here, so autograd_overhead is unsupported, and the LSTM
and Transformer have no hand-written backward.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from benchmarks.workloads import LR, transposed

NAME = "numpy"


def probe():
    return {"version": np.__version__, "devices": [("cpu", "cpu")], "skipped": []}


def configure(threads):
    pass  # OPENBLAS_NUM_THREADS / MKL_NUM_THREADS were set before import


def sync(device):
    pass


def scalar(v):
    return float(np.sum(v))


def _matmul(device, d, p):
    a, b = d["a"], d["b"]
    return lambda: a @ b


def _matmul_t(device, d, p):
    x, y = transposed(d["a"], d["b"], p["form"])
    return lambda: x @ y


def _elementwise(device, d, p):
    x, w, b = d["x"], d["w"], d["b"]

    def step():
        t = np.tanh(x * w + b)
        s = 1.0 / (1.0 + np.exp(-x))
        y = (t * s).sum()
        dz = s * (1.0 - t * t)  # d/dz of tanh(z) * s
        gw, gb = dz * x, dz
        gx = dz * w + t * s * (1.0 - s)
        return y
    return step


def _ce_backward(logits, y):
    """Mean cross-entropy and its gradient with respect to the logits."""
    n = logits.shape[0]
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    s = e.sum(axis=1, keepdims=True)
    loss = -(shifted[np.arange(n), y] - np.log(s[:, 0])).mean()
    g = e / s
    g[np.arange(n), y] -= 1.0
    g /= n
    return loss, g


def _mlp(device, d, p):
    x, y = d["x"], d["y"]
    params = [d[k].copy() for k in ("w1", "b1", "w2", "b2", "w3", "b3")]

    def step():
        w1, b1, w2, b2, w3, b3 = params
        a1 = np.maximum(x @ w1 + b1, 0)
        a2 = np.maximum(a1 @ w2 + b2, 0)
        loss, g3 = _ce_backward(a2 @ w3 + b3, y)
        g2 = (g3 @ w3.T) * (a2 > 0)
        g1 = (g2 @ w2.T) * (a1 > 0)
        grads = [x.T @ g1, g1.sum(0), a1.T @ g2, g2.sum(0), a2.T @ g3, g3.sum(0)]
        for q, g in zip(params, grads):
            q -= LR * g
        return loss
    return step


def _conv(x, w, b):
    """Valid 3x3 convolution by im2col; returns output and the columns."""
    cols = sliding_window_view(x, (3, 3), axis=(2, 3))  # (B, C, Ho, Wo, 3, 3)
    B, C, Ho, Wo = cols.shape[:4]
    cols = cols.transpose(0, 2, 3, 1, 4, 5).reshape(B * Ho * Wo, C * 9)
    out = cols @ w.reshape(w.shape[0], -1).T + b
    return out.reshape(B, Ho, Wo, -1).transpose(0, 3, 1, 2), cols


def _conv_backward(g, x, w, cols, need_gx=True):
    B, O, Ho, Wo = g.shape
    gf = g.transpose(0, 2, 3, 1).reshape(-1, O)
    gw = (gf.T @ cols).reshape(w.shape)
    if not need_gx:  # the input images need no gradient
        return None, gw, gf.sum(0)
    gcols = (gf @ w.reshape(O, -1)).reshape(B, Ho, Wo, x.shape[1], 3, 3)
    gx = np.zeros_like(x)
    for i in range(3):
        for j in range(3):
            gx[:, :, i:i + Ho, j:j + Wo] += gcols[:, :, :, :, i, j].transpose(0, 3, 1, 2)
    return gx, gw, gf.sum(0)


def _pool(x):
    B, C, H, W = x.shape
    Ho, Wo = H // 2, W // 2
    win = x[:, :, :2 * Ho, :2 * Wo].reshape(B, C, Ho, 2, Wo, 2)
    out = win.max(axis=(3, 5))
    return out, (win == out[:, :, :, None, :, None])


def _pool_backward(g, mask, shape):
    gx = np.zeros(shape, g.dtype)
    B, C, Ho, _, Wo, _ = mask.shape
    gx[:, :, :2 * Ho, :2 * Wo] = (mask * g[:, :, :, None, :, None]).reshape(B, C, 2 * Ho, 2 * Wo)
    return gx


def _cnn(device, d, p):
    x, y = d["x"], d["y"]
    params = [d[k].copy() for k in ("c1w", "c1b", "c2w", "c2b", "fw", "fb")]

    def step():
        c1w, c1b, c2w, c2b, fw, fb = params
        z1, cols1 = _conv(x, c1w, c1b)
        a1 = np.maximum(z1, 0)
        p1, m1 = _pool(a1)
        z2, cols2 = _conv(p1, c2w, c2b)
        a2 = np.maximum(z2, 0)
        p2, m2 = _pool(a2)
        flat = p2.reshape(p2.shape[0], -1)
        loss, gl = _ce_backward(flat @ fw + fb, y)
        gfw, gfb = flat.T @ gl, gl.sum(0)
        gp2 = (gl @ fw.T).reshape(p2.shape)
        ga2 = _pool_backward(gp2, m2, a2.shape) * (a2 > 0)
        gp1, gc2w, gc2b = _conv_backward(ga2, p1, c2w, cols2)
        ga1 = _pool_backward(gp1, m1, a1.shape) * (a1 > 0)
        _, gc1w, gc1b = _conv_backward(ga1, x, c1w, cols1, need_gx=False)
        for q, g in zip(params, [gc1w, gc1b, gc2w, gc2b, gfw, gfb]):
            q -= LR * g
        return loss
    return step


WORKLOADS = {"matmul": _matmul, "matmul_t": _matmul_t, "elementwise": _elementwise, "mlp": _mlp, "cnn": _cnn}
