"""Training from several Python threads (issue 12, part 3).

N threads, each training its own model, must give bit-identical results to the same trainings
run one after another. What broke: optimizer temporaries cached per backend, so shared by every
optimizer and thread (and never freed), and the fusion layer's registry of pending expressions,
iterated by one thread while another added to it. Threads switch every 10 us here, so that they
interleave inside every step.
"""
import collections
import gc
import sys
import threading
import tracemalloc

import numpy as np
import pytest
from helpers import to_np

import tinygrad_chain as tc
from tinygrad_chain import backends
from tinygrad_chain.autograd import engine, tensor_core
from tinygrad_chain.backends import lazy


@pytest.fixture(autouse=True)
def fast_switching():
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(previous)


def run_threads(fns):
    """fn() for each fn, each in its own thread, all started together; the first error re-raised."""
    results, errors = [None] * len(fns), []
    start = threading.Barrier(len(fns))

    def body(i, fn):
        try:
            start.wait()
            results[i] = fn()
        except BaseException as e:  # noqa: BLE001  (re-raised in the caller's thread)
            errors.append(e)

    threads = [threading.Thread(target=body, args=(i, fn)) for i, fn in enumerate(fns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def assert_identical(got, want):
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype and np.array_equal(g, w, equal_nan=True), np.max(np.abs(g - w))


# ---- optimizers -----------------------------------------------------------------------
OPTIMIZERS = {
    "adam": lambda ps: tc.optim.Adam(ps, lr=1e-2, weight_decay=0.1),
    "adam_maximize": lambda ps: tc.optim.Adam(ps, lr=1e-2, weight_decay=0.1, maximize=True),
    "adamw_amsgrad": lambda ps: tc.optim.AdamW(ps, lr=1e-2, amsgrad=True),
    "sgd_nesterov": lambda ps: tc.optim.SGD(ps, lr=1e-2, momentum=0.9, nesterov=True, weight_decay=0.1),
    "sgd_dampening": lambda ps: tc.optim.SGD(ps, lr=1e-2, momentum=0.9, dampening=0.3),
}


def optimizer_run(device, name, seed, steps=150):
    """Steps of optimizer `name` on parameters of the same shapes in every thread (what the
    backend-wide scratch cache was keyed by), from fixed gradients."""
    rng = np.random.default_rng(seed)
    shapes = [(1000,), (30, 40), (7,)]
    params = [tc.tensor(rng.standard_normal(s).astype(np.float32), device=device, requires_grad=True)
              for s in shapes]
    grads = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    opt = OPTIMIZERS[name](params)
    for i in range(steps):
        for p, g in zip(params, grads):
            p.grad = tc.tensor(g * (1 + i % 3), device=device)
        opt.step()
    return [p.detach().numpy().copy() for p in params]


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizers_in_threads_match_sequential_runs(device, name):
    want = [optimizer_run(device, name, seed) for seed in range(4)]
    got = run_threads([lambda seed=seed: optimizer_run(device, name, seed) for seed in range(4)])
    for g, w in zip(got, want):
        assert_identical(g, w)


def mlp_run(device, seed, steps=10):
    """A small MLP training: forward, cross-entropy, backward (fused on cpp: 128 x 512
    activations reach the fusion threshold) and Adam steps."""
    rng = np.random.default_rng(seed)
    x = tc.tensor(rng.standard_normal((128, 32)).astype(np.float32), device=device)
    y = tc.tensor(rng.integers(0, 10, 128), device=device)
    model = tc.nn.Sequential(tc.nn.Linear(32, 512), tc.nn.Tanh(), tc.nn.Linear(512, 10))
    with tc.no_grad():  # the global RNG drew the initial weights in whatever order threads ran
        for p in model.parameters():
            p.copy_(tc.tensor((rng.standard_normal(p.shape) * 0.1).astype(np.float32), device=device))
    opt = tc.optim.Adam(model.parameters(), lr=1e-2, weight_decay=0.01)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = tc.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.detach().numpy().copy())
    return losses + [p.detach().numpy().copy() for p in model.parameters()]


def test_models_trained_in_threads_match_sequential_runs(device):
    want = [mlp_run(device, seed) for seed in range(3)]
    got = run_threads([lambda seed=seed: mlp_run(device, seed) for seed in range(3)])
    for g, w in zip(got, want):
        assert_identical(g, w)


def test_optimizer_scratch_memory_goes_with_the_optimizer(device):
    """Temporaries belong to the optimizer: models of ever new shapes, created, stepped and
    dropped, leave nothing behind (400 x k weights stay under the cpp device's C++ step)."""
    x = tc.randn(4, 400)

    def train_once(k):
        model = tc.nn.Linear(400, k)
        for opt in (tc.optim.Adam(model.parameters(), weight_decay=0.1),
                    tc.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=0.1)):
            opt.zero_grad()
            model(x).sum().backward()
            opt.step()

    train_once(1)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for k in range(2, 42):
            train_once(k)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 256 << 10, f"{grown / 2**20:.2f} MiB still held"  # a shared cache held 2.8 MiB


# ---- the fusion layer ---------------------------------------------------------------
def test_fusion_and_optimizer_stress_from_four_threads(device):
    """Two threads write their own tensors in place, read a shared one lazily and step an
    optimizer; two more keep lazy reads of the shared tensor pending. Every value read must be
    the one eager code would give, and each writer's training must match its run alone."""
    n = 70_000  # over the cpp device's fusion threshold
    base = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    shared = tc.tensor(base, device=device)
    writers_done = threading.Event()

    def writer(seed, steps=60):
        rng = np.random.default_rng(seed)
        own = tc.zeros(n, device=device)
        p = tc.tensor(rng.standard_normal(n).astype(np.float32) * 0.1, device=device, requires_grad=True)
        opt = tc.optim.Adam([p], lr=1e-2)
        kept = collections.deque(maxlen=32)  # pending reads of `own`, each before later writes
        for i in range(1, steps + 1):
            own.add_(1)
            y = shared * 2 + own
            kept.append((i, y))
            opt.zero_grad()
            (p * y).tanh().sum().backward()
            opt.step()
        for i, y in kept:
            np.testing.assert_allclose(y.numpy(), base * 2 + np.float32(i), rtol=1e-6)
        return p.detach().numpy().copy()

    def reader(k, most=400):
        kept = collections.deque(maxlen=64)
        for _ in range(most):
            kept.append((shared + float(k)).exp())
            if writers_done.is_set():
                break
        want = np.exp(base.astype(np.float64) + k)
        for e in kept:
            np.testing.assert_allclose(e.numpy(), want, rtol=1e-6)

    def writers_then_signal(seed):
        try:
            return writer(seed)
        finally:
            writers_done.set()

    alone = [writer(seed) for seed in (1, 2)]
    got = run_threads([lambda: writers_then_signal(1), lambda: writer(2), lambda: reader(1), lambda: reader(2)])
    np.testing.assert_array_equal(got[0], alone[0])
    np.testing.assert_array_equal(got[1], alone[1])


def test_fusion_stores_only_the_intermediates_something_holds(device, monkeypatch):
    """fusion decides with reference counts which pending nodes a program writes out; this
    pins the counting on this Python (a version that counted fewer would store too little)."""
    b = backends.get(device)
    if not (getattr(b, "fused_ops", None) and lazy.config.enabled):
        pytest.skip("no fusion on this device")
    outputs = []
    real = type(b).run_fused

    def spy(self, code, inputs, consts, outs, *rest, **kw):
        outputs.append(len(outs))
        return real(self, code, inputs, consts, outs, *rest, **kw)
    monkeypatch.setattr(type(b), "run_fused", spy)
    x, w, c = (tc.randn(70_000) for _ in range(3))
    t = x * w + c       # held: stored; x * w, held by nothing but t's expression: not stored
    u = t.tanh()
    u.numpy()
    assert outputs == [2]
    np.testing.assert_allclose(t.numpy(), x.numpy() * w.numpy() + c.numpy(), rtol=1e-6)


# ---- the engine's ownership rule ------------------------------------------------------
def test_a_gradient_array_held_elsewhere_is_copied_into_grad(device):
    """The product's VJP hands on the other factor's array when the upstream gradient is one:
    the engine must see that y holds it and give x.grad a copy (it is later written in place)."""
    x = tc.tensor(np.arange(5, dtype=np.float32), requires_grad=True)
    y = tc.tensor(np.arange(5, dtype=np.float32) + 10, requires_grad=True)
    (x * y).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), y.detach().numpy())
    x.grad.add_(1)
    y.grad.add_(1)
    np.testing.assert_array_equal(y.detach().numpy(), np.arange(5, dtype=np.float32) + 10)
    np.testing.assert_array_equal(x.detach().numpy(), np.arange(5, dtype=np.float32))


def test_a_gradient_is_copied_only_when_its_array_may_be_shared(device):
    g = tc.randn(4)
    assert engine._owned(g, set()) is g               # made in this pass: nothing else holds it
    assert engine._owned(g, {id(g._data)}) is not g   # another .grad's already, or a seed
    lent = tensor_core.lent(g._data, g._b)            # an input's array, handed on by a VJP
    assert engine._owned(lent, set()) is not lent
    view = g[1:]
    assert engine._owned(view, set()) is not view


def test_grads_from_hooks_and_functions_are_not_the_callers_memory(device):
    """A hook's replacement and a Function's backward result may be tensors the caller keeps:
    the .grad is a copy, so accumulating into it leaves them alone."""
    kept = tc.full((3,), 5.0)
    x = tc.ones(3, requires_grad=True)
    y = x * 2.0
    y.register_hook(lambda g: kept)
    y.sum().backward()
    x.grad.add_(1.0)
    assert to_np(kept).tolist() == [5.0] * 3 and to_np(x.grad).tolist() == [11.0] * 3

    class Lends(tc.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 1.0

        @staticmethod
        def backward(ctx, g):
            return kept
    z = tc.ones(3, requires_grad=True)
    Lends.apply(z).sum().backward()
    z.grad.add_(1.0)
    assert to_np(kept).tolist() == [5.0] * 3 and to_np(z.grad).tolist() == [6.0] * 3


# ---- grad mode ------------------------------------------------------------------------
def test_grad_mode_is_per_thread(device):
    """As in torch: a thread starts with grad enabled, whatever other threads set meanwhile."""
    x = tc.ones(3, requires_grad=True)
    entered, checked = threading.Event(), threading.Event()

    def no_grad_thread():
        with tc.no_grad():
            entered.set()
            checked.wait(5)
            assert not tc.is_grad_enabled() and not (x * 2).requires_grad
        tc.set_grad_enabled(False)  # the function form, left switched off in this thread only

    def grad_thread():
        entered.wait(5)
        try:
            assert tc.is_grad_enabled() and (x * 2).requires_grad
            with tc.autograd.retain_grads():
                assert tc.autograd.grad_mode.state.retain_all
        finally:
            checked.set()

    with tc.no_grad():
        run_threads([no_grad_thread, grad_thread])
        assert not tc.is_grad_enabled()
        assert run_threads([lambda: tc.is_grad_enabled() and (x * 2).requires_grad]) == [True]
    assert tc.is_grad_enabled() and not tc.autograd.grad_mode.state.retain_all


# ---- several threads on one model, one graph each, the settings they share ------------
def test_shared_model_inference_from_threads_matches_one_thread(device):
    tc.manual_seed(0)
    model = tc.nn.Sequential(tc.nn.Linear(64, 256), tc.nn.GELU(), tc.nn.LayerNorm(256), tc.nn.Linear(256, 10)).eval()
    inputs = [tc.randn(96, 64) for _ in range(4)]

    def infer(x):
        with tc.inference_mode():
            return [model(x).softmax(-1).numpy().copy() for _ in range(5)]
    want = [infer(x) for x in inputs]
    got = run_threads([lambda x=x: infer(x) for x in inputs])
    for g, w in zip(got, want):
        assert_identical(g, w)


PASSES = 30


def test_backward_from_threads_on_separate_graphs(device):
    """Each thread its own graph, bit for bit as alone; a leaf they share accumulates every thread's gradient."""
    shared = tc.ones(200, requires_grad=True)

    def graph(seed):
        rng = np.random.default_rng(seed)
        own = tc.tensor(rng.standard_normal((200, 300)).astype(np.float32), requires_grad=True)
        for _ in range(PASSES):
            own.grad = None
            ((own.tanh() * 3).sum(1) @ (shared * 2)).backward()
        return own.grad.numpy().copy()
    want = [graph(seed) for seed in range(4)]
    shared.grad = None
    got = run_threads([lambda seed=seed: graph(seed) for seed in range(4)])
    for g, w in zip(got, want):
        assert_identical([g], [w])
    # d/dshared of own.tanh()*3 summed, dotted with shared*2: 2 * rowsums; every thread's PASSES passes add up
    total = sum(2 * (np.tanh(np.random.default_rng(s).standard_normal((200, 300)).astype(np.float32)) * 3).sum(1)
                for s in range(4)) * PASSES
    np.testing.assert_allclose(shared.grad.numpy(), total, rtol=1e-4)


def test_first_use_of_a_device_from_threads_makes_one_backend(monkeypatch, device):
    monkeypatch.setattr(backends, "_loaded", {})
    monkeypatch.setattr(backends, "_failures", {})
    got = run_threads([lambda: backends.get("numpy") for _ in range(8)])
    assert all(b is got[0] for b in got)


def test_default_dtype_and_seed_are_process_wide_as_in_torch(device):
    previous = tc.get_default_dtype()
    tc.set_default_dtype(tc.float64)
    try:
        assert run_threads([lambda: tc.zeros(1).dtype]) == [tc.float64]
    finally:
        tc.set_default_dtype(previous)
    run_threads([lambda: tc.manual_seed(123)])
    a = tc.randn(5).numpy().copy()
    tc.manual_seed(123)
    np.testing.assert_array_equal(tc.randn(5).numpy(), a)


def test_inference_mode_is_per_thread(device):
    inside = threading.Event()
    release = threading.Event()

    def holder():
        with tc.inference_mode():
            inside.set()
            release.wait(5)
            assert tc.is_inference_mode_enabled() and not tc.is_grad_enabled()

    def other():
        inside.wait(5)
        try:
            return tc.is_inference_mode_enabled(), tc.is_grad_enabled()
        finally:
            release.set()
    assert run_threads([holder, other])[1] == (False, True)
    with tc.inference_mode(False):
        assert tc.is_grad_enabled() and not tc.is_inference_mode_enabled()

    @tc.inference_mode
    def bare():
        return tc.is_inference_mode_enabled(), (tc.ones(1, requires_grad=True) * 2).requires_grad
    assert bare() == (True, False) and not tc.is_inference_mode_enabled()


def test_compiled_steps_traced_in_threads_at_once(device):
    """Each thread compiles its own training step and all trace together: each trace records its own
    step, and none leaves its recorders on the backends (two traces undid each other's shadows)."""
    b = backends.get(device)
    before = dict(vars(b))
    start = threading.Barrier(4)

    def train(seed, compiled, steps=5):
        rng = np.random.default_rng(seed)
        model = tc.nn.Sequential(tc.nn.Linear(16, 32), tc.nn.Tanh(), tc.nn.Linear(32, 4))
        with tc.no_grad():
            for p in model.parameters():
                p.copy_(tc.tensor((rng.standard_normal(p.shape) * 0.3).astype(np.float32)))
        opt = tc.optim.SGD(model.parameters(), lr=0.1)
        x, y = tc.tensor(rng.standard_normal((8, 16)).astype(np.float32)), tc.tensor(rng.integers(0, 4, 8))

        def step(x, y):
            opt.zero_grad()
            loss = tc.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss
        fn = tc.compile(step) if compiled else step
        losses = []
        for _ in range(steps):
            if compiled:
                start.wait()  # the second call of each traces: all four at once
            losses.append(fn(x, y).item())
        return losses + [p.detach().numpy().copy() for p in model.parameters()]
    want = [train(seed, False) for seed in range(4)]
    sys.setswitchinterval(1e-6)
    for _ in range(5):  # the traces overlap differently each time
        got = run_threads([lambda seed=seed: train(seed, True) for seed in range(4)])
        shadows = [k for k, v in vars(b).items() if hasattr(type(b), k) and before.get(k) is not v]
        assert not shadows, shadows[:5]
    for g, w in zip(got, want):
        assert g[:5] == pytest.approx(w[:5], rel=1e-5)
        for gp, wp in zip(g[5:], w[5:]):
            np.testing.assert_allclose(gp, wp, rtol=1e-5, atol=1e-6)
