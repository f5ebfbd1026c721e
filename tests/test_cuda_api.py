"""tc.cuda and the "cuda" device on every machine, with or without a GPU.

CI has no GPU, so these check what must hold there: asking costs little and
loads nothing, the registry says why "cupy" is missing, and moving a tensor
to "cuda" fails with that reason. The GPU itself is tested in
test_cupy_backend.py.
"""
import os
import subprocess
import sys
import time

import pytest

import tinygrad_chain as tc
from tinygrad_chain import backends

GPU = tc.cuda.is_available()
no_gpu = pytest.mark.skipif(GPU, reason="a GPU is present: these check the behaviour without one")


@pytest.fixture(autouse=True)
def device():
    """Overrides the all-devices fixture: these tests pick their devices themselves."""
    yield None


def _python(code):
    env = {k: v for k, v in os.environ.items() if k != "TINYGRAD_CHAIN_DEVICE"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_import_never_imports_cupy():
    assert _python("import sys, tinygrad_chain; print('cupy' in sys.modules)") == "False"


def test_is_available_is_a_quick_bool():
    t0 = time.perf_counter()
    answer = _python("import tinygrad_chain as tc; print(tc.cuda.is_available())")
    assert answer in ("True", "False")
    assert time.perf_counter() - t0 < 60  # a fresh interpreter, cupy's import and one CUDA call at most


def test_answers_agree_with_the_registry():
    assert GPU == ("cupy" in backends.available())
    assert (tc.cuda.device_count() > 0) == GPU
    assert (tc.cuda.unavailable_reason() is None) == GPU


@no_gpu
def test_without_gpu_counts_and_reasons():
    assert tc.cuda.is_available() is False
    assert tc.cuda.device_count() == 0
    assert "cupy" not in backends.available()
    reason = backends.unavailable_reason("cupy")
    assert reason and ("cupy" in reason or "CUDA" in reason)
    assert backends.unavailable_reason("cuda") == reason  # the alias names the same backend


@no_gpu
@pytest.mark.parametrize("move", [lambda t: t.to("cuda"), lambda t: t.cuda(), lambda t: t.to(tc.device("cuda"))])
def test_without_gpu_moving_to_cuda_raises_with_the_reason(move):
    t = tc.ones(3, device="numpy")
    with pytest.raises(RuntimeError, match="cuda") as err:
        move(t)
    assert backends.unavailable_reason("cupy") in str(err.value)


@no_gpu
def test_without_gpu_creating_on_cuda_raises():
    with pytest.raises(RuntimeError, match="not available"):
        tc.zeros(2, device="cuda")


@no_gpu
def test_without_gpu_quiet_calls_are_quiet_and_others_raise():
    tc.cuda.manual_seed(3)  # ignored, as in torch
    tc.cuda.empty_cache()
    tc.cuda.reset_peak_memory_stats()
    assert tc.cuda.memory_allocated() == 0
    assert tc.cuda.max_memory_allocated() == 0
    assert tc.cuda.memory_reserved() == 0
    for call in (tc.cuda.synchronize, tc.cuda.get_device_name, tc.cuda.current_device, tc.cuda.mem_get_info):
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            call()


def test_out_of_memory_error_is_a_runtime_error():
    assert issubclass(tc.cuda.OutOfMemoryError, RuntimeError)


# ---- the allocator's bookkeeping, with a stand-in pool (needs cupy importable, not a GPU) ----
class _FakeMem:
    def __init__(self, size):
        self.size = size


class _FakePtr:
    def __init__(self, size):
        self.mem = _FakeMem(size)


class _FakePool:
    """Hands out 512-byte-rounded blocks; frees happen when the test says so."""

    def __init__(self, capacity):
        self.capacity, self.live, self.calls = capacity, {}, 0

    def malloc(self, size):
        import cupy
        rounded = -(-size // 512) * 512
        used = sum(p.mem.size for p in self.live.values())
        if used + rounded > self.capacity:
            raise cupy.cuda.memory.OutOfMemoryError(size, used)
        ptr = _FakePtr(rounded)
        self.live[id(ptr)] = ptr
        return ptr

    def free(self, ptr):
        del self.live[id(ptr)]

    def used_bytes(self):
        self.calls += 1  # the walk the allocator tries to avoid
        return sum(p.mem.size for p in self.live.values())

    def total_bytes(self):
        return self.capacity

    def get_limit(self):
        return 0


@pytest.fixture
def allocator_module():
    pytest.importorskip("cupy", reason="cupy is not installed: the allocator's bookkeeping cannot be imported")
    from tinygrad_chain.backends import cupy_backend
    return cupy_backend


def test_allocator_peak_is_exact(allocator_module):
    pool = _FakePool(1 << 30)
    alloc = allocator_module._TrackingAllocator(pool)
    a = alloc(1000)
    b = alloc(5000)
    assert alloc.peak == 512 * 2 + 512 * 10
    pool.free(b)
    alloc(100)  # below the peak: the peak stays
    assert alloc.peak == 512 * 2 + 512 * 10
    pool.free(a)
    big = alloc(1 << 20)
    assert alloc.peak == pool.used_bytes() == (1 << 20) + 512
    pool.free(big)
    alloc.reset_peak()
    assert alloc.peak == pool.used_bytes()


def test_allocator_skips_the_pool_walk_below_the_peak(allocator_module):
    pool = _FakePool(1 << 30)
    alloc = allocator_module._TrackingAllocator(pool)
    big = alloc(1 << 24)
    pool.free(big)
    alloc.sample()
    before = pool.calls
    for _ in range(100):
        pool.free(alloc(4096))
    assert pool.calls - before <= 1  # 100 small allocations under a large peak: at most one walk


def test_allocator_out_of_memory_message(allocator_module):
    pool = _FakePool(1 << 20)
    alloc = allocator_module._TrackingAllocator(pool)
    alloc(1 << 19)
    with pytest.raises(tc.cuda.OutOfMemoryError) as err:
        alloc(3 << 30)
    msg = str(err.value)
    assert "tried to allocate 3.00 GiB" in msg and "512.00 KiB in live arrays" in msg
    assert "empty_cache" in msg
    import cupy
    assert isinstance(err.value, cupy.cuda.memory.OutOfMemoryError)  # cupy's own handlers still see an OOM


def test_cuda_kernels_compile_with_nvrtc():
    """The fused kernels' C++ compiles (needs cupy and libnvrtc importable, not a GPU)."""
    pytest.importorskip("cupy", reason="cupy is not installed: the kernels cannot be built")
    import glob
    if not os.environ.get("NVRTC_LIBRARY") and not any(
            glob.glob(os.path.join(p, "nvidia", "cuda_nvrtc", "lib", "libnvrtc.so*")) for p in sys.path):
        pytest.skip("libnvrtc not found (pip install nvidia-cuda-nvrtc-cu12, or set NVRTC_LIBRARY)")
    script = os.path.join(os.path.dirname(__file__), "..", "benchmarks", "gpu", "check_kernels_nvrtc.py")
    out = subprocess.run([sys.executable, script], capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
