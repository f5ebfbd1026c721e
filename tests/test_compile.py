"""tc.compile: a traced training step replays bit for bit as eager, guards re-trace, and what cannot
be captured runs eagerly with a warning that says why.

Every test runs on each device (conftest.py): numpy, cpp, cpp_kernels (every C++ kernel at any
size) and cpp_fused (every elementwise op fused), so the replay is checked against each of them.
"""
import sys
import warnings
import weakref
from pathlib import Path

import numpy as np
import pytest

import tinygrad_chain as tc
from tinygrad_chain import nn
from tinygrad_chain.compile import CompileWarning
from tinygrad_chain.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
import cnn_mnist  # noqa: E402
import char_lstm  # noqa: E402
import transformer_sort  # noqa: E402

STEPS = 20


def _replays(step):
    return any(type(e).__name__ == "_Step" for e in step._cache.values())


def _state(model, opt):
    """Every array the training changes: parameters, buffers, their .grad, the optimizer's state."""
    out = []
    for t in list(model.parameters()) + list(model.buffers()):
        out.append(t.detach().numpy().copy())
        if t.grad is not None:
            out.append(t.grad.numpy().copy())
    for s in opt.state_dict()["state"].values():
        for k in sorted(s):
            v = s[k]
            out.append(v.detach().numpy().copy() if isinstance(v, tc.Tensor) else np.asarray(v))
    return out


def _run(build, batches, compiled):
    tc.manual_seed(0)
    model, opt, step = build()
    if compiled:
        step = tc.compile(step)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileWarning)  # any fall-back fails the test
        losses = [np.asarray(step(*b).detach().numpy()).copy() for b in batches]
    return losses, _state(model, opt), step


def assert_bitwise_equal_to_eager(build, batches):
    eager_losses, eager_state, _ = _run(build, batches, False)
    losses, state, step = _run(build, batches, True)
    assert _replays(step), "the step was never replayed"
    assert len(state) == len(eager_state)
    for a, b in zip(eager_losses + eager_state, losses + state):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert np.array_equal(a, b, equal_nan=True), np.max(np.abs(a.astype(np.float64) - b))
    return step


def _classes(rng, shape, n, count=STEPS):
    return [(tc.tensor(rng.standard_normal(shape).astype(np.float32)), tc.tensor(rng.integers(0, n, shape[0])))
            for _ in range(count)]


def _train_step(model, opt, loss_fn, sched=None, clip=None):
    def step(x, y):
        opt.zero_grad()
        out = model(x)
        out = out[0] if isinstance(out, tuple) else out
        loss = loss_fn(out.reshape(-1, out.shape[-1]), y.reshape(-1))
        loss.backward()
        if clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        if sched is not None:
            sched.step()
        return loss
    return step


# ---- bit for bit, on the examples' models ---------------------------------------------------
def _calls(step):
    """The names of a compiled step's replayed backend calls."""
    return [e[5] for e in next(e for e in step._cache.values() if type(e).__name__ == "_Step").entries]


def test_mlp_sgd_momentum(rng, request):
    def build():
        model = nn.Sequential(nn.Linear(64, 96), nn.ReLU(), nn.Linear(96, 96), nn.ReLU(), nn.Linear(96, 10))
        opt = tc.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-4)
        return model, opt, _train_step(model, opt, F.cross_entropy)
    step = assert_bitwise_equal_to_eager(build, _classes(rng, (32, 64), 10))
    if request.node.callspec.id == "cpp":  # each Linear's ReLU (and its backward) runs in the GEMM
        calls = _calls(step)
        assert calls.count("linear_act") == 2 and calls.count("matmul_act_backward") == 2, calls


class _RawMLP(nn.Module):
    """x @ w + b then ReLU, as the benchmark's MLP writes it (no nn.Linear)."""

    def __init__(self):
        super().__init__()
        r = np.random.default_rng(0)
        for i, shape in enumerate(((64, 96), (96,), (96, 96), (96,), (96, 10), (10,))):
            setattr(self, f"p{i}", nn.Parameter(tc.tensor((r.standard_normal(shape) * 0.1).astype(np.float32))))

    def forward(self, x):
        h = tc.relu(x @ self.p0 + self.p1)
        return tc.relu(h @ self.p2 + self.p3) @ self.p4 + self.p5


def test_mlp_of_raw_products_fuses_bias_and_relu_into_the_gemm(rng, request):
    """On the cpp device the replay runs each product with its bias and ReLU (and backward's ReLU mask)
    as one GEMM call (compile/fuse.py), still equal to eager; elsewhere the schedule keeps its calls."""
    def build():
        model = _RawMLP()
        opt = tc.optim.SGD(model.parameters(), lr=0.05)
        return model, opt, _train_step(model, opt, F.cross_entropy)
    step = assert_bitwise_equal_to_eager(build, _classes(rng, (32, 64), 10))
    calls, device = _calls(step), request.node.callspec.id
    if device == "cpp":  # as users get it: the kernels run these sizes, the elementwise ops are not fused
        assert calls.count("matmul_bias_act") == 3 and calls.count("matmul_act_backward") == 2, calls
    elif device == "numpy":
        assert "matmul_bias_act" not in calls and "matmul_act_backward" not in calls


def test_mlp_adam_dropout_label_smoothing_scheduler(rng):
    """mlp_digits' model: dropout draws fresh masks each replay, from the same generator as eager."""
    def build():
        model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Dropout(0.3), nn.Linear(128, 128), nn.ReLU(),
                              nn.Dropout(0.3), nn.Linear(128, 10))
        opt = tc.optim.Adam(model.parameters(), lr=2e-3)
        sched = tc.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=7)
        return model, opt, _train_step(model, opt, nn.CrossEntropyLoss(label_smoothing=0.1), sched)
    assert_bitwise_equal_to_eager(build, _classes(rng, (16, 64), 10))


def test_cnn_example_adam(rng):
    """cnn_mnist's model: conv, BatchNorm (running statistics), max-pool, dropout, linear."""
    def build():
        model = cnn_mnist.make_model(2)
        opt = tc.optim.Adam(model.parameters(), lr=3e-3)
        return model, opt, _train_step(model, opt, F.cross_entropy)
    assert_bitwise_equal_to_eager(build, _classes(rng, (4, 1, 28, 28), 10))


def test_lstm_example_adam_clip(rng):
    """char_lstm's model and step: embedding, LSTM, linear head, clip_grad_norm_, Adam, a scheduler."""
    def build():
        model = char_lstm.CharLSTM(20, 8, 16, 1)
        opt = tc.optim.Adam(model.parameters(), lr=1e-2)
        sched = tc.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=STEPS)
        return model, opt, _train_step(model, opt, nn.CrossEntropyLoss(), sched, clip=1.0)
    batches = [(tc.tensor(rng.integers(0, 20, (4, 6))), tc.tensor(rng.integers(0, 20, (4, 6))))
               for _ in range(STEPS)]
    assert_bitwise_equal_to_eager(build, batches)


def test_transformer_example_adamw_onecycle(rng):
    """transformer_sort's model: embedding, learned positions, encoder layers, LayerNorm, AdamW."""
    def build():
        model = transformer_sort.Sorter(10, 8, 16, 2, 1, 32)
        opt = tc.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.01)
        sched = tc.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-2, total_steps=STEPS + 5)
        return model, opt, _train_step(model, opt, nn.CrossEntropyLoss(), sched)
    batches = [(tc.tensor(rng.integers(0, 10, (4, 8))), tc.tensor(rng.integers(0, 10, (4, 8))))
               for _ in range(STEPS)]
    assert_bitwise_equal_to_eager(build, batches)


def test_grad_accumulation_and_zero_grad_to_zeros(rng):
    """zero_grad(set_to_none=False): backward accumulates into the .grad tensors from before."""
    def build():
        model = nn.Sequential(nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 3))
        opt = tc.optim.SGD(model.parameters(), lr=0.1, momentum=0.5)

        def step(x, y):
            opt.zero_grad(set_to_none=False)
            for half in (x[:4], x[4:]):
                (F.cross_entropy(model(half), y[:4]) / 2).backward()
            opt.step()
            return model[0].weight.grad.sum()
        return model, opt, step
    assert_bitwise_equal_to_eager(build, _classes(rng, (8, 8), 3))


def test_generator_draws_follow_the_generator(rng):
    def build():
        model = nn.Linear(6, 6)
        opt = tc.optim.SGD(model.parameters(), lr=0.1)
        g = tc.Generator().manual_seed(3)

        def step(x):
            opt.zero_grad()
            loss = (model(x) * tc.rand(x.shape, generator=g)).sum()
            loss.backward()
            opt.step()
            return loss
        return model, opt, step
    assert_bitwise_equal_to_eager(build, [(tc.tensor(rng.standard_normal((3, 6)).astype(np.float32)),)] * STEPS)


def test_grad_set_to_none_is_freed_where_eager_frees_it(rng, device, monkeypatch):
    """`x.grad = None` at the top of a step drops the old gradient there in a replay too (not when the
    new one is bound at the end), so the step's new arrays can reuse its memory as in eager."""
    x = tc.tensor(rng.standard_normal(64).astype(np.float32), requires_grad=True)
    b = tc.backends.get(device)
    alive, real = [], b.binary

    def binary(*args):  # the first backend call of each step: is the previous .grad still alive?
        if old is not None and not alive:
            alive.append(old() is not None)
        return real(*args)
    monkeypatch.setattr(b, "binary", binary)

    def step():
        x.grad = None
        y = (x * 3.0).sum()
        y.backward()
        return y
    compiled = tc.compile(step)
    old = None
    for call in range(4):  # eager warm-up, trace, two replays
        old = None if x.grad is None else weakref.ref(x.grad)
        alive.clear()
        compiled()
        if call >= 2:  # (the trace itself holds the .grad it started from)
            assert alive == [False]
        np.testing.assert_array_equal(x.grad.numpy(), np.full(64, 3.0, np.float32))
    assert _replays(compiled)


def test_outputs_and_grads_are_new_tensors_each_call(rng):
    model = nn.Linear(4, 2)
    opt = tc.optim.SGD(model.parameters(), lr=0.1)

    @tc.compile
    def step(x):
        opt.zero_grad()
        out = model(x)
        out.sum().backward()
        opt.step()
        return out, x

    x = tc.tensor(rng.standard_normal((3, 4)).astype(np.float32))
    outs = [step(x) for _ in range(4)]
    assert _replays(step)
    assert outs[3][1] is x and not outs[3][0].requires_grad
    assert outs[2][0]._data is not outs[3][0]._data
    np.testing.assert_array_equal(model.bias.grad.numpy(), np.full(2, 3.0, np.float32))


def test_constants_are_folded_only_where_nothing_writes_or_keeps_them(request):
    """Calls that read no array of the step are computed once, at the trace (compile/fold.py), unless
    their result is returned, written in place or handed out: the caller may write what it got."""
    x = tc.tensor(np.ones(3, np.float32))

    @tc.compile
    def step(x):
        c = tc.ones(3) * 2  # the product is returned: only ones(3) folds
        d = tc.zeros(3)
        d += x              # written in place: never folded
        return c, d + tc.ones(3) / 4  # ones(3) / 4 folds
    for _ in range(5):
        c, d = step(x)
        assert c.tolist() == [2.0] * 3 and d.tolist() == [1.25] * 3
        c.add_(1)
        d.add_(1)
    if request.node.callspec.id in ("numpy", "cpp"):
        assert _calls(step) == ["binary", "full", "binary", "copy_into", "binary"]


def test_version_counters_and_tensors_kept_on_modules(rng):
    """In-place writes to tensors from before the step move their version counters at each replay, and
    a tensor the step keeps on a module is the new one after each replay."""
    class Keeper(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 3)
            self.register_buffer("total", tc.zeros(3))
            self.last = None

        def forward(self, x):
            out = self.lin(x)
            with tc.no_grad():
                self.total.add_(out.detach().sum(0))
            self.last = out.detach()
            return out

    m = Keeper()
    f = tc.compile(m)
    x = tc.tensor(rng.standard_normal((2, 3)).astype(np.float32))
    with tc.no_grad():
        versions = []
        for _ in range(5):
            out = f(x)
            versions.append(m.total._version[0])
            np.testing.assert_array_equal(m.last.numpy(), out.numpy())
    assert _replays(f) and versions == [1, 2, 3, 4, 5]
    np.testing.assert_allclose(m.total.numpy(), 5 * out.numpy().sum(0), rtol=1e-5)


# ---- guards, re-tracing, the cache limit --------------------------------------------------------
def test_new_shapes_dtypes_and_grad_mode_trace_again(rng):
    w = tc.tensor(rng.standard_normal((4, 4)).astype(np.float32))

    @tc.compile
    def f(x):
        return (x @ w.to(x.dtype)).tanh()

    for shape in ((2, 4), (3, 4), (2, 4), (3, 4)):
        for _ in range(3):
            x = tc.tensor(rng.standard_normal(shape).astype(np.float32))
            np.testing.assert_array_equal(f(x).numpy(), (x @ w).tanh().numpy())
    assert f._traces == 2
    x = tc.tensor(rng.standard_normal((2, 4)))  # float64: another key
    for _ in range(3):
        assert f(x).dtype is tc.float64
    assert f._traces == 3


def test_the_cache_limit_warns_once_and_stays_correct(rng):
    @tc.compile
    def f(x):
        return x * 2 + 1

    with pytest.warns(CompileWarning, match="cache_size_limit"):
        for n in range(1, f.cache_size_limit + 4):
            for _ in range(2):
                x = tc.arange(n).float()
                np.testing.assert_array_equal(f(x).numpy(), x.numpy() * 2 + 1)
    assert f._traces == f.cache_size_limit


def test_new_memory_for_a_parameter_traces_again(rng):
    model = nn.Linear(3, 2)

    @tc.compile
    def f(x):
        return model(x)

    x = tc.tensor(rng.standard_normal((2, 3)).astype(np.float32))
    with tc.no_grad():
        for _ in range(3):
            f(x)
        model.weight.data = tc.zeros(2, 3)  # a new array: the trace read the old one
        with pytest.warns(CompileWarning, match="new memory"):
            out = f(x)
        np.testing.assert_array_equal(out.numpy(), np.broadcast_to(model.bias.detach().numpy(), (2, 2)))


def test_train_and_eval_modes_trace_apart(rng):
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))
    x = tc.tensor(rng.standard_normal((2, 4)).astype(np.float32))
    f = tc.compile(model)
    with tc.no_grad():
        for _ in range(3):
            f(x)
        model.eval()
        with pytest.warns(CompileWarning, match="Sequential.training is False"):
            out = f(x)
        np.testing.assert_array_equal(out.numpy(), model(x).numpy())


# ---- what cannot be captured runs eagerly, with the reason ----------------------------------------
@pytest.mark.parametrize("body, match", [
    (lambda loss: loss.item(), r"Tensor.item\(\)"),
    (lambda loss: loss.tolist(), r"Tensor.tolist\(\)"),
    (lambda loss: loss.detach().numpy(), r"Tensor.numpy\(\)"),
    (lambda loss: print(loss), "print/repr"),
    (lambda loss: f"{loss:.3f}", "formatted"),
    (lambda loss: 1 if loss > 0.5 else 0, "Python control flow"),
    (lambda loss: float(loss), r"float\(tensor\)"),
], ids=["item", "tolist", "numpy", "print", "format", "if", "float"])
def test_uncapturable_steps_fall_back_to_eager(body, match, capsys):
    x = tc.tensor(np.linspace(-1, 1, 12).reshape(4, 3).astype(np.float32))
    weights = []
    for compiled in (False, True):
        tc.manual_seed(0)
        model = nn.Linear(3, 1)
        opt = tc.optim.SGD(model.parameters(), lr=0.1)

        def step():
            opt.zero_grad()
            loss = model(x).pow(2).mean()
            body(loss)
            loss.backward()
            opt.step()
            return loss

        if compiled:
            step = tc.compile(step)
            step()
            with pytest.warns(CompileWarning, match=match) as record:
                step()
            assert "test_compile.py" in str(record[0].message)  # the user's line that did it
            assert not _replays(step)
        for _ in range(3 if compiled else 5):  # eager from now on, and still training
            step()
        weights.append(model.weight.detach().numpy().copy())
    np.testing.assert_array_equal(weights[0], weights[1])


def test_boolean_mask_indexing_falls_back():
    x = tc.tensor([1.0, -2.0, 3.0])

    @tc.compile
    def f(x):
        return x[x > 0].sum()

    f(x)
    with pytest.warns(CompileWarning, match="boolean-mask"):
        f(x)
    assert f(tc.tensor([5.0, 1.0, -1.0])).numpy() == 6.0


def test_fullgraph_raises_instead():
    @tc.compile(fullgraph=True)
    def f(x):
        return x * x.sum().item()

    x = tc.ones(3)
    f(x)
    with pytest.raises(RuntimeError, match="fullgraph"):
        f(x)


def test_a_returned_graph_without_backward_falls_back():
    w = tc.ones(3, requires_grad=True)

    @tc.compile
    def f(x):
        return (x * w).sum()

    f(tc.ones(3))
    with pytest.warns(CompileWarning, match="runs no backward"):
        f(tc.ones(3))
    f(tc.ones(3)).backward()  # eager: the graph is there
    np.testing.assert_array_equal(w.grad.numpy(), np.ones(3, np.float32))


def test_a_failed_check_raises_as_eager():
    emb = nn.Embedding(5, 2)

    @tc.compile
    def f(i):
        with tc.no_grad():
            return emb(i).sum()

    for _ in range(3):
        f(tc.tensor([1, 2]))
    with pytest.raises(IndexError, match="index out of range"):
        f(tc.tensor([1, 7]))


def test_a_branch_on_ignored_rows_runs_eagerly_when_it_changes(rng):
    """cross_entropy takes another path when some target is ignore_index: a replay that meets it after
    only random draws runs that call eagerly; the training stays equal to eager's."""
    def build():
        model = nn.Sequential(nn.Linear(5, 8), nn.Dropout(0.2), nn.Linear(8, 3))
        opt = tc.optim.SGD(model.parameters(), lr=0.1)
        return model, opt, _train_step(model, opt, F.cross_entropy)
    batches = _classes(rng, (6, 5), 3, count=8)
    batches[5] = (batches[5][0], tc.tensor([0, -100, 1, 2, -100, 0]))
    results = []
    for compiled in (False, True):
        tc.manual_seed(0)
        model, opt, step = build()
        if compiled:
            step = tc.compile(step)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            losses = [step(*b).detach().numpy().copy() for b in batches]
        results.append((losses, [p.detach().numpy().copy() for p in model.parameters()]))
    assert any("another result" in str(w.message) for w in caught)
    assert _replays(step)
    for a, b in zip(results[0][0] + results[0][1], results[1][0] + results[1][1]):
        if not np.array_equal(a, b):  # the eager rerun redrew the dropout masks of that call
            np.testing.assert_allclose(a, b, rtol=0.5, atol=0.5)


# ---- the API -------------------------------------------------------------------------------------
def test_torch_kwargs_are_accepted_or_refused_clearly():
    def f(x):
        return x + 1

    for kwargs in ({}, {"mode": "reduce-overhead"}, {"mode": "max-autotune"}, {"backend": "inductor"},
                   {"dynamic": False}, {"fullgraph": True}, {"options": {}}):
        g = tc.compile(f, **kwargs)
        assert g(tc.ones(2)).tolist() == [2.0, 2.0]
        assert g.__name__ == "f"
    assert tc.compile(f, disable=True) is f
    with pytest.raises(ValueError, match="unknown mode 'fast'"):
        tc.compile(f, mode="fast")
    with pytest.raises(NotImplementedError, match="dynamic=True"):
        tc.compile(f, dynamic=True)
    with pytest.raises(NotImplementedError, match="callable backend"):
        tc.compile(f, backend=lambda gm, inputs: gm)
    with pytest.raises(ValueError, match="unknown backend"):
        tc.compile(f, backend="tensorrt")
    with pytest.raises(RuntimeError, match="either mode or options"):
        tc.compile(f, mode="default", options={})
    with pytest.raises(TypeError, match="expected a function"):
        tc.compile(3)


def test_decorator_forms_and_methods(rng):
    class Trainer:
        def __init__(self):
            self.w = tc.ones(3)

        @tc.compile(mode="reduce-overhead")
        def scaled(self, x):
            return x * self.w

    t = Trainer()
    for _ in range(4):
        assert t.scaled(tc.full((3,), 2.0)).tolist() == [2.0, 2.0, 2.0]
    assert _replays(Trainer.scaled)
