"""Autograd semantics: the tape, accumulation, grad modes, hooks, Function,
gradcheck, anomaly detection, dtypes, creation, devices, numerical stability."""
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
from helpers import assert_close, to_np

import tinygrad_chain as tc


# ---- accumulation and .grad ----------------------------------------------------------------
def test_fan_out_accumulates():
    a = tc.tensor(1.0, requires_grad=True)
    b = a + a
    c = b + b
    c.backward()
    assert a.grad.item() == 4.0


def test_fan_out_through_shared_interior_node():
    x = tc.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    z = (y * y + y.sin()).sum()
    z.backward()
    assert_close(x.grad, 2 * 9 * np.array([1.0, 2.0]) + 3 * np.cos([3.0, 6.0]))


@pytest.mark.parametrize("n", [5, 70_000])  # below and above the cpp kernels' size thresholds
def test_product_gradients_never_share_memory(n):
    """The first-order product VJP passes the other factor on as the gradient when the upstream
    gradient is a sum's ones; nothing the user receives may share that memory."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    av, bv = rng.standard_normal(n).astype(np.float32), rng.standard_normal(n).astype(np.float32)
    a, b = tc.tensor(av, requires_grad=True), tc.tensor(bv, requires_grad=True)
    (a * b).sum().backward()
    assert_close(a.grad, bv)
    assert_close(b.grad, av)
    a.grad.zero_()
    b.grad.mul_(0)
    assert_close(a, av)  # writing the gradients left the factors alone
    assert_close(b, bv)
    ga, = tc.autograd.grad((a * b).sum(), [a])
    ga.add_(1)
    assert_close(b, bv)
    # the same tensor on both sides, a retained product, and broadcasting (no fast path)
    x = tc.tensor(av, requires_grad=True)
    y = x * x
    y.retain_grad()
    (y * x).sum().backward()
    assert_close(x.grad, 3 * av.astype(np.float64) ** 2, rtol=1e-5, atol=1e-5)
    assert_close(y.grad, av)
    y.grad.zero_()
    assert_close(x, av)
    col, row = tc.tensor(av[:3, None].copy(), requires_grad=True), tc.tensor(bv[:4].copy(), requires_grad=True)
    (col * row).sum().backward()
    tc_, tr = torch.tensor(av[:3, None].copy(), requires_grad=True), torch.tensor(bv[:4].copy(), requires_grad=True)
    (tc_ * tr).sum().backward()
    assert_close(col.grad, tc_.grad.numpy())
    assert_close(row.grad, tr.grad.numpy())


def test_grad_accumulates_until_zeroed():
    x = tc.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    (x * x).sum().backward()
    assert_close(x.grad, [4.0, 8.0])
    x.grad = None
    (x * 3).sum().backward()
    assert_close(x.grad, [3.0, 3.0])
    x.grad.zero_()
    (x * 1).sum().backward()
    assert_close(x.grad, [1.0, 1.0])


def test_grad_is_not_shared_between_leaves():
    # the same gradient array must not be handed to two .grad slots
    a = tc.tensor([1.0, 2.0], requires_grad=True)
    b = tc.tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()
    a.grad.add_(10.0)
    assert_close(b.grad, [1.0, 1.0])


def test_nonleaf_grad_none_unless_retained():
    x = tc.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    z = x * 3
    z.retain_grad()
    (y.sum() + (z * z).sum()).backward()
    assert y.grad is None and not y.is_leaf and x.is_leaf
    assert_close(z.grad, [6.0, 12.0])
    assert z.retains_grad and not y.retains_grad


def test_retain_grads_context():
    x = tc.tensor(2.0, requires_grad=True)
    with tc.autograd.retain_grads():
        p = x * x
        q = p + 1
    r = q * 3  # made outside: not retained
    r.backward()
    assert p.grad.item() == 3.0 and q.grad.item() == 3.0 and r.grad is None


def test_inplace_ops_on_interior_tensors_keep_gradients_right():
    # the in-place op's own node keeps self's old value (torch saves original self)
    x = tc.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.mul_(3)
    y.sum().backward()
    assert_close(x.grad, [6.0, 6.0])
    x = tc.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.mul_(x)                  # 2 x^2
    y.sum().backward()
    assert_close(x.grad, [4.0, 8.0])
    x = tc.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.fill_(3.0)
    (y * x).sum().backward()
    assert_close(x.grad, [3.0, 3.0])
    x = tc.tensor([1.0, 2.0], requires_grad=True)
    y = x.sin()                # sin saves its input, not y
    y.div_(2.0)
    y.sum().backward()
    assert_close(x.grad, np.cos([1.0, 2.0]) / 2)
    y = x.exp()                # exp saves y itself: changing it is an error, as in torch
    y.div_(2.0)
    with pytest.raises(RuntimeError, match="ExpBackward"):
        y.sum().backward()


# ---- hooks and detach ---------------------------------------------------------------------
def test_hooks_see_and_replace_gradients():
    x = tc.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    h = x.register_hook(lambda g: seen.append(to_np(g)))
    y = x * 2
    y.register_hook(lambda g: g * 10)
    y.sum().backward()
    assert_close(seen[0], [20.0, 20.0])
    assert_close(x.grad, [20.0, 20.0])
    h.remove()
    x.grad = None
    (x * 1).sum().backward()
    assert len(seen) == 1


def test_detach_cuts_the_graph_and_shares_memory():
    x = tc.tensor([1.0, 2.0], requires_grad=True)
    d = (x * 2).detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    y = (x * d).sum()
    y.backward()
    assert_close(x.grad, [2.0, 4.0])
    z = x.detach()
    with tc.no_grad():
        z[0] = 7.0
    assert x[0].item() == 7.0


# ---- grad modes ---------------------------------------------------------------------------------
def test_no_grad_and_enable_grad_contexts():
    x = tc.tensor([1.0], requires_grad=True)
    assert tc.is_grad_enabled()
    with tc.no_grad():
        assert not tc.is_grad_enabled()
        y = x * 2
        with tc.enable_grad():
            assert tc.is_grad_enabled()
            z = x * 2
    assert tc.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad and z.grad_fn is not None


def test_no_grad_and_enable_grad_decorators():
    @tc.no_grad()
    def f(x):
        return x * 2, tc.is_grad_enabled()

    @tc.enable_grad()
    def g(x):
        return x * 2

    x = tc.tensor([1.0], requires_grad=True)
    y, enabled = f(x)
    assert not enabled and not y.requires_grad and tc.is_grad_enabled()
    with tc.no_grad():
        assert g(x).requires_grad
    with tc.set_grad_enabled(False):
        assert not (x * 1).requires_grad
    assert tc.is_grad_enabled()


def test_no_grad_restores_on_exception():
    with pytest.raises(ValueError):
        with tc.no_grad():
            raise ValueError("boom")
    assert tc.is_grad_enabled()


# ---- autograd.grad and higher order -----------------------------------------------------------------
def test_autograd_grad_writes_nothing():
    x = tc.tensor([1.0, 2.0], requires_grad=True)
    (g,) = tc.autograd.grad((x ** 3).sum(), x)
    assert_close(g, [3.0, 12.0])
    assert x.grad is None


def test_autograd_grad_allow_unused():
    x = tc.tensor(1.0, requires_grad=True)
    unused = tc.tensor(1.0, requires_grad=True)
    with pytest.raises(RuntimeError, match="allow_unused=True"):
        tc.autograd.grad(x * 2, [x, unused])
    gx, gu = tc.autograd.grad(x * 2, [x, unused], allow_unused=True)
    assert gx.item() == 2.0 and gu is None


def test_create_graph_hessian_vector_product():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 3))
    A = a + a.T
    v = rng.standard_normal(3)
    x = tc.tensor(rng.standard_normal(3), dtype=tc.float64, requires_grad=True)
    At = tc.tensor(A, dtype=tc.float64)
    f = 0.5 * (x @ At @ x) + (x ** 3).sum()
    (g,) = tc.autograd.grad(f, x, create_graph=True)
    assert g.requires_grad
    (hv,) = tc.autograd.grad(g, x, grad_outputs=tc.tensor(v, dtype=tc.float64))
    H = A + np.diag(6 * to_np(x))
    assert_close(hv, H @ v, atol=1e-12, rtol=1e-12)


def test_backward_create_graph_then_grad_of_grad():
    x = tc.tensor(2.0, dtype=tc.float64, requires_grad=True)
    (x ** 4).backward(create_graph=True)
    g = x.grad
    assert g.requires_grad and g.item() == 32.0
    x.grad = None
    g.backward()
    assert x.grad.item() == 48.0


# ---- deep graphs and freeing -------------------------------------------------------------------------
def test_deep_chain_no_recursion_error():
    x = tc.tensor(1.0, dtype=tc.float64, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0000001
    y.backward()
    assert x.grad.item() == pytest.approx(1.0000001 ** 100_000, rel=1e-9)


def test_graph_freed_after_backward():
    x = tc.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()
    assert_close(x.grad, [2.0, 4.0])  # the failed call wrote nothing


def test_training_steps_free_their_graphs_by_reference_count():
    """The tape, the engine, the fused programs and the optimizer free what a step made by
    reference count: no node waits for the cyclic collector (which would hold its arrays, and make
    every step fault in fresh memory, until it runs). Double backward too."""
    import gc
    import weakref
    model = tc.nn.Sequential(tc.nn.Linear(20, 32), tc.nn.Tanh(), tc.nn.Linear(32, 5))
    opt = tc.optim.Adam(model.parameters(), lr=1e-3)
    x, y = tc.randn(16, 20), tc.randint(0, 5, (16,))
    nodes = []

    def graph(t):  # weak references to every node of t's graph
        stack, seen = [t.grad_fn], set()
        while stack:
            n = stack.pop()
            if type(n).__name__ == "Node" and id(n) not in seen:
                seen.add(id(n))
                nodes.append(weakref.ref(n))
                stack += list(n.parents)

    def step():
        opt.zero_grad()
        loss = tc.nn.functional.cross_entropy(model(x), y)
        graph(loss)
        loss.backward()
        opt.step()
        a = tc.randn(5, requires_grad=True)
        g, = tc.autograd.grad((a.tanh() ** 3).sum(), a, create_graph=True)
        graph(g)
        g.sum().backward()
        return loss.item()
    gc.disable()
    try:
        for _ in range(3):
            step()
        alive = [n for n in nodes if n() is not None]
        assert len(nodes) > 20 and not alive, f"{len(alive)} of {len(nodes)} nodes outlive their step"
    finally:
        gc.enable()


def test_retain_graph_allows_second_backward():
    x = tc.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert_close(x.grad, [4.0, 8.0])


def test_no_grad_records_nothing():
    x = tc.tensor([1.0, 2.0], requires_grad=True)
    with tc.no_grad():
        y = (x * x).exp().sum()
    assert y.grad_fn is None and not y.requires_grad
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


# ---- custom Function ------------------------------------------------------------------------------------
class Cube(tc.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x * x


class WrongCube(tc.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 2 * x * x  # wrong: should be 3 x^2


def test_custom_function():
    x = tc.tensor([1.0, -2.0], dtype=tc.float64, requires_grad=True)
    y = Cube.apply(x)
    assert y.requires_grad and y.grad_fn is not None
    y.sum().backward()
    assert_close(x.grad, [3.0, 12.0])
    assert tc.autograd.gradcheck(Cube.apply, (tc.tensor([0.5, -1.5], dtype=tc.float64, requires_grad=True),))
    with tc.no_grad():
        assert not Cube.apply(x).requires_grad


def test_gradcheck_catches_a_wrong_vjp():
    x = tc.tensor([0.5, -1.5], dtype=tc.float64, requires_grad=True)
    with pytest.raises(tc.autograd.GradcheckError, match="Jacobian mismatch"):
        tc.autograd.gradcheck(WrongCube.apply, (x,))
    assert tc.autograd.gradcheck(WrongCube.apply, (x,), raise_exception=False) is False


def test_gradgradcheck_catches_a_wrong_second_derivative():
    class StopGradInside(tc.autograd.Function):  # right first derivative, made of detached values
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * (3 * x * x).detach()

    x = tc.tensor([0.5, -1.5], dtype=tc.float64, requires_grad=True)
    assert tc.autograd.gradcheck(StopGradInside.apply, (x,))
    with pytest.raises(tc.autograd.GradcheckError):
        tc.autograd.gradgradcheck(StopGradInside.apply, (x,))


def test_detect_anomaly_names_the_op():
    x = tc.tensor([1.0, 1.0], requires_grad=True)
    with tc.autograd.detect_anomaly():
        assert tc.autograd.is_anomaly_enabled()
        u = (tc.tensor([float("nan"), 1.0]) * x).sum()
        with pytest.raises(RuntimeError, match="MulBackward.*nan"):
            u.backward()
    assert not tc.autograd.is_anomaly_enabled()
    with tc.autograd.set_detect_anomaly(True):
        v = (x - 2.0).sqrt().sum()   # sqrt of a negative: NaN in the backward of sqrt
        with pytest.raises(RuntimeError, match="SqrtBackward"):
            v.backward()


def test_detect_anomaly_off_lets_nan_through():
    x = tc.tensor([1.0, 1.0], requires_grad=True)
    (tc.tensor([float("nan"), 1.0]) * x).sum().backward()
    assert np.isnan(to_np(x.grad)[0])


# ---- dtypes ----------------------------------------------------------------------------------------------
def test_float32_stays_float32():
    x = tc.tensor([1.0, 2.0], requires_grad=True)
    assert x.dtype is tc.float32
    y = (x * 0.5 + 1e-3) / 3.0 - 2 ** x + x ** 2.5 + (1 - x)
    assert y.dtype is tc.float32
    y.sum().backward()
    assert x.grad.dtype is tc.float32
    z = tc.tensor([1.0, 2.0], requires_grad=True)
    (z * 2).backward(gradient=tc.tensor([1.0, 1.0], dtype=tc.float64))  # the seed is cast to the output's dtype
    assert z.grad.dtype is tc.float32


def test_python_floats_default_float32_and_ints_int64():
    assert tc.tensor(1.5).dtype is tc.float32
    assert tc.tensor([1, 2]).dtype is tc.int64
    assert tc.tensor([True]).dtype is tc.bool
    assert tc.tensor(np.array([1.0])).dtype is tc.float64  # NumPy's dtype is kept, as torch.tensor


def test_int_tensors_cannot_require_grad():
    with pytest.raises(RuntimeError, match="floating point"):
        tc.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError, match="floating point"):
        tc.tensor([1, 2]).requires_grad_()
    with pytest.raises(RuntimeError, match="floating point"):
        tc.tensor([True]).requires_grad_()


def test_int_division_gives_float32():
    a = tc.tensor([1, 2, 3])
    b = tc.tensor([2, 2, 2])
    assert (a / b).dtype is tc.float32
    assert_close(a / b, [0.5, 1.0, 1.5])
    assert (a * 0.5).dtype is tc.float32
    assert (a // b).dtype is tc.int64
    assert (a + b).dtype is tc.int64
    assert a.exp().dtype is tc.float32


def test_comparisons_are_bool_and_never_require_grad():
    x = tc.tensor([1.0, 2.0], requires_grad=True)
    for r in (x > 1, x == 2, x != 1, (x > 0) & (x < 2), ~(x > 1)):
        assert r.dtype is tc.bool and not r.requires_grad


def test_casts():
    x = tc.tensor([1.5, -2.5], requires_grad=True)
    assert x.double().dtype is tc.float64 and x.float().dtype is tc.float32
    assert x.long().dtype is tc.int64 and x.to(tc.int32).dtype is tc.int32
    assert x.to(tc.float64).to(tc.float32).dtype is tc.float32
    y = x.double()
    (y * y).sum().backward()
    assert x.grad.dtype is tc.float32
    assert_close(x.grad, [3.0, -5.0])


# ---- repr --------------------------------------------------------------------------------------------------
def test_repr():
    assert repr(tc.tensor([1.0, 2.0], device="cpu", requires_grad=True)) == "tensor([1., 2.], requires_grad=True)"
    assert repr(tc.tensor([1.0, 2.0], device="cpu")) == "tensor([1., 2.])"
    assert repr(tc.tensor([1, 2], device="cpu")) == "tensor([1, 2])"
    assert repr(tc.tensor(3.0, device="cpu")) == "tensor(3.)"
    assert "dtype=" in repr(tc.tensor([1.0], dtype=tc.float64, device="cpu"))
    assert "grad_fn=<MulBackward0>" in repr(tc.tensor([1.0], requires_grad=True, device="cpu") * 2)
    if tc.backends.resolve("cpu") != "numpy":  # the CPU backend "cpu" does not name shows itself
        assert repr(tc.tensor([1.0], device="numpy")) == "tensor([1.], device='numpy')"


# ---- creation ----------------------------------------------------------------------------------------------
def test_creation_functions(device):
    assert_close(tc.zeros(2, 3), np.zeros((2, 3)))
    assert tc.zeros((2, 3)).shape == (2, 3) and tc.zeros(2, 3).dtype is tc.float32
    assert_close(tc.ones(2), [1.0, 1.0])
    f = tc.full((2,), 7)
    assert f.dtype is tc.int64 and f.tolist() == [7, 7]
    assert tc.full((2,), 7.0).dtype is tc.float32
    assert tc.empty(3, 2).shape == (3, 2)
    assert tc.arange(5).tolist() == [0, 1, 2, 3, 4] and tc.arange(5).dtype is tc.int64
    assert tc.arange(0, 1, 0.25).dtype is tc.float32
    assert_close(tc.arange(1, 2, 0.25), [1.0, 1.25, 1.5, 1.75])
    assert_close(tc.linspace(0, 1, 5), np.linspace(0, 1, 5))
    assert_close(tc.eye(3), np.eye(3))
    assert tc.eye(2, 3).shape == (2, 3)
    x = tc.tensor([[1.0, 2.0]], dtype=tc.float64)
    for t in (tc.zeros_like(x), tc.ones_like(x), tc.full_like(x, 3.0), tc.empty_like(x), tc.rand_like(x),
              tc.randn_like(x)):
        assert t.shape == (1, 2) and t.dtype is tc.float64 and t.device == device
    r = tc.rand(1000)
    assert 0 <= to_np(r).min() and to_np(r).max() < 1 and r.dtype is tc.float32
    n = tc.randn(2000)
    assert abs(to_np(n).mean()) < 0.1 and abs(to_np(n).std() - 1) < 0.1
    i = tc.randint(0, 5, (100,))
    assert i.dtype is tc.int64 and set(i.tolist()) <= set(range(5))
    assert tc.zeros(2, requires_grad=True).requires_grad
    for t in (tc.zeros(1), tc.rand(1), tc.arange(3), tc.eye(2), tc.linspace(0, 1, 2)):
        assert t.device == device


def test_manual_seed_reproducible():
    tc.manual_seed(42)
    a = (tc.rand(5), tc.randn(5), tc.randint(0, 100, (5,)))
    tc.manual_seed(42)
    b = (tc.rand(5), tc.randn(5), tc.randint(0, 100, (5,)))
    for u, v in zip(a, b):
        assert u.tolist() == v.tolist()
    tc.manual_seed(43)
    assert tc.rand(5).tolist() != a[0].tolist()


def test_from_numpy_shares_memory(device):
    a = np.array([1.0, 2.0], dtype=np.float32)
    t = tc.from_numpy(a)
    assert t.dtype is tc.float32 and t.device == (device if device != "cupy" else "cpu")  # a CPU tensor
    a[0] = 5.0
    assert t[0].item() == 5.0
    t[1] = 9.0
    assert a[1] == 9.0
    assert not np.shares_memory(tc.tensor(a).numpy(), a)  # tc.tensor copies


def test_from_numpy_of_a_read_only_array_warns_once_and_reads(device):
    """As torch: a warning at from_numpy; the tensor reads the memory, and an in-place write fails without
    changing it."""
    a = np.array([1.0, 2.0], dtype=np.float32)
    a.flags.writeable = False
    with pytest.warns(UserWarning, match="not writable"):
        t = tc.from_numpy(a)
    assert (t * 2).tolist() == [2.0, 4.0]
    with pytest.raises(RuntimeError, match="read-only"):
        t.add_(1.0)
    assert a.tolist() == [1.0, 2.0]


def test_inspection():
    t = tc.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert t.shape == (2, 3) and t.ndim == 2 and t.size() == (2, 3) and t.size(1) == 3
    assert t.numel() == 6 and len(t) == 2 and t.dim() == 2
    assert t.tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    assert np.asarray(t).shape == (2, 3)
    assert t.numpy().dtype == np.float32
    assert t[1, 2].item() == 6.0 and isinstance(t[1, 2].item(), float)


# ---- devices --------------------------------------------------------------------------------------------------
def test_default_device_follows_fixture(device):
    assert tc.tensor([1.0]).device == device
    assert tc.get_default_device() == device


def test_to_device_round_trip(device):
    x = tc.tensor([1.0, 2.0], requires_grad=True)
    for name in tc.backends.available():
        y = x.to(name)
        assert y.device == name
        assert_close(y, [1.0, 2.0])
        (y * y).sum().backward()
    assert x.grad.device == device
    assert_close(x.grad, 2 * len(tc.backends.available()) * np.array([1.0, 2.0]))
    assert x.to(device) is x and x.to(tc.float32) is x   # nothing to do: self, as torch
    assert x.to("cpu").device == tc.device("cpu")
    y = x.to(device, tc.float64)
    assert y.device == device and y.dtype is tc.float64 and y.requires_grad


def test_set_default_device_and_aliases():
    prev = tc.get_default_device()
    try:
        tc.set_default_device("numpy")
        assert tc.zeros(1).device == "numpy"
        tc.set_default_device("cpu")
        assert tc.zeros(1).device == tc.backends.resolve("cpu") and str(tc.zeros(1).device) == "cpu"
        with pytest.raises(RuntimeError, match="unknown device"):
            tc.set_default_device("tpu")
    finally:
        tc.set_default_device(prev)


def test_env_var_sets_default_device():
    code = "import tinygrad_chain as tc; print(tc.tensor([1.0]).device, tc.get_default_device())"
    env = dict(os.environ, TINYGRAD_CHAIN_DEVICE="numpy")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == 2 * [str(tc.device("numpy"))]  # "numpy", or "cpu" where "cpu" names numpy
    env["TINYGRAD_CHAIN_DEVICE"] = "cpu"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["cpu", "cpu"]


# ---- numerical stability ------------------------------------------------------------------------------------
EXTREME = np.array([[-1e4, -50.0, 0.0, 50.0, 1e4], [1e4, 1e4, -1e4, 3.0, -3.0]])


def _stable_exprs(tc):
    F = tc.nn.functional
    return {
        "softmax": lambda x: (x.softmax(-1) * tc.arange(5, dtype=x.dtype)).sum(),
        "log_softmax": lambda x: x.log_softmax(1).sum(),
        "logsumexp": lambda x: x.logsumexp(1).sum(),
        "sigmoid": lambda x: x.sigmoid().sum(),
        "softplus": lambda x: F.softplus(x).sum(),
        "cross_entropy_like": lambda x: -x.log_softmax(1).gather(1, tc.tensor([[4], [2]])).mean(),
        "log_sigmoid": lambda x: (x.sigmoid() + 0.0).sum(),
        "tanh": lambda x: x.tanh().sum(),
    }


@pytest.mark.parametrize("dtype", [tc.float32, tc.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", list(_stable_exprs(tc)))
def test_stable_for_extreme_inputs(name, dtype):
    fn = _stable_exprs(tc)[name]
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # a RuntimeWarning (overflow, invalid) fails the test
        with np.errstate(all="raise"):
            x = tc.tensor(EXTREME, dtype=dtype, requires_grad=True)
            y = fn(x)
            y.backward()
    assert np.isfinite(to_np(y)).all(), f"{name} forward: {to_np(y)}"
    assert np.isfinite(to_np(x.grad)).all(), f"{name} gradient: {to_np(x.grad)}"


def test_stable_values():
    x = tc.tensor([[-1e4, 0.0, 1e4]], dtype=tc.float32)
    assert_close(x.softmax(1), [[0.0, 0.0, 1.0]])
    assert_close(x.log_softmax(1), [[-2e4, -1e4, 0.0]])
    assert_close(x.logsumexp(1), [1e4])
    assert_close(x.sigmoid(), [[0.0, 0.5, 1.0]])
    assert_close(tc.nn.functional.softplus(x), [[0.0, np.log(2), 1e4]])


def test_kinks_have_zero_gradient_at_zero():
    for fn in (lambda x: x.abs(), lambda x: x.relu(), lambda x: x.norm(), lambda x: x.norm(dim=0),
               lambda x: x.norm(p=1)):
        x = tc.zeros(3, requires_grad=True)
        fn(x).sum().backward()
        assert to_np(x.grad).tolist() == [0.0, 0.0, 0.0]


def test_where_does_not_leak_nan():
    x = tc.tensor([-1.0, 4.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = tc.where(x > 0, x.sqrt(), 0.0)
        y.sum().backward()
        assert_close(x.grad, [0.0, 0.25])
        x = tc.tensor([-1.0, 0.0, 2.0], requires_grad=True)
        tc.where(x > 0, x.log(), tc.zeros(3)).sum().backward()
        assert_close(x.grad, [0.0, 0.0, 0.5])
        x = tc.tensor([0.0, 2.0], requires_grad=True)
        tc.where(x != 0, 1.0 / x, 0.0).sum().backward()
        assert_close(x.grad, [0.0, -0.25])
        x = tc.tensor([0.0, 4.0], requires_grad=True)
        tc.where(x > 0, x ** 0.5, 0.0).sum().backward()
        assert_close(x.grad, [0.0, 0.25])


def test_backward_restores_the_garbage_collector():
    """backward pauses the cyclic collector while it walks the tape, and restores its state,
    also when a hook raises."""
    import gc
    x = tc.tensor([1.0, 2.0], requires_grad=True)
    assert gc.isenabled()
    (x * x).sum().backward()
    assert gc.isenabled()
    gc.disable()
    try:
        (x * x).sum().backward()
        assert not gc.isenabled()
    finally:
        gc.enable()
    y = x * 2
    y.register_hook(lambda g: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        y.sum().backward()
    assert gc.isenabled()


def test_indexing_gradients_are_summed_as_pieces():
    """Gradients of x[i] are kept as pieces and built once (autograd/indexed_grad.py): the
    result matches torch for overlapping slices, repeated advanced indices, a retained or
    hooked intermediate, a leaf, anomaly mode and autograd.grad."""
    torch = pytest.importorskip("torch")
    v = np.random.default_rng(1).standard_normal((5, 3)).astype(np.float32)

    def run(T, x):
        y = x * 2
        y.retain_grad()
        seen = []
        y.register_hook(lambda g: seen.append(type(g).__name__))
        total = sum((y[i] * (i + 1)).sum() for i in range(5)) + y[1:4].sum() + y[[0, 0, 4]].sum()
        total = total + (x[2] * x[2]).sum() + x[..., 1:].sum()
        return total, y, seen

    x = tc.tensor(v, requires_grad=True)
    tx = torch.tensor(v, requires_grad=True)
    total, y, seen = run(tc, x)
    ttotal, ty, _ = run(torch, tx)
    total.backward()
    ttotal.backward()
    assert_close(x.grad, tx.grad.numpy())
    assert_close(y.grad, ty.grad.numpy())
    assert seen == ["Tensor"]  # hooks get a whole tensor
    x2 = tc.tensor(v, requires_grad=True)
    with tc.autograd.detect_anomaly():
        g, = tc.autograd.grad(run(tc, x2)[0], [x2])
    assert_close(g, tx.grad.numpy())
    # create_graph: the indexing VJP is a recorded op, so second derivatives flow through it
    x3 = tc.tensor(v.astype(np.float64), requires_grad=True)
    g, = tc.autograd.grad((x3[1] ** 3).sum(), [x3], create_graph=True)
    g.sum().backward()
    want = np.zeros((5, 3))
    want[1] = 6 * v[1].astype(np.float64)
    assert_close(x3.grad, want)


def test_shared_weight_gradient_is_one_product():
    """x (batch..., m, k) @ w (k, n): w's gradient sums every batch element's x_i^T g_i (as one GEMM
    over the folded rows), also for a non-contiguous x; matches torch."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    xv, wv = rng.standard_normal((4, 6, 3, 5)).astype(np.float32), rng.standard_normal((5, 7)).astype(np.float32)
    x, w = tc.tensor(xv, requires_grad=True), tc.tensor(wv, requires_grad=True)
    tx, tw = torch.tensor(xv, requires_grad=True), torch.tensor(wv, requires_grad=True)
    (x.transpose(0, 1) @ w).sin().sum().backward()
    (tx.transpose(0, 1) @ tw).sin().sum().backward()
    assert_close(w.grad, tw.grad.numpy(), atol=1e-5)
    assert_close(x.grad, tx.grad.numpy(), atol=1e-5)


def test_first_order_fast_path_gives_0d_gradients_as_arrays():
    """The product's fast VJP on 0-d operands: NumPy answers with a scalar, which a kept interior
    .grad then received, and the next backward could not accumulate into it."""
    x, y = tc.tensor(3.0, requires_grad=True), tc.tensor(1.0, requires_grad=True)
    with tc.autograd.retain_grads():
        u = x ** 2
        p = y * u
        g = p ** 2
    g.backward(retain_graph=True)
    g.backward()
    assert u.grad.item() == 2 * 2 * 9.0 * 1.0  # dg/du = 2p * y, twice
    assert x.grad.item() == 2 * 2 * (9.0 * 2 * 3.0)  # dg/dx = 2p * y * 2x = 108, twice


def test_backward_in_threads_leaves_the_garbage_collector_on():
    """Walks in several threads at once: the collector is paused while any runs and is on
    again once all have finished, whatever their order."""
    import gc
    import threading
    start = threading.Barrier(4)

    def walk():
        x = tc.tensor([1.0, 2.0], requires_grad=True)
        start.wait()
        for _ in range(200):
            (x * x).sum().backward()

    threads = [threading.Thread(target=walk) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert gc.isenabled()
