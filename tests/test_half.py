"""Half precision (issue 14, item 8): float16 and bfloat16 against torch 2.13 on the CPU.

The op-by-op comparison is tests/test_opdb_half.py; here: the dtypes and torch's
promotion rules, finfo, dtype= in the factories, Python numbers applied in float32,
float32 accumulation in reductions, GEMM, convolution and the normalization
layers (inputs where half accumulation or half intermediates would visibly fail),
gradients in the parameter's dtype, optimizers on half parameters, checkpoints,
printing, and nn.Module.half()/bfloat16().

Tolerances are in units of the dtype's eps (float16 2**-10, bfloat16 2**-7),
relative to the values compared: one op rounded to the half dtype differs from
torch's by at most about one unit where both compute in float32 (test_opdb_half.py
explains the 2 eps it allows); a chain of ops (a training step, an optimizer
trajectory) adds about one unit per op that torch fuses and we do not.
"""
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
from helpers import to_np

import tinygrad_chain as tc

torch = pytest.importorskip("torch")
ml_dtypes = pytest.importorskip("ml_dtypes")

HALF = ("float16", "bfloat16")
FLOATS = HALF + ("float32", "float64")
NATIVE = {"float16": np.dtype(np.float16), "bfloat16": np.dtype(ml_dtypes.bfloat16)}


def eps(dtype):
    return tc.finfo(getattr(tc, dtype)).eps


def ours(a, dtype, **kw):
    return tc.tensor(np.asarray(a, np.float32), dtype=getattr(tc, dtype), **kw)


def theirs(a, dtype, **kw):
    return torch.tensor(np.asarray(a, np.float32)).to(getattr(torch, dtype)).requires_grad_(kw.get("requires_grad",
                                                                                                  False))


def values(t):
    if isinstance(t, torch.Tensor):
        return t.detach().float().numpy()
    return to_np(t.detach().float())


def assert_ulps(a, b, dtype, ulps=2, where=""):
    """|a - b| <= ulps * eps * (|b| + the largest |b|): a few units in the last place of the magnitude."""
    a, b = values(a), values(b)
    assert a.shape == b.shape, where
    scale = np.abs(b[np.isfinite(b)]).max(initial=0.0)
    np.testing.assert_allclose(a, b, rtol=ulps * eps(dtype), atol=ulps * eps(dtype) * scale, err_msg=where)


# ---- the dtypes ---------------------------------------------------------------------------------------
def test_dtype_objects():
    assert tc.half is tc.float16 and tc.dtypes.get("half") is tc.float16
    assert repr(tc.float16) == "tinygrad_chain.float16" and repr(tc.bfloat16) == "tinygrad_chain.bfloat16"
    for name in HALF:
        d = getattr(tc, name)
        assert d.itemsize == getattr(torch, name).itemsize == 2
        assert d.is_floating_point and tc.dtypes.get(name) is d and tc.dtypes.get(NATIVE[name]) is d


@pytest.mark.parametrize("dtype", FLOATS)
def test_finfo_matches_torch(dtype):
    a, b = tc.finfo(getattr(tc, dtype)), torch.finfo(getattr(torch, dtype))
    for field in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution", "dtype"):
        assert getattr(a, field) == getattr(b, field), field
    assert repr(a) == repr(b)


def test_finfo_default_and_errors():
    assert tc.finfo() == tc.finfo(tc.float32)
    tc.set_default_dtype(tc.float64)
    try:
        assert tc.finfo().dtype == "float64"
    finally:
        tc.set_default_dtype(tc.float32)
    with pytest.raises(TypeError, match="floating point"):
        tc.finfo(tc.int64)


_KINDS = ("bool", "int32", "int64") + FLOATS


@pytest.mark.parametrize("left", HALF)
@pytest.mark.parametrize("right", _KINDS)
def test_promotion_between_tensors_matches_torch(left, right, device):
    a, b = tc.ones(2, dtype=getattr(tc, left)), tc.ones(2, dtype=getattr(tc, right))
    ta, tb = torch.ones(2, dtype=getattr(torch, left)), torch.ones(2, dtype=getattr(torch, right))
    cases = {"add": lambda lib, x, y: x + y, "rmul": lambda lib, x, y: y * x, "div": lambda lib, x, y: x / y,
             "rdiv": lambda lib, x, y: y / x, "where": lambda lib, x, y: lib.where(y > 0, x, y)}
    if right != "bool":  # torch's maximum refuses bool beside a float
        cases["maximum"] = lambda lib, x, y: x.maximum(y)
    for name, f in cases.items():
        assert f(tc, a, b).dtype.name == str(f(torch, ta, tb).dtype).split(".")[1], f"{left} {name} {right}"
    assert tc.cat([a, b]).dtype.name == str(torch.cat([ta, tb]).dtype).split(".")[1]


@pytest.mark.parametrize("dtype", HALF)
def test_python_numbers_never_promote(dtype, device):
    x = tc.ones(3, dtype=getattr(tc, dtype))
    for y in (x * 2.5, 2.5 * x, x + 1, x / 3, 1 - x, x ** 2.0, x.clamp(0.1, 0.5), tc.where(x > 0, x, 0.5)):
        assert y.dtype is x.dtype
    for ints in (tc.ones(2, dtype=tc.int64), tc.ones(2, dtype=tc.int32), tc.tensor([True, False])):
        assert (ints * 0.5).dtype is tc.float32  # the default dtype, as torch
    assert (tc.ones(2, dtype=tc.int64) / tc.ones(2, dtype=tc.int64)).dtype is tc.float32


@pytest.mark.parametrize("dtype", HALF)
def test_python_numbers_are_applied_as_torch_applies_them(dtype, device):
    """torch keeps a Python number in float32 for mul, div and floordiv (x * 1e5 with x = 1e-3 is 100,
    not inf from 1e5 rounded to float16 first) and rounds it to the tensor's dtype for add, sub,
    remainder, pow and comparisons; the op itself computes in float32 and rounds once: bit for bit."""
    data = np.array([1e-3, 3.0, 0.1, -7.5, 300.0, 1e-5, 2.5, 0.7], np.float32)
    x, t = ours(data, dtype), theirs(data, dtype)
    cases = [lambda v: v * 1e5, lambda v: v / 1e5, lambda v: v * 0.1, lambda v: 0.1 * v, lambda v: v / 3.0,
             lambda v: v * 3, lambda v: v // 0.3, lambda v: v + 0.1, lambda v: 0.1 + v, lambda v: 0.1 - v,
             lambda v: v - 1e-4, lambda v: v % 0.7, lambda v: v.abs() ** 1.7, lambda v: 1.7 ** v]
    for i, f in enumerate(cases):
        np.testing.assert_array_equal(values(f(x)), values(f(t)), err_msg=f"case {i}")
    np.testing.assert_array_equal(values(x == 0.1), (t == 0.1).numpy())
    np.testing.assert_array_equal(values(x > 0.1), (t > 0.1).numpy())
    # torch's number / tensor is reciprocal(tensor) * number: two roundings, where ours divides once
    assert_ulps(1.0 / x, 1.0 / t, dtype, ulps=1)


def test_casts_overflow_quietly_to_inf(device):
    big = tc.tensor([1e5, -1e6, 3.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        h = big.half()
        r = tc.tensor([60000.0], dtype=tc.half) * 2.0
    assert values(h).tolist() == [np.inf, -np.inf, 3.0] and values(r).tolist() == [np.inf]
    assert values(big.bfloat16()).tolist() == values(torch.tensor([1e5, -1e6, 3.0]).bfloat16()).tolist()


# ---- creation -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", HALF)
def test_factories_take_half_dtypes(dtype, device):
    d, td = getattr(tc, dtype), getattr(torch, dtype)
    made = {
        "zeros": (tc.zeros(2, 3, dtype=d), torch.zeros(2, 3, dtype=td)),
        "ones": (tc.ones(4, dtype=d), torch.ones(4, dtype=td)),
        "full": (tc.full((3,), 0.1, dtype=d), torch.full((3,), 0.1, dtype=td)),
        "arange": (tc.arange(0, 3, 0.3, dtype=d), torch.arange(0, 3, 0.3, dtype=td)),
        "linspace": (tc.linspace(-1, 1, 7, dtype=d), torch.linspace(-1, 1, 7, dtype=td)),
        "eye": (tc.eye(3, dtype=d), torch.eye(3, dtype=td)),
        "tensor": (tc.tensor([0.1, 1 / 3, 1000.5], dtype=d), torch.tensor([0.1, 1 / 3, 1000.5], dtype=td)),
        "full_like": (tc.full_like(tc.ones(2), 7.7, dtype=d), torch.full_like(torch.ones(2), 7.7, dtype=td)),
    }
    for name, (a, b) in made.items():
        assert a.dtype is d and a.device == device, name
        if name in ("arange", "linspace"):  # torch steps in the half dtype; ours rounds each value once
            assert_ulps(a, b, dtype, ulps=1, where=name)
        else:
            np.testing.assert_array_equal(values(a), values(b), err_msg=name)
    like = tc.ones(2, 2, dtype=d)
    for t in (tc.empty(2, dtype=d), tc.zeros_like(like), tc.ones_like(like), tc.empty_like(like), tc.rand_like(like),
              tc.randn_like(like), tc.randint(0, 5, (3,), dtype=d), tc.randn(3, dtype=d), like.float().to(d)):
        assert t.dtype is d


@pytest.mark.parametrize("dtype", HALF)
def test_rand_is_below_one_on_the_dtypes_grid(dtype, device):
    """As torch's uniform_: k / 2**digits with k < 2**digits (float32 draws rounded could reach 1.0)."""
    tc.manual_seed(3)
    u = values(tc.rand(20000, dtype=getattr(tc, dtype))).astype(np.float64)
    digits = {"float16": 11, "bfloat16": 8}[dtype]
    assert u.min() >= 0 and u.max() < 1
    np.testing.assert_array_equal(u * 2 ** digits, np.floor(u * 2 ** digits))
    assert abs(u.mean() - 0.5) < 0.02
    n = values(tc.randn(20000, dtype=getattr(tc, dtype)))
    assert np.isfinite(n).all() and abs(n.std() - 1) < 0.05


@pytest.mark.parametrize("dtype", HALF)
def test_numpy_half_arrays_keep_their_dtype(dtype, device):
    a = np.array([0.5, -1.25, 3.0], NATIVE[dtype])
    t = tc.tensor(a)
    assert t.dtype is getattr(tc, dtype) and values(t).tolist() == [0.5, -1.25, 3.0]
    assert isinstance(t[0].item(), float) and t.tolist() == [0.5, -1.25, 3.0]
    if device in ("numpy", "cpp"):
        shared = tc.from_numpy(a)
        a[0] = 8.0
        assert shared.dtype is getattr(tc, dtype) and shared.tolist()[0] == 8.0


def test_bfloat16_library_is_imported_on_first_use():
    """ml_dtypes takes about half a second to import: `import tinygrad_chain` leaves it alone, and a
    checkpoint with bfloat16 in it loads in a process that never named bfloat16."""
    code = ("import sys, tinygrad_chain as tc; assert 'ml_dtypes' not in sys.modules; "
            "tc.ones(2, dtype=tc.float16) * 0.5; assert 'ml_dtypes' not in sys.modules; "
            "x = tc.ones(2, dtype=tc.bfloat16); assert 'ml_dtypes' in sys.modules; print(x.sum().item())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "2.0", out.stderr


# ---- float32 accumulation -------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", HALF)
def test_sums_and_products_accumulate_in_float32(dtype, device):
    """10,000 x 0.1 summed in float16 would stop near 256 (0.1 is below half a unit there); in
    float32 it is about 1000, rounded once, as torch."""
    x, t = ours(np.full(10000, 0.1), dtype), theirs(np.full(10000, 0.1), dtype)
    cases = [lambda v: v.sum(), lambda v: v.mean() * 1000, lambda v: v.reshape(100, 100).sum(0),
             lambda v: v.reshape(1, -1) @ v.reshape(-1, 1), lambda v: v.reshape(100, 100) @ v.reshape(100, 100),
             lambda v: v.norm(), lambda v: v.cumsum(0)[-1:], lambda v: v.reshape(100, 100).logsumexp(1),
             lambda v: (v * 300).norm()]  # squares of 30 would pass float16's range one at a time
    for i, f in enumerate(cases):
        assert_ulps(f(x), f(t), dtype, where=f"case {i}")
    assert abs(values(x.sum()).item() - 1000) < 10


@pytest.mark.parametrize("dtype", HALF)
def test_convolution_accumulates_in_float32(dtype, device, rng):
    xs, ws = rng.uniform(0.5, 1.0, (2, 16, 12, 12)), rng.uniform(0.05, 0.1, (8, 16, 5, 5))
    x, w, tx, tw = ours(xs, dtype), ours(ws, dtype), theirs(xs, dtype), theirs(ws, dtype)
    assert_ulps(tc.nn.functional.conv2d(x, w, padding=2), torch.nn.functional.conv2d(tx, tw, padding=2), dtype)
    assert_ulps(tc.nn.functional.avg_pool2d(x, 3), torch.nn.functional.avg_pool2d(tx, 3), dtype)


@pytest.mark.parametrize("dtype", HALF)
def test_statistics_and_normalization_compute_in_float32(dtype, device, rng):
    """Values near 300: their squares pass float16's 65504, so a variance made of float16 steps
    overflows; torch's kernels (and ours) compute in float32 and round once."""
    data = rng.uniform(-300, 300, (4, 6, 5)).astype(np.float32)
    weight, bias = rng.uniform(0.5, 1.5, 6), rng.uniform(-1, 1, 6)
    x, t = ours(data, dtype, requires_grad=True), theirs(data, dtype, requires_grad=True)
    F, TF = tc.nn.functional, torch.nn.functional
    cases = {
        "std": (x.std(), t.std()), "std dim": (x.std(1), t.std(1)), "mean": (x.mean(2), t.mean(2)),
        "var": ((x / 4).var(0), (t / 4).var(0)),
        "layer_norm": (F.layer_norm(x, (5,)), TF.layer_norm(t, (5,))),
        "batch_norm": (F.batch_norm(x, None, None, ours(weight, dtype), ours(bias, dtype), training=True),
                       TF.batch_norm(t, None, None, theirs(weight, dtype), theirs(bias, dtype), training=True)),
        "group_norm": (F.group_norm(x, 3), TF.group_norm(t, 3)),
        "softmax": (F.softmax(x / 100, -1), TF.softmax(t / 100, -1)),
        "log_softmax": (F.log_softmax(x / 100, 1), TF.log_softmax(t / 100, 1)),
    }
    for name, (a, b) in cases.items():
        assert a.dtype is x.dtype, name
        assert np.isfinite(values(a)).all(), name
        assert_ulps(a, b, dtype, ulps=3, where=name)
    loss = sum((a * a).sum() for a, _ in cases.values())
    tloss = sum((b * b).sum() for _, b in cases.values())
    loss.backward()
    tloss.backward()
    assert x.grad.dtype is x.dtype
    assert_ulps(x.grad, t.grad, dtype, ulps=8, where="gradient")  # a sum of nine chains of ops


def test_batch_norm_updates_half_running_statistics(device, rng):
    data = rng.uniform(-3, 3, (8, 4)).astype(np.float32)
    m, tm = tc.nn.BatchNorm1d(4).half(), torch.nn.BatchNorm1d(4).half()
    assert m.running_mean.dtype is tc.float16 and m.num_batches_tracked.dtype is tc.int64
    for _ in range(3):
        out, tout = m(ours(data, "float16")), tm(theirs(data, "float16"))
    assert_ulps(out, tout, "float16", ulps=3)
    assert m.running_mean.dtype is tc.float16
    assert_ulps(m.running_mean, tm.running_mean, "float16", ulps=3)
    assert_ulps(m.running_var, tm.running_var, "float16", ulps=3)


# ---- modules, gradients, optimizers -----------------------------------------------------------------------
def _net(lib):
    nn = lib.nn
    return nn.Sequential(nn.Linear(6, 16), nn.LayerNorm(16), nn.GELU(), nn.Linear(16, 16), nn.Tanh(),
                         nn.Linear(16, 3))


def _copy_weights(src, dst):
    with torch.no_grad():
        for p, q in zip(src.parameters(), dst.parameters()):
            p.copy_(torch.tensor(to_np(q.detach().float())))


@pytest.mark.parametrize("dtype", HALF)
def test_module_half_and_gradients_in_the_parameters_dtype(dtype, device, rng):
    net, tnet = _net(tc), _net(torch)
    _copy_weights(tnet, net)
    method = {"float16": "half", "bfloat16": "bfloat16"}[dtype]
    getattr(net, method)()
    getattr(tnet, method)()
    assert all(p.dtype is getattr(tc, dtype) for p in net.parameters())
    x = rng.standard_normal((5, 6)).astype(np.float32)
    y = np.array([0, 2, 1, 1, 0])
    out, tout = net(ours(x, dtype)), tnet(theirs(x, dtype))
    assert out.dtype is getattr(tc, dtype)
    assert_ulps(out, tout, dtype, ulps=4)
    loss = tc.nn.functional.cross_entropy(out, tc.tensor(y))
    tloss = torch.nn.functional.cross_entropy(tout, torch.tensor(y))
    assert loss.dtype is getattr(tc, dtype)
    loss.backward()
    tloss.backward()
    for (name, p), tp in zip(net.named_parameters(), tnet.parameters()):
        assert p.grad.dtype is p.dtype, name
        assert_ulps(p.grad, tp.grad, dtype, ulps=8, where=name)  # six layers of ops, each within a unit


OPTIMIZERS = [("SGD", dict(lr=0.1)), ("SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.01, nesterov=True)),
              ("Adam", dict(lr=0.01)), ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
              ("AdamW", dict(lr=0.01)), ("RMSprop", dict(lr=0.01)),
              ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)), ("Adagrad", dict(lr=0.1)),
              ("Adadelta", dict(lr=1.0)), ("Adamax", dict(lr=0.01)), ("NAdam", dict(lr=0.01)),
              ("RAdam", dict(lr=0.01)), ("ASGD", dict(lr=0.01)), ("Rprop", dict(lr=0.01))]


@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("name,config", OPTIMIZERS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(OPTIMIZERS)])
def test_optimizer_on_half_parameters_follows_torch(name, config, dtype, device):
    """The same gradients, 50 steps: state in the parameter's dtype, as torch's, and the parameters
    within 8 units of the larger of |p| and 1. torch's fused pointwise ops (add with alpha, addcmul,
    addcdiv, lerp) round once where our updates, made of the backends' primitives, round per
    primitive: about a unit per step, which the updates themselves mostly wash out."""
    rng = np.random.default_rng(0)
    start = rng.standard_normal((4, 5))
    p, tp = ours(start, dtype, requires_grad=True), theirs(start, dtype, requires_grad=True)
    opt, topt = getattr(tc.optim, name)([p], **config), getattr(torch.optim, name)([tp], **config)
    for _ in range(50):
        g = rng.standard_normal((4, 5)).astype(np.float32).astype(NATIVE[dtype])
        p.grad, tp.grad = tc.tensor(g), theirs(g.astype(np.float32), dtype)
        opt.step()
        topt.step()
        a, b = values(p), values(tp)
        np.testing.assert_allclose(a, b, rtol=0, atol=8 * eps(dtype) * max(1.0, np.abs(b).max()))
    assert p.dtype is getattr(tc, dtype)
    for key, value in opt.state[p].items():
        if isinstance(value, tc.Tensor) and value.shape == p.shape:
            assert value.dtype is p.dtype, key


# ---- checkpoints and printing ----------------------------------------------------------------------------
def test_checkpoint_round_trip(tmp_path, device):
    net = _net(tc).bfloat16()
    obj = {"model": net.state_dict(), "h": tc.tensor([0.1, -65504.0, np.inf], dtype=tc.half, requires_grad=True),
           "dt": [tc.float16, tc.bfloat16], "p": tc.nn.Parameter(tc.ones(3, dtype=tc.bfloat16))}
    tc.save(obj, tmp_path / "ck.pt")
    back = tc.load(tmp_path / "ck.pt", map_location=device)
    assert back["dt"] == [tc.float16, tc.bfloat16]
    assert back["h"].dtype is tc.float16 and back["h"].requires_grad
    assert isinstance(back["p"], tc.nn.Parameter) and back["p"].dtype is tc.bfloat16
    np.testing.assert_array_equal(values(back["h"]), values(obj["h"]))
    for k, v in net.state_dict().items():
        assert back["model"][k].dtype is v.dtype and back["model"][k].device == device
        np.testing.assert_array_equal(values(back["model"][k]), values(v))
    # a fresh process that never named bfloat16 loads it (the dtype library is imported then)
    code = (f"import tinygrad_chain as tc; d = tc.load({str(tmp_path / 'ck.pt')!r}); "
            f"print(d['p'].dtype, d['model']['0.weight'].dtype)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env=dict(os.environ))
    assert out.stdout.split() == ["tinygrad_chain.bfloat16", "tinygrad_chain.bfloat16"], out.stderr


@pytest.mark.parametrize("dtype", HALF)
def test_printing_matches_torch(dtype, device):
    for data in ([0.1, 1 / 3, 1000.5], [1.0, 2.0, 3.0], [[1e-5, 2.0]], 2.5, [70.0, np.inf, 7000.0], [1e-8, 1.0]):
        a = tc.tensor(data, dtype=getattr(tc, dtype))
        text = repr(a).replace("tinygrad_chain", "torch")
        text = text.replace(f", device='{a.device}'", "") if "device=" in text else text
        assert text == repr(torch.tensor(data, dtype=getattr(torch, dtype)))
        assert str(a.sum()) and f"{a.sum():.2f}"


def test_legacy_type_names(device):
    h = tc.ones(2, dtype=tc.half)
    assert h.type() == torch.ones(2).half().type().replace("torch", "tinygrad_chain")
    assert isinstance(h, tc.HalfTensor) and not isinstance(h, tc.BFloat16Tensor)
    assert tc.ones(2).type(tc.BFloat16Tensor).dtype is tc.bfloat16
    assert tc.ones(2).type("torch.HalfTensor").dtype is tc.float16
    assert tc.HalfTensor([1, 2]).dtype is tc.float16
