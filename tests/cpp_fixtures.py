"""Fixtures for the tests that call the C++ kernels directly: each instruction set this CPU
has, and the kernels' thread count restored after a test. Import after
pytest.importorskip("tinygrad_chain._C")."""
import pytest

from tinygrad_chain import _C

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
