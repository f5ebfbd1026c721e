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
    if device != "cupy":
        return
    cuda = getattr(tc, "cuda", None)
    if cuda is not None and hasattr(cuda, "synchronize"):
        cuda.synchronize()
    else:  # until tc.cuda exists: wait on the device directly, never time queued work
        import cupy
        cupy.cuda.Device().synchronize()


scalar = torchlike.scalar
WORKLOADS = torchlike.workloads(tc)
