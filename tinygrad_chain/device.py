"""Devices (torch.device) and the default device.

A device is torch's (type, index) pair plus the backend that runs it. The
type is "cpu" or "cuda"; on the CPU two backends exist ("numpy", the
reference, and "cpp"), and "cpu" names the fastest one that works here. A
device prints as torch's does, except that the CPU backend "cpu" does not name
prints under its own name: device(type='cpu', backend='numpy'), str "numpy".
"""
import os

from tinygrad_chain import backends


class device:  # noqa: N801  (torch's name)
    """device("cpu"), device("cuda:0"), device("cuda", 0), device(type="cuda", index=0), device("numpy")."""
    __slots__ = ("name", "index")

    def __init__(self, type, index=None):  # noqa: A002  (torch's argument names)
        if isinstance(type, device):
            type, index = type.name, type.index if index is None else index
        elif isinstance(type, int) and not isinstance(type, bool):
            type, index = "cuda", type  # torch: an int names an accelerator's index
        if not isinstance(type, str):
            raise TypeError(f"device() expects a string or a device, got {type!r}")
        name, _, written = type.partition(":")
        if written:
            if index is not None:
                raise RuntimeError(f"device(): type (string) {type!r} must not include an index because index was "
                                   f"passed explicitly: {index}")
            if not written.isdigit():
                raise RuntimeError(f"Invalid device string: {type!r}")
            index = int(written)
        if index is not None and (isinstance(index, bool) or not isinstance(index, int)):
            raise TypeError(f"device(): index must be an int, got {index!r}")
        if index is not None and index < 0:
            raise RuntimeError("Device index must not be negative")
        self.name = backends.resolve(name)  # the backend: "numpy", "cpp" or "cupy"
        self.index = index

    @property
    def type(self):
        """torch's device type: "cpu" or "cuda"."""
        return "cuda" if self.name == "cupy" else "cpu"

    @property
    def backend(self):
        if self.index and self.type == "cuda":
            raise RuntimeError(f"device {self}: tinygrad_chain drives one GPU, cuda:0")
        return backends.get(self.name)

    def __eq__(self, other):
        if isinstance(other, str):  # beyond torch (which says False): a name of this device
            try:  # "cpu" is device("cpu"); "cuda" is any GPU, "cuda:0" the first
                other = device(other)
            except (RuntimeError, TypeError):
                return False
            return other.name == self.name and other.index in (None, self.index)
        return isinstance(other, device) and other.name == self.name and other.index == self.index

    def __hash__(self):
        return hash((self.name, self.index))

    def _label(self):
        """torch's type, or the backend's own name for the CPU backend "cpu" does not name."""
        return self.type if self.type == "cuda" or self.name == backends.resolve("cpu") else self.name

    def __str__(self):
        return self._label() if self.index is None else f"{self._label()}:{self.index}"

    def __repr__(self):
        index = "" if self.index is None else f", index={self.index}"
        backend = "" if self._label() == self.type else f", backend='{self.name}'"
        return f"device(type='{self.type}'{index}{backend})"

    def __reduce__(self):
        return (device, (self.name, self.index))


_of_backend = {}


def device_of(backend):
    """The device of tensors on `backend` (cached: Tensor.device asks for it often).
    A GPU tensor's device carries its index, as torch's do: device(type='cuda', index=0)."""
    d = _of_backend.get(backend.name)
    if d is None:
        d = _of_backend[backend.name] = device(backend.name, 0 if backend.device_type == "cuda" else None)
    return d


_default = None


def get_default_device():
    global _default
    if _default is None:
        _default = device(os.environ.get("TINYGRAD_CHAIN_DEVICE", "cpu"))
    return _default


def set_default_device(dev):
    """Make `dev` the device of newly created tensors."""
    global _default
    dev = device(dev if dev is not None else "cpu")
    dev.backend  # noqa: B018  (raises if it does not work here)
    _default = dev


def backend_for(dev):
    """The backend object for a device-like value (None: the default)."""
    if dev is None:
        return get_default_device().backend
    return (dev if isinstance(dev, device) else device(dev)).backend
