"""tc.nn against torch 2.13 (CPU): every layer and loss from identical weights and inputs
(outputs, input gradients and parameter gradients), default initialisation statistics,
the Module API (state_dict, train/eval, hooks, repr), and the errors bad input gets."""
import copy
import math

import numpy as np
import pytest
import torch
from helpers import assert_close, to_np

import tinygrad_chain as tc

nn, F = tc.nn, tc.nn.functional


# ---- helpers -----------------------------------------------------------------------------
def _sync(ours, theirs):
    """Copy torch's parameters and buffers into our module, by name (strict)."""
    ours.load_state_dict({k: tc.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})


def _flat(out):
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _flat(o)]
    return [] if out is None else [out]


def compare(ours, theirs, *arrays, atol=2e-5, rtol=2e-4, sync=True, call=None, seed=0):
    """Run both modules on the same inputs; outputs, input grads and parameter grads must match.

    Then the same again in float64 (copies of both modules with torch's state, made before the
    float32 run changes any running statistics) at rtol 1e-10: there, a single float32 rounding on the way (a Python
    constant, a low-precision erf) shows as an error of 1e-8 and fails."""
    if sync:
        _sync(ours, theirs)
    doubles = copy.deepcopy(ours).double(), copy.deepcopy(theirs).double()
    _sync(*doubles)  # from identical states, even where float32 running statistics have drifted apart
    for module in doubles:
        for p in module.parameters():
            p.grad = None
    outs = _compare_once(ours, theirs, arrays, (atol, rtol), (atol * 10, rtol * 10), call, seed)
    arrays64 = [a.astype(np.float64) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a for a in arrays]
    _compare_once(*doubles, arrays64, (1e-12, 1e-10), (1e-12, 1e-10), call, seed)
    return outs


def _compare_once(ours, theirs, arrays, out_tol, grad_tol, call, seed):
    xs = [tc.tensor(a, requires_grad=a.dtype.kind == "f") if isinstance(a, np.ndarray) else a for a in arrays]
    ps = [torch.tensor(a, requires_grad=a.dtype.kind == "f") if isinstance(a, np.ndarray) else a for a in arrays]
    call = call or (lambda m, *z: m(*z))
    outs, refs = _flat(call(ours, *xs)), _flat(call(theirs, *ps))
    assert len(outs) == len(refs)
    rng = np.random.default_rng(seed)
    loss_t = loss_p = 0
    precision = str(refs[0].dtype) if refs else ""
    for o, r in zip(outs, refs):
        assert tuple(o.shape) == tuple(r.shape), f"shape {o.shape} vs torch {tuple(r.shape)}"
        assert_close(o, r.detach().numpy(), *out_tol, msg=f"output ({precision})")
        if r.requires_grad:
            cot = rng.standard_normal(tuple(r.shape)).astype(r.detach().numpy().dtype)
            loss_t = loss_t + (o * tc.tensor(cot)).sum()
            loss_p = loss_p + (r * torch.tensor(cot)).sum()
    if isinstance(loss_p, int):
        return outs
    loss_t.backward()
    loss_p.backward()
    for i, (x, p) in enumerate(zip(xs, ps)):
        if isinstance(p, torch.Tensor) and p.requires_grad and p.grad is not None:  # torch: no grad for masks
            assert_close(x.grad, p.grad.numpy(), *grad_tol, msg=f"grad of input {i} ({precision})")
    theirs_p = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        ref = theirs_p[name].grad
        if ref is None:
            assert p.grad is None or not np.any(to_np(p.grad)), name
            continue
        assert p.grad is not None, f"no gradient for {name}"
        assert_close(p.grad, ref.numpy(), *grad_tol, msg=f"grad of {name} ({precision})")
    return outs


def R(rng, *shape, lo=-1.0, hi=1.0):
    return rng.uniform(lo, hi, size=shape).astype(np.float32)


# ---- layers -------------------------------------------------------------------------------------
@pytest.mark.parametrize("bias", [True, False])
def test_linear(rng, bias):
    compare(nn.Linear(5, 3, bias=bias), torch.nn.Linear(5, 3, bias=bias), R(rng, 4, 2, 5))


@pytest.mark.parametrize("kw", [{}, {"stride": 2, "padding": 1}, {"padding": "same", "dilation": 2},
                                {"groups": 2, "padding": (1, 0), "bias": False}, {"stride": (2, 1), "dilation": (1, 2)},
                                {"padding": "same"}])
def test_conv2d(rng, kw):
    k = (2, 3) if kw == {"padding": "same"} else 3
    compare(nn.Conv2d(4, 6, k, **kw), torch.nn.Conv2d(4, 6, k, **kw), R(rng, 2, 4, 9, 8))


def test_conv2d_unbatched(rng):
    compare(nn.Conv2d(3, 2, 3), torch.nn.Conv2d(3, 2, 3), R(rng, 3, 6, 6))


@pytest.mark.parametrize("kw", [{}, {"stride": 2, "padding": 2}, {"padding": "same", "groups": 3}])
def test_conv1d(rng, kw):
    compare(nn.Conv1d(3, 6, 4, **kw), torch.nn.Conv1d(3, 6, 4, **kw), R(rng, 2, 3, 11))


@pytest.mark.parametrize("kw", [{}, {"stride": 2, "padding": 1, "output_padding": 1}, {"groups": 2, "dilation": 2},
                                {"stride": (2, 3), "bias": False}])
def test_conv_transpose2d(rng, kw):
    compare(nn.ConvTranspose2d(4, 6, 3, **kw), torch.nn.ConvTranspose2d(4, 6, 3, **kw), R(rng, 2, 4, 5, 4))


def test_conv_transpose2d_output_size(rng):
    x = R(rng, 1, 2, 4, 4)
    ours, theirs = nn.ConvTranspose2d(2, 3, 3, stride=2), torch.nn.ConvTranspose2d(2, 3, 3, stride=2)
    compare(ours, theirs, x, call=lambda m, z: m(z, output_size=[10, 10]))


def _distinct(rng, *shape):
    n = int(np.prod(shape))
    return ((rng.permutation(n) - n / 2) * 0.01).reshape(shape).astype(np.float32)


@pytest.mark.parametrize("kw", [{"kernel_size": 2}, {"kernel_size": 3, "stride": 2, "padding": 1},
                                {"kernel_size": 2, "ceil_mode": True}, {"kernel_size": (2, 3), "dilation": 2},
                                {"kernel_size": 3, "stride": 1}])
def test_max_pool2d(rng, kw):
    compare(nn.MaxPool2d(**kw), torch.nn.MaxPool2d(**kw), _distinct(rng, 2, 3, 9, 9))


def test_max_pool2d_ties_go_to_one_element(rng):
    """After a ReLU many windows are all zero: torch gives the whole gradient to one element."""
    x = np.maximum(R(rng, 2, 2, 6, 6), 0.5) - 0.5
    compare(nn.MaxPool2d(2), torch.nn.MaxPool2d(2), x)
    compare(nn.MaxPool2d(3, 2, 1), torch.nn.MaxPool2d(3, 2, 1), x)


def test_max_pool2d_return_indices(rng):
    x = _distinct(rng, 1, 2, 6, 6)
    out, idx = F.max_pool2d(tc.tensor(x), 3, 2, 1, return_indices=True)
    ref, ridx = torch.nn.functional.max_pool2d(torch.tensor(x), 3, 2, 1, return_indices=True)
    assert_close(out, ref.numpy())
    assert to_np(idx).tolist() == ridx.numpy().tolist()


@pytest.mark.parametrize("layer", ["Conv2d", "MaxPool2d", "AvgPool2d"])
def test_empty_batch(rng, layer):
    args = (3, 4, 3) if layer == "Conv2d" else (2,)
    out = compare(getattr(nn, layer)(*args), getattr(torch.nn, layer)(*args), R(rng, 0, 3, 6, 6))
    assert tuple(out[0].shape) == ((0, 4, 4, 4) if layer == "Conv2d" else (0, 3, 3, 3))


@pytest.mark.parametrize("kw", [{"kernel_size": 2}, {"kernel_size": 3, "stride": 2, "padding": 1},
                                {"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False},
                                {"kernel_size": 2, "ceil_mode": True}, {"kernel_size": 3, "divisor_override": 2}])
def test_avg_pool2d(rng, kw):
    compare(nn.AvgPool2d(**kw), torch.nn.AvgPool2d(**kw), R(rng, 2, 3, 7, 7))


@pytest.mark.parametrize("size", [1, (2, 3), (3, None), 5])
def test_adaptive_avg_pool2d(rng, size):
    compare(nn.AdaptiveAvgPool2d(size), torch.nn.AdaptiveAvgPool2d(size), R(rng, 2, 3, 7, 6))


@pytest.mark.parametrize("cls,shape", [("BatchNorm1d", (8, 3)), ("BatchNorm1d", (4, 3, 5)),
                                       ("BatchNorm2d", (4, 3, 5, 5))])
def test_batch_norm_train_and_eval(rng, cls, shape):
    ours, theirs = getattr(nn, cls)(3), getattr(torch.nn, cls)(3)
    with torch.no_grad():
        theirs.weight.uniform_(0.5, 1.5)
        theirs.bias.uniform_(-0.5, 0.5)
    _sync(ours, theirs)
    for step in range(3):
        x = R(rng, *shape) * 2 + 1
        compare(ours, theirs, x, sync=False, seed=step, atol=5e-5)
        for p in list(ours.parameters()):
            p.grad = None
        theirs.zero_grad()
    for name in ("running_mean", "running_var"):
        assert_close(getattr(ours, name), getattr(theirs, name).numpy(), atol=1e-5, msg=name)
    assert int(ours.num_batches_tracked.item()) == 3
    ours.eval()
    theirs.eval()
    compare(ours, theirs, R(rng, *shape), sync=False)


def test_batch_norm_momentum_none_and_no_affine(rng):
    ours, theirs = nn.BatchNorm1d(3, momentum=None, affine=False), torch.nn.BatchNorm1d(3, momentum=None, affine=False)
    for step in range(3):
        compare(ours, theirs, R(rng, 6, 3) + step, sync=False)
    assert_close(ours.running_mean, theirs.running_mean.numpy(), atol=1e-5)
    assert_close(ours.running_var, theirs.running_var.numpy(), atol=1e-5)


def test_layer_norm_and_group_norm(rng):
    ln, tln = nn.LayerNorm((4, 5)), torch.nn.LayerNorm((4, 5))
    with torch.no_grad():
        tln.weight.uniform_(0.5, 1.5)
        tln.bias.uniform_(-1, 1)
    compare(ln, tln, R(rng, 3, 4, 5))
    gn, tgn = nn.GroupNorm(2, 6), torch.nn.GroupNorm(2, 6)
    with torch.no_grad():
        tgn.weight.uniform_(0.5, 1.5)
    compare(gn, tgn, R(rng, 2, 6, 3, 3))


def test_embedding(rng):
    ours, theirs = nn.Embedding(10, 4, padding_idx=0), torch.nn.Embedding(10, 4, padding_idx=0)
    idx = np.array([[0, 3, 3], [9, 0, 1]])
    compare(ours, theirs, idx)
    assert not np.any(to_np(ours.weight.grad)[0])


@pytest.mark.parametrize("mode", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("kw", [{}, {"num_layers": 2, "batch_first": True}, {"bidirectional": True},
                                {"num_layers": 2, "bidirectional": True, "bias": False}])
def test_recurrent(rng, mode, kw):
    ours, theirs = getattr(nn, mode)(4, 5, **kw), getattr(torch.nn, mode)(4, 5, **kw)
    compare(ours, theirs, R(rng, 3, 6, 4), atol=3e-5)


@pytest.mark.parametrize("seq, batch, hidden, kw", [(1, 1, 3, {}), (200, 8, 12, {}), (40, 9, 16, {}),
                                                  (7, 33, 20, {"bias": False}),
                                                  (6, 10, 17, {"num_layers": 2, "bidirectional": True})])
@pytest.mark.parametrize("threads", [1, 2])
def test_lstm_sizes_and_threads(rng, seq, batch, hidden, kw, threads):
    """nn.LSTM at the sizes that change the layer's loop (its batch split over the threads, uneven
    rows, a hidden size off the vector width, a long sequence, batch 1), float64 at 1e-10 too; the
    initial state's gradients included."""
    states = kw.get("num_layers", 1) * (2 if kw.get("bidirectional") else 1)
    x, h0, c0 = R(rng, seq, batch, 6), R(rng, states, batch, hidden), R(rng, states, batch, hidden)
    previous = tc.get_num_threads()
    tc.set_num_threads(threads)
    try:
        compare(nn.LSTM(6, hidden, **kw), torch.nn.LSTM(6, hidden, **kw), x, h0, c0, atol=5e-5,
                call=lambda m, x, h, c: m(x, (h, c)))
    finally:
        tc.set_num_threads(previous)


@pytest.mark.parametrize("mode", ["RNN", "LSTM", "GRU"])
def test_recurrent_with_initial_state_and_unbatched(rng, mode):
    ours, theirs = getattr(nn, mode)(3, 4, num_layers=2), getattr(torch.nn, mode)(3, 4, num_layers=2)
    h0 = R(rng, 2, 5, 4)
    hx = (h0, R(rng, 2, 5, 4)) if mode == "LSTM" else h0
    _sync(ours, theirs)
    x = R(rng, 6, 5, 3)
    conv = (lambda a: tuple(tc.tensor(t) for t in a)) if mode == "LSTM" else tc.tensor
    tconv = (lambda a: tuple(torch.tensor(t) for t in a)) if mode == "LSTM" else torch.tensor
    out, _ = ours(tc.tensor(x), conv(hx))
    ref, _ = theirs(torch.tensor(x), tconv(hx))
    assert_close(out, ref.detach().numpy(), atol=3e-5)
    compare(ours, theirs, R(rng, 6, 3), sync=False, atol=3e-5)  # unbatched


def test_rnn_relu_and_cells(rng):
    compare(nn.RNN(3, 4, nonlinearity="relu"), torch.nn.RNN(3, 4, nonlinearity="relu"), R(rng, 5, 2, 3))
    for name in ("RNNCell", "LSTMCell", "GRUCell"):
        compare(getattr(nn, name)(3, 4), getattr(torch.nn, name)(3, 4), R(rng, 2, 3))


@pytest.mark.parametrize("batch_first", [False, True])
def test_multihead_attention(rng, batch_first):
    ours = nn.MultiheadAttention(8, 2, batch_first=batch_first)
    theirs = torch.nn.MultiheadAttention(8, 2, batch_first=batch_first)
    x = R(rng, 3, 5, 8)
    compare(ours, theirs, x, call=lambda m, z: m(z, z, z))
    # cross attention with masks (L=2, S=3)
    qa, ka = (R(rng, 4, 2, 8), R(rng, 4, 3, 8)) if batch_first else (R(rng, 2, 4, 8), R(rng, 3, 4, 8))
    pad = np.array([[False, False, True], [False, True, False], [False, False, False], [True, False, False]])
    am = np.array([[False, True, False], [False, False, False]])
    compare(ours, theirs, qa, ka, ka, pad, am, sync=False, atol=5e-5,
            call=lambda m, a, b, c, kp, msk: m(a, b, c, key_padding_mask=kp, attn_mask=msk,
                                               average_attn_weights=False))


@pytest.mark.parametrize("norm_first", [False, True])
def test_transformer_encoder(rng, norm_first):
    kw = dict(dim_feedforward=16, dropout=0.0, batch_first=True, norm_first=norm_first)
    ours = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, **kw), 2)
    theirs = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(8, 2, **kw), 2, enable_nested_tensor=False)
    compare(ours, theirs, R(rng, 2, 5, 8), atol=5e-5)
    causal = np.triu(np.full((5, 5), -np.inf, dtype=np.float32), 1)
    compare(ours, theirs, R(rng, 2, 5, 8), causal, sync=False, atol=5e-5, call=lambda m, x, msk: m(x, mask=msk))


def test_transformer_encoder_layer_gelu_and_padding_mask(rng):
    kw = dict(dim_feedforward=12, dropout=0.0, activation="gelu")
    ours, theirs = nn.TransformerEncoderLayer(8, 4, **kw), torch.nn.TransformerEncoderLayer(8, 4, **kw)
    pad = np.array([[False, False, False, True], [False, False, False, False]])
    compare(ours, theirs, R(rng, 4, 2, 8), pad, atol=5e-5, call=lambda m, x, p: m(x, src_key_padding_mask=p))


@pytest.mark.parametrize("name,args", [("ReLU", ()), ("LeakyReLU", (0.2,)), ("ELU", (0.7,)), ("GELU", ()),
                                       ("GELU", ("tanh",)), ("SiLU", ()), ("Softplus", (2.0, 3.0)), ("Sigmoid", ()),
                                       ("Tanh", ()), ("Softmax", (1,)), ("LogSoftmax", (-1,)), ("Flatten", ()),
                                       ("Identity", ()), ("ReLU6", ()), ("LogSigmoid", ()), ("Softmin", (1,)),
                                       ("Unflatten", (1, (2, 2)))])
def test_activation_modules(rng, name, args):
    x = R(rng, 3, 4, 2, lo=-3, hi=3)
    compare(getattr(nn, name)(*args), getattr(torch.nn, name)(*args), x)


@pytest.mark.parametrize("name,args,kwargs,shape", [
    ("ConvTranspose1d", (3, 4, 3), dict(stride=2, padding=1, output_padding=1), (2, 3, 6)),
    ("AvgPool1d", (3,), dict(stride=2, padding=1), (2, 3, 9)),
    ("AdaptiveAvgPool1d", (4,), {}, (2, 3, 9)),
    ("Bilinear", (3, 4, 5), {}, None),
])
def test_more_layers(rng, name, args, kwargs, shape):
    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    if name == "Bilinear":
        compare(ours, theirs, R(rng, 6, 3), R(rng, 6, 4))
    else:
        compare(ours, theirs, R(rng, *shape))


def test_max_pool1d(rng):
    compare(nn.MaxPool1d(3, stride=2, padding=1), torch.nn.MaxPool1d(3, stride=2, padding=1), _distinct(rng, 2, 3, 9))


# ---- losses --------------------------------------------------------------------------------------
LOSS_CASES = [
    ("CrossEntropyLoss", {}, "idx"),
    ("CrossEntropyLoss", {"reduction": "sum", "label_smoothing": 0.1}, "idx"),
    ("CrossEntropyLoss", {"weight": "w", "ignore_index": 2}, "idx"),
    ("CrossEntropyLoss", {"weight": "w", "label_smoothing": 0.2, "ignore_index": 0}, "idx"),
    ("CrossEntropyLoss", {"label_smoothing": 0.3, "ignore_index": 1}, "idx"),
    ("CrossEntropyLoss", {"reduction": "none"}, "idx"),
    ("CrossEntropyLoss", {}, "prob"),
    ("CrossEntropyLoss", {"weight": "w", "label_smoothing": 0.1}, "prob"),
    ("CrossEntropyLoss", {}, "idx2d"),
    ("NLLLoss", {}, "idx"),
    ("NLLLoss", {"weight": "w", "ignore_index": 1, "reduction": "mean"}, "idx"),
    ("NLLLoss", {"reduction": "none"}, "idx2d"),
    ("MSELoss", {}, "same"), ("MSELoss", {"reduction": "sum"}, "same"),
    ("L1Loss", {}, "same"), ("L1Loss", {"reduction": "none"}, "same"),
    ("HuberLoss", {"delta": 0.5}, "same"), ("SmoothL1Loss", {"beta": 0.5}, "same"), ("SmoothL1Loss", {}, "same"),
    ("BCELoss", {}, "bce"), ("BCELoss", {"weight": "wb", "reduction": "sum"}, "bce"),
    ("BCEWithLogitsLoss", {}, "bcel"), ("BCEWithLogitsLoss", {"pos_weight": "pw", "weight": "wb"}, "bcel"),
]


@pytest.mark.parametrize("name,kw,kind", LOSS_CASES, ids=[f"{c[0]}-{c[2]}-{i}" for i, c in enumerate(LOSS_CASES)])
def test_losses(rng, name, kw, kind):
    n, c = 6, 4
    extra = {"w": R(rng, c, lo=0.2, hi=2.0), "wb": R(rng, n, c, lo=0.2, hi=2.0), "pw": R(rng, c, lo=0.5, hi=3.0)}
    ours_kw = {k: (tc.tensor(extra[v]) if v in extra else v) for k, v in kw.items()}
    their_kw = {k: (torch.tensor(extra[v]) if v in extra else v) for k, v in kw.items()}
    if kind == "idx":
        x, t = R(rng, n, c, lo=-3, hi=3), np.array([0, 1, 2, 3, 2, 1])
    elif kind == "idx2d":
        x, t = R(rng, 2, c, 3, 2, lo=-3, hi=3), rng.integers(0, c, size=(2, 3, 2))
    elif kind == "prob":
        x, t = R(rng, n, c, lo=-3, hi=3), np.asarray(torch.softmax(torch.randn(n, c), 1).numpy())
    elif kind == "bce":
        x, t = R(rng, n, c, lo=0.05, hi=0.95), R(rng, n, c, lo=0, hi=1)
    elif kind == "bcel":
        x, t = R(rng, n, c, lo=-30, hi=30), R(rng, n, c, lo=0, hi=1)
    else:
        x, t = R(rng, n, c, lo=-2, hi=2), R(rng, n, c, lo=-2, hi=2)
    if name.startswith("NLL"):
        x = np.asarray(torch.log_softmax(torch.tensor(x), 1).numpy())
    compare(getattr(nn, name)(**ours_kw), getattr(torch.nn, name)(**their_kw), x, t, atol=3e-5, sync=False)


def test_cross_entropy_is_stable_for_huge_logits():
    x = tc.tensor([[1000.0, -1000.0, 0.0], [-5000.0, 5000.0, 1.0]], requires_grad=True)
    loss = F.cross_entropy(x, tc.tensor([1, 1]))
    loss.backward()
    assert math.isfinite(loss.item()) and np.all(np.isfinite(to_np(x.grad)))
    assert_close(loss, torch.nn.functional.cross_entropy(torch.tensor(x.detach().numpy()), torch.tensor([1, 1])).numpy())


def test_cross_entropy_double_backward(rng):
    x = tc.tensor(R(rng, 3, 4).astype(np.float64), requires_grad=True)
    t = tc.tensor([0, 3, 1])
    (g,) = tc.autograd.grad(F.cross_entropy(x, t), x, create_graph=True)
    (gg,) = tc.autograd.grad((g * g).sum(), x)
    xp = torch.tensor(x.detach().numpy(), requires_grad=True)
    (gp,) = torch.autograd.grad(torch.nn.functional.cross_entropy(xp, torch.tensor([0, 3, 1])), xp, create_graph=True)
    (ggp,) = torch.autograd.grad((gp * gp).sum(), xp)
    assert_close(gg, ggp.numpy(), atol=1e-10)


# ---- functional extras ------------------------------------------------------------------------------
@pytest.mark.parametrize("kw", [{"scale_factor": 2, "mode": "nearest"}, {"size": (5, 7), "mode": "nearest"},
                                {"size": (5, 7), "mode": "bilinear", "align_corners": False},
                                {"size": (8, 3), "mode": "bilinear", "align_corners": True},
                                {"scale_factor": 1.5, "mode": "bilinear"}, {"size": (5, 7), "mode": "nearest-exact"}])
def test_interpolate(rng, kw):
    x = R(rng, 2, 3, 4, 5)
    compare(nn.Identity(), torch.nn.Identity(), x, sync=False,
            call=lambda m, z: (F if isinstance(z, tc.Tensor) else torch.nn.functional).interpolate(z, **kw))


def test_interpolate_linear_1d(rng):
    compare(nn.Identity(), torch.nn.Identity(), R(rng, 2, 3, 5), sync=False,
            call=lambda m, z: (F if isinstance(z, tc.Tensor) else torch.nn.functional).interpolate(
                z, size=8, mode="linear", align_corners=False))


@pytest.mark.parametrize("kw", [{}, {"is_causal": True}, {"mask": "bool"}, {"mask": "float"}, {"scale": 0.3}])
def test_scaled_dot_product_attention(rng, kw):
    q, k, v = R(rng, 2, 3, 4, 6), R(rng, 2, 3, 5, 6), R(rng, 2, 3, 5, 6)
    if kw.get("is_causal"):
        k, v = k[:, :, :4], v[:, :, :4]
    extra = dict(kw)
    kind = extra.pop("mask", None)
    mask = None
    if kind == "bool":
        mask = rng.random((4, 5)) < 0.7
        mask[:, 0] = True
    elif kind == "float":
        mask = R(rng, 4, 5)

    def call(m, a, b, c, *msk):
        lib = F if isinstance(a, tc.Tensor) else torch.nn.functional
        return lib.scaled_dot_product_attention(a, b, c, attn_mask=msk[0] if msk else None, **extra)
    args = (q, k, v) + ((mask,) if mask is not None else ())
    compare(nn.Identity(), torch.nn.Identity(), *args, sync=False, call=call)


def test_one_hot_and_functional_forms(rng):
    t = tc.tensor([0, 2, 1, 2])
    assert to_np(F.one_hot(t)).tolist() == torch.nn.functional.one_hot(torch.tensor([0, 2, 1, 2])).tolist()
    assert F.one_hot(t, 5).shape == (4, 5) and F.one_hot(t).dtype is tc.int64
    with pytest.raises(RuntimeError):
        F.one_hot(t, 2)
    x, w = R(rng, 2, 3, 6, 6), R(rng, 4, 3, 3, 3)
    assert_close(F.conv2d(tc.tensor(x), tc.tensor(w), stride=2, padding=1),
                 torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), stride=2, padding=1).numpy(), atol=1e-5)
    assert_close(F.avg_pool2d(tc.tensor(x), 2), torch.nn.functional.avg_pool2d(torch.tensor(x), 2).numpy())
    assert_close(F.adaptive_avg_pool2d(tc.tensor(x), 4),
                 torch.nn.functional.adaptive_avg_pool2d(torch.tensor(x), 4).numpy(), atol=1e-6)
    wl = R(rng, 3, 6)
    assert_close(F.linear(tc.tensor(x[0, 0]), tc.tensor(wl)),
                 torch.nn.functional.linear(torch.tensor(x[0, 0]), torch.tensor(wl)).numpy(), atol=1e-6)


# ---- dropout and train/eval ------------------------------------------------------------------------
def test_dropout_train_eval_and_seed():
    d = nn.Dropout(0.3)
    x = tc.ones(200, 100)
    tc.manual_seed(7)
    y = d(x)
    vals = to_np(y)
    zero = (vals == 0).mean()
    assert 0.27 < zero < 0.33
    assert np.allclose(vals[vals != 0], 1 / 0.7)
    tc.manual_seed(7)
    assert np.array_equal(to_np(d(x)), vals)  # one seed controls dropout
    d.eval()
    assert d(x) is x or np.array_equal(to_np(d(x)), to_np(x))
    assert not d.training
    xg = tc.ones(10, 10, requires_grad=True)
    d.train()
    out = d(xg)
    out.sum().backward()
    assert np.array_equal(to_np(xg.grad), to_np(out.detach()))  # gradient flows through the same mask
    with pytest.raises(ValueError):
        nn.Dropout(1.5)


# ---- initialisation ----------------------------------------------------------------------------------
def test_default_init_statistics():
    tc.manual_seed(0)
    lin = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    w = to_np(lin.weight)
    assert w.min() >= -bound and w.max() <= bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.02 * bound
    assert abs(to_np(lin.bias).std() - bound / math.sqrt(3)) < 0.1 * bound
    conv = nn.Conv2d(16, 32, 3)
    b = 1 / math.sqrt(16 * 9)
    assert abs(to_np(conv.weight).std() - b / math.sqrt(3)) < 0.05 * b
    emb = nn.Embedding(1000, 50)
    assert abs(to_np(emb.weight).std() - 1.0) < 0.02
    lstm = nn.LSTM(10, 64)
    assert np.abs(to_np(lstm.weight_hh_l0)).max() <= 1 / 8
    bn = nn.BatchNorm2d(4)
    assert to_np(bn.weight).tolist() == [1] * 4 and to_np(bn.running_var).tolist() == [1] * 4
    mha = nn.MultiheadAttention(16, 4)
    assert not np.any(to_np(mha.in_proj_bias)) and not np.any(to_np(mha.out_proj.bias))


def test_init_functions():
    tc.manual_seed(0)
    t = tc.empty(300, 200)
    nn.init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu")
    assert abs(to_np(t).std() - math.sqrt(2 / 300)) < 0.01 * math.sqrt(2 / 300) * 3
    nn.init.kaiming_uniform_(t)
    assert abs(to_np(t).std() - math.sqrt(2 / 200)) < 0.03 * math.sqrt(2 / 200)
    nn.init.xavier_uniform_(t, gain=2.0)
    bound = 2.0 * math.sqrt(6 / 500)
    assert np.abs(to_np(t)).max() <= bound and abs(to_np(t).std() - bound / math.sqrt(3)) < 0.03 * bound
    nn.init.xavier_normal_(t)
    assert abs(to_np(t).std() - math.sqrt(2 / 500)) < 0.03 * math.sqrt(2 / 500)
    nn.init.normal_(t, 2.0, 0.5)
    assert abs(to_np(t).mean() - 2.0) < 0.01 and abs(to_np(t).std() - 0.5) < 0.01
    nn.init.uniform_(t, -3, -1)
    assert to_np(t).min() >= -3 and to_np(t).max() <= -1
    nn.init.zeros_(t)
    assert not np.any(to_np(t))
    nn.init.ones_(t)
    assert np.all(to_np(t) == 1)
    nn.init.constant_(t, 0.25)
    assert np.all(to_np(t) == 0.25)
    assert nn.init.calculate_gain("leaky_relu", 0.2) == pytest.approx(torch.nn.init.calculate_gain("leaky_relu", 0.2))
    p = nn.Parameter(tc.zeros(3, 3))
    nn.init.normal_(p)
    assert p.grad_fn is None and p.requires_grad  # no graph recorded
    tc.manual_seed(3)
    a = to_np(nn.Linear(5, 5).weight)
    tc.manual_seed(3)
    assert np.array_equal(a, to_np(nn.Linear(5, 5).weight))


# ---- the Module API -------------------------------------------------------------------------------------
class _Net(nn.Module):
    def __init__(self, lib):
        super().__init__()
        self.features = lib.nn.Sequential(lib.nn.Conv2d(1, 4, 3), lib.nn.BatchNorm2d(4), lib.nn.ReLU(),
                                          lib.nn.MaxPool2d(2))
        self.head = lib.nn.ModuleDict({"fc": lib.nn.Linear(36, 5), "drop": lib.nn.Dropout(0.1)})
        self.blocks = lib.nn.ModuleList([lib.nn.Linear(5, 5), lib.nn.Tanh()])


class _TorchNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.features = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                                            torch.nn.MaxPool2d(2))
        self.head = torch.nn.ModuleDict({"fc": torch.nn.Linear(36, 5), "drop": torch.nn.Dropout(0.1)})
        self.blocks = torch.nn.ModuleList([torch.nn.Linear(5, 5), torch.nn.Tanh()])


def test_names_repr_and_traversal_match_torch():
    ours, theirs = _Net(tc), _TorchNet()
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    assert repr(ours).replace("_Net", "X") == repr(theirs).replace("_TorchNet", "X")
    for m in (nn.LSTM(3, 4, num_layers=2, batch_first=True, bidirectional=True), nn.GRU(2, 3, dropout=0.5),
              nn.Embedding(10, 3, padding_idx=1), nn.LayerNorm(5), nn.GroupNorm(2, 4), nn.AvgPool2d(3, 2, 1),
              nn.AdaptiveAvgPool2d((2, 3)), nn.Conv2d(2, 4, 3, stride=2, padding=1, groups=2, bias=False),
              nn.ConvTranspose2d(2, 3, 3, stride=2, output_padding=1), nn.LeakyReLU(0.2), nn.Softmax(dim=1),
              nn.CrossEntropyLoss(), nn.Flatten(), nn.MultiheadAttention(8, 2), nn.GELU(), nn.Softplus(),
              nn.Dropout(0.2), nn.Conv1d(2, 3, 3, padding="same")):
        name = type(m).__name__
        ref = getattr(torch.nn, name)
        args = {"LSTM": (3, 4), "GRU": (2, 3), "Embedding": (10, 3), "LayerNorm": (5,), "GroupNorm": (2, 4),
                "AvgPool2d": (3, 2, 1), "AdaptiveAvgPool2d": ((2, 3),), "Conv2d": (2, 4, 3),
                "ConvTranspose2d": (2, 3, 3), "LeakyReLU": (0.2,), "MultiheadAttention": (8, 2), "Dropout": (0.2,),
                "Conv1d": (2, 3, 3)}.get(name, ())
        kw = {"LSTM": dict(num_layers=2, batch_first=True, bidirectional=True), "GRU": dict(dropout=0.5),
              "Embedding": dict(padding_idx=1), "Conv2d": dict(stride=2, padding=1, groups=2, bias=False),
              "ConvTranspose2d": dict(stride=2, output_padding=1), "Softmax": dict(dim=1),
              "Conv1d": dict(padding="same")}.get(name, {})
        assert repr(m) == repr(ref(*args, **kw)), name


def test_state_dict_round_trip_and_strict_errors():
    a, b = _Net(tc), _Net(tc)
    sd = a.state_dict()
    assert all(not t.requires_grad for t in sd.values())
    b.load_state_dict(sd)
    for (n, p), (_, q) in zip(a.state_dict().items(), b.state_dict().items()):
        assert np.array_equal(to_np(p), to_np(q)), n
    bad = dict(sd)
    del bad["head.fc.bias"]
    del bad["features.1.running_mean"]
    bad["extra.weight"] = tc.zeros(2)
    bad["head.fc.scale"] = tc.zeros(2)
    with pytest.raises(RuntimeError) as e:
        b.load_state_dict(bad)
    msg = str(e.value)
    for key in ("head.fc.bias", "features.1.running_mean", "extra.weight", "head.fc.scale"):
        assert key in msg
    assert "Missing key(s)" in msg and "Unexpected key(s)" in msg and "_Net" in msg
    result = b.load_state_dict(bad, strict=False)
    assert sorted(result.missing_keys) == ["features.1.running_mean", "head.fc.bias"]
    assert sorted(result.unexpected_keys) == ["extra.weight", "head.fc.scale"]
    wrong = dict(sd)
    wrong["head.fc.weight"] = tc.zeros(5, 35)
    with pytest.raises(RuntimeError, match=r"size mismatch for head\.fc\.weight.*\[5, 35\].*\[5, 36\]"):
        b.load_state_dict(wrong)


def test_load_state_dict_from_torch_and_to_dtype(rng):
    theirs = _TorchNet()
    ours = _Net(tc)
    _sync(ours, theirs)
    ours.eval()
    theirs.eval()
    x = R(rng, 2, 1, 8, 8)
    out = ours.blocks[0](ours.head["fc"](ours.features(tc.tensor(x)).flatten(1)))
    ref = theirs.blocks[0](theirs.head["fc"](theirs.features(torch.tensor(x)).flatten(1)))
    assert_close(out, ref.detach().numpy(), atol=1e-5)
    params = list(ours.parameters())
    ours.to(tc.float64)
    assert all(p.dtype is tc.float64 for p in ours.parameters())
    assert ours.features[1].num_batches_tracked.dtype is tc.int64  # integer buffers keep their dtype
    assert all(p is q for p, q in zip(params, ours.parameters()))  # same Parameter objects (optimizers keep them)
    ours.to("numpy").float()
    assert next(ours.parameters()).device == "numpy" and next(ours.parameters()).dtype is tc.float32


def test_module_train_eval_zero_grad_apply_hooks_buffers():
    net = _Net(tc)
    assert net.training and all(m.training for m in net.modules())
    net.eval()
    assert not any(m.training for m in net.modules())
    net.train()
    x = tc.randn(2, 1, 8, 8)
    net.head["fc"](net.features(x).flatten(1)).sum().backward()
    assert net.head["fc"].weight.grad is not None
    net.zero_grad(set_to_none=False)
    assert not np.any(to_np(net.head["fc"].weight.grad))
    net.zero_grad()
    assert net.head["fc"].weight.grad is None
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen[-1] == "_Net" and "Conv2d" in seen
    calls = []
    fc = net.head["fc"]
    h = fc.register_forward_hook(lambda m, inp, out: calls.append(out.shape))
    pre = fc.register_forward_pre_hook(lambda m, inp: (inp[0] * 0,))
    out = fc(tc.randn(3, 36))
    assert calls == [out.shape] and np.array_equal(to_np(out), np.broadcast_to(to_np(fc.bias), (3, 5)))
    h.remove()
    pre.remove()
    fc(tc.randn(3, 36))
    assert len(calls) == 1
    rep = net.features.register_forward_hook(lambda m, inp, out: out * 0 + 1)
    assert np.all(to_np(net.features(x)) == 1)
    rep.remove()
    m = nn.Module()
    m.register_buffer("steps", tc.zeros(1))
    m.register_buffer("cache", tc.zeros(2), persistent=False)
    m.register_parameter("w", nn.Parameter(tc.ones(2)))
    m.add_module("sub", nn.Linear(2, 2))
    assert list(m.state_dict()) == ["w", "steps", "sub.weight", "sub.bias"]
    assert [n for n, _ in m.named_buffers()] == ["steps", "cache"]
    assert m.get_submodule("sub") is m.sub and m.get_parameter("sub.bias") is m.sub.bias
    with pytest.raises(TypeError):
        m.w = tc.zeros(2)  # a plain tensor cannot replace a parameter
    with pytest.raises(AttributeError):
        m.nonexistent  # noqa: B018
    clone = copy.deepcopy(net)
    assert clone.head["fc"].weight is not net.head["fc"].weight
    assert np.array_equal(to_np(clone.head["fc"].weight), to_np(net.head["fc"].weight))
    assert str(clone.head["fc"].weight.device) == str(net.head["fc"].weight.device)
    p = nn.Parameter(tc.zeros(2))
    assert isinstance(p, tc.Tensor) and p.requires_grad and p.is_leaf and "Parameter containing" in repr(p)


def test_containers():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert len(seq) == 3 and isinstance(seq[1], nn.ReLU) and isinstance(seq[-1], nn.Linear)
    assert len(seq[:2]) == 2 and list(seq[:2].state_dict()) == ["0.weight", "0.bias"]
    seq.append(nn.Sigmoid())
    assert seq(tc.randn(4, 2)).shape == (4, 1)
    ml = nn.ModuleList([nn.Linear(1, 1)])
    ml.append(nn.Linear(1, 2))
    ml += [nn.Tanh()]
    assert len(ml) == 3 and len(list(ml.parameters())) == 4
    md = nn.ModuleDict({"a": nn.Linear(1, 1)})
    md["b"] = nn.ReLU()
    assert list(md.keys()) == ["a", "b"] and "a" in md
    pl = nn.ParameterList([nn.Parameter(tc.ones(2)), tc.zeros(3)])
    assert len(list(pl.parameters())) == 2


# ---- nn.utils -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
def test_clip_grad_norm(rng, norm_type):
    grads = [R(rng, 3, 4) * 5, R(rng, 5) * 5]
    ours = [nn.Parameter(tc.zeros(*g.shape)) for g in grads]
    theirs = [torch.nn.Parameter(torch.zeros(*g.shape)) for g in grads]
    for p, q, g in zip(ours, theirs, grads):
        p.grad, q.grad = tc.tensor(g), torch.tensor(g)
    n1 = nn.utils.clip_grad_norm_(ours, 1.5, norm_type)
    n2 = torch.nn.utils.clip_grad_norm_(theirs, 1.5, norm_type)
    assert n1.item() == pytest.approx(n2.item(), rel=1e-5)
    for p, q in zip(ours, theirs):
        assert_close(p.grad, q.grad.numpy(), atol=1e-6)


def test_clip_grad_value_and_vector_conversion(rng):
    p = nn.Parameter(tc.zeros(4))
    p.grad = tc.tensor([-3.0, 0.5, 2.0, -0.1])
    nn.utils.clip_grad_value_([p], 1.0)
    assert np.allclose(to_np(p.grad), [-1.0, 0.5, 1.0, -0.1])
    lin = nn.Linear(3, 2)
    vec = nn.utils.parameters_to_vector(lin.parameters())
    assert vec.shape == (8,)
    assert_close(vec[:6].reshape(2, 3), to_np(lin.weight))
    nn.utils.vector_to_parameters(tc.arange(8).float(), lin.parameters())
    assert to_np(lin.bias).tolist() == [6.0, 7.0]
    with pytest.raises(RuntimeError):
        nn.utils.vector_to_parameters(tc.zeros(7), lin.parameters())


# ---- errors: clear messages naming the layer and the shapes ------------------------------------------------
def test_linear_wrong_feature_count():
    with pytest.raises(RuntimeError, match=r"Linear\(in_features=4, out_features=3.*\[2, 5\]"):
        nn.Linear(4, 3)(tc.randn(2, 5))
    with pytest.raises(RuntimeError, match=r"2x5 and 4x3"):
        F.linear(tc.randn(2, 5), tc.randn(3, 4))
    with pytest.raises(RuntimeError, match=r"linear: .*share one dtype.*float32, float64"):
        F.linear(tc.randn(2, 4), tc.randn(3, 4, dtype=tc.float64))


def test_fused_lstm_ops_reject_bad_shapes():
    from tinygrad_chain.ops import REGISTRY
    from tinygrad_chain.ops.registry import apply
    with pytest.raises(RuntimeError, match=r"lstm_cell: gates \[3, 7\].*\[3, 2\]"):
        apply(REGISTRY["lstm_cell"], tc.randn(3, 7), tc.randn(3, 2))
    with pytest.raises(RuntimeError, match=r"lstm_layer: .*w_hh \[8, 3\]"):
        apply(REGISTRY["lstm_layer"], tc.randn(4, 3, 8), tc.randn(3, 2), tc.randn(3, 2), tc.randn(8, 3))
    with pytest.raises(RuntimeError, match=r"lstm_layer: .*b_hh \[4\]"):
        apply(REGISTRY["lstm_layer"], tc.randn(4, 3, 8), tc.randn(3, 2), tc.randn(3, 2), tc.randn(8, 2), tc.randn(4))


def test_conv2d_bad_inputs():
    conv = nn.Conv2d(1, 8, 3)
    with pytest.raises(RuntimeError, match=r"Conv2d\(1, 8.*\[64, 28, 28\].*64 channels"):
        conv(tc.randn(64, 28, 28))  # a batch without its channel dim reads as 64 channels
    with pytest.raises(RuntimeError, match=r"Conv2d.*3D \(unbatched\) or 4D.*\[28, 28\]"):
        conv(tc.randn(28, 28))
    with pytest.raises(RuntimeError, match=r"conv2d.*expected input\[2, 3, 8, 8\] to have 1 channels"):
        F.conv2d(tc.randn(2, 3, 8, 8), conv.weight)
    with pytest.raises(RuntimeError, match="Kernel size can't be greater"):
        conv(tc.randn(1, 1, 2, 2))
    with pytest.raises(ValueError, match="strided"):
        nn.Conv2d(1, 1, 3, stride=2, padding="same")


def test_pool_norm_rnn_attention_errors():
    with pytest.raises(RuntimeError, match=r"MaxPool2d.*\[5\]"):
        nn.MaxPool2d(2)(tc.randn(5))
    with pytest.raises(RuntimeError, match="pad should be at most half"):
        F.max_pool2d(tc.randn(1, 1, 4, 4), 2, padding=2)
    with pytest.raises(RuntimeError, match=r"BatchNorm2d\(3.*\[2, 4, 5, 5\]"):
        nn.BatchNorm2d(3)(tc.randn(2, 4, 5, 5))
    with pytest.raises(ValueError, match="3D"):
        nn.BatchNorm2d(3)(tc.randn(2, 3, 5))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(tc.randn(1, 3))
    with pytest.raises(RuntimeError, match=r"LayerNorm.*\[2, 3\]"):
        nn.LayerNorm(4)(tc.randn(2, 3))
    with pytest.raises(RuntimeError, match=r"LSTM\(4, 5\).*Expected 4, got 3"):
        nn.LSTM(4, 5)(tc.randn(2, 1, 3))
    with pytest.raises(AssertionError, match=r"MultiheadAttention.*8"):  # torch: AssertionError too
        nn.MultiheadAttention(8, 2)(tc.randn(2, 1, 6), tc.randn(2, 1, 6), tc.randn(2, 1, 6))
    with pytest.raises(AssertionError, match=r"2-D \(unbatched\) or 3-D"):
        nn.MultiheadAttention(8, 2)(*(tc.randn(2, 1, 1, 8),) * 3)
    with pytest.raises(AssertionError, match=r"key shape \[3, 1, 8\]"):
        nn.MultiheadAttention(8, 2)(tc.randn(2, 1, 8), tc.randn(3, 1, 8), tc.randn(2, 1, 8))
    with pytest.raises(IndexError, match="out of range"):
        nn.Embedding(5, 2)(tc.tensor([1, 5]))


def test_loss_errors():
    with pytest.raises(ValueError, match=r"Expected input batch_size \(4\) to match target batch_size \(3\)"):
        nn.CrossEntropyLoss()(tc.randn(4, 5), tc.tensor([0, 1, 2]))
    with pytest.raises(IndexError, match="Target 7 is out of bounds"):
        nn.CrossEntropyLoss()(tc.randn(4, 5), tc.tensor([0, 1, 2, 7]))
    with pytest.raises(IndexError, match="Target -3 is out of bounds"):
        nn.NLLLoss()(tc.randn(4, 5), tc.tensor([0, 1, 2, -3]))
    with pytest.raises(RuntimeError, match=r"mse_loss.*\[4, 5\].*\[3, 5\]"):
        nn.MSELoss()(tc.randn(4, 5), tc.randn(3, 5))
    with pytest.raises(ValueError, match="different to the input size"):
        nn.BCELoss()(tc.rand(4), tc.rand(3))
    with pytest.raises(ValueError, match="must be the same as input size"):
        nn.BCEWithLogitsLoss()(tc.rand(4), tc.rand(3))
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        nn.BCELoss()(tc.tensor([1.5]), tc.tensor([1.0]))
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        F.mse_loss(tc.randn(2), tc.randn(2), reduction="avg")
    with pytest.warns(UserWarning, match="different to the input size"):
        F.mse_loss(tc.randn(4, 1), tc.randn(4))


def test_sequential_and_modulelist_insert_match_torch():
    pairs = ((tc.nn.Sequential(tc.nn.ReLU(), tc.nn.Tanh()), torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Tanh())),
             (tc.nn.ModuleList([tc.nn.ReLU(), tc.nn.Tanh()]), torch.nn.ModuleList([torch.nn.ReLU(), torch.nn.Tanh()])))
    for ours, theirs in pairs:
        at = -1 if isinstance(theirs, torch.nn.Sequential) else 1  # torch's ModuleList.insert fails on -1
        ours.insert(at, tc.nn.Sigmoid())
        theirs.insert(at, torch.nn.Sigmoid())
        ours.insert(0, tc.nn.Identity())
        theirs.insert(0, torch.nn.Identity())
        assert [type(m).__name__ for m in ours] == [type(m).__name__ for m in theirs]
        with pytest.raises(IndexError, match="insert"):
            ours.insert(10, tc.nn.ReLU())


def test_module_list_repr_groups_repeats_as_torch():
    ours = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 3), nn.Linear(2, 3)])
    theirs = torch.nn.ModuleList([torch.nn.Linear(2, 2), torch.nn.Linear(2, 2), torch.nn.ReLU(),
                                  torch.nn.Linear(2, 3), torch.nn.Linear(2, 3)])
    assert repr(ours) == repr(theirs)
    assert repr(nn.ModuleList()) == repr(torch.nn.ModuleList())


@pytest.mark.parametrize("bidirectional", [False, True])
def test_lstm_double_backward_matches_torch(bidirectional):
    """A gradient penalty through a 2-layer LSTM (one lstm_layer op per layer and direction: its
    create_graph VJP runs the recurrence again in recorded ops)."""
    rng = np.random.default_rng(0)
    tm = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=bidirectional).double()
    om = nn.LSTM(3, 4, num_layers=2, bidirectional=bidirectional).double()
    om.load_state_dict({k: tc.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    xv = rng.standard_normal((5, 2, 3))
    tx, ox = torch.tensor(xv, requires_grad=True), tc.tensor(xv, requires_grad=True)
    for m, x, lib in ((tm, tx, torch), (om, ox, tc)):
        out, (h, c) = m(x)
        g, = lib.autograd.grad(out.sin().sum() + h.sum() + c.cos().sum(), [x], create_graph=True)
        (g ** 2).sum().backward()
    for (name, tp), (_, op) in zip(tm.named_parameters(), om.named_parameters()):
        assert_close(op.grad, tp.grad.numpy(), atol=1e-8, rtol=1e-6, msg=name)
    assert_close(ox.grad, tx.grad.numpy(), atol=1e-8, rtol=1e-6)
