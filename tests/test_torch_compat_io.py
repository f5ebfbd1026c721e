"""torch's import paths, checkpoints and samplers as real scripts use them (issue 14, items 14, 15, 16).

nn.parallel.DataParallel (a pass-through), nn.modules.*, serialization's safe-globals no-ops,
onnx's not-supported export; tc.save/tc.load of NumPy arrays and nested Python data, and the
refusal of whole modules; samplers that draw their indices lazily.
"""
import io
import itertools
import math
import tracemalloc

import numpy as np
import pytest

import tinygrad_chain as tc
from helpers import assert_close, to_np
from tinygrad_chain.serialization import CheckpointError
from tinygrad_chain.utils.data import DataLoader, RandomSampler, SubsetRandomSampler, TensorDataset

torch = pytest.importorskip("torch")


# ---- 14: import paths -------------------------------------------------------------------------------------------
def test_data_parallel_is_a_pass_through(device):
    tc.manual_seed(0)
    inner = tc.nn.Linear(3, 2)
    dp = tc.nn.parallel.DataParallel(inner)
    assert tc.nn.DataParallel is tc.nn.parallel.DataParallel and torch.nn.DataParallel is torch.nn.parallel.DataParallel
    x = tc.randn(4, 3)
    assert_close(dp(x), to_np(inner(x)))
    assert dp.module is inner and list(dp.parameters()) == list(inner.parameters())
    theirs = torch.nn.DataParallel(torch.nn.Linear(3, 2))
    assert list(dp.state_dict()) == list(theirs.state_dict()) == ["module.weight", "module.bias"]
    assert repr(dp) == repr(theirs).replace("Linear(in_features=3, out_features=2, bias=True)",
                                            repr(inner))
    dp(x).sum().backward()
    assert inner.weight.grad is not None
    with pytest.warns(UserWarning, match="drives one"):
        tc.nn.parallel.DataParallel(inner, device_ids=[0, 1])


def test_nn_modules_paths_as_torch():
    import tinygrad_chain.nn.modules.container as container
    import tinygrad_chain.nn.modules.loss as loss
    from tinygrad_chain.nn.modules.batchnorm import BatchNorm2d
    from tinygrad_chain.nn.modules.module import Module
    for name in ("loss.MSELoss", "loss.CrossEntropyLoss", "container.Sequential", "container.ModuleList",
                 "linear.Linear", "conv.Conv2d", "activation.ReLU", "dropout.Dropout", "rnn.LSTM",
                 "sparse.Embedding", "pooling.MaxPool2d", "normalization.LayerNorm", "batchnorm.BatchNorm1d",
                 "transformer.TransformerEncoderLayer", "module.Module", "flatten.Flatten"):
        sub, cls = name.split(".")
        ours = getattr(getattr(tc.nn.modules, sub), cls)
        theirs = getattr(getattr(torch.nn.modules, sub), cls)
        assert ours is getattr(tc.nn, cls) and theirs is getattr(torch.nn, cls), name
    assert loss.MSELoss is tc.nn.MSELoss and container.Sequential is tc.nn.Sequential
    assert BatchNorm2d is tc.nn.BatchNorm2d and Module is tc.nn.Module and tc.nn.modules.Linear is tc.nn.Linear


def test_serialization_safe_globals_are_documented_no_ops(tmp_path):
    class Anything:
        pass
    assert tc.serialization.add_safe_globals([Anything, (Anything, "name")]) is None
    with tc.serialization.safe_globals([Anything]):
        tc.save({"x": tc.ones(2)}, tmp_path / "c")
        back = tc.load(tmp_path / "c", weights_only=True)
    assert to_np(back["x"]).tolist() == [1.0, 1.0]
    assert tc.serialization.get_safe_globals() == [] and tc.serialization.clear_safe_globals() is None
    assert "never unpickles" in tc.serialization.add_safe_globals.__doc__ or "unpickl" in \
        tc.serialization.add_safe_globals.__doc__


def test_onnx_is_importable_and_export_says_not_supported():
    import tinygrad_chain.onnx as onnx
    assert onnx.is_in_onnx_export() is False and torch.onnx.is_in_onnx_export() is False
    with pytest.raises(NotImplementedError, match="exporting to ONNX is not supported by tinygrad_chain"):
        tc.onnx.export(tc.nn.Linear(2, 2), (tc.ones(1, 2),), "model.onnx", opset_version=17)


# ---- 15: checkpoints of what training scripts save ------------------------------------------------------------
ARRAYS = {
    "f32": np.arange(6, dtype=np.float32).reshape(2, 3), "f64_0d": np.array(2.5), "u8": np.arange(5, dtype=np.uint8),
    "i16": np.array([-3, 7], np.int16), "f16": np.array([1.5, -2.0], np.float16), "bool": np.array([True, False]),
    "u64": np.array([2 ** 64 - 1], np.uint64), "c128": np.array([1 + 2j]), "empty": np.zeros((0, 4), np.int64),
    "strided": np.arange(12.0).reshape(3, 4)[:, ::2], "big_endian": np.arange(3, dtype=">f8"),
    "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
}


def test_numpy_arrays_round_trip(tmp_path, device):
    obj = dict(ARRAYS, again=ARRAYS["f32"], nested=[{"a": ARRAYS["u8"]}, (ARRAYS["bool"], "s")], t=tc.ones(2))
    tc.save(obj, tmp_path / "a")
    back = tc.load(tmp_path / "a")
    for k, a in ARRAYS.items():
        b = back[k]
        assert type(b) is np.ndarray and b.shape == a.shape and b.dtype == a.dtype.newbyteorder("=")
        np.testing.assert_array_equal(b, a)
        assert b.flags.writeable and b.flags.c_contiguous
    assert back["again"] is back["f32"]  # one array saved once, loaded as one object
    np.testing.assert_array_equal(back["nested"][0]["a"], ARRAYS["u8"])
    assert type(back["nested"][1]) is tuple and back["nested"][1][1] == "s"
    assert isinstance(back["t"], tc.Tensor)


def test_training_script_checkpoints_round_trip(tmp_path, device):
    """What scripts save beside the weights: numbers, strings, histories, RNG states, args as a dict."""
    model = tc.nn.Sequential(tc.nn.Linear(3, 4), tc.nn.ReLU(), tc.nn.Linear(4, 1))
    opt = tc.optim.Adam(model.parameters(), lr=1e-3)
    model(tc.randn(2, 3)).sum().backward()
    opt.step()
    ck = {"epoch": 7, "best_loss": 0.25, "arch": "mlp", "losses": [1.0, 0.5, 0.25], "lr_hist": np.array([1e-3, 1e-4]),
          "model": model.state_dict(), "optimizer": opt.state_dict(), "args": {"lr": 1e-3, "layers": (3, 4, 1)},
          "rng": tc.Generator().manual_seed(3).get_state(), "inf": math.inf, "none": None}
    tc.save(ck, tmp_path / "ck")
    back = tc.load(tmp_path / "ck")
    assert (back["epoch"], back["best_loss"], back["arch"], back["losses"]) == (7, 0.25, "mlp", [1.0, 0.5, 0.25])
    assert back["args"] == {"lr": 1e-3, "layers": (3, 4, 1)} and back["inf"] == math.inf and back["none"] is None
    np.testing.assert_array_equal(back["lr_hist"], ck["lr_hist"])
    fresh = tc.nn.Sequential(tc.nn.Linear(3, 4), tc.nn.ReLU(), tc.nn.Linear(4, 1))
    fresh.load_state_dict(back["model"])
    x = tc.randn(5, 3)
    assert_close(fresh(x), to_np(model(x)))
    tc.optim.Adam(fresh.parameters(), lr=1e-3).load_state_dict(back["optimizer"])
    assert tc.Generator().set_state(back["rng"]).randperm(5) == tc.Generator().manual_seed(3).randperm(5)


def test_whole_modules_and_unstorable_objects_are_refused(tmp_path):
    import argparse
    for obj, match in ((tc.nn.Linear(2, 2), "a whole Linear: that would need pickle.*state_dict"),
                       ({"m": tc.nn.Sequential()}, r"obj\['m'\], a whole Sequential"),
                       (tc.optim.SGD([tc.nn.Parameter(tc.ones(1))], lr=0.1), "a whole SGD"),
                       (argparse.Namespace(lr=0.1), r"save vars\(args\)"),
                       (np.array(["text"]), "a NumPy array of dtype <U4"), (np.array([object()]), "dtype object"),
                       ({1, 2}, "an object of type set")):
        with pytest.raises(TypeError, match=match):
            tc.save(obj, tmp_path / "x")
    assert not (tmp_path / "x").exists()


def _rewrite(raw, edit):
    """raw with its JSON header edited by edit(header) and the CRC made valid again."""
    import json
    import struct
    import zlib
    hlen = struct.unpack_from("<Q", raw, 8)[0]
    header = json.loads(raw[16:16 + hlen])
    edit(header)
    new = json.dumps(header, separators=(",", ":")).encode()
    data = raw[16 + hlen:-8]
    body = new + data
    return raw[:8] + struct.pack("<Q", len(new)) + body + struct.pack("<I", zlib.crc32(body)) + b"TEND"


def test_crafted_array_entries_are_refused():
    buf = io.BytesIO()
    tc.save({"a": np.arange(3, dtype=np.int16), "t": tc.ones(2, device="numpy")}, buf)
    raw = buf.getvalue()
    assert tc.load(io.BytesIO(raw))["a"].dtype == np.int16

    def swap_tags(h):
        h["tree"]["$dict"][0][1] = {"$tensor": 0}
    cases = [
        (lambda h: h["tensors"][0].update(dtype="object"), "dtype 'object'"),
        (lambda h: h["tensors"][0].update(dtype="float128"), "dtype 'float128'"),
        (lambda h: h["tensors"][0].update(requires_grad=True), "has the fields"),
        (lambda h: h["tensors"][0].update(nbytes=7), "gives 7 bytes"),
        (swap_tags, "a \\$tensor entry refers to tensor 0 of its table, which is a NumPy array"),
        (lambda h: h["tree"]["$dict"][1].__setitem__(1, {"$ndarray": 1}), "which is a tensor"),
    ]
    for edit, match in cases:
        with pytest.raises(CheckpointError, match=match):
            tc.load(io.BytesIO(_rewrite(raw, edit)))


# ---- 16: lazy samplers ----------------------------------------------------------------------------------------
def test_random_sampler_with_replacement_draws_lazily():
    """makemore's RandomSampler(replacement=True, num_samples=int(1e10)): the first batches come at once,
    in constant memory (it used to build the whole index list: 16 GB)."""
    data = list(range(100))
    sampler = RandomSampler(data, replacement=True, num_samples=int(1e10), generator=tc.Generator().manual_seed(1))
    assert len(sampler) == int(1e10)
    tracemalloc.start()
    first = list(itertools.islice(iter(sampler), 1000))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 1_000_000 and all(0 <= i < 100 for i in first) and len(set(first)) > 50
    again = list(itertools.islice(iter(RandomSampler(data, replacement=True, num_samples=int(1e10),
                                                     generator=tc.Generator().manual_seed(1))), 1000))
    assert again == first  # seeded: reproducible
    loader = DataLoader(TensorDataset(tc.arange(100)), batch_size=32, sampler=sampler)
    batch = next(iter(loader))[0]
    assert batch.shape == (32,) and int(batch.max()) < 100


def test_samplers_without_replacement_are_lazy_and_exact():
    data = list(range(10))
    s = RandomSampler(data, num_samples=int(1e12), generator=tc.Generator().manual_seed(2))
    head = list(itertools.islice(iter(s), 25))
    assert sorted(head[:10]) == data and sorted(head[10:20]) == data  # whole permutations, one at a time
    short = list(RandomSampler(data, num_samples=13, generator=tc.Generator().manual_seed(2)))
    assert len(short) == 13 and sorted(short[:10]) == data
    sub = SubsetRandomSampler([5, 7, 9], generator=tc.Generator().manual_seed(0))
    it = iter(sub)
    assert sorted([next(it), next(it), next(it)]) == [5, 7, 9]
    assert sorted(RandomSampler(data, generator=tc.Generator().manual_seed(4))) == data


def test_sampler_order_follows_the_global_seed():
    tc.manual_seed(5)
    a = list(RandomSampler(range(20), replacement=True, num_samples=40))
    tc.manual_seed(5)
    assert list(RandomSampler(range(20), replacement=True, num_samples=40)) == a
