"""Workloads written once against PyTorch's API, for torch and tinygrad_chain.

tinygrad_chain replaces `import torch` with `import tinygrad_chain as tc`, so
one text serves both: `T` is the module (torch or tinygrad_chain). Where
tinygrad_chain lacks a feature today (tc.nn, tc.optim), the caller is told by
AttributeError/ImportError and the case is reported as skipped, or a plain
core-API fallback is used and noted in the results.
"""
from benchmarks.workloads import LR, transposed


def _tensor(T, a, device, requires_grad=False):
    return T.tensor(a, device=device, requires_grad=requires_grad)


def scalar(t):
    return float((t.sum() if t.numel() != 1 else t).item())


def _optimizer(T, params):
    """T.optim.SGD when the library has it, else a plain update under no_grad."""
    optim = getattr(T, "optim", None)
    if optim is not None and hasattr(optim, "SGD"):
        opt = optim.SGD(params, lr=LR)

        def step():
            opt.step()
            opt.zero_grad(set_to_none=True)
        return step, None

    def manual():
        with T.no_grad():
            for p in params:
                p -= LR * p.grad
                p.grad = None
    return manual, "manual SGD update (no optim.SGD)"


def _cross_entropy(T):
    """F.cross_entropy when there, else the core-API composition."""
    nn = getattr(T, "nn", None)
    F = getattr(nn, "functional", None)
    if F is not None and hasattr(F, "cross_entropy"):
        return F.cross_entropy, None

    def ce(logits, y):
        idx = T.arange(logits.shape[0], device=logits.device)
        return -(logits.log_softmax(dim=1)[idx, y]).mean()
    return ce, "cross-entropy as -log_softmax[arange, y].mean() (no nn.functional)"


def _notes(*notes):
    return "; ".join(n for n in notes if n) or None


def matmul(T, device, d, p):
    a, b = _tensor(T, d["a"], device), _tensor(T, d["b"], device)

    def step():
        return a @ b
    return step


def matmul_t(T, device, d, p):
    x, y = transposed(_tensor(T, d["a"], device), _tensor(T, d["b"], device), p["form"])

    def step():
        return x @ y
    return step


def elementwise(T, device, d, p):
    x, w, b = (_tensor(T, d[k], device, True) for k in ("x", "w", "b"))

    def step():
        x.grad = w.grad = b.grad = None
        y = (T.tanh(x * w + b) * T.sigmoid(x)).sum()
        y.backward()
        return y.detach()
    return step


def _train_step(T, params, forward, y, opt_note=None):
    update, note = _optimizer(T, params)
    ce, ce_note = _cross_entropy(T)

    def step():
        loss = ce(forward(), y)
        loss.backward()
        update()
        return loss.detach()
    step.note = _notes(note, ce_note, opt_note)
    return step


def mlp(T, device, d, p):
    x, y = _tensor(T, d["x"], device), _tensor(T, d["y"], device)
    w1, b1, w2, b2, w3, b3 = (_tensor(T, d[k], device, True) for k in ("w1", "b1", "w2", "b2", "w3", "b3"))

    def forward():
        h = T.relu(x @ w1 + b1)
        h = T.relu(h @ w2 + b2)
        return h @ w3 + b3
    return _train_step(T, [w1, b1, w2, b2, w3, b3], forward, y)


def cnn(T, device, d, p):
    F = T.nn.functional
    conv2d, max_pool2d = F.conv2d, F.max_pool2d  # AttributeError -> skipped, reason recorded
    x, y = _tensor(T, d["x"], device), _tensor(T, d["y"], device)
    ps = [_tensor(T, d[k], device, True) for k in ("c1w", "c1b", "c2w", "c2b", "fw", "fb")]
    c1w, c1b, c2w, c2b, fw, fb = ps

    def forward():
        h = max_pool2d(T.relu(conv2d(x, c1w, c1b)), 2)
        h = max_pool2d(T.relu(conv2d(h, c2w, c2b)), 2)
        return h.reshape(h.shape[0], -1) @ fw + fb
    return _train_step(T, ps, forward, y)


def _load(T, module, device, tensors):
    # load on the module's own (default) device, then move everything together
    module.load_state_dict({k: T.tensor(v) for k, v in tensors.items()}, strict=True)
    return module.to(device)


def lstm(T, device, d, p):
    lstm_mod = T.nn.LSTM(p["input"], p["hidden"])
    lstm_mod = _load(T, lstm_mod, device, {"weight_ih_l0": d["w_ih"], "weight_hh_l0": d["w_hh"],
                                           "bias_ih_l0": d["b_ih"], "bias_hh_l0": d["b_hh"]})
    x, y = _tensor(T, d["x"], device), _tensor(T, d["y"], device)
    fw, fb = _tensor(T, d["fw"], device, True), _tensor(T, d["fb"], device, True)

    def forward():
        _, (h, _) = lstm_mod(x)
        return h[-1] @ fw + fb
    return _train_step(T, list(lstm_mod.parameters()) + [fw, fb], forward, y)


def transformer(T, device, d, p):
    layer = T.nn.TransformerEncoderLayer(p["d_model"], p["nhead"], dim_feedforward=p["ff"], dropout=0.0,
                                         batch_first=True)
    layer = _load(T, layer, device, {
        "self_attn.in_proj_weight": d["in_w"], "self_attn.in_proj_bias": d["in_b"],
        "self_attn.out_proj.weight": d["out_w"], "self_attn.out_proj.bias": d["out_b"],
        "linear1.weight": d["l1_w"], "linear1.bias": d["l1_b"],
        "linear2.weight": d["l2_w"], "linear2.bias": d["l2_b"],
        "norm1.weight": d["n1_w"], "norm1.bias": d["n1_b"], "norm2.weight": d["n2_w"], "norm2.bias": d["n2_b"]})
    x, y = _tensor(T, d["x"], device), _tensor(T, d["y"], device)
    fw, fb = _tensor(T, d["fw"], device, True), _tensor(T, d["fb"], device, True)

    def forward():
        return layer(x).mean(dim=1) @ fw + fb
    return _train_step(T, list(layer.parameters()) + [fw, fb], forward, y)


def autograd_overhead(T, device, d, p):
    x = _tensor(T, d["x"].reshape(()), device, True)
    steps = p["steps"]

    def step():
        x.grad = None
        y = x
        for _ in range(steps):
            y = y * 1.0001 + 0.0001
        y.backward()
        return y.detach()
    return step


def workloads(T):
    """{name: setup(device, data, params) -> step} bound to module T."""
    fns = [matmul, matmul_t, elementwise, mlp, cnn, lstm, transformer, autograd_overhead]
    return {f.__name__: (lambda device, d, p, f=f: f(T, device, d, p)) for f in fns}
