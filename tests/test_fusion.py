"""Elementwise fusion (backends/lazy.py, csrc/fused*.{h,cpp}).

The kernel: every instruction on every ISA, sizes around the block and chunk edges, both
float dtypes, streamed (cache-bypassing) outputs, 1 vs 2 threads, and bad programs.
The Python layer: which nodes a pass stores, results against eager computation and
torch, and that deferring a read never sees a later write (in-place ops, .data,
.numpy(), optimizer steps, gradient accumulation, views).
"""
import numpy as np
import pytest

_C = pytest.importorskip("tinygrad_chain._C", reason="C++ extension tinygrad_chain._C is not built")

import tinygrad_chain as tc  # noqa: E402
from tinygrad_chain import backends  # noqa: E402
from tinygrad_chain.backends import cpp_backend, formulas  # noqa: E402
from tinygrad_chain.backends import lazy as fusion  # noqa: E402
from cpp_fixtures import isa, threads  # noqa: E402,F401  (fixtures)

OPS = cpp_backend._FUSED
DTYPES = [np.float32, np.float64]


def torch_ref(name, *arrays):
    """float64 values of fused instruction `name` from torch: each instruction means the op of its name."""
    torch = pytest.importorskip("torch")
    args = [torch.from_numpy(a.astype(np.float64)) for a in arrays]
    if name == "relu_backward":
        return torch.ops.aten.threshold_backward(*args, 0).numpy()
    return (getattr(torch, name, None) or getattr(torch.ops.aten, name))(*args).numpy()


@pytest.fixture(autouse=True)
def device():
    """Fusion runs on the cpp device: these tests run once, not once per device (conftest)."""
    previous = tc.get_default_device()
    tc.set_default_device("cpp")
    yield "cpp"
    tc.set_default_device(previous)


@pytest.fixture
def fuse_all(monkeypatch):
    """Fuse arrays of any size (the default threshold keeps small ones eager)."""
    monkeypatch.setattr(fusion.config, "min_elements", 1)
    monkeypatch.setattr(fusion.config, "enabled", True)


@pytest.fixture
def programs(monkeypatch):
    """Every fused program run: (code, n_inputs, n_outputs, n_sums)."""
    ran = []
    real = cpp_backend.CppBackend.run_fused

    def spy(self, code, inputs, consts, outputs, n_scratch, n_sums, stretch=None):
        ran.append((code.copy(), len(inputs), len(outputs), n_sums))
        return real(self, code, inputs, consts, outputs, n_scratch, n_sums, stretch)
    monkeypatch.setattr(cpp_backend.CppBackend, "run_fused", spy)
    return ran


def tol(dtype):
    return dict(rtol=3e-6, atol=3e-7) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-14)


def rand(n, dtype, seed):
    return (np.random.default_rng(seed).standard_normal(n) * 2).astype(dtype)


# ---------------------------------------------------------------- the kernel
def run(code, inputs, n_out, n_scratch=0, n_sums=0, consts=()):
    outs = [np.empty_like(inputs[0]) for _ in range(n_out)]
    sums = _C.fused_run(np.array(code, np.int32).reshape(-1, 4), inputs, np.array(consts, np.float64), outs,
                        n_scratch, n_sums)
    return outs, sums


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 3, 17, 511, 512, 513, 1025, (1 << 15) + 1, 1 << 20])  # 1<<20 f32 streams
def test_every_instruction(isa, dtype, n):
    x = rand(n, dtype, 0)
    y = np.abs(rand(n, dtype, 1)) + 0.5
    for name in (n for n in formulas.INSTRUCTION_NAMES if n != "sum"):
        if formulas.instruction_arity(name) == 1:
            arg = np.abs(x) if name == "sqrt" else x
            (out,), _ = run([(OPS[name], 1, 0, -1)], [arg], 1)
            want = torch_ref(name, arg)
        else:
            (out,), _ = run([(OPS[name], 2, 0, 1)], [x, y], 1)
            want = torch_ref(name, x, y)
        np.testing.assert_allclose(out, want, **tol(dtype), err_msg=f"{isa} {name}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [0, 1, 1000, 70_000, 1 << 20])
def test_chain_with_two_outputs_and_a_sum(isa, threads, dtype, n):
    # registers: x w b (0-2) | t s (3-4) | scratch 5-6
    x, w, b = (rand(n, dtype, s) for s in range(3))
    code = [(OPS["mul"], 5, 0, 1), (OPS["add"], 6, 5, 2), (OPS["tanh"], 3, 6, -1), (OPS["sigmoid"], 4, 0, -1),
            (OPS["mul"], 5, 3, 4), (OPS["sum"], 0, 5, -1)]
    t_ref = np.tanh(x.astype(np.float64) * w + b)
    s_ref = 1 / (1 + np.exp(-x.astype(np.float64)))
    results = []
    for nt in (1, 2):
        _C.set_num_threads(nt)
        (t, s), sums = run(code, [x, w, b], 2, n_scratch=2, n_sums=1)
        np.testing.assert_allclose(t, t_ref, **tol(dtype))
        np.testing.assert_allclose(s, s_ref, **tol(dtype))
        np.testing.assert_allclose(sums[0], (t_ref * s_ref).sum(), rtol=1e-5 if dtype == np.float32 else 1e-12,
                                   atol=1e-3 if dtype == np.float32 else 1e-9)
        results.append((t, s, sums))
    # a fixed split into chunks: the same bits whatever the thread count
    for a, b_ in zip(results[0], results[1]):
        assert np.array_equal(a, b_)


def test_constants_and_special_values():
    x = np.array([-np.inf, -100.0, -1.0, -0.0, 0.0, 1.0, 100.0, np.inf, np.nan], np.float32)
    (mx, mn, e, s, r), _ = run([(OPS["maximum"], 2, 0, 1), (OPS["minimum"], 3, 0, 1), (OPS["exp"], 4, 0, -1),
                                (OPS["sigmoid"], 5, 0, -1), (OPS["relu"], 6, 0, -1)], [x], 5, consts=[0.5])
    np.testing.assert_array_equal(mx, np.maximum(x, np.float32(0.5)))  # NaN propagates
    np.testing.assert_array_equal(mn, np.minimum(x, np.float32(0.5)))
    with np.errstate(over="ignore"):
        np.testing.assert_allclose(e, np.exp(x), rtol=3e-6, atol=1e-37)  # subnormal results flush to 0
    assert not np.isnan(s[:-1]).any() and s[0] == 0 and s[-2] == 1 and np.isnan(s[-1])
    np.testing.assert_array_equal(r[:-1], np.maximum(x[:-1], 0))
    assert np.isnan(r[-1])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rows,size", [(3000, 1), (700, 3), (300, 10), (9, 511), (70, 512), (5, 513), (90, 784),
                                       (1, 4096), (300, 4096)])
def test_smaller_inputs_repeat(isa, threads, dtype, rows, size):
    """An input smaller than the program repeats end to end (a bias row broadcast over rows): runs that
    wrap inside a block, periods above, below and equal to a block, 1 and 2 threads."""
    full = rand(rows * size, dtype, 1)
    row = rand(size, dtype, 2)
    relu_of_sum = np.maximum(full.reshape(rows, size) + row, 0).ravel()
    product = (row * full.reshape(rows, size)).ravel()
    # registers: inputs 0, 1; outputs 2, 3; scratch 4. The larger input sets the size, wherever it is.
    for inputs, f, r in (([full, row], 0, 1), ([row, full], 1, 0)):
        code = [(OPS["add"], 4, f, r), (OPS["relu"], 2, 4, -1), (OPS["mul"], 3, r, f), (OPS["sum"], 0, 3, -1)]
        for nt in (1, 2):
            _C.set_num_threads(nt)
            outs = [np.empty_like(full) for _ in range(2)]
            sums = _C.fused_run(np.array(code, np.int32), inputs, np.zeros(0), outs, 1, 1)
            np.testing.assert_allclose(outs[0], relu_of_sum, **tol(dtype))
            np.testing.assert_allclose(outs[1], product, **tol(dtype))
            np.testing.assert_allclose(sums[0], product.astype(np.float64).sum(), rtol=1e-5, atol=1e-3)



@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [129, 513, (1 << 15) + 129, 700_001])  # 700_001: 6 arrays of it take small blocks
def test_block_size_changes_no_bit(isa, threads, dtype, n):
    """fused_run picks each program's block size (fused.cpp's fused_block: smaller for many streamed arrays);
    outputs are the same bits at every block size, and a sum keeps the bits of blocks of 512."""
    x, t, w = rand(n, dtype, 0), np.tanh(rand(n, dtype, 1)), rand(n, dtype, 2)
    # the elementwise chain's backward: inputs x t w (0-2) | gx gw gb (3-5) | scratch 6-7
    code = [("sigmoid", 6, 0, -1), ("sigmoid_backward", 7, 1, 6), ("tanh_backward", 3, 6, 1), ("mul", 6, 3, 2),
            ("add", 4, 7, 6), ("mul", 5, 3, 0)]
    regs = [x, t, w] + [None] * 5
    for name, d, a, b in code:  # float64 reference, instruction by instruction
        regs[d] = torch_ref(name, regs[a], *([regs[b]] if b >= 0 else []))
    prog = np.array([(OPS[name], d, a, b) for name, d, a, b in code], np.int32)
    for nt in (1, 2):
        _C.set_num_threads(nt)
        got = {}
        for block in (512, 0, 128, 100):  # 0: the program's own choice
            got[block] = [np.empty_like(x) for _ in range(3)]
            _C.fused_run(prog, [x, t, w], np.zeros(0), got[block], 2, 0, block=block)
            for k in range(3):
                np.testing.assert_array_equal(got[block][k], got[512][k])
        for k in range(3):
            np.testing.assert_allclose(got[0][k], regs[3 + k], **tol(dtype))
        summed = np.array([(OPS["mul"], 2, 0, 1), (OPS["sum"], 0, 2, -1)], np.int32)  # scratch 2
        sums = {b: _C.fused_run(summed, [x, w], np.zeros(0), [], 1, 1, block=b)[0] for b in (0, 512)}
        assert sums[0] == sums[512]
        np.testing.assert_allclose(sums[0], (x.astype(np.float64) * w).sum(), rtol=1e-5, atol=1e-3)
    with pytest.raises(ValueError, match="a block has 1 to 512 elements"):
        _C.fused_run(prog, [x, t, w], np.zeros(0), got[0], 2, 0, block=513)

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("outer,size,stretch", [(1, 300, 3), (2, 70, 700), (3, 9, 513), (5, 64, 128), (1, 1, 5000),
                                                (40, 1, 512), (1, 2000, 33)])
def test_stretched_inputs(isa, threads, dtype, outer, size, stretch):
    """An input standing `stretch` times in a row (a per-row value, shape (..., 1)), the whole repeated
    `outer` times: runs that cross blocks and chunks, 1 and 2 threads, beside a repeated row."""
    full = rand(outer * size * stretch, dtype, 1)
    col = rand(size, dtype, 2)
    row = rand(stretch, dtype, 3)
    want = (full.reshape(outer, size, stretch) - col[:, None]) * row
    code = [(OPS["sub"], 4, 0, 1), (OPS["mul"], 3, 4, 2)]
    for nt in (1, 2):
        _C.set_num_threads(nt)
        out = np.empty_like(full)
        _C.fused_run(np.array(code, np.int32), [full, col, row], np.zeros(0), [out], 1, 0, [1, stretch, 1])
        np.testing.assert_allclose(out, want.ravel(), **tol(dtype))


def test_bad_stretches_are_rejected():
    x, col = np.ones(12, np.float32), np.ones(4, np.float32)
    code = np.array([(OPS["add"], 2, 0, 1)], np.int32)
    with pytest.raises(ValueError, match="one stretch per input"):
        _C.fused_run(code, [x, col], np.zeros(0), [np.empty_like(x)], 0, 0, [1])
    with pytest.raises(ValueError, match="at least 1"):
        _C.fused_run(code, [x, col], np.zeros(0), [np.empty_like(x)], 0, 0, [1, 0])
    with pytest.raises(ValueError, match=r"4 elements \(stretch 2\) does not repeat evenly over 12"):
        _C.fused_run(code, [x, col], np.zeros(0), [np.empty_like(x)], 0, 0, [1, 2])


def test_bad_programs_are_rejected():
    x = np.ones(8, np.float32)
    with pytest.raises(ValueError, match="unknown op"):
        run([(99, 1, 0, -1)], [x], 1)
    with pytest.raises(ValueError, match="out of range"):
        run([(OPS["neg"], 1, 5, -1)], [x], 1)
    with pytest.raises(ValueError, match="writes where it may not"):
        run([(OPS["neg"], 0, 0, -1)], [x], 1)  # into an input
    with pytest.raises(ValueError, match="overwrites its own operand"):
        run([(OPS["neg"], 1, 1, -1)], [x], 1)
    with pytest.raises(ValueError, match="second operand"):
        run([(OPS["add"], 1, 0, -1)], [x], 1)
    with pytest.raises(ValueError, match="dtype or size"):
        run([(OPS["add"], 2, 0, 1)], [x, np.ones(9, np.float32)], 1)
    with pytest.raises(TypeError, match="float32 or float64"):
        run([(OPS["neg"], 1, 0, -1)], [np.ones(8, np.int32)], 1)
    with pytest.raises(ValueError, match=r"an input of 3 elements \(stretch 1\) does not repeat evenly over 8"):
        run([(OPS["add"], 2, 0, 1)], [x, np.ones(3, np.float32)], 1)
    with pytest.raises(ValueError, match="inputs differ in dtype"):
        run([(OPS["add"], 2, 0, 1)], [x, np.ones(4, np.float64)], 1)


# ---------------------------------------------------------------- the Python layer
def chain(lib, x, w, b):
    return (lib.tanh(x * w + b) * lib.sigmoid(x)).sum()


@pytest.mark.parametrize("dtype", [tc.float32, tc.float64])
def test_chain_stores_only_what_backward_reads(fuse_all, programs, dtype):
    torch = pytest.importorskip("torch")
    vals = [rand(1000, np.float64, s) for s in range(3)]
    x, w, b = (tc.tensor(v, dtype=dtype, requires_grad=True) for v in vals)
    y = chain(tc, x, w, b)
    # one pass: x, w, b in; tanh's output (saved for backward) out; the sum taken inside. sigmoid's
    # output, saved too, is one op on x: it stays pending, recomputed where backward reads it
    assert [(n_in, n_out, n_sums) for _, n_in, n_out, n_sums in programs] == [(3, 1, 1)]
    y.backward()
    # backward: one more pass, from tanh's output, x and w to the three gradients
    assert [(n_in, n_out, n_sums) for _, n_in, n_out, n_sums in programs[1:]] == [(3, 3, 0)]
    # the exact result: float64 on the same (rounded) inputs; torch's float32 run is itself about
    # 1 ulp of tanh away from it in w's gradient (1 - t^2 cancels where t -> 1), too far for tol()
    np_dtype = np.float32 if dtype is tc.float32 else np.float64
    tx, tw, tb = (torch.tensor(v.astype(np_dtype).astype(np.float64), requires_grad=True) for v in vals)
    ty = chain(torch, tx, tw, tb)
    ty.backward()
    t = dict(rtol=1e-6, atol=1e-6) if dtype is tc.float32 else tol(np.float64)  # as test_float32_accuracy.py
    np.testing.assert_allclose(y.item(), ty.item(), rtol=1e-5 if dtype is tc.float32 else 1e-12)
    for ours, theirs in ((x, tx), (w, tw), (b, tb)):
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), **t)


def test_pending_results_match_eager(fuse_all, monkeypatch):
    vals = [rand(3000, np.float32, s) for s in range(3)]

    def compute():
        a, c, d = (tc.tensor(v) for v in vals)
        e = ((a * c - d / 3.0).relu() + (-a).exp().sqrt() * 0.5).tanh()
        f = tc.maximum(e, c.sigmoid()) - tc.minimum(a, d)
        return [t.numpy() for t in (e, f, f.sum(), (f * 2).mean())]
    fused = compute()
    monkeypatch.setattr(fusion.config, "enabled", False)
    eager = compute()
    for got, want in zip(fused, eager):
        np.testing.assert_allclose(got, want, rtol=2e-6, atol=2e-6)


@pytest.mark.parametrize("bias_shape", [(70,), (1, 70), ()])
def test_a_bias_row_joins_the_expression(fuse_all, programs, bias_shape):
    """relu(x @ w + b): the broadcast bias is read in the same pass as the activation, and the
    sum before relu (which backward does not read) is never stored."""
    torch = pytest.importorskip("torch")
    xv, wv, bv = rand(300 * 50, np.float64, 0).reshape(300, 50), rand(50 * 70, np.float64, 1).reshape(50, 70), \
        rand(int(np.prod(bias_shape)), np.float64, 2).reshape(bias_shape)
    x, w, b = (tc.tensor(v, requires_grad=True) for v in (xv, wv, bv))
    y = (x @ w + b).relu()
    y.detach().numpy()  # computes it
    assert [(n_in, n_out) for _, n_in, n_out, _ in programs] == [(2, 1)]
    (y * y).sum().backward()
    tx, tw, tb = (torch.tensor(v, requires_grad=True) for v in (xv, wv, bv))
    ty = (tx @ tw + tb).relu()
    (ty * ty).sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    for ours, theirs in ((x, tx), (w, tw), (b, tb)):
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-11, atol=1e-11)


def test_broadcasts_that_do_not_read_in_flat_order_stay_eager(fuse_all, programs):
    av, cv, rv = rand(4 * 30 * 70, np.float32, 0).reshape(4, 30, 70), rand(30, np.float32, 1).reshape(30, 1), \
        rand(70, np.float32, 2).reshape(1, 70)
    mid = rand(4 * 70, np.float32, 3).reshape(4, 1, 70)
    a, col, row, m = (tc.tensor(v) for v in (av, cv, rv, mid))
    for got, want in (((col + row).exp(), np.exp(cv + rv)),       # the result is larger than both
                      ((a + m).relu(), np.maximum(av + mid, 0))):  # a broadcast axis between kept ones
        np.testing.assert_allclose(got.numpy(), want, rtol=2e-6)
    assert all(n_in == 1 for _, n_in, _, _ in programs)  # only the activations fused, after the eager adds


def test_per_row_values_join_the_expression(fuse_all, programs):
    """A layer norm written out: the per-row mean and scale (shape (rows, 1)) stretch over each row and
    the weight and bias repeat, so the normalisation is one pass; values and gradients match torch."""
    torch = pytest.importorskip("torch")
    xv, wv, bv = rand(300 * 70, np.float64, 0).reshape(300, 70), rand(70, np.float64, 1), rand(70, np.float64, 2)

    def norm(lib, x, w, b):
        xc = x - x.mean(-1, keepdim=True)
        return (xc / ((xc * xc).mean(-1, keepdim=True) + 1e-5).sqrt() * w + b).tanh()
    x, w, b = (tc.tensor(v, requires_grad=True) for v in (xv, wv, bv))
    y = norm(tc, x, w, b)
    y.detach().numpy()  # computes it
    # one pass writes xc and xc * xc (the mean stretched over each row), one reads xc, the scale, w, b
    assert [n_in for _, n_in, _, _ in programs if n_in > 1] == [2, 4]
    (y * y).sum().backward()
    tx, tw, tb = (torch.tensor(v, requires_grad=True) for v in (xv, wv, bv))
    ty = norm(torch, tx, tw, tb)
    (ty * ty).sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    for ours, theirs in ((x, tx), (w, tw), (b, tb)):
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-10, atol=1e-10)


def test_equal_sizes_take_the_shape_with_more_axes(fuse_all, programs):
    """(70,) * (1, 70) is (1, 70), whichever operand comes first."""
    fv, rv = rand(70, np.float32, 3), rand(70, np.float32, 2).reshape(1, 70)
    for flat_first in (True, False):
        flat, row = tc.tensor(fv), tc.tensor(rv)
        got = (flat * row).exp() if flat_first else (row * flat).exp()
        assert got.shape == (1, 70)
        np.testing.assert_allclose(got.numpy(), np.exp(fv * rv), rtol=2e-6)
    assert [n_in for _, n_in, _, _ in programs] == [2, 2]  # each product joined its exp


def test_long_chains_run_in_pieces(fuse_all, programs):
    x = tc.tensor(rand(500, np.float64, 0))
    y, ref = x, x.numpy().copy()
    for _ in range(100):
        y = y * 1.01 + 0.1
        ref = ref * 1.01 + 0.1
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-13)
    assert len(programs) >= 200 // fusion.MAX_NODES
    assert max(len(code) for code, *_ in programs) <= fusion.MAX_NODES


def test_signed_zero_constants_stay_apart(fuse_all):
    x = tc.tensor(np.full(10, 2.0, np.float32))
    out = ((x * 0.0 + 1.0) * (x * -0.0)).numpy()
    assert np.signbit(out).all()


def test_a_later_in_place_write_is_not_seen(fuse_all):
    x = tc.tensor(np.arange(6, dtype=np.float32))
    y = x * 2.0
    assert fusion.is_pending(y._data)
    x.add_(100.0)
    x[0] = -7.0
    np.testing.assert_array_equal(y.numpy(), np.arange(6) * 2.0)
    v = x.view(2, 3)  # a view shares the memory: writing through it counts too
    z = x + 1.0
    v.mul_(0.0)
    np.testing.assert_array_equal(z.numpy(), np.array([-7, 101, 102, 103, 104, 105]) + 1.0)


def test_memory_handed_out_is_never_read_lazily(fuse_all):
    x = tc.tensor(np.ones(4, np.float32))
    held = x.numpy()          # shares x's memory
    y = x * 3.0
    assert not fusion.is_pending(y._data)  # computed now: the caller may write `held` at any time
    held += 1
    np.testing.assert_array_equal(y.numpy(), [3, 3, 3, 3])

    u = tc.tensor(np.ones(4, np.float32))
    p = u * 5.0
    assert fusion.is_pending(p._data)
    u.data[...] = 0           # writing through .data (a tensor) computes what reads u first
    np.testing.assert_array_equal(p.numpy(), [5, 5, 5, 5])
    r = u * 2.0               # u stays fusable: every write through .data is an in-place op
    assert fusion.is_pending(r._data)
    u.data.fill_(1.0)
    np.testing.assert_array_equal(r.numpy(), [0, 0, 0, 0])

    t = tc.tensor(np.ones(4, np.float32))
    alias = t.data            # a tensor sharing t's memory
    q = t + 1.0
    assert fusion.is_pending(q._data)
    alias.fill_(9.0)          # an in-place write through it computes what reads t first
    np.testing.assert_array_equal(q.numpy(), [2, 2, 2, 2])
    np.testing.assert_array_equal(t.numpy(), [9, 9, 9, 9])


def test_memory_handed_out_computes_its_pending_readers_first(fuse_all, monkeypatch):
    """sigmoid(x), saved for backward, stays pending (recomputed from x where backward reads it): handing
    x's memory out computes it first, so a write through NumPy before backward leaves it as eager's."""
    def grad():
        x = tc.tensor(np.linspace(-2, 2, 8, dtype=np.float32), requires_grad=True)
        y = (x.sigmoid() * x).sum()
        held = x.detach().numpy()
        held[...] = 5.0
        y.backward()
        return x.grad.numpy()
    fused = grad()
    monkeypatch.setattr(fusion.config, "enabled", False)
    np.testing.assert_allclose(fused, grad(), rtol=1e-6, atol=1e-7)  # (small arrays: other kernels eagerly)


def test_optimizer_steps_and_grad_accumulation_wait_for_readers(fuse_all):
    w = tc.nn.Parameter(tc.tensor(np.ones(5, np.float32)))
    opt = tc.optim.SGD([w], lr=0.5, momentum=0.9)
    (w * w).sum().backward()
    doubled = w * 2.0              # pending, reads w
    grad_copy = w.grad * 1.0       # pending, reads w.grad
    opt.step()                     # writes w (and the momentum buffer) in place
    (w * 3.0).sum().backward()     # accumulates into w.grad in place
    np.testing.assert_array_equal(doubled.detach().numpy(), np.full(5, 2.0))
    np.testing.assert_array_equal(grad_copy.numpy(), np.full(5, 2.0))
    np.testing.assert_allclose(w.detach().numpy(), np.zeros(5))
    np.testing.assert_allclose(w.grad.numpy(), np.full(5, 5.0))
    opt.zero_grad(set_to_none=False)
    assert not w.grad.numpy().any()


def test_computed_nodes_let_go_of_their_inputs(fuse_all):
    import weakref
    a = np.arange(8, dtype=np.float32)
    x = tc.tensor(a)
    y = (x * 2.0 + 1.0).exp()
    pending = y._data
    ref = weakref.ref(x._data)
    del x
    assert ref() is not None      # the pending expression still reads it
    y.numpy()
    assert pending.value is not None and pending.args == ()
    assert ref() is None          # computed: the input is free


def test_hooks_and_retained_grads_see_values(fuse_all):
    x = tc.tensor(rand(64, np.float32, 0), requires_grad=True)
    h = x.sigmoid()
    seen = []
    h.register_hook(lambda g: seen.append(g.numpy().copy()))
    h.retain_grad()
    (h * h).sum().backward()
    s = 1 / (1 + np.exp(-x.detach().numpy().astype(np.float64)))
    np.testing.assert_allclose(seen[0], 2 * s, rtol=1e-6)
    np.testing.assert_allclose(h.grad.numpy(), 2 * s, rtol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), 2 * s * s * (1 - s), rtol=1e-5)


def test_double_backward_through_fused_ops(fuse_all):
    x = tc.tensor(rand(50, np.float64, 3), dtype=tc.float64, requires_grad=True)
    (g,) = tc.autograd.grad((x.tanh() * x.sigmoid()).sum(), x, create_graph=True)
    (gg,) = tc.autograd.grad(g.sum(), x)
    v = x.detach().numpy()
    eps = 1e-6

    def first(z):
        t, s = np.tanh(z), 1 / (1 + np.exp(-z))
        return (1 - t * t) * s + t * s * (1 - s)
    np.testing.assert_allclose(gg.numpy(), (first(v + eps) - first(v - eps)) / (2 * eps), rtol=1e-6, atol=1e-8)


def test_python_threads_sharing_pending_tensors(fuse_all):
    import concurrent.futures as cf
    vals = [rand(20_000, np.float32, s) for s in range(3)]
    want_t = np.tanh(vals[0].astype(np.float64) * vals[1] + vals[2])
    for _ in range(20):
        x, w, b = (tc.tensor(v) for v in vals)
        t = (x * w + b).tanh()            # pending, shared by every thread
        u = t * 2.0
        with cf.ThreadPoolExecutor(4) as pool:
            outs = list(pool.map(lambda k: [(t * float(k)).sum().item(), u.numpy().copy(), t.numpy().copy()],
                                 range(1, 9)))
        for k, (total, u_val, t_val) in enumerate(outs, start=1):
            np.testing.assert_allclose(t_val, want_t, rtol=3e-6, atol=3e-7)
            np.testing.assert_allclose(u_val, 2 * want_t, rtol=3e-6, atol=3e-7)
            np.testing.assert_allclose(total, k * want_t.sum(), rtol=1e-4, atol=1e-2)


def test_a_node_computed_meanwhile_is_not_computed_again(fuse_all):
    # what a second Python thread finds when the first has just computed the expression
    x = tc.tensor(np.arange(10, dtype=np.float32))
    p = (x * 3.0)._data
    value = p.get()
    assert fusion._run([p]) is None and p.get() is value
    np.testing.assert_allclose(fusion._run([], reduce=p), [135.0])


def test_threshold_keeps_small_ops_eager():
    x = tc.tensor(np.ones(16, np.float32))
    assert not fusion.is_pending((x * 2.0)._data)
    big = tc.tensor(np.ones(fusion.config.min_elements, np.float32))
    assert fusion.is_pending((big * 2.0)._data) == fusion.config.enabled


@pytest.mark.parametrize("dtype", [tc.float32, tc.float64])
def test_compiled_chain_runs_the_eager_programs(fuse_all, programs, dtype):
    """tc.compile's replay cannot take the product's ones-shortcut (a value read from the data), so
    the sum's gradient reaches the product's backward as one value broadcast: it joins the backward
    pass as a constant (no array of ones, no unfused product), x * 1.0 reads x (the same instructions
    as eager), and the gradients equal eager's."""
    vals = [rand(5000, np.float64, s) for s in range(3)]
    x, w, b = (tc.tensor(v, dtype=dtype, requires_grad=True) for v in vals)

    def step():
        x.grad = w.grad = b.grad = None
        y = chain(tc, x, w, b)
        y.backward()
        return y.detach()
    want = [step().numpy()] + [t.grad.numpy().copy() for t in (x, w, b)]
    eager = [(len(code), n_in, n_out, n_sums) for code, n_in, n_out, n_sums in programs]
    compiled = tc.compile(step)
    for _ in range(3):  # warm-up, trace, replay
        programs.clear()
        got = [compiled().numpy()] + [t.grad.numpy() for t in (x, w, b)]
        assert [(len(code), n_in, n_out, n_sums) for code, n_in, n_out, n_sums in programs] == eager
        for g, e in zip(got, want):
            np.testing.assert_array_equal(g, e)
    assert any(type(e).__name__ == "_Step" for e in compiled._cache.values())


def test_a_broadcast_value_is_a_constant(fuse_all):
    cpp = backends.get("cpp")
    x = rand(100, np.float32, 0)
    two = np.broadcast_to(np.float32(2.0), x.shape)
    p = cpp.binary("mul", two, x)
    assert fusion.is_pending(p) and p.args == (2.0, x)
    np.testing.assert_array_equal(p.get(), x * np.float32(2.0))
    # with no array of the result's size left to run over, the op runs eagerly
    for other, want in ((two, 4.0), (np.full(1, 3.0, np.float32), 6.0)):
        q = cpp.binary("mul", two, other)
        assert not fusion.is_pending(q)
        np.testing.assert_array_equal(q, np.full(100, want, np.float32))
