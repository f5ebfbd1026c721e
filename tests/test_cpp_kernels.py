"""The C++ kernels (tinygrad_chain._C) and the cpp backend against NumPy (the GEMM in
tests/test_cpp_gemm.py).

Every kernel family runs on every instruction set this CPU has (generic,
AVX2, AVX-512), on edge sizes, views, both float dtypes, data larger than the
caches, 1 vs 2 threads, and from several Python threads at once.
"""
import concurrent.futures as cf
import importlib.util
import pathlib
import re

import numpy as np
import pytest

_C = pytest.importorskip("tinygrad_chain._C", reason="C++ extension tinygrad_chain._C is not built")

from tinygrad_chain.backends import formulas  # noqa: E402
from tinygrad_chain.backends.cpp_backend import CppBackend  # noqa: E402
from cpp_fixtures import DTYPES, cpp, device, isa, rand, ref, threads, tol, views  # noqa: E402,F401  (fixtures)

SIZES = [0, 1, 3, 17, 255, 1025]
# opcodes by name, from the extension itself (tests/test_cpp_opcodes.py checks every side agrees)
OP = {family: {name: i for i, name in enumerate(names)} for family, names in _C.opcodes().items()}
ACT, BIN, SOFT, RED = OP["act"], OP["binary"], OP["softmax"], OP["reduce"]


# ---------------------------------------------------------------- activations
def torch_act(act, x, g, params):
    """float64 (y, g * dy/dx) from torch: the reference every activation kernel is held to."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    fn = {"relu": F.relu, "leaky_relu": F.leaky_relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "exp": torch.exp,
          "gelu": F.gelu, "gelu_tanh": lambda v: F.gelu(v, approximate="tanh"), "silu": F.silu,
          "softplus": F.softplus, "elu": F.elu}[act]
    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    y = fn(t, *params)
    (gx,) = torch.autograd.grad(y, t, torch.tensor(g, dtype=torch.float64)) if g is not None else (None,)
    return y.detach().numpy(), None if gx is None else gx.numpy()


PARAMS = {"leaky_relu": (0.1,), "softplus": (2.0, 20.0), "elu": (0.7,)}
SAVES_OUTPUT = ("sigmoid", "tanh", "exp", "relu")  # their backward reads the output


def act_input(n, dtype, seed=0):
    x = rand((n,), dtype, seed)
    specials = np.array([0.0, -0.0, 1e-6, -1e-6, 0.3, -0.3, 9.0, -9.0, 30.0, -30.0, 80.0, -80.0, -100.0],
                        dtype)
    x[:min(n, len(specials))] = specials[:n]
    return x


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", list(ACT))
def test_activation_forward_backward(isa, act, dtype):
    # erf follows Numerical Recipes (rel. error 1.2e-7) on both CPU devices, so gelu is looser in float64
    scale = 1e6 if act == "gelu" and dtype == np.float64 else (5 if act == "gelu" else 1)
    params = PARAMS.get(act, ())
    p = (list(params) + [0.0, 0.0])[:2]
    for n in SIZES + [70000]:
        x = act_input(n, dtype)
        if act == "exp":
            x = np.clip(x, -80, 80)
        y = _C.act_forward(ACT[act], x, *p)
        assert y.dtype == dtype and y.shape == x.shape
        g = rand((n,), dtype, 5)
        want, want_g = torch_act(act, x, g, params)
        np.testing.assert_allclose(y, want, **tol(dtype, scale), err_msg=f"{act} n={n}")
        gx = _C.act_backward(ACT[act], g, y if act in SAVES_OUTPUT else x, *p)
        np.testing.assert_allclose(gx, want_g, **tol(dtype, scale * 2), err_msg=f"{act}' n={n}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_activation_special_values(dtype):
    x = np.array([np.nan, np.inf, -np.inf, 0.0], dtype)
    with np.errstate(all="ignore"):
        for act in ("sigmoid", "tanh", "exp", "relu"):
            y = _C.act_forward(ACT[act], x)
            want = torch_act(act, x, None, ())[0].astype(dtype)
            np.testing.assert_array_equal(np.isnan(y), np.isnan(want), err_msg=act)
            np.testing.assert_allclose(y[1:], want[1:], err_msg=act)


def test_float32_tanh_within_one_ulp(isa):
    """float32 tanh (csrc/simd_math.h) against float64 tanh on every 61st float of [0, 10] (17.8M
    values; every float measured 0.87 ulp at most) and their negatives: within 0.9 ulp, exactly
    odd, exactly 1 where float32 tanh has rounded to 1; tiny inputs, -0, infinities and NaN."""
    x = np.arange(0, 0x41200000, 61, dtype=np.uint32).view(np.float32)
    exact = np.tanh(x.astype(np.float64))
    e32 = exact.astype(np.float32)
    ulp = np.where(e32 == 1, 2.0 ** -24, np.spacing(e32).astype(np.float64))  # below 1 at 1
    y = _C.act_forward(ACT["tanh"], x)
    err = np.abs(y - exact) / ulp
    assert err.max() <= 0.9, f"{err.max():.3f} ulp at x = {x[err.argmax()]!r}"
    np.testing.assert_array_equal(_C.act_forward(ACT["tanh"], -x), -y)
    assert (y[x >= 9.0110] == 1).all() and (y <= 1).all()
    tiny = np.array([1e-45, 1e-39, 1e-20, 2.4e-4], np.float32)  # tanh(x) rounds to x
    special = np.array([-0.0, np.inf, -np.inf, np.nan, 9.02, 1e30, -1e30], np.float32)
    y = _C.act_forward(ACT["tanh"], np.concatenate([tiny, -tiny, special] * 200))[:15]
    np.testing.assert_array_equal(y[:8], np.concatenate([tiny, -tiny]))
    assert np.signbit(y[8]) and y[8] == 0  # -0 stays -0
    np.testing.assert_array_equal(y[9:], [1, -1, np.nan, 1, 1, -1])


@pytest.mark.parametrize("dtype", DTYPES)
def test_tanh_keeps_the_sign_of_zero(isa, dtype):
    y = _C.act_forward(ACT["tanh"], np.array([-0.0, 0.0] * 2048, dtype))
    assert (y == 0).all() and np.array_equal(np.signbit(y), [True, False] * 2048)


def test_tanh_coefficients_come_from_the_fit():
    """csrc/simd_math.h's float32 tanh constants are what csrc/fit_tanh.py derives."""
    csrc = pathlib.Path(__file__).resolve().parents[1] / "csrc"
    spec = importlib.util.spec_from_file_location("fit_tanh", csrc / "fit_tanh.py")
    fit_tanh = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fit_tanh)
    worst, p, q = fit_tanh.fit()
    src = (csrc / "simd_math.h").read_text()
    body = src[src.index("static inline float tanh_t(float x)"):]
    body = body[:body.index("\n}")]
    consts = [float(v) for v in re.findall(r"[pq] = (?:[pq] \* s \+ )?([0-9.e+-]+);", body)]
    assert consts == [*p[::-1], *q[::-1]]
    assert worst < 2.5e-8


@pytest.mark.parametrize("dtype", DTYPES)
def test_exp_at_the_ends_of_its_range(isa, dtype):
    """exp where results turn denormal, underflow to 0 and overflow to inf: within 1 ulp of the
    exact value there too (counting denormal ulps)."""
    lo, hi = (-104.5, 89.5) if dtype == np.float32 else (-746.5, 710.5)
    ulp_min = float(np.finfo(dtype).smallest_subnormal)
    top = float(np.log(np.finfo(dtype).max))
    x = np.concatenate([np.linspace(lo, lo + 20, 20001), np.linspace(top - 2, hi, 20001), [-np.inf, np.inf, 0]])
    x = x.astype(dtype)
    y = _C.act_forward(ACT["exp"], x)
    with np.errstate(over="ignore"):
        exact = np.exp(x.astype(np.float64)) if dtype == np.float32 else np.exp(x.astype(np.longdouble))
        e = exact.astype(dtype)
    finite = np.isfinite(e)
    np.testing.assert_array_equal(y[~finite], e[~finite])
    ulp = np.maximum(np.spacing(np.abs(e[finite])).astype(np.float64), ulp_min)
    err = (np.abs(y[finite] - exact[finite]) / ulp).astype(np.float64)
    assert err.max() <= 1.5, f"{err.max():.3g} ulp at x = {x[finite][err.argmax()]!r}"


@pytest.mark.parametrize("dtype", DTYPES)
def test_backend_activations_match_numpy_on_views(cpp, ref, dtype):
    a = rand((300, 200), dtype, 1)  # above the kernel thresholds
    for name, va in views(a):
        for method, args in [("sigmoid", ()), ("relu", ()), ("gelu", ("none",)), ("gelu", ("tanh",)),
                             ("silu", ()), ("leaky_relu", (0.01,)), ("softplus", (1.0, 20.0))]:
            np.testing.assert_allclose(getattr(cpp, method)(va, *args), getattr(ref, method)(va, *args),
                                       **tol(dtype, 1e6 if dtype == np.float64 else 5), err_msg=f"{method} {name}")
        g = rand(a.shape, dtype, 2)
        for method, args in [("relu_backward", (va,)), ("sigmoid_backward", (ref.sigmoid(va),)),
                             ("tanh_backward", (np.tanh(va),)), ("gelu_backward", (va, "none")),
                             ("gelu_backward", (va, "tanh")), ("silu_backward", (va,)),
                             ("leaky_relu_backward", (va, 0.01)), ("softplus_backward", (va, 1.0, 20.0))]:
            np.testing.assert_allclose(getattr(cpp, method)(g, *args), getattr(ref, method)(g, *args),
                                       **tol(dtype, 1e6 if dtype == np.float64 else 5), err_msg=f"{method} {name}")
        for u in ("tanh", "exp"):
            np.testing.assert_allclose(cpp.unary(u, va), ref.unary(u, va), **tol(dtype), err_msg=u)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", [2048, 16384, 60000])  # below the fused programs (backends/lazy.py)
def test_relu_runs_in_the_kernel_from_the_act_size_with_numpys_bits(cpp, ref, dtype, size, monkeypatch):
    """ReLU and its backward run in the act kernels from _MIN_ACT elements (3-5x NumPy's maximum(x, 0)
    there) with NumPy's bits: NaN kept, -0 -> +0, +-inf; g * (y > 0) keeps g's NaN where y > 0. Equal
    bits are what lets a compiled step's GEMM epilogue stand for eager's ReLU (backends/cpp_backend.py)."""
    import tinygrad_chain.backends.cpp_backend as cb
    calls = []
    for fn in ("act_forward", "act_backward"):
        real = getattr(cb._C, fn)
        monkeypatch.setattr(cb._C, fn, lambda *a, _real=real, _fn=fn: calls.append(_fn) or _real(*a))
    x = rand((size,), dtype, 3)
    g = rand((size,), dtype, 4)
    x[:6] = [np.nan, -0.0, 0.0, np.inf, -np.inf, -1.0]
    g[6:9] = [np.nan, np.inf, -0.0]
    x[6:9] = [1.0, 2.0, 3.0]
    y = cpp.act("relu", x)
    np.testing.assert_array_equal(y, np.maximum(x, 0))
    assert not np.signbit(y).any()
    np.testing.assert_array_equal(cpp.act_backward("relu", g, y), g * (y > 0))
    assert calls == ["act_forward", "act_backward"]
    np.testing.assert_array_equal(ref.act("relu", x), y)


# ---------------------------------------------------------------- arithmetic
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_binary(isa, cpp, ref, op, dtype):
    code = BIN[op]
    for n in SIZES:
        a, b = rand((n,), dtype, 1), rand((n,), dtype, 2) + 10
        np.testing.assert_allclose(_C.binary(code, a, b), ref.binary(op, a, b), **tol(dtype))
        np.testing.assert_allclose(_C.binary_scalar(code, a, 2.5), ref.binary(op, a, 2.5), **tol(dtype))
        np.testing.assert_allclose(_C.binary_scalar(code, b, 2.5, True), ref.binary(op, 2.5, b), **tol(dtype))
    a, b = rand((400, 300), dtype, 1), rand((400, 300), dtype, 2) + 10
    for (na, va), (nb, vb) in zip(views(a), views(b)):
        got = cpp.binary(op, va, vb)
        assert got.dtype == dtype
        np.testing.assert_allclose(got, ref.binary(op, va, vb), **tol(dtype), err_msg=na)
        np.testing.assert_allclose(cpp.binary(op, va, 3), ref.binary(op, va, 3), **tol(dtype))
        np.testing.assert_allclose(cpp.binary(op, 3.0, vb), ref.binary(op, 3.0, vb), **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_mul_backward(isa, threads, cpp, ref, dtype):
    for n in SIZES + [70_000, 300_001]:
        g, x, y = rand(n, dtype, 1), rand(n, dtype, 2), rand(n, dtype, 3)
        for nt in (1, 2):
            _C.set_num_threads(nt)
            gx, gy = _C.mul_backward(g, x, y)
            np.testing.assert_array_equal(gx, g * y)
            np.testing.assert_array_equal(gy, g * x)
        for got, want in zip(cpp.mul_backward(g[::-1], x, y), ref.mul_backward(g[::-1], x, y)):
            np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError):
        _C.mul_backward(rand(5, np.float32), rand(6, np.float32), rand(5, np.float32))


@pytest.mark.parametrize("dtype", DTYPES)
def test_lstm_cell(isa, threads, cpp, ref, dtype):
    """The fused LSTM step and its backward against the NumPy backend's composition."""
    for shape in [(1,), (3, 5), (64, 128), (2, 3, 17)]:
        c = rand(shape, dtype, 1, 1.0)
        gates = rand(shape[:-1] + (4 * shape[-1],), dtype, 2, 2.0)
        grad = rand((2,) + shape, dtype, 3)
        for nt in (1, 2):
            _C.set_num_threads(nt)
            out, saved = cpp.lstm_cell(gates, c)
            want, want_saved = ref.lstm_cell(gates, c)
            np.testing.assert_allclose(out, want, **tol(dtype, 5))
            for got, exp in zip(cpp.lstm_cell_backward(grad, c, *saved), ref.lstm_cell_backward(grad, c, *want_saved)):
                np.testing.assert_allclose(got, exp, **tol(dtype, 5))
    g2 = rand((8, 4, 12), dtype, 4)[:, ::2]  # non-contiguous gates
    c2 = rand((8, 2, 3), dtype, 5)
    np.testing.assert_allclose(cpp.lstm_cell(g2, c2)[0], ref.lstm_cell(g2, c2)[0], **tol(dtype, 5))
    with pytest.raises(ValueError, match="4 times"):
        _C.lstm_cell_forward(rand((3, 8), dtype), rand((3, 3), dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_lstm_layer_loop(isa, threads, cpp, ref, dtype):
    """The LSTM layer's C++ time loop, forward and back, against the NumPy backend's Python loop: one
    chunk of the batch, or (two threads, enough work) one per thread, uneven (9 rows) too."""
    for steps, batch, hidden, bias in [(1, 1, 1, False), (5, 3, 7, True), (9, 64, 33, True), (30, 9, 16, True),
                                       (40, 2, 24, False)]:
        xw = rand((steps, batch, 4 * hidden), dtype, 1, 1.0)
        h0, c0 = rand((batch, hidden), dtype, 2, 1.0), rand((batch, hidden), dtype, 3, 1.0)
        w = rand((4 * hidden, hidden), dtype, 4, 0.3)
        b = rand((4 * hidden,), dtype, 6, 1.0) if bias else None
        grad = rand((steps + 1, batch, hidden), dtype, 5)
        for nt in (1, 2):
            _C.set_num_threads(nt)
            out, saved = cpp.lstm_layer(xw, h0, c0, w, b)
            want, want_saved = ref.lstm_layer(xw, h0, c0, w, b)
            np.testing.assert_allclose(out, want, **tol(dtype, 20))
            for got, exp in zip(saved, want_saved):
                np.testing.assert_allclose(got, exp, **tol(dtype, 20))
            for got, exp in zip(cpp.lstm_layer_backward(grad, w, *saved),
                                ref.lstm_layer_backward(grad, w, *want_saved)):
                np.testing.assert_allclose(got, exp, **tol(dtype, 50 * max(1, steps)))
    c0 = rand((2, 3), dtype)
    out, _, _, hs, _ = _C.lstm_layer_forward(rand((0, 2, 12), dtype), rand((2, 3), dtype), c0, rand((12, 3), dtype))
    assert hs.shape == (0, 2, 3) and np.array_equal(out, c0[None])  # no steps: the state is c0
    x = rand((4, 2, 12), dtype)
    with pytest.raises(ValueError, match="w_hh must have shape"):
        _C.lstm_layer_forward(x, rand((2, 3), dtype), rand((2, 3), dtype), rand((3, 12), dtype))
    with pytest.raises(ValueError, match="xw must be"):
        _C.lstm_layer_forward(rand((4, 2, 10), dtype), rand((2, 3), dtype), rand((2, 3), dtype), rand((12, 3), dtype))
    with pytest.raises(TypeError, match="share one dtype"):
        _C.lstm_layer_forward(x, rand((2, 3), np.float32 if dtype == np.float64 else np.float64),
                              rand((2, 3), dtype), rand((12, 3), dtype))
    with pytest.raises(ValueError, match=r"b_hh must have shape \(12\)"):
        _C.lstm_layer_forward(x, rand((2, 3), dtype), rand((2, 3), dtype), rand((12, 3), dtype), rand((3,), dtype))
    with pytest.raises(ValueError, match="grad must have shape"):
        _C.lstm_layer_backward(rand((4, 2, 3), dtype), rand((12, 3), dtype), *(rand(s, dtype) for s in
                               [(4, 2, 12), (4, 2, 3), (4, 2, 3), (4, 2, 3)]))


def test_binary_promotes_as_the_numpy_backend(cpp):
    a = rand((400, 300), np.float32)
    # a NumPy scalar is weak, as a Python number (torch's rule: backends/xp_backend.py's torch_operands)
    assert cpp.binary("mul", a, np.float64(2.0)).dtype == np.float32
    assert cpp.binary("add", a, a.astype(np.float64)).dtype == np.float64
    i = np.arange(100000)
    np.testing.assert_array_equal(cpp.binary("add", i, 1), i + 1)


def test_out_argument_reuses_buffer():
    a = rand((1000,), np.float32)
    out = np.empty_like(a)
    assert _C.binary(BIN["mul"], a, a, out=out) is out
    np.testing.assert_allclose(out, a * a, rtol=1e-6)
    with pytest.raises(ValueError):
        _C.binary(BIN["mul"], a, a, out=np.empty(999, np.float32))
    with pytest.raises(ValueError):  # out is written in place: it must be contiguous
        _C.binary(BIN["mul"], a, a, out=np.empty(2000, np.float32)[::2])


def test_strided_inputs_are_copied_by_the_kernels():
    """The elementwise bindings make a strided input contiguous themselves (the backend no longer does)."""
    a, b = rand((1000,), np.float32), rand((2000,), np.float32, 1)[::2]
    np.testing.assert_array_equal(_C.binary(BIN["mul"], a, b), a * b)
    np.testing.assert_array_equal(_C.binary(BIN["sub"], b, a[::-1]), b - a[::-1])
    np.testing.assert_array_equal(_C.binary_scalar(BIN["mul"], b, 2.0), b * np.float32(2.0))
    gx, gy = _C.mul_backward(a[::-1], b, a)
    np.testing.assert_array_equal(gx, a[::-1] * a)
    np.testing.assert_array_equal(gy, a[::-1] * b)
    x = rand((8, 6), np.float32, 2).T  # a transposed 2-D input keeps its shape
    assert _C.binary_scalar(BIN["add"], x, 1.0).shape == (6, 8)
    np.testing.assert_array_equal(_C.binary_scalar(BIN["add"], x, 1.0), x + np.float32(1.0))


# ---------------------------------------------------------------- softmax family
@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_family_kernels(isa, dtype):
    for rows, cols in [(1, 1), (3, 17), (17, 255), (5, 1025), (2000, 10)]:
        x = rand((rows, cols), dtype, 1)
        x64 = x.astype(np.float64)
        m = x64.max(-1, keepdims=True)
        lse = m + np.log(np.exp(x64 - m).sum(-1, keepdims=True))
        np.testing.assert_allclose(_C.softmax_forward(SOFT["softmax"], x), np.exp(x64 - lse), **tol(dtype))
        np.testing.assert_allclose(_C.softmax_forward(SOFT["log_softmax"], x), x64 - lse, **tol(dtype, 5))
        np.testing.assert_allclose(_C.logsumexp(x), lse[:, 0], **tol(dtype, 5))
        g = rand((rows, cols), dtype, 2)
        y = np.exp(x64 - lse)
        want = y * (g - (g * y).sum(-1, keepdims=True))
        np.testing.assert_allclose(_C.softmax_backward(SOFT["softmax"], g, y.astype(dtype)), want, **tol(dtype, 10))
        want = g - y * g.sum(-1, keepdims=True)
        np.testing.assert_allclose(_C.softmax_backward(SOFT["log_softmax"], g, (x64 - lse).astype(dtype)), want,
                                   **tol(dtype, 10))
        t = np.random.default_rng(3).integers(0, cols, rows)
        t[0] = -100
        loss, lse_k = _C.cross_entropy_forward(x, t, -100)
        want = np.where(t == -100, 0.0, lse[:, 0] - x64[np.arange(rows), np.maximum(t, 0)])
        np.testing.assert_allclose(loss, want, **tol(dtype, 5))
        gl = rand((rows,), dtype, 4)
        onehot = np.eye(cols)[np.maximum(t, 0)]
        want = np.where((t == -100)[:, None], 0.0, gl[:, None] * (np.exp(x64 - lse) - onehot))
        np.testing.assert_allclose(_C.cross_entropy_backward(gl, x, lse_k, t, -100), want, **tol(dtype, 5))


def test_softmax_stability_and_inf_rows():
    x = np.array([[1000.0, 1000.0, -1000.0], [-np.inf, -np.inf, -np.inf], [-np.inf, 0.0, 1.0]], np.float32)
    y = _C.softmax_forward(SOFT["softmax"], x)
    np.testing.assert_allclose(y[0], [0.5, 0.5, 0.0])
    np.testing.assert_allclose(y[2], np.exp([-np.inf, 0, 1]) / np.exp([0, 1]).sum(), rtol=1e-6)
    lse = _C.logsumexp(x)
    assert lse[1] == -np.inf
    np.testing.assert_allclose(lse[0], 1000 + np.log(2), rtol=1e-6)


def test_cross_entropy_bad_target():
    x = rand((4, 5), np.float32)
    with pytest.raises(IndexError):
        _C.cross_entropy_forward(x, np.array([0, 1, 5, 2]), -100)
    with pytest.raises(ValueError):
        _C.cross_entropy_forward(x, np.array([0, 1, 2]), -100)


@pytest.mark.parametrize("dtype", DTYPES)
def test_backend_softmax_any_axis(cpp, ref, dtype):
    a = rand((30, 40, 50), dtype, 1)
    g = rand(a.shape, dtype, 2)
    for axis in (0, 1, 2, -1):
        for name, va in views(a):
            y = cpp.softmax(va, axis)
            np.testing.assert_allclose(y, ref.softmax(va, axis), **tol(dtype), err_msg=f"{axis} {name}")
            np.testing.assert_allclose(cpp.log_softmax(va, axis), ref.log_softmax(va, axis), **tol(dtype, 5))
            np.testing.assert_allclose(cpp.softmax_backward(g, y, axis), ref.softmax_backward(g, y, axis),
                                       **tol(dtype, 10))
            ly = ref.log_softmax(va, axis)
            np.testing.assert_allclose(cpp.log_softmax_backward(g, ly, axis),
                                       ref.log_softmax_backward(g, ly, axis), **tol(dtype, 10))
        for keep in (False, True):
            np.testing.assert_allclose(cpp.logsumexp(a, (axis % 3,), keep), ref.logsumexp(a, (axis % 3,), keep),
                                       **tol(dtype, 5))


@pytest.mark.parametrize("dtype", DTYPES)
def test_backend_cross_entropy_matches_default(cpp, ref, dtype):
    x = rand((300, 10), dtype, 1)
    t = np.random.default_rng(2).integers(0, 10, 300)
    t[::7] = -100
    loss, lse = cpp.cross_entropy(x, t, -100)
    loss_r, lse_r = ref.cross_entropy(x, t, -100)
    np.testing.assert_allclose(loss, loss_r, **tol(dtype, 5))
    g = rand((300,), dtype, 3)
    np.testing.assert_allclose(cpp.cross_entropy_backward(g, x, lse, t, -100),
                               ref.cross_entropy_backward(g, x, lse_r, t, -100), **tol(dtype, 5))


# ---------------------------------------------------------------- reductions
@pytest.mark.parametrize("dtype", DTYPES)
def test_reduce_kernel_sizes(isa, dtype):
    for outer, n, inner in [(1, 1, 1), (3, 17, 1), (1, 255, 3), (17, 3, 1025), (2, 1025, 17), (1, 200000, 1),
                            (1, 300, 300)]:
        x = rand((outer, n, inner), dtype, 1)
        x64 = x.astype(np.float64)
        np.testing.assert_allclose(_C.reduce_axis(RED["sum"], x, outer, n, inner), x64.sum(1), **tol(dtype, 5))
        np.testing.assert_allclose(_C.reduce_axis(RED["mean"], x, outer, n, inner), x64.mean(1), **tol(dtype, 5))
        np.testing.assert_array_equal(_C.reduce_axis(RED["max"], x, outer, n, inner), x.max(1))


def test_reduce_max_propagates_nan():
    x = rand((4, 100), np.float32)
    x[1, 50] = np.nan
    got = _C.reduce_axis(RED["max"], x, 4, 100, 1)
    np.testing.assert_array_equal(np.isnan(got[:, 0]), [False, True, False, False])
    got = _C.reduce_axis(RED["max"], x, 1, 4, 100)
    assert np.isnan(got[0, 50]) and not np.isnan(got[0, 49])


@pytest.mark.parametrize("dtype", DTYPES)
def test_backend_reduce(cpp, ref, dtype):
    a = rand((20, 30, 40), dtype, 1)
    for name in ("sum", "mean", "max", "min", "prod"):
        for axis in (None, (0,), (1,), (2,), (0, 1), (1, 2), (0, 2), (0, 1, 2)):
            for keep in (False, True):
                for vn, va in views(a):
                    with np.errstate(over="ignore"):  # prod overflows float32 (NumPy on both sides)
                        got = cpp.reduce(name, va, axis, keep)
                        want = ref.reduce(name, va, axis, keep)
                    assert np.shape(got) == np.shape(want)
                    np.testing.assert_allclose(got, want, **tol(dtype, 20), err_msg=f"{name} {axis} {vn}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_backend_sum_to_shape(cpp, ref, dtype):
    cases = [((64, 32, 16), (16,)), ((64, 32, 16), (32, 1)), ((64, 32, 16), (1, 32, 1)), ((64, 32, 16), (64, 1, 16)),
             ((64, 32, 16), ()), ((64, 32, 16), (1, 1, 1)), ((8, 16, 8, 16), (16, 1, 1)),
             ((8, 16, 8, 16), (1, 16, 1, 16)), ((64, 32, 16), (64, 32, 16)), ((4, 1, 512, 16), (1, 512, 1)),
             ((32, 512), (512,)), ((3, 4), (4,)), ((130, 130), (130,)), ((1, 7), (7,)), ((7, 1), (1,))]  # bias grads
    for big, small in cases:
        a = rand(big, dtype, 1)
        for vn, va in views(a):
            got = cpp.sum_to_shape(va, small)
            assert got.shape == small
            np.testing.assert_allclose(got, ref.sum_to_shape(va, small), **tol(dtype, 20), err_msg=f"{big}->{small} {vn}")


def test_large_than_cache_and_threads_agree(threads):
    x = rand((8_000_000,), np.float32, 1)  # 32 MB: larger than L2 and L3 slices
    res = []
    for n in (1, 2):
        _C.set_num_threads(n)
        res.append((_C.act_forward(ACT["tanh"], x), _C.reduce_axis(RED["sum"], x, 1, x.size, 1),
                    _C.binary(BIN["add"], x, x),
                    _C.softmax_forward(SOFT["softmax"], x.reshape(8000, 1000))))
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(res[1][1], x.astype(np.float64).sum(keepdims=True).reshape(1, 1), rtol=1e-6)
    np.testing.assert_allclose(res[1][0], np.tanh(x), rtol=2e-5, atol=2e-6)


# ---------------------------------------------------------------- optimizers
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cfg", [dict(momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0),
                                 dict(momentum=0.9, dampening=0.0, nesterov=False, weight_decay=0.01),
                                 dict(momentum=0.9, dampening=0.1, nesterov=False, weight_decay=0.0),
                                 dict(momentum=0.9, dampening=0.0, nesterov=True, weight_decay=0.001)])
def test_sgd_step(cpp, ref, dtype, cfg):
    p1 = rand((200, 100), dtype, 1)
    p2 = p1.copy()
    b1 = b2 = None
    for step in range(3):
        g = rand(p1.shape, dtype, 10 + step)
        b1 = cpp.sgd_step(p1, g, b1, 0.1, **cfg)
        b2 = ref.sgd_step(p2, g, b2, 0.1, **cfg)
        np.testing.assert_allclose(p1, p2, **tol(dtype, 10))
        if cfg["momentum"]:
            np.testing.assert_allclose(b1, b2, **tol(dtype, 10))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("amsgrad,decoupled,wd,maximize", [(False, False, 0.0, False), (False, False, 0.01, False),
                                                            (False, True, 0.01, False), (True, True, 0.01, False),
                                                            (True, False, 0.0, True)])
def test_adam_step(cpp, ref, dtype, amsgrad, decoupled, wd, maximize):
    p1 = rand((200, 100), dtype, 1)
    p2 = p1.copy()
    st1 = [np.zeros_like(p1) for _ in range(3)]
    st2 = [np.zeros_like(p1) for _ in range(3)]
    for step in range(1, 4):
        g = rand(p1.shape, dtype, 10 + step)
        cpp.adam_step(p1, g, *st1, step, 1e-2, 0.9, 0.999, 1e-8, wd, amsgrad, decoupled, maximize)
        ref.adam_step(p2, g, *st2, step, 1e-2, 0.9, 0.999, 1e-8, wd, amsgrad, decoupled, maximize)
        np.testing.assert_allclose(p1, p2, **tol(dtype, 50))
        for a, b in zip(st1, st2):
            np.testing.assert_allclose(a, b, **tol(dtype, 50))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", SIZES + [70001])  # vector remainders, and past the threading threshold
def test_optimizer_kernels_every_isa(isa, threads, ref, dtype, n):
    """The per-ISA update loops (one per variant) against the composed NumPy formulas, 1 and 2 threads."""
    sgd_cfgs = [dict(momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.01),
                dict(momentum=0.9, dampening=0.1, nesterov=False, weight_decay=0.0),
                dict(momentum=0.9, dampening=0.0, nesterov=True, weight_decay=0.001)]
    for nt in (1, 2):
        _C.set_num_threads(nt)
        for cfg in sgd_cfgs:
            p1, p2, b1, b2 = rand(n, dtype, 1), rand(n, dtype, 1), None, None
            for step in range(2):  # the first step creates the buffer, the second reads it
                g = rand(n, dtype, 10 + step)
                if cfg["momentum"] and b1 is None:
                    b1 = np.empty_like(p1)
                _C.sgd_step(p1, g, b1, formulas.sgd_momentum_scalars(0.1, cfg["weight_decay"], cfg["momentum"],
                                                                      cfg["dampening"], step == 0, cfg["nesterov"])
                            if cfg["momentum"] else formulas.sgd_scalars(0.1, cfg["weight_decay"]))
                b2 = ref.sgd_step(p2, g, b2, 0.1, **cfg)
                np.testing.assert_allclose(p1, p2, **tol(dtype, 10), err_msg=f"{cfg}, {nt} threads")
        for amsgrad in (False, True):
            p1, p2 = rand(n, dtype, 1), rand(n, dtype, 1)
            st1, st2 = [np.zeros_like(p1) for _ in range(3)], [np.zeros_like(p1) for _ in range(3)]
            for step in (1, 2):
                g = rand(n, dtype, 20 + step)
                _C.adam_step(p1, g, *st1, formulas.adam_scalars(step, 1e-2, 0.9, 0.999, 1e-8, 0.01, amsgrad, True, False))
                ref.adam_step(p2, g, *st2, step, 1e-2, 0.9, 0.999, 1e-8, 0.01, amsgrad, True)
                np.testing.assert_allclose(p1, p2, **tol(dtype, 50), err_msg=f"amsgrad={amsgrad}, {nt} threads")


ADAM1 = formulas.adam_scalars(1, 1e-2, 0.9, 0.999, 1e-8, 0.0, False, False, False)


def test_optimizer_kernels_reject_shared_memory():
    p, g = rand(100, np.float32, 1), rand(100, np.float32, 2)
    before = p.copy()
    with pytest.raises(ValueError, match="sgd_step: .*must not share memory"):
        _C.sgd_step(p, g, p, formulas.sgd_momentum_scalars(0.1, 0.0, 0.9, 0.0, False, False))
    big = rand(200, np.float32, 3)
    m, v = np.zeros(100, np.float32), np.zeros(100, np.float32)
    with pytest.raises(ValueError, match="adam_step: .*must not share memory"):
        _C.adam_step(big[:100], g, big[50:150], v, None, ADAM1)
    with pytest.raises(ValueError, match="adam_step: .*must not share memory"):
        _C.adam_step(p, g, m, m, None, ADAM1)
    with pytest.raises(ValueError, match=r"adam_step: expected the 11 scalars of formulas.adam_scalars, got 3"):
        _C.adam_step(p, g, m, v, None, formulas.sgd_scalars(0.1, 0.0))
    np.testing.assert_array_equal(p, before)  # nothing changed


def test_adam_against_torch_formula():
    torch = pytest.importorskip("torch")
    p = rand((300, 100), np.float32, 1)
    tp = torch.tensor(p.copy(), requires_grad=True)
    opt = torch.optim.AdamW([tp], lr=1e-2, weight_decay=0.05, amsgrad=True)
    st = [np.zeros_like(p) for _ in range(3)]
    cpp = CppBackend()
    for step in range(1, 4):
        g = rand(p.shape, np.float32, 20 + step)
        tp.grad = torch.tensor(g)
        opt.step()
        cpp.adam_step(p, g, *st, step, 1e-2, 0.9, 0.999, 1e-8, 0.05, True, True)
    np.testing.assert_allclose(p, tp.detach().numpy(), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- concurrency
def test_many_python_threads_at_once():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((300, 400)).astype(np.float32), rng.standard_normal((400, 200)).astype(np.float32)
    x = rng.standard_normal((500, 300)).astype(np.float32)
    want = (np.matmul(a.astype(np.float64), b.astype(np.float64)), np.tanh(x), _C.softmax_forward(SOFT["softmax"], x), x.astype(np.float64).sum(0))

    def work(i):
        for _ in range(20):
            out = np.empty((300, 200), np.float32)
            _C.gemm(a, b, out)
            got = (out, _C.act_forward(ACT["tanh"], x), _C.softmax_forward(SOFT["softmax"], x),
                   _C.reduce_axis(RED["sum"], x, 1, 500, 300)[0])
            np.testing.assert_allclose(got[0], want[0], rtol=1e-4, atol=1e-3)
            np.testing.assert_allclose(got[1], want[1], rtol=2e-5, atol=2e-6)
            np.testing.assert_array_equal(got[2], want[2])
            np.testing.assert_allclose(got[3], want[3], rtol=1e-5, atol=1e-4)
        return i

    with cf.ThreadPoolExecutor(6) as pool:
        assert sorted(pool.map(work, range(6))) == list(range(6))


def test_registry_and_threads_api():
    from tinygrad_chain import backends
    assert "cpp" in backends.available()
    assert backends.resolve("cpu") == "cpp"
    n = _C.get_num_threads()
    _C.set_num_threads(1)
    assert _C.get_num_threads() == 1
    _C.set_num_threads(n)
    assert _C.isa() in ("generic", "avx2", "avx512")


def test_isa_environment_variable_forces_the_kernels():
    """TINYGRAD_CHAIN_ISA picks the instruction set at import (the README's way to run the AVX2 path on
    an AVX-512 host); each one this CPU has runs a GEMM that matches float64."""
    import os
    import subprocess
    import sys
    from cpp_fixtures import ISAS
    code = ("import numpy as np; from tinygrad_chain import _C; r = np.random.default_rng(0); "
            "a, b = r.standard_normal((70, 90), np.float32), r.standard_normal((90, 50), np.float32); "
            "o = np.empty((70, 50), np.float32); _C.gemm(a, b.T.copy().T, o); "
            "print(_C.isa(), float(np.abs(o - a.astype(np.float64) @ b).max()))")
    for isa in ISAS:
        out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "TINYGRAD_CHAIN_ISA": isa},
                             capture_output=True, text=True, check=True).stdout.split()
        assert out[0] == isa
        assert float(out[1]) < 1e-4
