"""tc.cuda: torch.cuda's device queries, seeding and memory figures for the "cupy" device.

Importing this module never imports cupy: every function asks the backend
registry, which loads the cupy backend (and so cupy) on first use. A GPU is
usable when cupy is installed *and* CUDA reports at least one device: cupy
imports fine on a machine without a GPU and only fails at the first
allocation, so the import alone proves nothing.
"""
from tinygrad_chain import backends
from tinygrad_chain.amp import cuda_amp as amp  # noqa: F401  (torch.cuda.amp.GradScaler, autocast)
from tinygrad_chain.legacy import CUDA as _LEGACY_TYPES

globals().update(_LEGACY_TYPES)  # tc.cuda.FloatTensor & co. (torch's legacy GPU constructors)

_NAME = "cupy"
OutOfMemoryError = backends.OutOfMemoryError  # raised by the cupy backend, which sits below tc.cuda


def is_available():
    """True when a CUDA GPU can be used: cupy is installed and CUDA counts at least one device."""
    return backends.is_available(_NAME)


def unavailable_reason():
    """Why the GPU cannot be used here (None when it can)."""
    return backends.unavailable_reason(_NAME)


def device_count():
    """The number of CUDA devices (0 without cupy, a driver or a GPU)."""
    if is_available():
        return backends.get(_NAME).device_count()
    return 0


def is_bf16_supported(including_emulation=True):
    """bfloat16 on the GPU: as usable as the GPU itself (cupy computes it through float32)."""
    return is_available()


def current_device():
    """The index of the device in use (always 0: tinygrad_chain drives one GPU)."""
    _backend("current_device")
    return 0


def get_device_name(device=None):
    """The GPU's marketing name, e.g. 'NVIDIA H100 80GB HBM3'."""
    return _backend("get_device_name").device_name(_index(device))


def synchronize(device=None):
    """Wait until every kernel queued on the GPU has finished (the backend runs its pending
    fused work first): the time is then spent where eager code would spend it (honest timing)."""
    _backend("synchronize").synchronize()


def manual_seed(seed):
    """Seed the GPU's random generator; silently ignored without a GPU, as in torch."""
    if is_available():
        backends.get(_NAME).manual_seed(int(seed))


manual_seed_all = manual_seed


def memory_allocated(device=None):
    """Bytes held by live GPU arrays (0 when no GPU is in use)."""
    return _memory_stats()["allocated"] if _in_use() else 0


def max_memory_allocated(device=None):
    """The peak of memory_allocated() since start or the last reset_peak_memory_stats()."""
    return _memory_stats()["peak"] if _in_use() else 0


def memory_reserved(device=None):
    """Bytes the memory pool holds from CUDA: live arrays plus cached free blocks."""
    return _memory_stats()["reserved"] if _in_use() else 0


def reset_peak_memory_stats(device=None):
    """Start max_memory_allocated() afresh from the current figure."""
    if _in_use():
        backends.get(_NAME).reset_peak()


def empty_cache():
    """Give the pool's cached free blocks back to CUDA (live arrays are untouched)."""
    if _in_use():
        backends.get(_NAME).empty_cache()


def mem_get_info(device=None):
    """(free, total) bytes on the device, as CUDA reports them."""
    return _backend("mem_get_info").mem_get_info()


def _memory_stats():  # the figures of eager code: the backend computes its pending results first
    return backends.get(_NAME).memory_stats()


def _in_use():
    # the registry remembers a failed load, so asking again costs nothing
    return is_available()


def _backend(what):
    if not is_available():
        raise RuntimeError(f"tc.cuda.{what}(): CUDA is not available here ({unavailable_reason()})")
    return backends.get(_NAME)


def _index(device):
    if device is None:
        return 0
    if isinstance(device, int):
        return device
    text = str(device)
    return int(text.split(":")[1]) if ":" in text else 0


__all__ = ["OutOfMemoryError", "current_device", "device_count", "empty_cache", "get_device_name",
           "is_available", "manual_seed", "manual_seed_all", "max_memory_allocated", "mem_get_info",
           "memory_allocated", "memory_reserved", "reset_peak_memory_stats", "synchronize",
           "unavailable_reason"]
