"""tinygrad_chain on every device it has here (numpy, cpp, cupy)."""
import tinygrad_chain as tc
from tinygrad_chain import backends

from benchmarks.runners import torchlike

NAME = "tinygrad_chain"


def probe():
    devices, skipped = [], []
    for name in ("numpy", "cpp", "cupy"):
        if backends.is_available(name):
            devices.append((name, "cuda" if name == "cupy" else "cpu"))
        else:
            skipped.append((name, backends.unavailable_reason(name) or "not available"))
    return {"version": getattr(tc, "__version__", "unknown"), "devices": devices, "skipped": skipped}


def configure(threads):
    if hasattr(tc, "set_num_threads"):
        tc.set_num_threads(threads)


def sync(device):
    if device == "cupy":
        tc.cuda.synchronize()


scalar = torchlike.scalar
WORKLOADS = torchlike.workloads(tc)
