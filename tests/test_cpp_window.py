"""The C++ window kernels (csrc/conv_window.cpp and pool.cpp: im2col, col2im, max/avg pooling) against the
NumPy backend's implementations, over strides, asymmetric padding, dilation, odd and
empty sizes, views, both float dtypes and 1 vs 2 threads."""
import numpy as np
import pytest

_C = pytest.importorskip("tinygrad_chain._C", reason="C++ extension tinygrad_chain._C is not built")

from tinygrad_chain.backends.cpp_backend import CppBackend  # noqa: E402
from tinygrad_chain.backends.numpy_backend import NumpyBackend  # noqa: E402

DTYPES = [np.float32, np.float64]
# (N, C, H, W), kernel, stride, conv padding (top, bottom, left, right), dilation
CONV_CASES = [
    ((2, 3, 7, 9), (3, 3), (1, 1), (0, 0, 0, 0), (1, 1)),
    ((1, 2, 8, 8), (3, 3), (2, 2), (1, 1, 1, 1), (1, 1)),
    ((3, 1, 5, 11), (2, 4), (1, 3), (0, 1, 2, 1), (1, 1)),  # asymmetric "same"-style padding
    ((2, 2, 9, 10), (3, 2), (2, 1), (2, 2, 1, 0), (2, 3)),  # dilation
    ((1, 1, 1, 1), (1, 1), (1, 1), (0, 0, 0, 0), (1, 1)),
    ((0, 2, 6, 6), (3, 3), (1, 1), (1, 1, 1, 1), (1, 1)),  # empty batch
    ((1, 1, 3, 3), (3, 3), (1, 1), (4, 4, 4, 4), (1, 1)),  # padding larger than the image
]
# (N, C, H, W), kernel, stride, pool padding (h, w), dilation
POOL_CASES = [
    ((2, 3, 8, 8), (2, 2), (2, 2), (0, 0), (1, 1)),   # the tiling fast path
    ((2, 3, 9, 7), (2, 2), (2, 2), (0, 0), (1, 1)),   # tiling with a cropped edge
    ((1, 2, 7, 9), (3, 3), (2, 2), (1, 1), (1, 1)),   # overlapping, padded
    ((1, 2, 10, 9), (3, 2), (1, 2), (1, 0), (2, 1)),  # dilated
    ((3, 1, 5, 5), (5, 5), (1, 1), (2, 2), (1, 1)),
    ((0, 2, 4, 4), (2, 2), (2, 2), (0, 0), (1, 1)),
]


@pytest.fixture(autouse=True)
def device():
    """These tests call the backends directly: run them once, not once per device (conftest)."""
    yield "cpp"


@pytest.fixture(params=[1, 2], ids=["1thread", "2threads"])
def threads(request):
    n = _C.get_num_threads()
    _C.set_num_threads(request.param)
    yield request.param
    _C.set_num_threads(n)


cpp, ref = CppBackend(), NumpyBackend()


def rand(shape, dtype, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def tol(dtype):
    return dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)


def pool_out(shape, kernel, stride, padding, dilation):
    return tuple((n + 2 * p - d * (k - 1) - 1) // s + 1 for n, k, s, p, d in zip(shape[2:], kernel, stride, padding,
                                                                                dilation))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CONV_CASES, ids=str)
def test_im2col_col2im_match_numpy_and_are_adjoint(threads, dtype, case):
    shape, (kh, kw), stride, padding, dilation = case
    x = rand(shape, dtype, 1)
    cols = cpp.im2col(x, kh, kw, stride, padding, dilation)
    np.testing.assert_array_equal(cols, ref.im2col(x, kh, kw, stride, padding, dilation))
    c = rand(cols.shape, dtype, 2)
    back = cpp.col2im(c, shape, kh, kw, stride, padding, dilation)
    np.testing.assert_allclose(back, ref.col2im(c, shape, kh, kw, stride, padding, dilation), **tol(dtype))
    # <im2col(x), c> == <x, col2im(c)>: col2im is exactly im2col's adjoint
    assert np.isclose(np.vdot(cols.astype(np.float64), c), np.vdot(x.astype(np.float64), back), rtol=1e-5)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", POOL_CASES, ids=str)
def test_max_pool_matches_numpy(threads, dtype, case):
    shape, kernel, stride, padding, dilation = case
    x = rand(shape, dtype, 3)
    out_hw = pool_out(shape, kernel, stride, padding, dilation)
    out, idx = cpp.max_pool2d(x, kernel, stride, padding, dilation, out_hw)
    want, want_idx = ref.max_pool2d(x, kernel, stride, padding, dilation, out_hw)
    np.testing.assert_array_equal(out, want)
    np.testing.assert_array_equal(idx, want_idx)
    g = rand(out.shape, dtype, 4)
    for overlapping in (True, False) if kernel == stride else (True,):
        np.testing.assert_allclose(cpp.max_pool2d_backward(g, idx, shape, overlapping),
                                   ref.max_pool2d_backward(g, want_idx, shape, True), **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", POOL_CASES, ids=str)
def test_avg_pool_matches_numpy(threads, dtype, case):
    import tinygrad_chain as tc
    from tinygrad_chain.ops.nn_ops import pool_divisor
    shape, kernel, stride, padding, _ = case
    x = rand(shape, dtype, 5)
    out_hw = pool_out(shape, kernel, stride, padding, (1, 1))
    for include_pad in (True, False):
        div = pool_divisor(ref, tc.float32 if dtype == np.float32 else tc.float64, shape, kernel, stride, padding, out_hw, include_pad, None)
        np.testing.assert_allclose(cpp.avg_pool2d(x, kernel, stride, padding, out_hw, div),
                                   ref.avg_pool2d(x, kernel, stride, padding, out_hw, div), **tol(dtype))
        g = rand((shape[0], shape[1]) + out_hw, dtype, 6)
        np.testing.assert_allclose(cpp.avg_pool2d_backward(g, shape, kernel, stride, padding, div),
                                   ref.avg_pool2d_backward(g, shape, kernel, stride, padding, div), **tol(dtype))


def test_views_are_copied_first():
    base = rand((2, 3, 12, 14), np.float32, 7)
    for x in (base[:, :, ::2, ::-1], base.transpose(0, 1, 3, 2), base[..., 1:-1]):
        np.testing.assert_array_equal(cpp.im2col(x, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1)),
                                      ref.im2col(x, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1)))
        out_hw = pool_out(x.shape, (2, 2), (2, 2), (0, 0), (1, 1))
        for a, b in zip(cpp.max_pool2d(x, (2, 2), (2, 2), (0, 0), (1, 1), out_hw),
                        ref.max_pool2d(x, (2, 2), (2, 2), (0, 0), (1, 1), out_hw)):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("backend", [cpp, ref], ids=["cpp", "numpy"])
def test_max_pool_nan_propagates_like_torch(backend):
    torch = pytest.importorskip("torch")
    x = rand((1, 1, 6, 6), np.float32, 8)
    x[0, 0, 0, 1] = x[0, 0, 1, 0] = np.nan  # two NaNs in one 2x2 window
    x[0, 0, 3, 3] = np.nan
    for kernel, stride, padding in (((2, 2), (2, 2), (0, 0)), ((3, 3), (1, 1), (1, 1))):
        out_hw = pool_out(x.shape, kernel, stride, padding, (1, 1))
        out, idx = backend.max_pool2d(x, kernel, stride, padding, (1, 1), out_hw)
        t_out, t_idx = torch.nn.functional.max_pool2d(torch.from_numpy(x), kernel, stride, padding,
                                                      return_indices=True)
        np.testing.assert_array_equal(out, t_out.numpy())
        np.testing.assert_array_equal(idx, t_idx.numpy())


def test_other_dtypes_fall_back():
    x = np.arange(2 * 2 * 4 * 4, dtype=np.int64).reshape(2, 2, 4, 4)
    for a, b in zip(cpp.max_pool2d(x, (2, 2), (2, 2), (0, 0), (1, 1), (2, 2)),
                    ref.max_pool2d(x, (2, 2), (2, 2), (0, 0), (1, 1), (2, 2))):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(cpp.im2col(x, 2, 2, (1, 1), (0, 0, 0, 0), (1, 1)),
                                  ref.im2col(x, 2, 2, (1, 1), (0, 0, 0, 0), (1, 1)))


def test_kernels_reject_bad_input():
    x = rand((2, 3, 4, 4), np.float32)
    with pytest.raises(ValueError, match="4-D"):
        _C.im2col(x[0], (2, 2), (1, 1), (0, 0), (1, 1), (3, 3))
    with pytest.raises(TypeError, match="float32 or float64"):
        _C.max_pool2d(x.astype(np.int32), (2, 2), (2, 2), (0, 0), (1, 1), (2, 2))
    g = rand((2, 3, 2, 2), np.float32)
    with pytest.raises(ValueError, match="index out of range"):
        _C.max_pool2d_backward(g, np.full(g.shape, 16, np.int64), 4, 4)
    with pytest.raises(ValueError, match="divisor"):
        _C.avg_pool2d(x, (2, 2), (2, 2), (0, 0), (2, 2), np.ones((3, 3), np.float32))
    with pytest.raises(ValueError, match="geometry"):
        _C.im2col(x, (2, 2), (0, 1), (0, 0), (1, 1), (3, 3))


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv_layouts_match_numpy(threads, dtype):
    """The (O, N, P) <-> NCHW copies around conv's matmuls, with the bias folded in."""
    rows = rand((5, 3, 4, 6), dtype, 9)  # (O, N, OH, OW)
    bias = rand((5,), dtype, 10)
    view = rows.transpose(1, 0, 2, 3)
    for b in (None, bias):
        np.testing.assert_array_equal(cpp._to_nchw(view, b), ref._to_nchw(view, b))
    g = rand((3, 5, 4, 6), dtype, 11)
    for x in (g, g[:, :, ::-1]):
        np.testing.assert_array_equal(cpp._grad_rows(x), ref._grad_rows(x))
    with pytest.raises(ValueError, match="bias"):
        _C.swap_leading_axes(rows.reshape(5, 3, 24), np.ones(3, dtype))
