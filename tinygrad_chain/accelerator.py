"""tc.accelerator (torch.accelerator): the GPU, when one works here, else none.

pytorch/examples pick their device with it:

    device = tc.accelerator.current_accelerator() if tc.accelerator.is_available() else tc.device("cpu")

The one accelerator tinygrad_chain drives is a CUDA GPU through CuPy (the "cupy"
device, tc.cuda); its functions here answer as torch's do without one (no
accelerator: is_available() is False, device_count() 0, and asking for the device
raises).
"""
import contextlib

from tinygrad_chain import cuda
from tinygrad_chain.device import device


def is_available():
    return cuda.is_available()


def current_accelerator(check_available=False):
    """device(type='cuda') when a GPU works here, else None."""
    return device("cuda") if cuda.is_available() else None


def device_count():
    return cuda.device_count()


def current_device_index():
    _check("current_device_index")
    return 0


current_device_idx = current_device_index


def set_device_index(index):
    _check("set_device_index")
    _only_gpu_0(index)


set_device_idx = set_device_index


@contextlib.contextmanager
def device_index(index):
    """Run the block on GPU `index` (0, the one GPU driven here); None changes nothing."""
    if index is not None:
        _check("device_index")
        _only_gpu_0(index)
    yield


def synchronize(device=None):  # noqa: A002  (torch's name)
    """Wait until the GPU has finished everything queued (tc.cuda.synchronize)."""
    _check("synchronize")
    cuda.synchronize(device)


def memory_allocated(device=None):  # noqa: A002
    _check("memory_allocated")
    return cuda.memory_allocated(device)


def max_memory_allocated(device=None):  # noqa: A002
    _check("max_memory_allocated")
    return cuda.max_memory_allocated(device)


def memory_reserved(device=None):  # noqa: A002
    _check("memory_reserved")
    return cuda.memory_reserved(device)


def reset_peak_memory_stats(device=None):  # noqa: A002
    _check("reset_peak_memory_stats")
    cuda.reset_peak_memory_stats(device)


def empty_cache():
    _check("empty_cache")
    cuda.empty_cache()


def _check(what):
    if not cuda.is_available():
        raise RuntimeError(f"tc.accelerator.{what}(): Cannot access accelerator device when none is available "
                           f"({cuda.unavailable_reason()})")


def _only_gpu_0(index):
    i = index if isinstance(index, int) else device(index).index
    if i not in (None, 0):
        raise RuntimeError(f"tc.accelerator: device index {i} is out of range: tinygrad_chain drives one GPU, 0")


__all__ = ["current_accelerator", "current_device_idx", "current_device_index", "device_count", "device_index",
           "empty_cache", "is_available", "max_memory_allocated", "memory_allocated", "memory_reserved",
           "reset_peak_memory_stats", "set_device_idx", "set_device_index", "synchronize"]
