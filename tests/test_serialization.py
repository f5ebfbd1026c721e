"""tc.save / tc.load: round trips, no unpickling ever, atomic writes, clear errors, bit-exact resume."""
import builtins
import io
import math
import os
import pickle

import numpy as np
import pytest
import torch

import tinygrad_chain as tc
from helpers import to_np
from tinygrad_chain import serialization
from tinygrad_chain.serialization import CheckpointError


def _same(a, b):
    assert isinstance(b, tc.Tensor) and a.dtype is b.dtype and a.shape == b.shape and a.device == b.device
    np.testing.assert_array_equal(to_np(a), to_np(b))


def _nested():
    w = tc.randn(3, 4, requires_grad=True)
    return {
        "w": w, "same_w": w,  # one tensor under two names stays one tensor
        "ints": tc.tensor([1, 2, 3]), "i32": tc.tensor([7, -8], dtype=tc.int32), "mask": tc.tensor([True, False]),
        "f64": tc.tensor([[1.5, 2.5]], dtype=tc.float64), "scalar": tc.tensor(3.25), "empty": tc.zeros(0, 3),
        "view": tc.arange(12).float().reshape(3, 4).t(),  # not contiguous
        7: {"nested": [1, 2.0, "three", None, True, (4, (5.5, "six"))]},
        (1, "k"): "tuple key", 2.5: -1, None: float("inf"), "nan": float("nan"), "big": 2 ** 80,
        "dtype": tc.float64, "device": tc.device("numpy"),
    }


def test_round_trip_nested(tmp_path):
    obj = _nested()
    tc.save(obj, tmp_path / "a.ckpt")
    back = tc.load(tmp_path / "a.ckpt")
    assert list(back) == list(obj)  # keys keep their types and order
    for k in ("w", "ints", "i32", "mask", "f64", "scalar", "empty", "view"):
        _same(obj[k], back[k])
    assert back["same_w"] is back["w"]
    assert back["w"].requires_grad and back["w"].is_leaf and not back["ints"].requires_grad
    assert back[7] == {"nested": [1, 2.0, "three", None, True, (4, (5.5, "six"))]}
    assert type(back[7]["nested"][1]) is float and type(back[7]["nested"][0]) is int
    assert back[(1, "k")] == "tuple key" and back[2.5] == -1 and back[None] == math.inf
    assert math.isnan(back["nan"]) and back["big"] == 2 ** 80
    assert back["dtype"] is tc.float64 and back["device"] == tc.device("numpy")
    # loaded tensors own writable memory
    back["w"].data[...] = 0
    assert to_np(obj["w"]).any()


def test_file_objects_and_str_paths(tmp_path):
    buf = io.BytesIO()
    tc.save({"x": tc.ones(2)}, buf)
    buf.seek(0)
    _same(tc.ones(2), tc.load(buf)["x"])
    tc.save([tc.ones(1)], str(tmp_path / "b"))
    assert isinstance(tc.load(str(tmp_path / "b")), list)


def test_map_location(tmp_path, device):
    t = tc.randn(2, 3)
    tc.save({"t": t}, tmp_path / "c")
    assert tc.load(tmp_path / "c")["t"].device == t.device  # saved device by default
    for loc in ("numpy", tc.device("numpy"), {device: "numpy"}):
        moved = tc.load(tmp_path / "c", map_location=loc)["t"]
        assert moved.device == tc.device("numpy")
        np.testing.assert_array_equal(to_np(moved), to_np(t))
    seen = []
    tc.load(tmp_path / "c", map_location=lambda x, where: seen.append(where) or x)
    assert seen == [tc.device(device).name]


def test_unsupported_objects_name_the_path(tmp_path):
    with pytest.raises(TypeError, match=r"obj\['model'\]\['fn'\].*function"):
        tc.save({"model": {"fn": lambda: 0}}, tmp_path / "d")
    assert not os.listdir(tmp_path)  # nothing written, not even a temporary file


class _RunsCode:
    """Unpickling this calls open(marker, 'w'): the file appears if any code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (builtins.open, (self.marker, "w"))


def test_pickle_payload_is_rejected_and_runs_nothing(tmp_path):
    # first prove the payload is live: plain pickle.loads does run it
    probe = tmp_path / "probe"
    pickle.loads(pickle.dumps(_RunsCode(probe))).close()
    assert probe.exists()

    marker = tmp_path / "marker"
    raw = tmp_path / "evil.pkl"
    raw.write_bytes(pickle.dumps({"weights": _RunsCode(marker)}))
    with pytest.raises(CheckpointError, match="pickle.*never unpickles"):
        tc.load(raw)
    zipped = tmp_path / "evil.pt"  # torch.save's zip format, which holds the same pickle
    torch.save({"weights": _RunsCode(marker)}, zipped)
    with pytest.raises(CheckpointError, match="zip archive.*never unpickles"):
        tc.load(zipped)
    with pytest.raises(RuntimeError):  # CheckpointError is a RuntimeError, as torch's load errors are
        tc.load(raw, weights_only=False)
    assert not marker.exists()


def test_crafted_tree_tags_are_rejected(tmp_path):
    """A file in our own format cannot smuggle in anything but data."""
    path = tmp_path / "crafted"
    tc.save({"a": 1}, path)
    good = path.read_bytes()
    header_len = int.from_bytes(good[8:16], "little")
    header = good[16:16 + header_len].replace(b'"$dict"', b'"$pckl"')
    body = header + good[16 + header_len:-8]
    import zlib
    path.write_bytes(good[:16] + body + zlib.crc32(body).to_bytes(4, "little") + b"TEND")
    with pytest.raises(CheckpointError, match="unexpected entry"):
        tc.load(path)


def test_interrupted_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "model.ckpt"
    old = {"w": tc.arange(6).float(), "step": 1}
    tc.save(old, path)
    before = path.read_bytes()
    real = serialization._write_payload

    def crash(fh, tree, tensors):
        real(fh, tree, tensors)  # most of the new file is written ...
        fh.flush()
        raise KeyboardInterrupt("power cut")  # ... then the process dies before the rename

    monkeypatch.setattr(serialization, "_write_payload", crash)
    with pytest.raises(KeyboardInterrupt):
        tc.save({"w": tc.zeros(1000), "step": 2}, path)
    assert path.read_bytes() == before
    back = tc.load(path)
    _same(old["w"], back["w"])
    assert back["step"] == 1
    assert os.listdir(tmp_path) == ["model.ckpt"]  # the temporary file is gone

    def partial(fh, tree, tensors):
        fh.write(b"TGCCKPT1\x00")
        raise OSError("disk full")
    monkeypatch.setattr(serialization, "_write_payload", partial)
    with pytest.raises(OSError, match="disk full"):
        tc.save({"w": tc.zeros(3)}, path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["model.ckpt"]


def test_corrupt_and_truncated_files_raise_clearly(tmp_path):
    path = tmp_path / "x.ckpt"
    tc.save({"w": tc.randn(64), "b": [1, 2]}, path)
    good = path.read_bytes()
    bad = tmp_path / "bad"
    for cut in (0, 5, 12, 20, len(good) // 2, len(good) - 9, len(good) - 1):
        bad.write_bytes(good[:cut])
        with pytest.raises(CheckpointError, match="truncated|not a tinygrad_chain checkpoint"):
            tc.load(bad)
    flipped = bytearray(good)
    flipped[-20] ^= 0xFF  # inside the tensor data
    bad.write_bytes(bytes(flipped))
    with pytest.raises(CheckpointError, match="checksum"):
        tc.load(bad)
    flipped = bytearray(good)
    flipped[30] ^= 0x55  # inside the JSON header
    bad.write_bytes(bytes(flipped))
    with pytest.raises(CheckpointError, match="corrupt|truncated"):
        tc.load(bad)
    bad.write_bytes(good + b"junk")
    with pytest.raises(CheckpointError, match="unexpected bytes"):
        tc.load(bad)
    bad.write_bytes(b"hello, this is a text file, not weights\n" * 3)
    with pytest.raises(CheckpointError, match="not a tinygrad_chain checkpoint"):
        tc.load(bad)
    with pytest.raises(FileNotFoundError):
        tc.load(tmp_path / "missing")


# ---- resume: N steps, save, load into fresh objects, M more == N + M uninterrupted -------------------
def _data():
    g = np.random.default_rng(5)
    return (tc.tensor(g.standard_normal((32, 6)).astype(np.float32)),
            tc.tensor(g.standard_normal((32, 1)).astype(np.float32)))


def _fresh_params():
    g = np.random.default_rng(9)
    return [tc.tensor(g.standard_normal((6, 5)).astype(np.float32), requires_grad=True),
            tc.tensor(g.standard_normal((5,)).astype(np.float32), requires_grad=True),
            tc.tensor(g.standard_normal((5, 1)).astype(np.float32), requires_grad=True)]


def _train(params, opt, sched, x, y, steps):
    for _ in range(steps):
        opt.zero_grad()
        loss = (((x @ params[0] + params[1]).tanh() @ params[2] - y) ** 2).mean()
        loss.backward()
        opt.step()
        sched.step()


OPTIMIZERS = {
    "sgd-momentum": lambda ps: tc.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
    "adam": lambda ps: tc.optim.Adam(ps, lr=0.01, amsgrad=True),
    "adamw": lambda ps: tc.optim.AdamW(ps, lr=0.01),
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_resume_is_bit_exact(tmp_path, name):
    x, y = _data()
    n, m = 7, 5
    ref = _fresh_params()
    ref_opt = OPTIMIZERS[name](ref)
    ref_sched = tc.optim.lr_scheduler.StepLR(ref_opt, step_size=3, gamma=0.7)
    _train(ref, ref_opt, ref_sched, x, y, n + m)

    ps = _fresh_params()
    opt = OPTIMIZERS[name](ps)
    sched = tc.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.7)
    _train(ps, opt, sched, x, y, n)
    tc.save({"params": ps, "optimizer": opt.state_dict(), "scheduler": sched.state_dict()}, tmp_path / "ck")
    del ps, opt, sched

    ck = tc.load(tmp_path / "ck")
    ps = [tc.tensor(to_np(p), requires_grad=True) for p in _fresh_params()]  # fresh, different values
    for p, saved in zip(ps, ck["params"]):
        p.data[...] = saved.data
    opt = OPTIMIZERS[name](ps)
    opt.load_state_dict(ck["optimizer"])
    sched = tc.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.7)
    sched.load_state_dict(ck["scheduler"])
    _train(ps, opt, sched, x, y, m)
    for a, b in zip(ref, ps):
        np.testing.assert_array_equal(to_np(a), to_np(b))
    assert opt.param_groups[0]["lr"] == ref_opt.param_groups[0]["lr"]


needs_nn = pytest.mark.skipif(not hasattr(tc.nn, "Linear"), reason="tc.nn.Linear is not available yet")


@needs_nn
def test_resume_module_is_bit_exact(tmp_path):
    x, y = _data()

    def model():
        tc.manual_seed(3)
        return tc.nn.Sequential(tc.nn.Linear(6, 16), tc.nn.ReLU(), tc.nn.Linear(16, 1))

    def train(net, opt, steps):
        for _ in range(steps):
            opt.zero_grad()
            ((net(x) - y) ** 2).mean().backward()
            opt.step()

    ref = model()
    ref_opt = tc.optim.Adam(ref.parameters(), lr=0.01)
    train(ref, ref_opt, 9)
    net = model()
    opt = tc.optim.Adam(net.parameters(), lr=0.01)
    train(net, opt, 4)
    tc.save({"model": net.state_dict(), "optimizer": opt.state_dict()}, tmp_path / "m.ckpt")
    ck = tc.load(tmp_path / "m.ckpt")
    tc.manual_seed(99)
    net2 = tc.nn.Sequential(tc.nn.Linear(6, 16), tc.nn.ReLU(), tc.nn.Linear(16, 1))
    net2.load_state_dict(ck["model"])
    opt2 = tc.optim.Adam(net2.parameters(), lr=0.01)
    opt2.load_state_dict(ck["optimizer"])
    train(net2, opt2, 5)
    for (k, a), (_, b) in zip(ref.state_dict().items(), net2.state_dict().items()):
        np.testing.assert_array_equal(to_np(a), to_np(b), err_msg=k)


@needs_nn
def test_module_state_dict_with_buffers_round_trips(tmp_path):
    net = tc.nn.Sequential(tc.nn.Linear(3, 4), tc.nn.BatchNorm1d(4))
    net(tc.randn(8, 3))  # moves the running statistics and num_batches_tracked
    tc.save(net.state_dict(), tmp_path / "net.ckpt")
    loaded = tc.load(tmp_path / "net.ckpt")
    assert list(loaded) == list(net.state_dict())
    fresh = tc.nn.Sequential(tc.nn.Linear(3, 4), tc.nn.BatchNorm1d(4))
    fresh.load_state_dict(loaded)
    for (k, a), (_, b) in zip(net.state_dict().items(), fresh.state_dict().items()):
        assert a.dtype is b.dtype, k
        np.testing.assert_array_equal(to_np(a), to_np(b), err_msg=k)


@needs_nn
def test_parameters_stay_parameters(tmp_path):
    p = tc.nn.Parameter(tc.randn(3))
    tc.save({"p": p, "plain": tc.ones(2)}, tmp_path / "p")
    back = tc.load(tmp_path / "p")
    assert isinstance(back["p"], tc.nn.Parameter) and back["p"].requires_grad
    assert not isinstance(back["plain"], tc.nn.Parameter)
