"""tc.save / tc.load against hostile conditions: file modes and the umask, temporary files of killed
writers, and crafted headers that carry a valid checksum (each must raise CheckpointError, naming what is
wrong, and nothing may be coerced: a header that loads is exactly the one tc.save writes for what it loaded)."""
import copy
import io
import json
import os
import signal
import stat
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
from helpers import to_np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinygrad_chain as tc
from tinygrad_chain import backends, serialization
from tinygrad_chain.serialization import CheckpointError

needs_flock = pytest.mark.skipif(serialization.fcntl is None, reason="no fcntl.flock on this platform")


def _once(device):
    # file handling and header checks do not depend on the device; run these on one
    if device != "numpy":
        pytest.skip("device-independent: the numpy param covers it")


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


# ---- the destination -----------------------------------------------------------------------------------------
def test_a_symlink_at_the_destination_stays_a_link_to_the_new_checkpoint(tmp_path, device):
    _once(device)
    (tmp_path / "store").mkdir()
    target, link = tmp_path / "store" / "epoch3.ckpt", tmp_path / "latest.ckpt"
    tc.save({"w": tc.ones(2)}, target)
    os.symlink(target, link)
    tc.save({"w": tc.zeros(3)}, link)  # torch.save writes through the link too; atomically here
    assert os.path.islink(link) and os.readlink(link) == str(target)
    assert to_np(tc.load(target)["w"]).tolist() == [0.0, 0.0, 0.0]
    assert sorted(os.listdir(tmp_path)) == ["latest.ckpt", "store"]  # no temporary file left beside the link
    assert os.listdir(tmp_path / "store") == ["epoch3.ckpt"]


def test_a_directory_at_the_destination_is_refused_naming_it(tmp_path, device):
    _once(device)
    (tmp_path / "ckpt").mkdir()
    with pytest.raises(IsADirectoryError, match=r"tc.save: .*ckpt' is a directory"):
        tc.save({"w": tc.ones(2)}, tmp_path / "ckpt")
    assert os.listdir(tmp_path) == ["ckpt"] and not os.listdir(tmp_path / "ckpt")


# ---- file modes ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("umask, expected", [(0o077, 0o600), (0o022, 0o644), (0o002, 0o664)])
def test_new_file_mode_follows_the_umask(tmp_path, device, umask, expected):
    _once(device)
    old = os.umask(umask)
    try:
        tc.save({"w": tc.ones(3)}, tmp_path / "new.ckpt")
        with open(tmp_path / "plain", "wb"):  # what open() gives, for comparison
            pass
    finally:
        os.umask(old)
    assert _mode(tmp_path / "new.ckpt") == _mode(tmp_path / "plain") == expected
    np.testing.assert_array_equal(to_np(tc.load(tmp_path / "new.ckpt")["w"]), [1, 1, 1])


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o444])
def test_replaced_file_keeps_its_mode(tmp_path, device, monkeypatch, mode):
    _once(device)
    path = tmp_path / "model.ckpt"
    old = os.umask(0o022)
    try:
        tc.save({"step": 1}, path)
        os.chmod(path, mode)
        seen = []
        real = serialization._write_payload

        def spy(fh, tree, tensors):  # the new data is never readable by more users than the old was
            seen.append(_mode(fh.fileno()))
            real(fh, tree, tensors)

        monkeypatch.setattr(serialization, "_write_payload", spy)
        tc.save({"step": 2, "w": tc.arange(4).float()}, path)
    finally:
        os.umask(old)
    assert seen == [mode]
    assert _mode(path) == mode
    back = tc.load(path)
    assert back["step"] == 2
    np.testing.assert_array_equal(to_np(back["w"]), [0, 1, 2, 3])
    assert os.listdir(tmp_path) == ["model.ckpt"]


# ---- temporary files of killed writers ----------------------------------------------------------------------
_STALLED_WRITER = """
import sys, time
import tinygrad_chain as tc
from tinygrad_chain import serialization
real = serialization._write_payload
def stall(fh, tree, tensors):
    real(fh, tree, tensors)
    fh.flush()
    print("written", flush=True)
    time.sleep(120)  # killed here, before the rename
serialization._write_payload = stall
tc.save({"w": tc.zeros(50000)}, sys.argv[1])
"""


def _temps(folder, base="model.ckpt"):
    return sorted(n for n in os.listdir(folder) if n.startswith(f".{base}.") and n.endswith(".tmp"))


@needs_flock
def test_temp_file_of_a_killed_writer_is_removed_by_the_next_save(tmp_path, device):
    _once(device)
    path = tmp_path / "model.ckpt"
    tc.save({"step": 1}, path)
    env = dict(os.environ, TINYGRAD_CHAIN_DEVICE="numpy")
    child = subprocess.Popen([sys.executable, "-c", _STALLED_WRITER, str(path)], stdout=subprocess.PIPE, env=env,
                             text=True)
    try:
        assert child.stdout.readline() == "written\n"
        (temp,) = _temps(tmp_path)
        assert os.path.getsize(tmp_path / temp) > 200000  # a full-size file: 50,000 float32s
        tc.save({"step": 2}, path)  # the writer is alive: its file stays
        assert _temps(tmp_path) == [temp] and tc.load(path) == {"step": 2}
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
        assert _temps(tmp_path) == [temp]  # kill -9 left it behind ...
        tc.save({"step": 3}, path)  # ... and the next save to the same path removes it
    finally:
        child.kill()
        child.wait()
        child.stdout.close()
    assert os.listdir(tmp_path) == ["model.ckpt"] and tc.load(path) == {"step": 3}


@needs_flock
def test_only_dead_temp_files_of_the_same_target_are_removed(tmp_path, device):
    _once(device)
    fcntl = serialization.fcntl
    dead = [".model.ckpt.deadbeef.tmp", ".model.ckpt.k2_x9q0z.tmp"]  # ours, and tempfile.mkstemp's (old versions)
    others = [".model.ckpt.bak.deadbeef.tmp", ".other.ckpt.deadbeef.tmp", "model.ckpt.deadbeef.tmp",
              ".model.ckpt.deadbeef.tmp.keep", ".model.ckpt.DEADBEEF.tmp", ".model.ckpt.deadbeef0.tmp"]
    live = ".model.ckpt.0123abcd.tmp"
    for n in dead + others + [live]:
        (tmp_path / n).write_bytes(b"x" * 1000)
    os.symlink(tmp_path / "other.ckpt", tmp_path / ".model.ckpt.5ymlink0.tmp")  # a link is never followed
    os.mkdir(tmp_path / ".model.ckpt.d1rector.tmp")
    fd = os.open(tmp_path / live, os.O_WRONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # a writer in this very process, on another descriptor
        tc.save({"a": 1}, tmp_path / "model.ckpt")
        left = sorted(os.listdir(tmp_path))
        assert left == sorted(others + [live, "model.ckpt", ".model.ckpt.5ymlink0.tmp", ".model.ckpt.d1rector.tmp"])
        assert (tmp_path / live).read_bytes() == b"x" * 1000
    finally:
        os.close(fd)  # the writer dies
    tc.save({"a": 2}, tmp_path / "model.ckpt")
    assert not (tmp_path / live).exists() and tc.load(tmp_path / "model.ckpt") == {"a": 2}
    left.remove(live)
    assert sorted(os.listdir(tmp_path)) == left


@needs_flock
def test_a_new_temp_file_removed_before_its_writer_locks_it_is_made_again(tmp_path, device, monkeypatch):
    _once(device)
    fcntl = serialization.fcntl
    real, raced = fcntl.flock, []

    def flock(fd, op):
        if op == fcntl.LOCK_EX and not raced:  # another save cleans up between our create and our lock
            raced.append(_temps(tmp_path))
            serialization._remove_dead_temps(str(tmp_path), "model.ckpt")
        return real(fd, op)

    monkeypatch.setattr(fcntl, "flock", flock)
    tc.save({"w": tc.arange(3).float()}, tmp_path / "model.ckpt")
    assert len(raced) == 1 and len(raced[0]) == 1  # the first temporary file existed, unlocked, and was removed
    np.testing.assert_array_equal(to_np(tc.load(tmp_path / "model.ckpt")["w"]), [0, 1, 2])
    assert os.listdir(tmp_path) == ["model.ckpt"]


# ---- crafted headers --------------------------------------------------------------------------------------------
def _file(obj):
    buf = io.BytesIO()
    tc.save(obj, buf)
    return buf.getvalue()


def _split(raw):
    """(header as a dict, tensor data) of a checkpoint's bytes."""
    hlen = struct.unpack_from("<Q", raw, 8)[0]
    return json.loads(raw[16:16 + hlen]), raw[16 + hlen:-8]


def _dumps(header):
    return json.dumps(header, separators=(",", ":")).encode()  # as tc.save writes it


def _craft(header, data):
    """A checkpoint with this header (a dict, or raw bytes) and data, and a valid checksum."""
    text = header if isinstance(header, bytes) else _dumps(header)
    body = text + data
    return serialization.MAGIC + struct.pack("<Q", len(text)) + body + struct.pack("<I", zlib.crc32(body)) + b"TEND"


def _load(raw, **kw):
    return tc.load(io.BytesIO(raw), **kw)


def _base():
    return {"w": tc.ones(2, 3), "n": tc.tensor([1, 2]), "dev": tc.device("numpy"), "dt": tc.float64}


def _deep(n):
    tree = 1
    for _ in range(n):
        tree = {"$list": [tree]}
    return tree


def _set(*path_value):
    """A mutation: header[path...] = value."""
    *path, value = path_value

    def mutate(h):
        node = h
        for k in path[:-1]:
            node = node[k]
        node[path[-1]] = value
    return mutate


def _extra_tensor(h):  # a second tensor in the table that the tree never names
    h["tensors"].append(dict(h["tensors"][1], offset=128, nbytes=0, shape=[0]))
    h["data_bytes"] = 128


def _swap_tensors(h):  # the tree names tensor 1 before tensor 0
    pairs = h["tree"]["$dict"]
    pairs[0][1], pairs[1][1] = pairs[1][1], pairs[0][1]


CRAFTED = {  # name: (mutation of the header dict, what the error must say)
    "tensors is 5": (_set("tensors", 5), r"'tensors' must be an array, not an integer \(5\)"),
    "tensors holds a string": (_set("tensors", 0, "x"), r"tensor 0 of its table is a string"),
    "tree 150 deep": (_set("tree", _deep(150)), r"nests containers more than 100 deep"),
    "$device cuda:99": (_set("tree", "$dict", 2, 1, {"$device": "cuda:99"}), r"\$device entry names 'cuda:99'"),
    "$device cpu": (_set("tree", "$dict", 2, 1, {"$device": "cpu"}), r"\$device entry names 'cpu'"),
    "$device 5": (_set("tree", "$dict", 2, 1, {"$device": 5}), r"\$device entry names 5"),
    "$dtype float8": (_set("tree", "$dict", 3, 1, {"$dtype": "float8_e4m3"}), r"\$dtype entry names 'float8_e4m3'"),
    "shape [2.7, 2]": (_set("tensors", 0, "shape", [2.7, 2]), r"shape \[2.7, 2\]: a shape is a list"),
    "shape '44'": (_set("tensors", 0, "shape", "44"), r"'shape' must be an array, not a string \('44'\)"),
    "shape [-2, -3]": (_set("tensors", 0, "shape", [-2, -3]), r"shape \[-2, -3\]"),
    "shape [true, 6]": (_set("tensors", 0, "shape", [True, 6]), r"shape \[True, 6\]"),
    "shape of 65 dims": (_set("tensors", 0, "shape", [1] * 65), r"at most 64 non-negative integers"),
    "shape [0, 2**62]": (_set("tensors", 1, "shape", [0, 2 ** 62]), r"too large for any array"),
    "shape [3, 3]": (_set("tensors", 0, "shape", [3, 3]),
                     r"gives 24 bytes at offset 0; shape \[3, 3\] of float32, .* takes 36 bytes at offset 0"),
    "nbytes 4": (_set("tensors", 0, "nbytes", 4), r"gives 4 bytes at offset 0; .* takes 24 bytes"),
    "offset 8": (_set("tensors", 1, "offset", 8), r"tensor 1 of its table gives 16 bytes at offset 8; .* offset 64"),
    "offset -64": (_set("tensors", 0, "offset", -64), r"offset -64"),
    "offset 2.0": (_set("tensors", 0, "offset", 2.0), r"'offset' must be an integer, not a number \(2.0\)"),
    "dtype complex64": (_set("tensors", 0, "dtype", "complex64"), r"dtype 'complex64', not one of float16"),
    "dtype bfloat16 over float32 bytes": (_set("tensors", 0, "dtype", "bfloat16"),
                                          r"gives 24 bytes at offset 0; shape \[2, 3\] of bfloat16, .* takes 12 bytes"),
    "dtype alias": (_set("tensors", 0, "dtype", "float"), r"dtype 'float', not one of"),
    "tensor device cuda:99": (_set("tensors", 0, "device", "cuda:99"), r"on device 'cuda:99', not numpy, cpp"),
    "tensor device cpu": (_set("tensors", 0, "device", "cpu"), r"on device 'cpu'"),
    "requires_grad 'yes'": (_set("tensors", 0, "requires_grad", "yes"), r"'requires_grad' must be a boolean"),
    "parameter 1": (_set("tensors", 0, "parameter", 1), r"'parameter' must be a boolean, not an integer"),
    "int requires grad": (_set("tensors", 1, "requires_grad", True), r"requires grad, .* its dtype is int64"),
    "extra tensor field": (_set("tensors", 0, "code", "x"), r"tensor 0 of its table has the fields"),
    "extra header field": (_set("pickle", 1), r"its header has the fields"),
    "format": (_set("format", "pickle"), r"format 'pickle' version 1"),
    "version 2": (_set("version", 2), r"version 2, not"),
    "version true": (_set("version", True), r"'version' must be an integer, not a boolean"),
    "data_bytes 1.5": (_set("data_bytes", 1.5), r"'data_bytes' must be an integer"),
    "data_bytes nan": (_set("data_bytes", float("nan")), r"'data_bytes' must be an integer"),
    "data_bytes -1": (_set("data_bytes", -1), r"negative data size"),
    "data_bytes of 4300 digits": (_set("data_bytes", int("9" * 4300)), r"truncated: its header gives 9999"),
    "nbytes of 4300 digits": (_set("tensors", 0, "nbytes", int("9" * 4300)), r"gives 9999"),
    "$tensor 2": (_set("tree", "$dict", 0, 1, {"$tensor": 2}), r"refers to tensor 2; the table has 2"),
    "$tensor -1": (_set("tree", "$dict", 0, 1, {"$tensor": -1}), r"refers to tensor -1"),
    "$tensor true": (_set("tree", "$dict", 0, 1, {"$tensor": True}), r"refers to tensor True"),
    "$tensor '0'": (_set("tree", "$dict", 0, 1, {"$tensor": "0"}), r"refers to tensor '0'"),
    "tensors out of order": (_swap_tensors, r"names tensor 1 before tensor 0"),
    "tensor never named": (_extra_tensor, r"tensor 2 of its table is nowhere in its object tree"),
    "$list of a string": (_set("tree", "$dict", 0, 1, {"$list": "ab"}), r"\$list entry holds a string"),
    "$dict item not a pair": (_set("tree", "$dict", 0, [1, 2, 3]), r"\$dict item is an array \(\[1, 2, 3\]\)"),
    "$dict unhashable key": (_set("tree", "$dict", 0, 0, {"$list": []}), r"key of type list, which is not hashable"),
    "$dict key twice": (_set("tree", "$dict", 1, 0, "w"), r"has the key 'w' twice"),
    "unknown tag": (_set("tree", "$dict", 0, 1, {"$eval": "1"}), r"unexpected entry \{'\$eval': '1'\}"),
    "plain object in tree": (_set("tree", "$dict", 0, 1, {"a": 1}), r"unexpected entry"),
    "tag and more": (_set("tree", "$dict", 0, 1, {"$tensor": 0, "x": 1}), r"unexpected entry"),
}


@pytest.mark.parametrize("case", list(CRAFTED))
def test_crafted_header_raises_checkpoint_error(case):
    header, data = _split(_file(_base()))
    mutate, message = CRAFTED[case]
    mutate(header)
    if header.get("data_bytes") == 128:  # _extra_tensor: pad the data to the new size
        data = data + bytes(128 - len(data))
    with pytest.raises(CheckpointError, match=message):
        _load(_craft(header, data))


RAW_HEADERS = {  # name: (header bytes, what the error must say)
    "JSON 100,000 deep": (b'{"format":"tinygrad_chain checkpoint","version":1,"tensors":[],"data_bytes":0,"tree":'
                          + b"[" * 100000 + b"]" * 100000 + b"}", r"nests too deeply"),
    "a JSON array": (b"[1, 2]", r"its header is an array \(\[1, 2\]\), not an object"),
    "a key twice": (b'{"tensors":[],"tensors":[]}', r"names the same key twice"),
    "not UTF-8": (b'{"format":"\xff"}', r"UnicodeDecodeError"),
    "5000-digit integer": (b'{"data_bytes":' + b"9" * 5000 + b"}", r"header cannot be read \(ValueError"),
    "empty": (b"", r"header cannot be read"),
}


@pytest.mark.parametrize("case", list(RAW_HEADERS))
def test_crafted_raw_header_raises_checkpoint_error(case):
    text, message = RAW_HEADERS[case]
    with pytest.raises(CheckpointError, match=message):
        _load(_craft(text, b""))


def test_the_unmodified_header_still_loads():  # the cases above change one thing in a header that is good
    header, data = _split(_file(_base()))
    back = _load(_craft(header, data))
    np.testing.assert_array_equal(to_np(back["w"]), np.ones((2, 3)))
    np.testing.assert_array_equal(to_np(back["n"]), [1, 2])
    assert back["dev"] == tc.device("numpy") and back["dt"] is tc.float64


def test_nesting_limit_is_the_same_for_save_and_load(tmp_path):
    deepest = 1
    for _ in range(100):
        deepest = [deepest]
    tc.save(deepest, tmp_path / "ok")
    back = tc.load(tmp_path / "ok")
    for _ in range(100):
        assert type(back) is list and len(back) == 1
        back = back[0]
    assert back == 1
    with pytest.raises(ValueError, match=r"obj\[0\]\[0\].*containers nest more than 100 deep"):
        tc.save([deepest], tmp_path / "too-deep")
    assert os.listdir(tmp_path) == ["ok"]
    header, data = _split(_file(deepest))
    header["tree"] = {"$list": [header["tree"]]}  # one level more than tc.save writes
    with pytest.raises(CheckpointError, match="more than 100 deep"):
        _load(_craft(header, data))


# ---- map_location -----------------------------------------------------------------------------------------------
def test_unknown_map_location_blames_itself(device):
    raw = _file({"w": tc.ones(2)})
    for loc in ("tpu", {backends.resolve(device): "tpu"}, {"numpy": "xla:0", "cpp": "xla:0"}):
        with pytest.raises(CheckpointError, match=r"map_location names device '(tpu|xla:0)', which does not exist") \
                as err:
            _load(raw, map_location=loc)
        assert f"'{backends.resolve(device)}'" not in str(err.value)
    with pytest.raises(TypeError, match="map_location must be None, a device name.*not int"):
        _load(raw, map_location=5)
    with pytest.raises(TypeError, match="map_location maps to 5"):
        _load(raw, map_location={"cpp": 5})
    with pytest.raises(TypeError, match="map_location returned str, not a tensor"):
        _load(raw, map_location=lambda t, where: "x")


@pytest.mark.skipif(backends.is_available("cupy"), reason="needs a machine without a working cupy")
def test_unavailable_devices_raise_checkpoint_error(device):
    raw = _file({"w": tc.ones(2)})
    with pytest.raises(CheckpointError, match=rf"sends the tensors of device '{backends.resolve(device)}' to device "
                                              r"'cupy', which is not available here"):
        _load(raw, map_location="cupy")
    header, data = _split(raw)
    header["tensors"][0]["device"] = "cupy"  # saved on a GPU machine
    gpu_file = _craft(header, data)
    with pytest.raises(CheckpointError, match=r"tensors on device 'cupy'.*pass map_location='cpu'"):
        _load(gpu_file)
    w = _load(gpu_file, map_location="cpu")["w"]
    assert w.device == tc.device("cpu")
    np.testing.assert_array_equal(to_np(w), [1, 1])


# ---- fuzz: mutations of a good header, with a valid checksum ----------------------------------------------------
def _fuzz_base():
    w = tc.tensor([[1.5, -2.0, 3.0]], requires_grad=True)
    obj = {"w": w, "same": w, "n": tc.tensor([1, 2, 3]), "b": tc.tensor([True, False]),
           "s": tc.tensor(2.5, dtype=tc.float64), "e": tc.zeros(0, 2), 7: [1, 2.5, "x", None, True, (3, (4,))],
           "dt": tc.float64, "dev": tc.device("numpy")}
    if hasattr(tc.nn, "Parameter"):
        obj["p"] = tc.nn.Parameter(tc.ones(2))
    return obj


_TRICKY = [None, True, False, 0, 1, -1, 2, 3, 8, 64, 2 ** 63, 10 ** 30, 0.5, 2.7, -0.0, float("nan"), float("inf"),
           "", "44", "float16", "float32", "int64", "float", "cuda:99", "cpu", "numpy", "cpp", "cupy", [], {},
           [2.7, 2], [-1], [True], [0, 2 ** 62], {"$tensor": 0}, {"$tensor": 1}, {"$tensor": 9},
           {"$device": "cuda:99"}, {"$dtype": "float16"}, {"$list": 5}, {"$dict": [[1]]},
           {"$dict": [[{"$list": []}, 1]]}, {"$tuple": []}, {"$dtype": "int32"}, {"$device": "cpp"}]
_KEYS = ["$tensor", "$list", "$tuple", "$dict", "$dtype", "$device", "shape", "dtype", "offset", "x"]
_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=4)
                     | st.sampled_from(_TRICKY),
                     lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(st.sampled_from(_KEYS) | st.text(max_size=3), inner, max_size=2),
                     max_leaves=6)


def _slots(node, path=()):
    """Every place in a JSON value: (path to its parent container, key or index)."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for k, v in items:
        yield path, k
        yield from _slots(v, path + (k,))


FUZZ = settings(max_examples=300, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@FUZZ
@given(edits=st.lists(st.tuples(st.integers(0, 10 ** 6), st.sampled_from(["replace"] * 3 + ["delete", "add"]), _JSON),
                      min_size=1, max_size=3))
def test_fuzz_header_mutations_raise_only_checkpoint_error(device, edits):
    _once(device)
    header, data = _split(_file(_fuzz_base()))
    for pick, op, value in edits:
        value = copy.deepcopy(value)  # hypothesis may hand the same object to two edits
        slots = list(_slots(header))
        path, key = slots[pick % len(slots)]
        parent = header
        for k in path:
            parent = parent[k]
        if op == "replace":
            parent[key] = value
        elif op == "delete":
            del parent[key]
        elif isinstance(parent, dict):
            parent[f"{key}_" if isinstance(key, str) else "x"] = value
        else:
            parent.insert(key, value)
    raw = _craft(header, data)
    try:
        back = _load(raw)
    except CheckpointError:
        return
    # accepted: then it is exactly the file tc.save writes for what was loaded (nothing was coerced)
    assert _file(back) == raw


@FUZZ
@given(edits=st.lists(st.tuples(st.integers(0, 10 ** 6), st.binary(max_size=3), st.integers(0, 3)), min_size=1,
                      max_size=4))
def test_fuzz_header_bytes_raise_only_checkpoint_error(device, edits):
    _once(device)
    header, data = _split(_file(_fuzz_base()))
    text = bytearray(_dumps(header))
    for pos, new, cut in edits:  # replace `cut` bytes at pos with `new`
        pos %= len(text) + 1
        text[pos:pos + cut] = new
    try:
        back = _load(_craft(bytes(text), data))
    except CheckpointError:
        return
    loaded_header, loaded_data = _split(_file(back))
    assert _dumps(loaded_header) == _dumps(json.loads(bytes(text))) and loaded_data == data
