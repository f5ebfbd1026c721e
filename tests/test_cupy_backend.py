"""The "cupy" device on a real GPU: it matches the NumPy reference.

Every fused kernel is checked against the numpy backend (forward and
backward, float32 and float64, with tolerances set by the dtype), then whole
models through autograd, seeding, device moves and mixing errors, and the
memory figures. Without a usable GPU the module is skipped with the reason.
The whole op-database suite also runs on the GPU with
TINYGRAD_CHAIN_TEST_DEVICE=cupy (benchmarks/gpu/run_gpu_checks.sh).
"""
import numpy as np
import pytest

import tinygrad_chain as tc
from tinygrad_chain import backends
from tinygrad_chain.backends import formulas, lazy

if not tc.cuda.is_available():
    pytest.skip(f"no usable GPU: {tc.cuda.unavailable_reason()}", allow_module_level=True)

import cupy  # noqa: E402  (only with a GPU)

NP = backends.get("numpy")
CP = backends.get("cupy")
# float32 kernels differ from NumPy's in rounding order and libm; float64 only in the last bits
TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-11, atol=1e-13)}
DTYPES = [np.float32, np.float64]


@pytest.fixture(autouse=True)
def device():
    """Overrides the all-devices fixture: each test names its devices."""
    tc.manual_seed(0)
    yield "cupy"


def close(gpu, ref, dtype, scale=1.0):
    out = CP.to_numpy(gpu)
    assert out.dtype == np.asarray(ref).dtype, (out.dtype, np.asarray(ref).dtype)
    assert out.shape == np.shape(ref)
    tol = TOL[dtype]
    np.testing.assert_allclose(out, ref, rtol=tol["rtol"] * scale, atol=tol["atol"] * scale, equal_nan=True)


def both(fn, *arrays):
    """fn(backend, *native arrays) on numpy and on cupy: (cupy result, numpy result)."""
    return fn(CP, *[CP.asarray(a) for a in arrays]), fn(NP, *arrays)


def data(rng, shape, dtype, scale=3.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


# ---- fused elementwise kernels ------------------------------------------------
# every activation of backends/formulas.py both ways, at its default parameters and at others
PARAMS = {"leaky_relu": [(0.01,), (0.1,)], "softplus": [(1.0, 20.0), (2.5, 4.0)], "elu": [(1.0,), (0.3,)]}
ACTS = [(a.name, params) for a in formulas.ACTS for params in PARAMS.get(a.name, [()])]
UNARY = {f"{name}{params}": (lambda b, a, name=name, params=params: b.act(name, a, *params))
         for name, params in ACTS}
UNARY["erf"] = lambda b, a: b.unary("erf", a)
BACKWARD = {f"{name}{params}": (lambda b, g, a, name=name, params=params: b.act_backward(
    name, g, b.act(name, a, *params) if formulas.ACT[name].saves == "y" else a, *params)) for name, params in ACTS}


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name", list(UNARY))
def test_unary_kernels_match_numpy(name, dtype, rng):
    a = data(rng, (37, 129), dtype, 6.0)
    a[0, :6] = [0.0, -0.0, 50.0, -50.0, 200.0, -200.0]  # signs of zero and the saturated tails
    a[1, 0] = np.nan
    gpu, ref = both(UNARY[name], a)
    close(gpu, ref, dtype, scale=5.0 if name == "erf" else 1.0)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name", list(BACKWARD))
def test_backward_kernels_match_numpy(name, dtype, rng):
    a, g = data(rng, (64, 70), dtype, 5.0), data(rng, (64, 70), dtype, 1.0)
    a[0, :4] = [0.0, 30.0, -30.0, 100.0]
    gpu, ref = both(BACKWARD[name], g, a)
    close(gpu, ref, dtype, scale=5.0)


def test_kernels_take_strided_and_broadcast_inputs(rng):
    a = data(rng, (40, 30), np.float32)
    g = data(rng, (30,), np.float32)  # broadcast along rows
    gpu, ref = both(lambda b, g, a: b.sigmoid_backward(g, b.sigmoid(b.transpose(a, (1, 0))).T), g, a)
    close(gpu, ref, np.float32)


def test_integer_and_half_inputs_use_the_composed_defaults(rng):
    i = rng.integers(-5, 5, (10,)).astype(np.int64)
    gpu, ref = both(lambda b, a: b.relu(a), i)
    np.testing.assert_array_equal(CP.to_numpy(gpu), ref)
    h = data(rng, (10,), np.float16)
    gpu, ref = both(lambda b, a: b.sigmoid(a), h)
    np.testing.assert_allclose(CP.to_numpy(gpu), ref, rtol=2e-3, atol=1e-3)


# ---- row-wise kernels -----------------------------------------------------------------
# (rows, cols) shapes that hit one warp, several warps, the strided loop and the long-row fallback
SHAPES = [(5, 7, 3), (8, 1000, 2), (3, 2, 5000), (2, 70000), (4, 1)]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("log", [False, True], ids=["softmax", "log_softmax"])
def test_softmax_forward_backward_match_numpy(shape, log, dtype, rng):
    a, g = data(rng, shape, dtype, 20.0), data(rng, shape, dtype, 1.0)
    a.flat[0] = 1e4  # no overflow: the row max is subtracted
    for axis in range(-1, len(shape)):
        fwd = (lambda b, a: b.log_softmax(a, axis)) if log else (lambda b, a: b.softmax(a, axis))
        gpu, ref = both(fwd, a)
        close(gpu, ref, dtype, scale=10.0)
        bwd = ((lambda b, g, y: b.log_softmax_backward(g, y, axis)) if log
               else (lambda b, g, y: b.softmax_backward(g, y, axis)))
        gpu, ref = both(bwd, g, ref)
        close(gpu, ref, dtype, scale=10.0)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("axis", [None, (0,), (1,), (2,), (0, 2), (1, 2)], ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
def test_logsumexp_matches_numpy(axis, keepdims, dtype, rng):
    a = data(rng, (6, 50, 9), dtype, 30.0)
    a[0, :, 0] = -np.inf  # a row of -inf gives -inf, not NaN
    a[1, 3, 1] = np.inf
    gpu, ref = both(lambda b, a: b.logsumexp(a, axis, keepdims), a)
    close(gpu, ref, dtype, scale=10.0)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_cross_entropy_kernels_match_numpy(dtype, rng):
    logits = data(rng, (33, 10), dtype, 4.0)
    target = rng.integers(0, 10, 33).astype(np.int64)
    target[3] = -100
    (gl, glse), (rl, rlse) = both(lambda b, x, t: b.cross_entropy(x, t, -100), logits, target)
    close(gl, rl, dtype, scale=10.0)
    close(glse, rlse, dtype, scale=10.0)
    g = data(rng, (33,), dtype, 1.0)
    gpu, ref = both(lambda b, g, x, lse, t: b.cross_entropy_backward(g, x, lse, t, -100), g, logits, rlse, target)
    close(gpu, ref, dtype, scale=10.0)


# ---- optimizer steps ---------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("momentum,nesterov,wd", [(0.0, False, 0.0), (0.0, False, 0.01), (0.9, False, 0.0),
                                                  (0.9, True, 0.01)])
def test_sgd_step_matches_numpy(momentum, nesterov, wd, dtype, rng):
    p = data(rng, (300,), dtype, 1.0)
    pc, bc, pn, bn = CP.asarray(p.copy()), None, p.copy(), None
    for step in range(3):
        g = data(rng, (300,), dtype, 1.0)
        bc = CP.sgd_step(pc, CP.asarray(g), bc, 0.1, momentum, 0.1, nesterov, wd)
        bn = NP.sgd_step(pn, g, bn, 0.1, momentum, 0.1, nesterov, wd)
        close(pc, pn, dtype)
        assert (bc is None) == (bn is None)
        if bn is not None:
            close(bc, bn, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("amsgrad,decoupled,wd,maximize", [(False, False, 0.0, False), (False, False, 0.01, False),
                                                           (True, True, 0.01, False), (False, True, 0.0, True)])
def test_adam_step_matches_numpy(amsgrad, decoupled, wd, maximize, dtype, rng):
    p = data(rng, (257,), dtype, 1.0)
    start = (p, np.zeros_like(p), np.zeros_like(p), np.zeros_like(p))
    cu = [CP.asarray(x.copy()) for x in start]
    nu = [x.copy() for x in start]
    for step in range(1, 4):
        g = data(rng, (257,), dtype, 1.0)
        CP.adam_step(cu[0], CP.asarray(g), cu[1], cu[2], cu[3] if amsgrad else None, step, 1e-2, 0.9, 0.999, 1e-8,
                     wd, amsgrad, decoupled, maximize)
        NP.adam_step(nu[0], g, nu[1], nu[2], nu[3] if amsgrad else None, step, 1e-2, 0.9, 0.999, 1e-8,
                     wd, amsgrad, decoupled, maximize)
        for c, n in zip(cu, nu):
            close(c, n, dtype, scale=10.0)


# ---- through autograd --------------------------------------------------------------------
def _grads(device, fn, arrays):
    ts = [tc.tensor(a, device=device, requires_grad=True) for a in arrays]
    out = fn(*ts)
    out.backward()
    return out, [t.grad for t in ts]


OPS = {
    "tanh_sigmoid_chain": lambda x, w, b: (tc.tanh(x * w + b) * tc.sigmoid(x)).sum(),
    "softmax": lambda x, w, b: (tc.softmax(x, 1) * w).sum(),
    "log_softmax_dim0": lambda x, w, b: (tc.log_softmax(x, 0) * w).sum(),
    "logsumexp": lambda x, w, b: tc.logsumexp(x * w, 1).sum(),
    "gelu_silu": lambda x, w, b: (tc.nn.functional.gelu(x) * tc.nn.functional.silu(w) + b).mean(),
    "softplus_relu": lambda x, w, b: (tc.nn.functional.softplus(x, beta=2.0) - tc.relu(w) * b).sum(),
    "matmul": lambda x, w, b: ((x @ w.T) ** 2).sum() + b.sum(),
    "index_gather": lambda x, w, b: x[[0, 2, 2, 5]].sum() + w.gather(1, tc.tensor([[0], [3], [3], [1], [0], [2]],
                                                                                   device=w.device)).sum() + b.sum(),
    "einsum": lambda x, w, b: tc.einsum("ij,kj->ik", x, w).sum() + b.sum(),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name", list(OPS))
def test_autograd_on_gpu_matches_numpy(name, dtype, rng):
    arrays = [data(rng, (6, 9), dtype, 1.5) for _ in range(3)]
    out_c, grads_c = _grads("cuda", OPS[name], arrays)
    out_n, grads_n = _grads("numpy", OPS[name], arrays)
    assert out_c.device.type == "cuda"
    close(out_c._data, out_n.detach().numpy(), dtype, scale=20.0)
    for gc, gn in zip(grads_c, grads_n):
        assert (gc is None) == (gn is None)
        if gc is not None:
            assert gc.device.type == "cuda"
            close(gc._data, gn.numpy(), dtype, scale=20.0)


@pytest.mark.parametrize("opt", ["SGD", "Adam"])
def test_mlp_training_steps_match_numpy(opt, rng):
    x = data(rng, (64, 784), np.float32, 1.0)
    y = rng.integers(0, 10, 64).astype(np.int64)
    init = {k: (rng.standard_normal(s) * 0.05).astype(np.float32)
            for k, s in {"w1": (784, 128), "b1": (128,), "w2": (128, 10), "b2": (10,)}.items()}

    def run(device):
        ps = {k: tc.tensor(v, device=device, requires_grad=True) for k, v in init.items()}
        xs, ys = tc.tensor(x, device=device), tc.tensor(y, device=device)
        optimizer = (tc.optim.SGD(list(ps.values()), lr=0.1, momentum=0.9) if opt == "SGD"
                     else tc.optim.Adam(list(ps.values()), lr=1e-3))
        losses = []
        for _ in range(3):
            logits = tc.relu(xs @ ps["w1"] + ps["b1"]) @ ps["w2"] + ps["b2"]
            loss = tc.nn.functional.cross_entropy(logits, ys)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        return losses, {k: v.detach().cpu().numpy() for k, v in ps.items()}

    loss_c, params_c = run("cuda")
    loss_n, params_n = run("numpy")
    np.testing.assert_allclose(loss_c, loss_n, rtol=1e-4)
    for k in init:
        np.testing.assert_allclose(params_c[k], params_n[k], rtol=1e-3, atol=1e-5, err_msg=k)


# ---- seeding, devices, memory -------------------------------------------------------------
# ---- fused elementwise programs (backends/lazy.py) ------------------------------------
@pytest.fixture
def fuse_all(monkeypatch):
    """Fuse arrays of any size (the default threshold keeps small ones eager)."""
    monkeypatch.setattr(lazy.config, "min_elements", 1)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_fused_expressions_match_numpy(dtype, rng, fuse_all):
    vals = [data(rng, (64, 33), dtype) for _ in range(3)]

    def compute(dev):
        a, c, d = (tc.tensor(v, device=dev, requires_grad=True) for v in vals)
        e = ((a * c - d / 3.0).relu() + (-a).exp().sqrt() * 0.5).tanh()
        f = tc.maximum(e, c.sigmoid()) - tc.minimum(a, d)
        loss = (f * f).sum()
        loss.backward()
        return [t.detach() for t in (e, f, loss, a.grad, c.grad, d.grad)]
    for got, want in zip(compute("cupy"), compute("numpy")):
        close(got._data, want.numpy(), dtype, scale=10.0)


def test_fused_chain_is_two_passes(rng, fuse_all, monkeypatch):
    ran = []
    real = type(CP).run_fused

    def spy(self, code, inputs, consts, outputs, n_scratch, n_sums, stretch=None):
        ran.append((len(inputs), len(outputs), n_sums))
        return real(self, code, inputs, consts, outputs, n_scratch, n_sums, stretch)
    monkeypatch.setattr(type(CP), "run_fused", spy)
    vals = [data(rng, 5000, np.float32) for _ in range(3)]
    x, w, b = (tc.tensor(v, device="cuda", requires_grad=True) for v in vals)
    y = (tc.tanh(x * w + b) * tc.sigmoid(x)).sum()
    y.backward()
    assert ran == [(3, 2, 1), (4, 3, 0)]  # forward with its sum; the three gradients together
    import torch
    tx, tw, tb = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in vals)
    ty = (torch.tanh(tx * tw + tb) * torch.sigmoid(tx)).sum()
    ty.backward()
    np.testing.assert_allclose(y.item(), ty.item(), rtol=1e-5)
    np.testing.assert_allclose(CP.to_numpy(b.grad._data), tb.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_synchronize_and_memory_figures_run_pending_work(fuse_all):
    x = tc.ones(1 << 20, device="cuda")
    tc.cuda.synchronize()
    before = tc.cuda.memory_allocated()
    y = x * 2.0
    assert lazy.is_pending(y._data)
    assert tc.cuda.memory_allocated() >= before + 4 * 2**20  # computed, as eager code would have
    assert not lazy.is_pending(y._data)


def test_seeding_is_reproducible_on_gpu():
    def draw():
        return [t.cpu().numpy() for t in (tc.randn(1000, device="cuda"), tc.rand(3, 4, device="cuda"),
                                          tc.randint(0, 100, (50,), device="cuda"), tc.randperm(20, device="cuda"))]
    tc.manual_seed(7)
    first = draw()
    tc.manual_seed(7)
    again = draw()
    tc.cuda.manual_seed(8)
    other = draw()
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])
    assert first[0].dtype == np.float32 and abs(first[0].mean()) < 0.15 and abs(first[0].std() - 1) < 0.1


def test_to_cuda_cpu_round_trip_keeps_values_and_gradients(rng):
    a = data(rng, (4, 5), np.float32)
    t = tc.tensor(a, device="cpu", requires_grad=True)
    g = t.to("cuda")
    assert g.device.type == "cuda" and g.is_cuda and t.cuda().is_cuda
    assert isinstance(g._data, cupy.ndarray)
    back = g.cpu()
    assert back.device.type == "cpu"
    np.testing.assert_array_equal(back.detach().numpy(), a)
    (g * 2).sum().backward()  # the gradient travels back to the CPU leaf
    assert t.grad.device.type == "cpu"
    np.testing.assert_array_equal(t.grad.numpy(), np.full_like(a, 2))
    h = tc.tensor(a, device="cuda").to("cuda", tc.float64)
    assert h.dtype == tc.float64 and h.is_cuda


def test_mixing_devices_names_both_and_the_op():
    a, b = tc.ones(3, device="cpu"), tc.ones(3, device="cuda")
    with pytest.raises(RuntimeError) as err:
        a + b
    msg = str(err.value)
    assert "cupy" in msg and str(a.device) in msg and "add" in msg
    with pytest.raises(RuntimeError, match="cupy"):
        a @ tc.ones(3, 3, device="cuda")


def test_device_queries():
    assert tc.cuda.device_count() >= 1
    assert tc.cuda.current_device() == 0
    assert isinstance(tc.cuda.get_device_name(), str) and tc.cuda.get_device_name()
    free, total = tc.cuda.mem_get_info()
    assert 0 < free <= total
    tc.cuda.synchronize()


def test_memory_figures_move():
    tc.cuda.synchronize()
    tc.cuda.empty_cache()
    tc.cuda.reset_peak_memory_stats()
    base = tc.cuda.memory_allocated()
    t = tc.zeros(16 * 1024 * 1024, device="cuda")  # 64 MiB of float32
    assert tc.cuda.memory_allocated() - base >= 64 * 2**20
    assert tc.cuda.max_memory_allocated() >= base + 64 * 2**20
    assert tc.cuda.memory_reserved() >= tc.cuda.memory_allocated()
    u = t + 1  # another 64 MiB
    peak = tc.cuda.max_memory_allocated()
    assert peak >= base + 128 * 2**20
    del t, u
    assert tc.cuda.memory_allocated() <= base + 2**20
    assert tc.cuda.max_memory_allocated() == peak  # the peak stays until reset
    held = tc.cuda.memory_reserved()
    tc.cuda.empty_cache()  # the two freed 64 MiB blocks go back to CUDA
    assert tc.cuda.memory_reserved() <= held - 128 * 2**20
    tc.cuda.reset_peak_memory_stats()
    assert tc.cuda.max_memory_allocated() <= base + 2**20


def test_out_of_memory_error_states_the_sizes():
    with pytest.raises(tc.cuda.OutOfMemoryError) as err:
        tc.empty(1 << 40, device="cuda")  # 4 TiB of float32
    msg = str(err.value)
    assert "tried to allocate 4.00 TiB" in msg and "memory pool" in msg and "free of" in msg
    assert isinstance(err.value, RuntimeError)
    t = tc.ones(10, device="cuda")  # the device still works
    assert t.sum().item() == 10
