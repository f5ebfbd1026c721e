"""The C++ GEMM (tinygrad_chain._C.gemm) and the cpp backend's matmul and linear against NumPy:
every instruction set this CPU has, edge and tail sizes, views read in place, batches (broadcast,
strided, many small products), beta, 1 vs 2 threads."""
import numpy as np
import pytest

_C = pytest.importorskip("tinygrad_chain._C", reason="C++ extension tinygrad_chain._C is not built")

from tinygrad_chain.backends.cpp_backend import CppBackend  # noqa: E402
from cpp_fixtures import DTYPES, cpp, device, isa, rand, ref, threads, views  # noqa: E402,F401  (fixtures)


# ---------------------------------------------------------------- GEMM
def ref_mm(a, b):
    return np.matmul(a.astype(np.float64), b.astype(np.float64))


def gemm_tol(dtype, k):
    return dict(rtol=1e-5 * max(1, k) ** 0.5, atol=1e-5 * max(1, k) ** 0.5) if dtype == np.float32 else \
        dict(rtol=1e-12 * max(1, k) ** 0.5, atol=1e-12 * max(1, k) ** 0.5)


def check_gemm(a, b, c, want, msg):
    """out = a @ b into a fresh out, and a @ b + 0.5*c into a copy of c, against `want` (float64)."""
    bounds = gemm_tol(c.dtype, a.shape[-1])
    out = np.full(c.shape, np.nan, c.dtype)
    _C.gemm(a, b, out)
    np.testing.assert_allclose(out, want, **bounds, err_msg=msg)
    out = c.copy()
    _C.gemm(a, b, out, 0.5)
    np.testing.assert_allclose(out, want + 0.5 * c, **bounds, err_msg=msg + ", beta")


def check_layouts_and_threads(m, n, k, dtype):
    """check_gemm for every layout pair of A and B (contiguous, strided, reversed, transposed), 1 and 2 threads."""
    a, b, c = rand((m, k), dtype, 1), rand((k, n), dtype, 2), rand((m, n), dtype, 3)
    want = ref_mm(a, b)
    for nt in (1, 2):
        _C.set_num_threads(nt)
        for na, va in views(a):
            for nb, vb in views(b):
                check_gemm(va, vb, c, want, f"{na} @ {nb}, {nt} threads")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mnk", [(0, 3, 4), (3, 0, 4), (3, 4, 0), (1, 1, 1), (3, 17, 5), (17, 3, 255),
                                 (255, 17, 3), (33, 1025, 7), (100, 200, 300), (13, 29, 600)])
def test_gemm_shapes(isa, dtype, mnk):
    m, n, k = mnk
    a, b = rand((m, k), dtype, 1), rand((k, n), dtype, 2)
    out = np.full((m, n), np.nan, dtype)
    _C.gemm(a, b, out)
    np.testing.assert_allclose(out, ref_mm(a, b), **gemm_tol(dtype, k))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mnk", [(37, 45, 70), (25, 67, 531)])  # K past one 256-deep block, not a multiple of 16
def test_gemm_views_no_copy_layouts(isa, dtype, mnk):
    """Every operand layout is packed straight from its strides (transposed ones turned in registers)."""
    m, n, k = mnk
    a, b = rand((m, k), dtype, 1), rand((k, n), dtype, 2)
    want = ref_mm(a, b)
    for na, va in views(a):
        for nb, vb in views(b):
            out = np.empty((m, n), dtype)
            _C.gemm(va, vb, out)
            np.testing.assert_allclose(out, want, **gemm_tol(dtype, k), err_msg=f"{na} @ {nb}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mnk", [(1, 1, 1024), (3, 5, 1031), (4, 3, 4096), (8, 9, 43264), (5, 7, 20000),
                                 (16, 72, 7744), (13, 11, 3001)])
def test_gemm_dot_path(isa, threads, dtype, mnk):
    """Small C over a long K with k-contiguous operands (the conv weight gradient's layout): the
    dot-product path, K split over the threads, every row/column remainder, with and without beta."""
    m, n, k = mnk
    a, bt, c = rand((m, k), dtype, 1, 1.0), rand((n, k), dtype, 2, 1.0), rand((m, n), dtype, 3)
    for nt in (1, 2):
        _C.set_num_threads(nt)
        out = np.full((m, n), np.nan, dtype)
        _C.gemm(a, bt.T, out)
        np.testing.assert_allclose(out, ref_mm(a, bt.T), **gemm_tol(dtype, k), err_msg=f"{nt} threads")
        out = c.copy()
        _C.gemm(a, bt.T, out, 0.5)
        np.testing.assert_allclose(out, ref_mm(a, bt.T) + 0.5 * c, **gemm_tol(dtype, k))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mnk", [(12, 32, 16), (13, 45, 33), (5, 33, 17), (9, 40, 20), (64, 64, 64), (25, 48, 531),
                                 (255, 257, 40), (256, 256, 300), (257, 255, 70),
                                 (32, 520, 50), (128, 257, 17), (256, 512, 24), (257, 600, 20),
                                 (256, 10, 512), (64, 1, 100), (16, 4, 16), (1000, 16, 37), (301, 7, 1025)])
def test_gemm_in_place_operands_tails_and_transposed_runs(isa, threads, dtype, mnk):
    """Products of at most 256 columns (rows) read a row-major or transposed A (a row-major B) in
    place instead of packing it, and a last panel of a few rows runs a lower micro-kernel; a C of
    at most 16 columns, or a few rows times a transposed B, runs as C.T = B.T @ A.T into scratch
    and lands transposed in C: every layout, shapes on both sides of 256 (per thread: 2 threads
    halve the tile) and of N = 2M, depth past one block, every tail height, with and without
    beta, 1 and 2 threads."""
    check_layouts_and_threads(*mnk, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mnk", [(130, 600, 800), (100, 520, 1024), (300, 64, 400), (37, 300, 777)])
def test_gemm_large_operands_in_place_or_packed(isa, threads, dtype, mnk):
    """Past 256 columns, a row-major A is still read in place unless its rows lie a multiple of
    4 KiB apart (1024 floats or 512 doubles: packed, the next panel's rows fetched ahead); a
    row-major B is read in place up to 8 of the ISA's tile widths of rows; the depth runs in even
    blocks (800 = 3 x 272 floats on AVX-512): every layout, tails, beta, 1 and 2 threads."""
    check_layouts_and_threads(*mnk, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mnk", [(63, 64, 64), (64, 64, 64), (96, 96, 96), (160, 160, 160), (64, 80, 70),
                                 (30, 96, 100), (20, 112, 128), (64, 144, 64), (128, 48, 50)])
def test_gemm_split_between_threads_from_64_cubed(isa, threads, dtype, mnk):
    """Two threads split a product from 64^3 multiply-adds (63 x 64 x 64 stays on one), cutting
    the columns at multiples of 16 (96 -> 48 + 48, 80 -> 48 + 32, 144 -> 80 + 64: tiles ending in a
    one-vector panel on AVX-512) or the rows at multiples of 12: every layout, with and without beta."""
    check_layouts_and_threads(*mnk, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gemm_beta_accumulates(dtype):
    a, b, c = rand((20, 30), dtype, 1), rand((30, 40), dtype, 2), rand((20, 40), dtype, 3)
    out = c.copy()
    _C.gemm(a, b, out, 1.0)
    np.testing.assert_allclose(out, ref_mm(a, b) + c, **gemm_tol(dtype, 30))


def test_gemm_rejects_bad_input():
    a = np.ones((3, 4), np.float32)
    with pytest.raises(TypeError):
        _C.gemm(a.astype(np.int32), a.T.astype(np.int32), np.empty((3, 3), np.int32))
    with pytest.raises(ValueError):
        _C.gemm(a, a, np.empty((3, 4), np.float32))
    with pytest.raises(TypeError):
        _C.gemm(a, a.T.astype(np.float64), np.empty((3, 3), np.float32))


@pytest.mark.parametrize("dtype", DTYPES)
def test_matmul_backend_batched_broadcast(cpp, dtype):
    cases = [((4, 50, 60), (60, 70)), ((50, 60), (3, 60, 70)), ((2, 1, 50, 60), (3, 60, 70)),
             ((5, 40, 60), (5, 60, 30)), ((70, 80), (80, 90)), ((3, 2, 50, 60), (60, 70))]
    for sa, sb in cases:
        a, b = rand(sa, dtype, 1), rand(sb, dtype, 2)
        np.testing.assert_allclose(cpp.matmul(a, b), ref_mm(a, b), **gemm_tol(dtype, 60), err_msg=f"{sa} @ {sb}")
        # the matmul VJPs: transposed operands go straight to the kernel
        g = rand(np.broadcast_shapes(sa[:-2], sb[:-2]) + (sa[-2], sb[-1]), dtype, 3)
        np.testing.assert_allclose(cpp.matmul(g, np.swapaxes(b, -1, -2)), ref_mm(g, np.swapaxes(b, -1, -2)),
                                   **gemm_tol(dtype, 70))


@pytest.mark.parametrize("dtype", DTYPES)
def test_gemm_strided_batch_axes(isa, dtype):
    """Batch axes of any strides (attention's transposed heads), size-1 and stride-0 (broadcast) ones,
    and 2-D operands shared by every product: no copy, the same result as NumPy."""
    q = rand((3, 20, 4, 16), dtype, 1).transpose(0, 2, 1, 3)          # (3, 4, 20, 16), non-contiguous batch
    kt = rand((3, 20, 4, 16), dtype, 2).transpose(0, 2, 3, 1)         # (3, 4, 16, 20)
    cases = [(q, kt), (q, rand((16, 9), dtype, 3)), (rand((20, 16), dtype, 4), kt),
             (q, np.broadcast_to(rand((1, 4, 16, 20), dtype, 5), (3, 4, 16, 20))), (q[:, :, ::-1], kt[::-1])]
    for a, b in cases:
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        out = np.full(batch + (a.shape[-2], b.shape[-1]), np.nan, dtype)
        _C.gemm(a, b, out)
        np.testing.assert_allclose(out, ref_mm(a, b), **gemm_tol(dtype, 16))
        np.testing.assert_allclose(CppBackend().matmul(a, b), ref_mm(a, b), **gemm_tol(dtype, 16))
    with pytest.raises(ValueError, match="batch"):
        _C.gemm(q, rand((2, 4, 16, 20), dtype), np.empty((3, 4, 20, 20), dtype))


def batched_layouts(x, batch):
    """x (batch + matrix) contiguous, with its matrices transposed in memory (a swapaxes view,
    the matmul VJPs' form), and a size-1 leading batch axis broadcast to `batch` (stride 0)."""
    yield "contiguous", x
    yield "transposed", np.ascontiguousarray(np.swapaxes(x, -1, -2)).swapaxes(-1, -2)
    yield "broadcast", np.broadcast_to(x[:1], batch + x.shape[-2:])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bmnk", [((2, 3), 1, 1, 1), ((3,), 3, 17, 5), ((2, 2), 17, 3, 17), ((5,), 17, 17, 17),
                                  ((16, 4), 32, 32, 16), ((4, 4), 32, 16, 32), ((2, 4), 64, 64, 32),
                                  ((3,), 13, 40, 33), ((9,), 24, 8, 70),
                                  ((4,), 80, 96, 64), ((2,), 130, 128, 130)])  # whole products, split ones
def test_gemm_batched_small_products(isa, threads, dtype, bmnk):
    """Batches of small products (attention's q @ k.T and attn @ v, and their VJPs' transposed
    operands), whole ones per thread: odd sizes, every kernel height's tail, A and B each contiguous,
    transposed or broadcast along the batch, with and without beta, 1 and 2 threads; float64 to
    1e-12 relative."""
    batch, m, n, k = bmnk
    a, b, c = rand(batch + (m, k), dtype, 1), rand(batch + (k, n), dtype, 2), rand(batch + (m, n), dtype, 3)
    for nt in (1, 2):
        _C.set_num_threads(nt)
        for na, va in batched_layouts(a, batch):
            for nb, vb in batched_layouts(b, batch):
                check_gemm(va, vb, c, ref_mm(va, vb), f"{na} @ {nb}, {nt} threads")


@pytest.mark.parametrize("dtype", DTYPES)
def test_gemm_empty_batch_and_empty_products(dtype):
    """An empty batch writes nothing; a product over k = 0 is zeros (beta*out with beta)."""
    for sa, sb in [((0, 4, 32, 16), (0, 4, 16, 32)), ((3, 0, 5, 7), (3, 0, 7, 6)), ((4, 5, 0), (4, 0, 6))]:
        a, b = rand(sa, dtype, 1), rand(sb, dtype, 2)
        out = np.full(np.broadcast_shapes(sa[:-2], sb[:-2]) + (sa[-2], sb[-1]), np.nan, dtype)
        _C.gemm(a, b, out)
        np.testing.assert_array_equal(out, np.matmul(a, b), err_msg=f"{sa} @ {sb}")
        np.testing.assert_array_equal(CppBackend().matmul(a, b), np.matmul(a, b), err_msg=f"{sa} @ {sb}")
    out = np.ones((2, 3, 4), dtype)
    _C.gemm(rand((2, 3, 0), dtype), rand((2, 0, 4), dtype), out, 0.5)
    np.testing.assert_array_equal(out, np.full((2, 3, 4), 0.5, dtype))


def test_matmul_backend_sends_batches_by_their_whole_work(cpp, monkeypatch):
    """A batch of products each too small alone (the quick Transformer's attention) reaches the
    kernel by its total work; narrow products (a micro-tile mostly wasted) and small batches stay
    with NumPy."""
    calls = []
    gemm = _C.gemm
    monkeypatch.setattr(_C, "gemm", lambda *args: (calls.append(args[0].shape), gemm(*args))[1])
    for sa, sb, reaches in [((16, 4, 32, 16), (16, 4, 16, 32), True), ((16, 4, 32, 32), (16, 4, 32, 16), True),
                            ((1, 2, 16, 16), (1, 2, 16, 16), False), ((64, 64, 64), (64, 64, 8), False),
                            ((64, 2, 8), (8, 64), True)]:
        calls.clear()
        a, b = rand(sa, np.float32, 1), rand(sb, np.float32, 2)
        np.testing.assert_allclose(cpp.matmul(a, b), ref_mm(a, b), **gemm_tol(np.float32, sa[-1]))
        assert bool(calls) == reaches, f"{sa} @ {sb}"


@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_adds_the_bias_inside_the_gemm(cpp, ref, dtype):
    w, bias = rand((70, 50), dtype, 1), rand((70,), dtype, 2)
    for x in (rand((40, 50), dtype, 3), rand((3, 40, 50), dtype, 4), rand((50, 40), dtype, 5).T,
              rand((40, 3, 50), dtype, 6).transpose(1, 0, 2)):
        np.testing.assert_allclose(cpp.linear(x, w, bias), ref.linear(x, w, bias), **gemm_tol(dtype, 50))
        np.testing.assert_allclose(cpp.linear(x, w, None), ref.linear(x, w, None), **gemm_tol(dtype, 50))


def test_matmul_backend_2d_fast_path(cpp, monkeypatch):
    """2-D float products from 32^3 multiply-adds go straight to the kernel; mixed or byte-swapped
    dtypes, integers and smaller products get NumPy's result (and its error for a k mismatch)."""
    calls = []
    gemm = _C.gemm
    monkeypatch.setattr(_C, "gemm", lambda *args: (calls.append(args[0].dtype), gemm(*args))[1])
    for dtype in DTYPES:
        a, b = rand((64, 40), dtype, 1), rand((40, 70), dtype, 2)
        for vb in (b, np.ascontiguousarray(b.T).T):
            calls.clear()
            got = cpp.matmul(a, vb)
            assert got.dtype == dtype and calls == [np.dtype(dtype)]
            np.testing.assert_allclose(got, ref_mm(a, b), **gemm_tol(dtype, 40))
    a32, b64 = rand((64, 40), np.float32, 1), rand((40, 70), np.float64, 2)
    for a, b in [(a32, b64), (a32.astype(">f4"), b64.astype(np.float32).astype(">f4")),
                 (rand((31, 32), np.float32, 1), rand((32, 32), np.float32, 2))]:
        calls.clear()
        got = cpp.matmul(a, b)
        assert got.dtype == (a @ b).dtype and not calls
        np.testing.assert_allclose(got, ref_mm(a, b), **gemm_tol(np.float32, 40))
    with pytest.raises(ValueError):
        cpp.matmul(rand((64, 40), np.float32), rand((41, 64), np.float32))


def test_matmul_backend_falls_back(cpp):
    a = np.arange(12, dtype=np.int64).reshape(3, 4)
    np.testing.assert_array_equal(cpp.matmul(a, a.T), a @ a.T)
    v = rand((40,), np.float32)
    m = rand((40, 50), np.float32)
    np.testing.assert_allclose(cpp.matmul(v, m), v @ m, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError):
        cpp.matmul(rand((40, 41), np.float32), rand((40, 41), np.float32))


@pytest.mark.parametrize("dtype", DTYPES)
def test_gemm_large_and_threads_agree(threads, dtype):
    a, b = rand((700, 900), dtype, 1), rand((900, 800), dtype, 2)
    outs = []
    for n in (1, 2):
        _C.set_num_threads(n)
        out = np.empty((700, 800), dtype)
        _C.gemm(a, b.T.copy().T, out)
        outs.append(out)
    np.testing.assert_allclose(outs[0], ref_mm(a, b), **gemm_tol(dtype, 900))
    np.testing.assert_allclose(outs[1], outs[0], **gemm_tol(dtype, 900))
