"""Device names and the default device."""
import os

from tinygrad_chain import backends


class device:  # noqa: N801  (torch's name)
    """A device, named by its backend: device("numpy"), device("cpu"), ..."""
    __slots__ = ("name",)

    def __init__(self, name):
        if isinstance(name, device):
            name = name.name
        self.name = backends.resolve(name)

    @property
    def type(self):
        """torch's device type: "cpu" or "cuda"."""
        return "cuda" if self.name == "cupy" else "cpu"

    @property
    def backend(self):
        return backends.get(self.name)

    def __eq__(self, other):
        if isinstance(other, str):
            try:
                other = device(other)
            except RuntimeError:
                return False
        return isinstance(other, device) and other.name == self.name

    def __hash__(self):
        return hash(self.name)

    def __str__(self):
        return self.name

    def __repr__(self):
        return f"device('{self.name}')"


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
    backends.get(dev.name)  # raises if it does not work here
    _default = dev


def backend_for(dev):
    """The backend object for a device-like value (None: the default)."""
    if dev is None:
        return get_default_device().backend
    if isinstance(dev, device):
        return dev.backend
    return backends.get(dev)
