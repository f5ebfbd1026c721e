"""Fixtures and helpers for the tests that call the C++ kernels directly: each instruction set
this CPU has, the kernels' thread count restored after a test, the cpp and numpy backends, and
test data. Import after pytest.importorskip("tinygrad_chain._C")."""
import numpy as np
import pytest

from tinygrad_chain import _C
from tinygrad_chain.backends.cpp_backend import CppBackend
from tinygrad_chain.backends.numpy_backend import NumpyBackend

DTYPES = [np.float32, np.float64]

ISAS = [isa for isa in ("generic", "avx2", "avx512") if _C.set_isa(isa)]
_C.set_isa(ISAS[-1])  # the best one, as at import
DEFAULT_ISA = _C.isa()


@pytest.fixture(params=ISAS)
def isa(request):
    assert _C.set_isa(request.param)
    yield request.param
    _C.set_isa(DEFAULT_ISA)


@pytest.fixture
def threads():
    n = _C.get_num_threads()
    yield
    _C.set_num_threads(n)


@pytest.fixture(autouse=True)
def device():
    """Imported by a module whose tests call the kernels directly: they run once, not once per
    device (conftest's device fixture)."""
    yield "cpp"


@pytest.fixture(scope="module")
def cpp():
    return CppBackend()


@pytest.fixture(scope="module")
def ref():
    return NumpyBackend()


def tol(dtype, scale=1.0):
    return dict(rtol=2e-5 * scale, atol=2e-6 * scale) if dtype == np.float32 else dict(rtol=1e-12 * scale, atol=1e-13 * scale)


def rand(shape, dtype, seed=0, scale=3.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)


def views(a):
    """a contiguous array, and non-contiguous / transposed / negative-stride views of the same shape."""
    yield "contiguous", a
    big = np.repeat(a[..., None], 2, axis=-1)
    yield "strided", big[..., 0]
    yield "reversed", np.ascontiguousarray(a[::-1])[::-1] if a.ndim else a
    if a.ndim == 2:
        yield "transposed", np.ascontiguousarray(a.T).T
