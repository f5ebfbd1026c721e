"""torch's names for devices, sizes and types, against torch 2.13 (issue 14, items 1, 2, 4, 5, 7, 17).

tc.accelerator, tc.backends' torch flags beside the device registry, tc.Size, tc.device
(type, index, str, repr, equality), .to(device, non_blocking=True) / .cpu() / .cuda() /
pin_memory(), set/get_default_dtype, and the reprs of grad_fn and dtypes.
"""
import pickle
import subprocess
import sys

import numpy as np
import pytest

import tinygrad_chain as tc
import tinygrad_chain.nn.functional as F
from helpers import assert_close, to_np

torch = pytest.importorskip("torch")


def _error(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001  (the type is what is compared)
        return e
    return None


def _same_error(ours, theirs, match=None):
    """Both raise, an exception of the same type (ours may be a subclass)."""
    theirs_e, ours_e = _error(theirs), _error(ours)
    assert theirs_e is not None and ours_e is not None, (theirs_e, ours_e)
    assert isinstance(ours_e, type(theirs_e)), (ours_e, theirs_e)
    if match:
        assert match in str(ours_e), str(ours_e)


# ---- 1: tc.accelerator ----------------------------------------------------------------------------------------
def test_accelerator_answers_as_torch_without_one():
    if tc.cuda.is_available():
        pytest.skip("a GPU works here: see test_accelerator_is_the_gpu")
    assert tc.accelerator.is_available() is torch.accelerator.is_available() is False
    assert tc.accelerator.current_accelerator() is torch.accelerator.current_accelerator() is None
    assert tc.accelerator.current_accelerator(check_available=True) is None
    assert tc.accelerator.device_count() == torch.accelerator.device_count() == 0
    for name in ("synchronize", "current_device_index", "memory_allocated", "empty_cache"):
        _same_error(getattr(tc.accelerator, name), getattr(torch.accelerator, name), "Cannot access accelerator")
    _same_error(lambda: tc.accelerator.set_device_index(0), lambda: torch.accelerator.set_device_index(0))
    with tc.accelerator.device_index(None), torch.accelerator.device_index(None):
        pass


def test_accelerator_is_the_gpu():
    if not tc.cuda.is_available():
        pytest.skip("no GPU here")
    assert tc.accelerator.is_available()
    acc = tc.accelerator.current_accelerator()
    assert acc == tc.device("cuda") and acc.type == "cuda" and acc.index is None
    assert tc.accelerator.device_count() == tc.cuda.device_count() >= 1
    assert tc.accelerator.current_device_index() == 0
    tc.accelerator.synchronize()
    with pytest.raises(RuntimeError, match="one GPU"):
        tc.accelerator.set_device_index(1)


def test_the_examples_device_selection_idiom(device):
    """pytorch/examples' first lines: a device to train on, whatever this machine has."""
    use_accel = tc.accelerator.is_available()
    dev = tc.accelerator.current_accelerator() if use_accel else tc.device("cpu")
    x = tc.ones(2, 3).to(dev, non_blocking=True)
    assert x.device.type == ("cuda" if use_accel else "cpu")


# ---- 2: torch's backend flags beside the registry -------------------------------------------------------------
def test_backend_flags_under_torch_names():
    assert tc.backends.mps.is_available() is torch.backends.mps.is_available() is False
    assert tc.backends.mps.is_built() is torch.backends.mps.is_built()
    for name in ("enabled", "benchmark", "deterministic", "allow_tf32"):
        assert getattr(tc.backends.cudnn, name) == getattr(torch.backends.cudnn, name), name
    assert tc.backends.cudnn.version() is None and tc.backends.cudnn.is_available() is False
    assert tc.backends.cuda.matmul.allow_tf32 is torch.backends.cuda.matmul.allow_tf32 is False
    assert tc.backends.cuda.is_built() is tc.cuda.is_available()
    saved = tc.backends.cudnn.benchmark, tc.backends.cudnn.deterministic, tc.backends.cuda.matmul.allow_tf32
    try:
        tc.backends.cudnn.benchmark = True
        tc.backends.cudnn.deterministic = True
        tc.backends.cuda.matmul.allow_tf32 = True
        import tinygrad_chain.backends.cudnn as cudnn  # torch's import path
        assert cudnn.benchmark is True and cudnn is tc.backends.cudnn
        assert tc.backends.cuda.matmul.allow_tf32 is True
    finally:
        tc.backends.cudnn.benchmark, tc.backends.cudnn.deterministic, tc.backends.cuda.matmul.allow_tf32 = saved
    _same_error(lambda: setattr(tc.backends.cuda.matmul, "allow_tf33", True),
                lambda: setattr(torch.backends.cuda.matmul, "allow_tf33", True))


def test_the_device_registry_stays_reachable():
    assert "numpy" in tc.backends.available()
    assert tc.backends.resolve("cuda") == "cupy" and tc.backends.get("numpy").name == "numpy"
    assert tc.backends.is_available("numpy") and tc.backends.unavailable_reason("numpy") is None


# ---- 4: tc.Size ------------------------------------------------------------------------------------------------
def test_size_is_torch_size(device):
    x, tx = tc.zeros(3, 4), torch.zeros(3, 4)
    for s, ts in ((x.shape, tx.shape), (x.size(), tx.size())):
        assert type(s) is tc.Size and isinstance(s, tuple) and s == ts == (3, 4)
        assert repr(s) == str(s) == repr(ts).replace("torch", "tinygrad_chain") == "tinygrad_chain.Size([3, 4])"
        assert s.numel() == ts.numel() == 12
    assert x.size(1) == 4 and type(x.size(1)) is int
    assert tc.zeros(()).shape == tc.Size() == () and tc.Size().numel() == 1 == torch.Size().numel()
    s = tc.Size([2, 3, 4])
    for got, want in ((s[1:], torch.Size([2, 3, 4])[1:]), (s + (5,), torch.Size([2, 3, 4]) + (5,)),
                      ((1,) + s, (1,) + torch.Size([2, 3, 4])), (s * 2, torch.Size([2, 3, 4]) * 2),
                      (2 * s, 2 * torch.Size([2, 3, 4]))):
        assert type(got) is tc.Size and type(want) is torch.Size and list(got) == list(want)
    assert type(s[0]) is int and hash(s) == hash((2, 3, 4)) and pickle.loads(pickle.dumps(s)) == s
    assert tc.Size([tc.tensor(3)]) == torch.Size([torch.tensor(3)]) == (3,)  # 0-d integer tensors count
    assert tc.zeros(s).shape == s and tc.ones(2, 3).view(tc.Size([3, 2])).shape == (3, 2)


def test_size_errors_as_torch():
    for bad in ([3.0], "ab", [torch.tensor(3.0)]):
        ours_bad = [tc.tensor(3.0)] if isinstance(bad[0], torch.Tensor) else bad
        _same_error(lambda: tc.Size(ours_bad), lambda: torch.Size(bad), "takes an iterable of 'int' (item 0 is")
    _same_error(lambda: tc.Size(3), lambda: torch.Size(3))
    _same_error(lambda: tc.Size([2]) + [3], lambda: torch.Size([2]) + [3])


# ---- 5: tc.device -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("args", [("cpu",), ("cuda",), ("cuda:0",), ("cuda:1",), ("cuda", 1), ("cpu:0",)])
def test_device_matches_torch(args):
    ours, theirs = tc.device(*args), torch.device(*args)
    assert (ours.type, ours.index, str(ours), repr(ours)) == (theirs.type, theirs.index, str(theirs), repr(theirs))


def test_device_keyword_form_and_equality():
    assert tc.device(type="cuda", index=2) == tc.device("cuda:2") and str(tc.device(type="cuda", index=2)) == "cuda:2"
    assert tc.device(tc.device("cuda:1")) == tc.device("cuda", 1)
    # torch's equality: type and index; "cuda" is not "cuda:0"
    pairs = [("cpu", "cpu"), ("cuda", "cuda:0"), ("cuda:0", "cuda:0"), ("cuda:0", "cuda:1"), ("cpu", "cuda")]
    for a, b in pairs:
        assert (tc.device(a) == tc.device(b)) == (torch.device(a) == torch.device(b)), (a, b)
        assert (hash(tc.device(a)) == hash(tc.device(b))) == (torch.device(a) == torch.device(b))
    assert tc.device(0) == tc.device("cuda:0")  # an int names the accelerator's index, as in torch
    # beyond torch, a device equals a string naming it ("cuda" any GPU): tests and scripts compare so
    assert tc.device("cpu") == "cpu" and tc.device("cuda:0") == "cuda" and tc.device("cuda:0") != "cuda:1"
    assert tc.device("cpu") != "tpu" and tc.device("cpu") != 3


@pytest.mark.parametrize("bad", ["cud", "cuda:-1", "cuda:x", "cuda:0:1", "tpu"])
def test_device_errors_as_torch(bad):
    _same_error(lambda: tc.device(bad), lambda: torch.device(bad))


def test_device_index_errors_as_torch():
    _same_error(lambda: tc.device("cuda", -1), lambda: torch.device("cuda", -1), "must not be negative")
    _same_error(lambda: tc.device("cuda:0", 0), lambda: torch.device("cuda:0", 0))


def test_a_user_writing_cpu_sees_torchs_device(device):
    assert str(tc.device("cpu")) == "cpu" and repr(tc.device("cpu")) == "device(type='cpu')"
    x = tc.ones(2, device="cpu")
    assert x.device == tc.device("cpu") and repr(x.device) == "device(type='cpu')"
    assert repr(x) == "tensor([1., 1.])"
    if tc.backends.resolve("cpu") != "numpy":  # the CPU backend "cpu" does not name is visible
        n = tc.ones(2, device="numpy")
        assert n.device.type == "cpu" and n.device.index is None and n.device != tc.device("cpu")
        assert str(n.device) == "numpy" and repr(n.device) == "device(type='cpu', backend='numpy')"
        assert repr(n) == "tensor([1., 1.], device='numpy')"
    assert x.device.type == torch.ones(2).device.type


def test_gpu_tensors_carry_index_0():
    if not tc.cuda.is_available():
        pytest.skip("no GPU here")
    x = tc.ones(2, device="cuda")
    assert x.device == tc.device("cuda:0") and x.device != tc.device("cuda") and x.device.index == 0
    assert repr(x.device) == "device(type='cuda', index=0)" and "device='cuda:0'" in repr(x)
    with pytest.raises(RuntimeError, match="one GPU"):
        x.to("cuda:1")


def test_devices_pickle_and_save(tmp_path):
    for d in (tc.device("cpu"), tc.device("numpy"), tc.device("cuda:0")):
        assert pickle.loads(pickle.dumps(d)) == d
    tc.save({"d": tc.device("numpy")}, tmp_path / "d")
    assert tc.load(tmp_path / "d")["d"] == tc.device("numpy")


# ---- 7: conversions -------------------------------------------------------------------------------------------
def test_to_non_blocking_cpu_cuda_pin_memory(device):
    x = tc.tensor([1.0, 2.0], requires_grad=True)
    y = x.to(x.device, non_blocking=True)
    assert y is x  # nothing to move: self, as torch
    z = x.to(tc.float64, non_blocking=True, copy=True, memory_format=None)
    assert z.dtype is tc.float64 and z.requires_grad
    assert x.to(device=x.device, dtype=tc.float32, non_blocking=True) is x
    assert x.cpu().device.type == "cpu" and x.contiguous() is x
    p = tc.ones(3, device="cpu")
    assert p.pin_memory() is p and not p.is_pinned() and torch.ones(3).is_pinned() is False
    if not tc.cuda.is_available():
        # (a CPU build of torch raises AssertionError "Torch not compiled with CUDA enabled")
        for fn in (lambda: tc.ones(2).cuda(), lambda: tc.ones(2).to("cuda", non_blocking=True)):
            with pytest.raises(RuntimeError, match="device 'cupy' is not available here"):
                fn()
    else:
        g = tc.ones(2).cuda(non_blocking=True)
        assert g.device == tc.device("cuda:0") and g.cuda(0) is g and g.cpu().device.type == "cpu"
        with pytest.raises(RuntimeError, match="only dense CPU tensors can be pinned"):
            g.pin_memory()


def test_module_to_device_non_blocking(device):
    m = tc.nn.Linear(3, 2)
    assert m.to(tc.device("cpu"), non_blocking=True) is m
    assert next(m.parameters()).device == tc.device("cpu")
    assert m.cpu() is m


def test_default_dtype_as_torch(device):
    assert tc.get_default_dtype() is tc.float32 and torch.get_default_dtype() is torch.float32
    try:
        tc.set_default_dtype(tc.float64)
        torch.set_default_dtype(torch.float64)
        for ours, theirs in ((tc.tensor([1.5]), torch.tensor([1.5])), (tc.zeros(2), torch.zeros(2)),
                             (tc.arange(0.0, 1.0, 0.5), torch.arange(0.0, 1.0, 0.5)), (tc.rand(2), torch.rand(2)),
                             (tc.tensor([1]) / 2, torch.tensor([1]) / 2), (tc.nn.Linear(2, 2).weight,
                                                                        torch.nn.Linear(2, 2).weight)):
            assert ours.dtype.name == str(theirs.dtype).split(".")[1]
        assert tc.get_default_dtype() is tc.float64
        _same_error(lambda: tc.set_default_dtype(tc.int64), lambda: torch.set_default_dtype(torch.int64))
    finally:
        tc.set_default_dtype(tc.float32)
        torch.set_default_dtype(torch.float32)


# ---- 17: reprs --------------------------------------------------------------------------------------------------
def _exprs(lib, x, w):
    fn = F if lib is tc else torch.nn.functional
    return {
        "add": x + 1, "sub": x - w[:3, :4], "mul": x * 2, "div": x / 2, "neg": -x, "exp": x.exp(), "pow": x ** 2,
        "sum": x.sum(), "matmul": x @ w, "view": x.view(12), "reshape": x.reshape(12), "permute": x.permute(1, 0),
        "expand": x[:1].expand(3, 4), "cat": lib.cat([x, x]), "relu": x.relu(), "tanh": x.tanh(),
        "sigmoid": x.sigmoid(), "softmax": x.softmax(1), "log_softmax": x.log_softmax(1), "clone": x.clone(),
        "double": x.double(), "where": lib.where(x > 0, x, x * 3), "clamp": x.clamp(0, 1), "abs": x.abs(),
        "flip": x.flip(0), "maximum": lib.maximum(x, x * 2), "cumsum": x.cumsum(0), "prod": x.prod(),
        "amax": x.amax(0), "logsumexp": x.logsumexp(1), "slice": x[1:], "index": x[[0, 1]], "sqrt": x.abs().sqrt(),
        "norm": x.norm(), "pad": fn.pad(x, (1, 1)), "cross_entropy": fn.cross_entropy(x, lib.tensor([0, 1, 2])),
        "linear": fn.linear(x, w.t()), "gather": x.gather(1, lib.zeros(3, 1, dtype=lib.long)), "erf": x.erf(),
        "gelu": fn.gelu(x), "silu": fn.silu(x), "leaky_relu": fn.leaky_relu(x), "elu": fn.elu(x),
        "softplus": fn.softplus(x), "repeat": x.repeat(2, 1),
    }


def test_grad_fn_names_as_torch(device):
    xv, wv = np.random.default_rng(0).standard_normal((3, 4)), np.random.default_rng(1).standard_normal((4, 5))
    ours = _exprs(tc, tc.tensor(xv, dtype=tc.float32, requires_grad=True), tc.tensor(wv, dtype=tc.float32,
                                                                                      requires_grad=True))
    theirs = _exprs(torch, torch.tensor(xv, dtype=torch.float32, requires_grad=True),
                    torch.tensor(wv, dtype=torch.float32, requires_grad=True))
    differs = {}
    for k in ours:
        if ours[k].grad_fn.name() != theirs[k].grad_fn.name():
            differs[k] = (ours[k].grad_fn.name(), theirs[k].grad_fn.name())
    # composites torch has one node for; here the node of their last op (the README says so)
    assert differs == {"linear": ("AddmmBackward0", "MmBackward0"),  # (torch: Addmm when there is a bias)
                       "cross_entropy": ("DivBackward0", "NllLossBackward0")}  # the mean over the batch
    y = ours["mul"]
    assert repr(y).endswith("grad_fn=<MulBackward0>)") and repr(theirs["mul"]).endswith("grad_fn=<MulBackward0>)")
    assert repr(y.grad_fn).startswith("<MulBackward0 object at 0x")
    assert repr(theirs["mul"].grad_fn).startswith("<MulBackward0 object at 0x")


def test_dtype_reprs():
    for ours, theirs in ((tc.float32, torch.float32), (tc.float64, torch.float64), (tc.int64, torch.int64),
                         (tc.int32, torch.int32), (tc.bool, torch.bool)):
        assert repr(ours) == str(ours) == repr(theirs).replace("torch", "tinygrad_chain")
    assert tc.float is tc.float32 and tc.double is tc.float64 and tc.long is tc.int64 and tc.int is tc.int32
    assert repr(tc.tensor([1.0], dtype=tc.float64, device="cpu")) == "tensor([1.], dtype=tinygrad_chain.float64)"
    assert str(tc.device("cpu")) == "cpu"


def test_device_repr_in_a_fresh_process_with_numpy_default():
    """TINYGRAD_CHAIN_DEVICE=numpy: tensors print their device unless it is what "cpu" names."""
    code = ("import tinygrad_chain as tc; x = tc.ones(1); "
            "print(repr(x), str(x.device), tc.backends.resolve('cpu'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"TINYGRAD_CHAIN_DEVICE": "numpy", "PATH": ""}).stdout.split()
    if out[-1] == "numpy":
        assert out[:2] == ["tensor([1.])", "cpu"]
    else:
        assert out[:3] == ["tensor([1.],", "device='numpy')", "numpy"]


def test_values_unchanged_through_conversions(device):
    x = tc.tensor([[1.0, -2.0]], requires_grad=True)
    y = x.to(tc.float64, non_blocking=True).cpu().float()
    y.sum().backward()
    assert_close(x.grad, [[1.0, 1.0]])
    assert to_np(y).tolist() == [[1.0, -2.0]]
