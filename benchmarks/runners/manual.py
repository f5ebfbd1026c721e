"""Models written once over a small ops adapter, for the peer autograd libraries.

MyGrad, HIPS autograd and tinygrad share `+ - * / ** @`, slicing and
`.reshape`, but differ in everything else; each peer runner supplies an
adapter (a class with the methods used below) and gets the workloads. The
models compute exactly what torchlike.py computes with torch's modules, from
the same weights (checked by the cross-library `check` value in the results).

Adapter methods: const(a), tanh, sigmoid, relu, softmax(x) over the last axis,
mean(x, axis, keepdims=True), permute(x, axes), cross_entropy(logits, y), conv2d(x, w, b)
(valid, stride 1), max_pool2(x), and the two step builders:
trainer(arrays, loss_fn) -> step (loss, backward, SGD) and
grads(arrays, fn) -> step (value and gradients of fn, no update).
"""
import math


def _linear_t(x, w, b):
    """x @ w.T + b, for weights in torch's (out, in) layout."""
    return x @ w.T + b


def elementwise(ops, device, d, p):
    def fn(x, w, b):
        return (ops.tanh(x * w + b) * ops.sigmoid(x)).sum()
    return ops.grads([d["x"], d["w"], d["b"]], fn)


def mlp(ops, device, d, p):
    x, y = ops.const(d["x"]), ops.const(d["y"])

    def loss(w1, b1, w2, b2, w3, b3):
        h = ops.relu(x @ w1 + b1)
        h = ops.relu(h @ w2 + b2)
        return ops.cross_entropy(h @ w3 + b3, y)
    return ops.trainer([d[k] for k in ("w1", "b1", "w2", "b2", "w3", "b3")], loss)


def cnn(ops, device, d, p):
    x, y = ops.const(d["x"]), ops.const(d["y"])

    def loss(c1w, c1b, c2w, c2b, fw, fb):
        h = ops.max_pool2(ops.relu(ops.conv2d(x, c1w, c1b)))
        h = ops.max_pool2(ops.relu(ops.conv2d(h, c2w, c2b)))
        return ops.cross_entropy(h.reshape((h.shape[0], -1)) @ fw + fb, y)
    return ops.trainer([d[k] for k in ("c1w", "c1b", "c2w", "c2b", "fw", "fb")], loss)


def lstm(ops, device, d, p):
    T, B, I, H = p["seq"], p["batch"], p["input"], p["hidden"]
    x, y = ops.const(d["x"].reshape(T * B, I)), ops.const(d["y"])

    def loss(w_ih, w_hh, b_ih, b_hh, fw, fb):
        xw = (_linear_t(x, w_ih, b_ih + b_hh)).reshape((T, B, 4 * H))  # input projections, all steps at once
        h = c = None
        for t in range(T):
            g = xw[t] if h is None else xw[t] + h @ w_hh.T
            i, f, gg, o = (g[:, k * H:(k + 1) * H] for k in range(4))  # torch's gate order
            i, f, gg, o = ops.sigmoid(i), ops.sigmoid(f), ops.tanh(gg), ops.sigmoid(o)
            c = i * gg if c is None else f * c + i * gg
            h = o * ops.tanh(c)
        return ops.cross_entropy(h @ fw + fb, y)
    return ops.trainer([d[k] for k in ("w_ih", "w_hh", "b_ih", "b_hh", "fw", "fb")], loss)


def _layer_norm(ops, x, w, b, eps=1e-5):
    mu = ops.mean(x, -1)
    xc = x - mu
    var = ops.mean(xc * xc, -1)
    return xc * (var + eps) ** -0.5 * w + b


def transformer(ops, device, d, p):
    S, B, E, nh = p["seq"], p["batch"], p["d_model"], p["nhead"]
    dh = E // nh
    x, y = ops.const(d["x"]), ops.const(d["y"])
    keys = ("in_w", "in_b", "out_w", "out_b", "l1_w", "l1_b", "l2_w", "l2_b", "n1_w", "n1_b", "n2_w", "n2_b", "fw", "fb")

    def heads(t):  # (B, S, E) -> (B, nh, S, dh)
        return ops.permute(t.reshape((B, S, nh, dh)), (0, 2, 1, 3))

    def loss(in_w, in_b, out_w, out_b, l1_w, l1_b, l2_w, l2_b, n1_w, n1_b, n2_w, n2_b, fw, fb):
        qkv = _linear_t(x, in_w, in_b)
        q, k, v = (heads(qkv[:, :, j * E:(j + 1) * E]) for j in range(3))
        att = ops.softmax((q @ ops.permute(k, (0, 1, 3, 2))) * (1.0 / math.sqrt(dh)))
        o = ops.permute(att @ v, (0, 2, 1, 3)).reshape((B, S, E))
        h = _layer_norm(ops, x + _linear_t(o, out_w, out_b), n1_w, n1_b)
        ff = _linear_t(ops.relu(_linear_t(h, l1_w, l1_b)), l2_w, l2_b)
        h = _layer_norm(ops, h + ff, n2_w, n2_b)
        pooled = ops.mean(h, 1, keepdims=False)
        return ops.cross_entropy(pooled @ fw + fb, y)
    return ops.trainer([d[k] for k in keys], loss)


def workloads(make_ops):
    """{name: setup(device, data, params) -> step}, with make_ops(device) -> adapter."""
    fns = [elementwise, mlp, cnn, lstm, transformer]
    return {f.__name__: (lambda device, d, p, f=f: f(make_ops(device), device, d, p)) for f in fns}
