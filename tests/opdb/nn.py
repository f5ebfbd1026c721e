"""Op database records for the nn ops (tinygrad_chain/ops/nn_ops.py, recurrent.py):
convolution, its transpose and weight gradient, max/avg pooling and their backward
ops, layer norm, the fused cross-entropy, and the fused LSTM step.

References are written independently of the implementation: convolution as a
sum of shifted slices (not im2col), pooling with explicit loops over windows.
Max-pool samples have distinct values, so the argmax (and the gradient) is unique.
"""
import numpy as np

from tinygrad_chain.ops import REGISTRY
from tinygrad_chain.ops import nn_ops as N
from tinygrad_chain.ops.registry import apply

from . import INTERNAL, OpInfo, Sample


def U(rng, dtype, shape, lo=-1.0, hi=1.0):
    return np.asarray(rng.uniform(lo, hi, size=shape), dtype=dtype)


def DISTINCT(rng, dtype, shape, gap=0.1):
    n = int(np.prod(shape))
    v = (rng.permutation(n) - n / 2) * gap + rng.uniform(0, gap / 4, size=n)
    return np.asarray(v.reshape(shape), dtype=dtype)


# ---- references ---------------------------------------------------------------------
def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _pads(padding, kernel, dilation):
    if padding == "valid":
        return (0, 0, 0, 0)
    if padding == "same":
        out = []
        for k, d in zip(kernel, dilation):
            total = d * (k - 1)
            out += [total // 2, total - total // 2]
        return tuple(out)
    ph, pw = _pair(padding)
    return (ph, ph, pw, pw)


def conv2d_ref(np, x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    (sh, sw), (dh, dw) = _pair(stride), _pair(dilation)
    o, cg, kh, kw = w.shape
    pt, pb, pl, pr = _pads(padding, (kh, kw), (dh, dw))
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    n, _, h, wd = xp.shape
    oh, ow = (h - dh * (kh - 1) - 1) // sh + 1, (wd - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((n, o, oh, ow))
    og = o // groups
    for g in range(groups):
        for i in range(kh):
            for j in range(kw):
                patch = xp[:, g * cg:(g + 1) * cg, i * dh:i * dh + sh * (oh - 1) + 1:sh,
                           j * dw:j * dw + sw * (ow - 1) + 1:sw]
                out[:, g * og:(g + 1) * og] += np.einsum("nchw,oc->nohw", patch, w[g * og:(g + 1) * og, :, i, j])
    return out + b.reshape(1, -1, 1, 1) if b is not None else out


def conv1d_ref(np, x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    pad = padding if isinstance(padding, str) else (0, padding)
    return conv2d_ref(np, x[:, :, None], w[:, :, None], b, (1, stride), pad, (1, dilation), groups)[:, :, 0]


def conv_transpose2d_ref(np, x, w, b=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    (sh, sw), (dh, dw), (ph, pw), (oph, opw) = _pair(stride), _pair(dilation), _pair(padding), _pair(output_padding)
    cin, cg, kh, kw = w.shape
    n, _, h, wd = x.shape
    full = np.zeros((n, cg * groups, (h - 1) * sh + dh * (kh - 1) + 1 + oph, (wd - 1) * sw + dw * (kw - 1) + 1 + opw))
    ig = cin // groups
    for g in range(groups):
        for i in range(kh):
            for j in range(kw):
                full[:, g * cg:(g + 1) * cg, i * dh:i * dh + sh * (h - 1) + 1:sh,
                     j * dw:j * dw + sw * (wd - 1) + 1:sw] += np.einsum(
                    "nohw,oc->nchw", x[:, g * ig:(g + 1) * ig], w[g * ig:(g + 1) * ig, :, i, j])
    out = full[:, :, ph:full.shape[2] - ph, pw:full.shape[3] - pw]
    return out + b.reshape(1, -1, 1, 1) if b is not None else out


def conv2d_weight_ref(np, x, g, w_shape, stride, padding, dilation, groups):
    (sh, sw), (dh, dw) = stride, dilation
    o, cg, kh, kw = w_shape
    pt, pb, pl, pr = padding
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    oh, ow = g.shape[2:]
    out = np.zeros(w_shape)
    og = o // groups
    for gr in range(groups):
        for i in range(kh):
            for j in range(kw):
                patch = xp[:, gr * cg:(gr + 1) * cg, i * dh:i * dh + sh * (oh - 1) + 1:sh,
                           j * dw:j * dw + sw * (ow - 1) + 1:sw]
                out[gr * og:(gr + 1) * og, :, i, j] = np.einsum("nchw,nohw->oc", patch, g[:, gr * og:(gr + 1) * og])
    return out


def _pool_out(n, k, s, p, d, ceil):
    span = n + 2 * p - d * (k - 1) - 1
    o = (span + (s - 1 if ceil else 0)) // s + 1
    if ceil and (o - 1) * s >= n + p:
        o -= 1
    return o


def max_pool2d_ref(np, x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    (kh, kw), (ph, pw), (dh, dw) = _pair(kernel_size), _pair(padding), _pair(dilation)
    sh, sw = _pair(stride if stride is not None else kernel_size)
    n, c, h, w = x.shape
    oh, ow = _pool_out(h, kh, sh, ph, dh, ceil_mode), _pool_out(w, kw, sw, pw, dw, ceil_mode)
    out = np.full((n, c, oh, ow), -np.inf)
    for a in range(oh):
        for b in range(ow):
            for i in range(kh):
                for j in range(kw):
                    r, q = a * sh - ph + i * dh, b * sw - pw + j * dw
                    if 0 <= r < h and 0 <= q < w:
                        out[:, :, a, b] = np.maximum(out[:, :, a, b], x[:, :, r, q])
    return out


def avg_pool2d_ref(np, x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                   divisor_override=None):
    (kh, kw), (ph, pw) = _pair(kernel_size), _pair(padding)
    sh, sw = _pair(stride if stride is not None else kernel_size)
    n, c, h, w = x.shape
    oh, ow = _pool_out(h, kh, sh, ph, 1, ceil_mode), _pool_out(w, kw, sw, pw, 1, ceil_mode)
    out = np.zeros((n, c, oh, ow))
    for a in range(oh):
        for b in range(ow):
            h0, w0 = a * sh - ph, b * sw - pw
            h1, w1 = min(h0 + kh, h + ph), min(w0 + kw, w + pw)
            size = (h1 - h0) * (w1 - w0)
            h0c, w0c, h1c, w1c = max(h0, 0), max(w0, 0), min(h1, h), min(w1, w)
            total = x[:, :, h0c:h1c, w0c:w1c].sum(axis=(2, 3))
            div = divisor_override or (size if count_include_pad else (h1c - h0c) * (w1c - w0c))
            out[:, :, a, b] = total / div
    return out


def cross_entropy_ref(np, x, t, ignore_index=-100):
    m = x.max(axis=1, keepdims=True)
    lse = np.log(np.exp(x - m).sum(axis=1)) + m[:, 0]
    safe = np.where(t == ignore_index, 0, t)
    loss = lse - x[np.arange(len(t)), safe]
    return np.where(t == ignore_index, 0.0, loss)


# ---- calls ---------------------------------------------------------------------------------
def _conv2d(tc, x, w, b=None, **kw):
    return tc.nn.functional.conv2d(x, w, b, **kw)


def _conv1d(tc, x, w, b=None, **kw):
    return tc.nn.functional.conv1d(x, w, b, **kw)


def _conv_t(tc, x, w, b=None, **kw):
    return tc.nn.functional.conv_transpose2d(x, w, b, **kw)


def _conv_w(tc, x, g, **kw):
    return apply(REGISTRY["conv2d_weight"], x, g, **kw)


def _max_pool_backward(tc, g, x, **kw):
    """max_pool2d_backward scatters g to the argmax positions that a forward pool of x found."""
    _, idx = tc.nn.functional.max_pool2d(x, return_indices=True, **kw)
    k, s = kw["kernel_size"], kw.get("stride") or kw["kernel_size"]
    return apply(REGISTRY["max_pool2d_backward"], g, indices=idx._data, x_shape=tuple(x.shape),
                 overlapping=_pair(s) != _pair(k))


def _max_pool_backward_ref(np, g, x, **kw):
    """Scatter by explicit search for each window's first maximum."""
    (kh, kw_), (sh, sw) = _pair(kw["kernel_size"]), _pair(kw.get("stride") or kw["kernel_size"])
    out = np.zeros(x.shape)
    for a in range(g.shape[2]):
        for b in range(g.shape[3]):
            win = x[:, :, a * sh:a * sh + kh, b * sw:b * sw + kw_].reshape(x.shape[0], x.shape[1], -1)
            k = win.argmax(axis=2)
            r, q = a * sh + k // kw_, b * sw + k % kw_
            for n in range(x.shape[0]):
                for c in range(x.shape[1]):
                    out[n, c, r[n, c], q[n, c]] += g[n, c, a, b]
    return out


def _avg_pool_backward(tc, g, kernel, stride, padding, x_shape, ceil_mode=False, count_include_pad=True):
    out_hw = tuple(g.shape[2:])
    divisor = N.pool_divisor(g._b, g.dtype, x_shape, kernel, stride, padding, out_hw, count_include_pad, None)
    return apply(REGISTRY["avg_pool2d_backward"], g, x_shape=x_shape, kernel=kernel, stride=stride, padding=padding,
                 divisor=divisor)


def _avg_pool_backward_ref(np, g, kernel, stride, padding, x_shape, ceil_mode=False, count_include_pad=True):
    """The transpose of the avg_pool2d reference, column by column."""
    size = int(np.prod(x_shape))
    cols = []
    for k in range(size):
        e = np.zeros(size)
        e[k] = 1.0
        cols.append(avg_pool2d_ref(np, e.reshape(x_shape), kernel, stride, padding, ceil_mode,
                                   count_include_pad).reshape(-1))
    jac = np.stack(cols, axis=1)  # (out, in)
    return (jac.T @ g.reshape(-1)).reshape(x_shape)


def _ce(tc, x, t, **kw):
    return tc.nn.functional.cross_entropy(x, t, reduction="none", **kw)


def layer_norm_ref(np, x, w=None, b=None, normalized_shape=(), eps=1e-5):
    """Each row's z-scores from its mean and population variance, then the affine map."""
    rows = x.reshape(-1, int(np.prod(normalized_shape)))
    mu = rows.sum(axis=1, keepdims=True) / rows.shape[1]
    var = ((rows - mu) ** 2).sum(axis=1, keepdims=True) / rows.shape[1]
    out = ((rows - mu) / np.sqrt(var + eps)).reshape(x.shape)
    out = out * w if w is not None else out
    return out + b if b is not None else out


def _layer_norm(lib, x, w=None, b=None, normalized_shape=(), eps=1e-5):
    return lib.nn.functional.layer_norm(x, normalized_shape, w, b, eps)


def _layer_norm_samples(rng, dt):
    def affine(shape):  # weights away from 0, so each row's input gradient is far from 0 too
        return U(rng, dt, shape, 0.5, 1.5), U(rng, dt, shape)

    return [
        Sample((U(rng, dt, (3, 4, 5), -2, 2),) + affine((5,)), dict(normalized_shape=(5,))),
        Sample((U(rng, dt, (3, 4, 5), -2, 2),) + affine((4, 5)), dict(normalized_shape=(4, 5), eps=1e-3)),
        Sample((U(rng, dt, (2, 6), -2, 2),), dict(normalized_shape=(6,))),                  # no weight, no bias
        Sample((U(rng, dt, (2, 6), -2, 2), affine((6,))[0]), dict(normalized_shape=(6,))),  # weight only
        # bias only: torch 2.13's double backward fails there ("Expected a proper Tensor but got None");
        # tests/test_layer_norm.py compares the first order with torch
        Sample((U(rng, dt, (2, 6), -2, 2), None, affine((6,))[1]), dict(normalized_shape=(6,)), torch=False),
        # 1-element rows: xhat is exactly 0; torch's float32 kernel (x * rstd - mean * rstd, rstd ~316)
        # leaves ~3e-5 there, so torch compares them in float64 only (tests/test_layer_norm.py)
        Sample((U(rng, dt, (4, 1), -2, 2),) + affine((1,)), dict(normalized_shape=(1,)), torch=False),
        Sample((U(rng, dt, (7,), -2, 2),) + affine((7,)), dict(normalized_shape=(7,))),     # one row, no batch axes
    ]


def lstm_cell_ref(np, gates, c):
    """The LSTM step of torch's documentation, gate by gate."""
    hidden = c.shape[-1]
    i, f, g, o = (gates[..., k * hidden:(k + 1) * hidden] for k in range(4))
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    c2 = sig(f) * c + sig(i) * np.tanh(g)
    return np.stack([sig(o) * np.tanh(c2), c2])


def lstm_layer_ref(np, xw, h0, c0, w_hh, b_hh=None):
    """T steps of lstm_cell_ref, hidden states then the last cell state."""
    h, c, outs = h0, c0, []
    for t in range(xw.shape[0]):
        h, c = lstm_cell_ref(np, xw[t] + (0 if b_hh is None else b_hh) + h @ w_hh.T, c)
        outs.append(h)
    return np.stack(outs + [c])


def _lstm_layer(tc, *args):
    return apply(REGISTRY["lstm_layer"], *args)


def _lstm_cell(tc, gates, c):
    return apply(REGISTRY["lstm_cell"], gates, c)


# ---- samples ---------------------------------------------------------------------------------
def _conv2d_samples(rng, dt):
    return [
        Sample((U(rng, dt, (2, 2, 5, 5)), U(rng, dt, (3, 2, 3, 3)), U(rng, dt, (3,)))),
        Sample((U(rng, dt, (1, 2, 6, 5)), U(rng, dt, (2, 2, 3, 2))), {"stride": 2, "padding": 1}),
        Sample((U(rng, dt, (1, 2, 7, 7)), U(rng, dt, (2, 2, 2, 3)), U(rng, dt, (2,))),
               {"stride": (2, 1), "padding": (1, 2), "dilation": (2, 1)}),
        Sample((U(rng, dt, (2, 4, 4, 4)), U(rng, dt, (4, 2, 3, 3)), U(rng, dt, (4,))), {"groups": 2, "padding": 1}),
        Sample((U(rng, dt, (1, 1, 5, 4)), U(rng, dt, (2, 1, 2, 4))), {"padding": "same"}),
        Sample((U(rng, dt, (1, 3, 4, 4)), U(rng, dt, (3, 1, 3, 3))), {"groups": 3, "padding": "same",
                                                                      "dilation": 2}),
    ]


def _conv1d_samples(rng, dt):
    return [
        Sample((U(rng, dt, (2, 2, 7)), U(rng, dt, (3, 2, 3)), U(rng, dt, (3,))), {"stride": 2, "padding": 1}),
        Sample((U(rng, dt, (1, 2, 6)), U(rng, dt, (2, 2, 4))), {"padding": "same", "dilation": 1}),
    ]


def _conv_t_samples(rng, dt):
    return [
        Sample((U(rng, dt, (2, 3, 3, 3)), U(rng, dt, (3, 2, 3, 3)), U(rng, dt, (2,)))),
        Sample((U(rng, dt, (1, 2, 3, 4)), U(rng, dt, (2, 3, 3, 2))), {"stride": 2, "padding": 1,
                                                                      "output_padding": 1}),
        Sample((U(rng, dt, (1, 4, 3, 3)), U(rng, dt, (4, 1, 2, 2)), U(rng, dt, (2,))), {"groups": 2, "dilation": 2,
                                                                                         "stride": (1, 2)}),
    ]


def _conv_w_samples(rng, dt):
    base = {"stride": (1, 1), "padding": (0, 0, 0, 0), "dilation": (1, 1), "groups": 1}
    return [
        Sample((U(rng, dt, (2, 2, 5, 5)), U(rng, dt, (2, 3, 3, 3))), dict(base, w_shape=(3, 2, 3, 3))),
        Sample((U(rng, dt, (1, 4, 5, 5)), U(rng, dt, (1, 2, 3, 2))),
               dict(base, w_shape=(2, 2, 2, 3), stride=(2, 2), padding=(1, 0, 0, 1), groups=2)),
    ]


def _max_samples(rng, dt):
    return [
        Sample((DISTINCT(rng, dt, (2, 2, 4, 4)),), {"kernel_size": 2}),
        Sample((DISTINCT(rng, dt, (1, 2, 5, 5)),), {"kernel_size": 2}),  # cropped tiling
        Sample((DISTINCT(rng, dt, (1, 2, 5, 6)),), {"kernel_size": 3, "stride": 2, "padding": 1}),
        Sample((DISTINCT(rng, dt, (1, 1, 6, 6)),), {"kernel_size": 2, "stride": 1, "dilation": 2}),
        Sample((DISTINCT(rng, dt, (1, 2, 5, 5)),), {"kernel_size": 2, "ceil_mode": True}),
    ]


def _max_backward_samples(rng, dt):
    return [
        Sample((U(rng, dt, (2, 2, 2, 2)), DISTINCT(rng, dt, (2, 2, 4, 5))), {"kernel_size": 2}, diff=(0,)),
        Sample((U(rng, dt, (1, 2, 2, 2)), DISTINCT(rng, dt, (1, 2, 5, 5))), {"kernel_size": 3, "stride": 2},
               diff=(0,)),
    ]


def _avg_samples(rng, dt):
    return [
        Sample((U(rng, dt, (2, 2, 4, 4)),), {"kernel_size": 2}),
        Sample((U(rng, dt, (1, 2, 5, 6)),), {"kernel_size": 3, "stride": 2, "padding": 1}),
        Sample((U(rng, dt, (1, 2, 5, 6)),), {"kernel_size": 3, "stride": 2, "padding": 1,
                                              "count_include_pad": False}),
        Sample((U(rng, dt, (1, 1, 5, 5)),), {"kernel_size": 2, "ceil_mode": True}),
        Sample((U(rng, dt, (1, 1, 4, 4)),), {"kernel_size": 2, "divisor_override": 3}),
    ]


def _avg_backward_samples(rng, dt):
    return [
        Sample((U(rng, dt, (1, 2, 2, 2)),), {"kernel": (2, 2), "stride": (2, 2), "padding": (0, 0),
                                              "x_shape": (1, 2, 4, 4)}),
        Sample((U(rng, dt, (1, 1, 3, 3)),), {"kernel": (3, 3), "stride": (2, 2), "padding": (1, 1),
                                              "x_shape": (1, 1, 5, 6), "count_include_pad": False}),
    ]


def _ce_samples(rng, dt):
    t = np.array([0, 3, 1, 2])
    return [
        Sample((U(rng, dt, (4, 5), -3, 3), t)),
        Sample((U(rng, dt, (4, 5), -3, 3), np.array([0, -100, 4, 2]))),
        Sample((U(rng, dt, (3, 4), -3, 3), np.array([1, 2, 1])), {"ignore_index": 1}),
    ]


def _lstm_samples(rng, dt):
    return [
        Sample((U(rng, dt, (3, 8), -2, 2), U(rng, dt, (3, 2)))),
        Sample((U(rng, dt, (12,), -2, 2), U(rng, dt, (3,)))),  # unbatched
        Sample((U(rng, dt, (2, 3, 4), -2, 2), U(rng, dt, (2, 3, 1)))),
    ]


def _lstm_layer_samples(rng, dt):
    return [
        Sample((U(rng, dt, (3, 2, 8), -2, 2), U(rng, dt, (2, 2)), U(rng, dt, (2, 2)), U(rng, dt, (8, 2)))),
        Sample((U(rng, dt, (1, 1, 4), -2, 2), U(rng, dt, (1, 1)), U(rng, dt, (1, 1)), U(rng, dt, (4, 1)))),
        Sample((U(rng, dt, (3, 2, 12), -2, 2), U(rng, dt, (2, 3)), U(rng, dt, (2, 3)), U(rng, dt, (12, 3)),
                U(rng, dt, (12,), -1, 1))),  # with b_hh
    ]


OPS = [
    OpInfo(("conv2d",), "conv2d", _conv2d, _conv2d_samples, conv2d_ref, atol=1e-5),
    OpInfo(("conv2d",), "conv1d", _conv1d, _conv1d_samples, conv1d_ref),
    OpInfo(("conv_transpose2d",), "conv_transpose2d", _conv_t, _conv_t_samples, conv_transpose2d_ref),
    OpInfo(("conv2d_weight",), "conv2d_weight", _conv_w, _conv_w_samples, conv2d_weight_ref, no_torch=INTERNAL),
    OpInfo(("max_pool2d",), "max_pool2d", lambda tc, x, **kw: tc.nn.functional.max_pool2d(x, **kw), _max_samples,
           max_pool2d_ref),
    OpInfo(("max_pool2d_backward",), "max_pool2d_backward", _max_pool_backward, _max_backward_samples,
           _max_pool_backward_ref, no_torch=INTERNAL),
    OpInfo(("avg_pool2d",), "avg_pool2d", lambda tc, x, **kw: tc.nn.functional.avg_pool2d(x, **kw), _avg_samples,
           avg_pool2d_ref),
    OpInfo(("avg_pool2d_backward",), "avg_pool2d_backward", _avg_pool_backward, _avg_backward_samples,
           _avg_pool_backward_ref, no_torch=INTERNAL),
    OpInfo(("layer_norm",), "layer_norm", _layer_norm, _layer_norm_samples, layer_norm_ref),
    OpInfo(("cross_entropy",), "cross_entropy", _ce, _ce_samples, cross_entropy_ref),
    OpInfo(("lstm_cell",), "lstm_cell", _lstm_cell, _lstm_samples, lstm_cell_ref,
           no_torch="the LSTM's fused step; nn.LSTM is compared with torch, float32 and float64, in test_nn_layers.py"),
    OpInfo(("lstm_layer",), "lstm_layer", _lstm_layer, _lstm_layer_samples, lstm_layer_ref,
           no_torch="the LSTM's fused step; nn.LSTM is compared with torch, float32 and float64, in test_nn_layers.py"),
]
