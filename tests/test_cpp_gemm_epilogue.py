"""The GEMM's epilogue (_C.gemm's bias, relu and mask) and the cpp backend's matmul_bias_act and
matmul_act_backward, which tc.compile's replay calls for a product and its elementwise readers
(tinygrad_chain/compile/fuse.py): the same bits as the product followed by NumPy's ops, on every
path the driver takes (split by columns or rows, one thread, C.T, dot products), every instruction
set, 1 and 2 threads, with NaN, infinities and signed zeros; values against float64."""
import numpy as np
import pytest

_C = pytest.importorskip("tinygrad_chain._C", reason="C++ extension tinygrad_chain._C is not built")
pytestmark = pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # NaN and inf on purpose

from cpp_fixtures import DTYPES, cpp, device, isa, rand, threads  # noqa: E402,F401  (fixtures)

# (m, n, k, layout): the MLP step's products at batch 32 (columns split, C.T for a narrow C or x @ W.T,
# A.T with k = 32 split by rows), one thread's small product, and the dot path (small C, long k)
CASES = [(32, 512, 784, "nn"), (32, 512, 512, "nt"), (512, 10, 32, "tn"), (784, 512, 32, "tn"), (32, 10, 512, "nn"),
         (5, 7, 3, "nn"), (13, 45, 33, "tt"), (3, 5, 1031, "nt")]


def operands(m, n, k, layout, dtype):
    a = rand((m, k), dtype, 1) if layout[0] == "n" else rand((k, m), dtype, 1).T
    b = rand((k, n), dtype, 2) if layout[1] == "n" else rand((n, k), dtype, 2).T
    a = np.array(a, order="K")
    a[0] = np.nan  # a NaN row, an infinite one, a zero one: NaN, inf and zero products
    a[min(1, m - 1), :] = 0
    if m > 2:
        a[2, 0], a[2, 1:] = np.inf, 0
    return a, b


def same_bits(x, y):
    return np.array_equal(x, y, equal_nan=True) and np.array_equal(np.signbit(x), np.signbit(y))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES)
def test_epilogue_is_the_ops_after_the_product(isa, threads, dtype, case):
    m, n, k, layout = case
    a, b = operands(m, n, k, layout, dtype)
    bias = rand((n,), dtype, 3)
    bias[:2] = [-0.0, np.inf]
    y = rand((m, n), dtype, 4)
    y[0, :3] = [0.0, -0.0, np.nan]
    for nt in (1, 2):
        _C.set_num_threads(nt)
        plain = np.empty((m, n), dtype)
        _C.gemm(a, b, plain)
        for kw, want in (({"bias": bias}, plain + bias), ({"relu": True}, np.maximum(plain, 0)),
                         ({"bias": bias, "relu": True}, np.maximum(plain + bias, 0)), ({"mask": y}, plain * (y > 0))):
            out = np.full((m, n), 7.0, dtype)
            _C.gemm(a, b, out, **kw)
            assert same_bits(out, want), (kw.keys(), nt)
    # values: rows without special values against float64
    want = np.maximum(a[3:].astype(np.float64) @ b.astype(np.float64) + bias.astype(np.float64), 0)
    out = np.empty((m, n), dtype)
    _C.gemm(a, b, out, bias=bias, relu=True)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out[3:], want, rtol=tol * k ** 0.5, atol=tol * k ** 0.5)


def test_epilogue_rejects_bad_arrays():
    a, b = rand((4, 5), np.float32), rand((5, 6), np.float32)
    out = np.empty((4, 6), np.float32)
    with pytest.raises(ValueError, match="bias must be C-contiguous, of out's dtype and 6 elements"):
        _C.gemm(a, b, out, bias=np.zeros(5, np.float32))
    with pytest.raises(ValueError, match="mask"):
        _C.gemm(a, b, out, mask=np.zeros((4, 6), np.float64))
    with pytest.raises(ValueError, match="mask"):
        _C.gemm(a, b, out, mask=np.zeros((6, 4), np.float32).T)
    with pytest.raises(ValueError, match="2-D out"):
        _C.gemm(a[None], b, np.empty((1, 4, 6), np.float32), relu=True)


@pytest.mark.parametrize("dtype", DTYPES + [np.float16])
@pytest.mark.parametrize("mnk", [(32, 512, 784), (64, 1024, 64), (4, 4, 4)])  # epilogue; past _MIN_ARITH; small
def test_backend_methods_equal_the_calls_they_replace(cpp, dtype, mnk):
    m, n, k = mnk
    a, b = operands(m, n, k, "nn", dtype)
    bias, y = rand((n,), dtype, 3), rand((m, n), dtype, 4)
    assert cpp._epilogue_fits(a, b, bias, (n,)) == (mnk == (32, 512, 784) and dtype != np.float16)  # kernel or calls
    for act in (None, "relu"):
        want = cpp.binary("add", cpp.matmul(a, b), bias)
        want = np.asarray(want if act is None else cpp.act(act, want))
        assert same_bits(np.asarray(cpp.matmul_bias_act(a, b, bias, act)), want)
    want = np.asarray(cpp.act_backward("relu", cpp.matmul(a, b.T.copy().T), y))
    assert same_bits(np.asarray(cpp.matmul_act_backward(a, b.T.copy().T, "relu", y)), want)


@pytest.mark.parametrize("dtype", DTYPES + [np.float16])
@pytest.mark.parametrize("mnk", [(32, 512, 784), (64, 1024, 64), (4, 4, 4)])
def test_linear_act_equals_linear_then_relu(cpp, dtype, mnk):
    m, n, k = mnk
    x, w = operands(m, n, k, "nn", dtype)
    w, bias = w.T.copy(), rand((n,), dtype, 3)  # a Linear's weight: (out, in)
    want = np.asarray(cpp.act("relu", cpp.linear(x, w, bias)))
    assert same_bits(np.asarray(cpp.linear_act(x, w, bias, "relu")), want)
    assert same_bits(np.asarray(cpp.linear_act(x[None], w, bias, "relu")), want[None])  # leading axes
