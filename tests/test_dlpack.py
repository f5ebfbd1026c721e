"""DLPack (issue 14, item 10): tc.from_dlpack, Tensor.__dlpack__ / __dlpack_device__, zero-copy
with NumPy, torch and CuPy both ways. Each test proves the memory is shared: a write through one
side is read through the other. bfloat16 crosses to and from torch (NumPy has no DLPack code for
it: backends/dlpack.py relabels its memory)."""
import numpy as np
import pytest
from helpers import to_np

import tinygrad_chain as tc

torch = pytest.importorskip("torch")

DTYPES = ["float16", "bfloat16", "float32", "float64", "int32", "int64", "bool"]


def _on_cpu(device):
    if tc.device(device).type != "cpu":
        pytest.skip("CPU memory: the cupy test below covers CUDA")


def _one(dtype):
    return True if dtype == "bool" else 1


@pytest.mark.parametrize("dtype", DTYPES)
def test_torch_reads_and_writes_our_memory(dtype, device):
    _on_cpu(device)
    t = tc.zeros(2, 3, dtype=getattr(tc, dtype))
    theirs = torch.from_dlpack(t)
    assert theirs.dtype == getattr(torch, dtype) and tuple(theirs.shape) == (2, 3)
    theirs[1, 2] = _one(dtype)
    assert to_np(t.float())[1, 2] == 1  # written by torch, read by us
    t[0, 0] = _one(dtype)  # written by us (an in-place op), read by torch
    assert theirs[0, 0].item() == _one(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_we_read_and_write_torch_memory(dtype, device):
    _on_cpu(device)
    src = torch.zeros(4, dtype=getattr(torch, dtype))
    t = tc.from_dlpack(src)
    assert t.dtype is getattr(tc, dtype) and t.shape == (4,)
    assert t.device == tc.get_default_device()  # CPU memory on the CPU device in use
    src[1] = _one(dtype)
    assert to_np(t.float())[1] == 1
    t[2] = _one(dtype)
    assert src[2].item() == _one(dtype)


@pytest.mark.parametrize("dtype", [d for d in DTYPES if d != "bfloat16"])
def test_numpy_both_ways(dtype, device):
    _on_cpu(device)
    a = np.zeros(3, dtype=dtype)
    t = tc.from_dlpack(a)
    a[0] = _one(dtype)
    assert t.tolist()[0] == _one(dtype)
    back = np.from_dlpack(t)
    back[2] = _one(dtype)
    assert t.tolist()[2] == _one(dtype) and a[2] == _one(dtype)
    assert np.shares_memory(back, a)


def test_bfloat16_ml_dtypes_arrays_are_shared_through_from_numpy(device):
    """NumPy's DLPack knows no bfloat16: its arrays come in through from_numpy, and leave through
    DLPack to torch, all without copies."""
    _on_cpu(device)
    ml_dtypes = pytest.importorskip("ml_dtypes")
    a = np.zeros(3, ml_dtypes.bfloat16)
    t = tc.from_numpy(a)
    theirs = torch.from_dlpack(t)
    theirs[0] = 2.5
    assert a[0] == 2.5 and t.tolist()[0] == 2.5


def test_views_and_strides(device):
    _on_cpu(device)
    base = torch.arange(12.0).reshape(3, 4)
    t = tc.from_dlpack(base.t())  # a transposed (non-contiguous) view
    assert t.shape == (4, 3) and t.tolist() == base.t().tolist()
    base[0, 1] = -5.0
    assert t.tolist()[1][0] == -5.0
    ours = tc.arange(12.0).reshape(3, 4)
    theirs = torch.from_dlpack(ours.t())
    assert theirs.tolist() == to_np(ours).T.tolist()


def test_capsules_of_the_older_api(device):
    """torch.utils.dlpack's capsules. One made by to_dlpack is a legacy capsule, which cannot say
    whether its memory may be written: NumPy (and so this library) imports it read-only."""
    _on_cpu(device)
    src = torch.arange(3.0)
    t = tc.from_dlpack(torch.utils.dlpack.to_dlpack(src))
    src[0] = 9.0
    assert t.tolist()[0] == 9.0
    ours = tc.zeros(3)
    back = torch.utils.dlpack.from_dlpack(tc.utils.dlpack.to_dlpack(ours))
    back[1] = 8.0
    assert ours.tolist()[1] == 8.0
    capsule = torch.utils.dlpack.to_dlpack(src)
    tc.from_dlpack(capsule)
    with pytest.raises(BufferError, match="unconsumed"):
        tc.from_dlpack(capsule)  # a capsule is read once


def test_device_and_refusals(device):
    _on_cpu(device)
    t = tc.ones(2)
    assert tuple(int(v) for v in t.__dlpack_device__()) == (1, 0)  # kDLCPU, device 0
    with pytest.raises(RuntimeError, match="require gradient"):
        torch.from_dlpack(tc.ones(2, requires_grad=True))
    with pytest.raises(TypeError, match="can't share the memory of a uint16"):
        tc.from_dlpack(torch.zeros(2, dtype=torch.uint16))
    shared = torch.zeros(2, dtype=torch.uint8)  # uint8/int8/int16 are shared (tests/test_small_int.py)
    tc.from_dlpack(shared)[0] = 200
    assert shared.tolist() == [200, 0]
    with pytest.raises(TypeError, match="__dlpack__"):
        tc.from_dlpack([1, 2])
    assert np.asarray(t).tolist() == [1.0, 1.0]  # __array__ stays


def test_pending_fused_work_is_computed_before_export(device):
    """On the cpp device a chain of elementwise ops may still be pending: the capsule holds values."""
    _on_cpu(device)
    x = tc.arange(4.0)
    y = (x + 1) * 2
    theirs = torch.from_dlpack(y)
    assert theirs.tolist() == [2.0, 4.0, 6.0, 8.0]
    theirs[0] = 0.0  # y's memory was handed out: later ops read the write
    assert (y + 0).tolist()[0] == 0.0


def test_cupy_both_ways(device):
    if device != "cupy":
        pytest.skip("needs the cupy device (a GPU)")
    cupy = pytest.importorskip("cupy")
    a = cupy.zeros(3, dtype=cupy.float32)
    t = tc.from_dlpack(a)
    assert t.device == tc.device("cupy")
    a[0] = 1
    assert t.tolist()[0] == 1
    back = cupy.from_dlpack(t)
    back[2] = 5
    assert t.tolist()[2] == 5
    half = tc.zeros(2, dtype=tc.float16)
    cupy.from_dlpack(half)[1] = 3
    assert half.tolist()[1] == 3
    theirs = torch.from_dlpack(t)  # CUDA memory to torch, when torch has CUDA
    if theirs.is_cuda:
        theirs[1] = 7
        assert t.tolist()[1] == 7
