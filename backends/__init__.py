"""Device backends, each loaded on first use.

Devices are named by backend: "numpy" (the reference), "cpp" (C++ kernels,
when the extension is built) and "cupy" (NVIDIA GPUs). "cpu" names the
fastest CPU backend that works here and "cuda" names "cupy".

torch's switches live here too, under torch's names (tc.backends.cudnn.benchmark,
tc.backends.cuda.matmul.allow_tf32, tc.backends.mps.is_available(): torch_flags.py);
the registry's functions (available, get, resolve, ...) keep theirs.
"""
import importlib
import os
import threading

from .base import Backend
from .torch_flags import cuda_namespace, cudnn, mps

_MODULES = {
    "numpy": ("numpy_backend", "NumpyBackend"),
    "cpp": ("cpp_backend", "CppBackend"),
    "cupy": ("cupy_backend", "CupyBackend"),
}
_loaded = {}
_failures = {}
_seed = 0
_loading = threading.RLock()  # threads that first use a device at once must get one backend object


def _after_fork_in_child():
    global _loading
    _loading = threading.RLock()  # a thread holding it at fork time does not exist in the child


os.register_at_fork(after_in_child=_after_fork_in_child)


def _load(name):
    with _loading:
        if name in _loaded or name in _failures:
            return _loaded.get(name)
        return _load_locked(name)


def _load_locked(name):
    module, cls = _MODULES[name]
    try:
        backend = getattr(importlib.import_module(f"{__name__}.{module}"), cls)()
    except Exception as e:  # ImportError, or no GPU / no compiled extension
        _failures[name] = f"{type(e).__name__}: {e}"
        return None
    backend.manual_seed(_seed)
    _loaded[name] = backend
    return backend


def resolve(name):
    """The canonical backend name for a device name or alias."""
    name = str(name).split(":")[0].lower()
    if name == "cpu":
        return "cpp" if is_available("cpp") else "numpy"
    if name in ("cuda", "gpu"):
        return "cupy"
    if name not in _MODULES:
        raise RuntimeError(f"unknown device {name!r}: expected one of "
                           f"{', '.join(list(_MODULES) + ['cpu', 'cuda'])}")
    return name


def is_available(name):
    if name in _loaded:
        return True
    if name in _failures:
        return False
    return _load(name) is not None


cuda = cuda_namespace(is_built=lambda: is_available("cupy"))


class OutOfMemoryError(RuntimeError):
    """The GPU could not give the memory an allocation asked for (torch.cuda.OutOfMemoryError, which
    tc.cuda names). The message states the requested size and the memory pool's figures.
    """


def get(name):
    """The backend object for device `name` (a name or an alias)."""
    canonical = resolve(name)
    backend = _loaded.get(canonical)
    if backend is None and not is_available(canonical):
        raise RuntimeError(f"device {name!r} is not available here: {_failures[canonical]}")
    return _loaded[canonical]


def available():
    """The names of the devices that work on this machine."""
    return [name for name in _MODULES if is_available(name)]


def loaded():
    """The backends already in use (for seeding every one of them)."""
    return list(_loaded.values())


def manual_seed(seed):
    """Seed every backend, and those loaded later, with `seed`."""
    global _seed
    _seed = seed
    for backend in _loaded.values():
        backend.manual_seed(seed)


def initial_seed():
    """The seed every backend was last seeded with (0 before any manual_seed)."""
    return _seed


def unavailable_reason(name):
    """Why device `name` cannot be used here, or None if it can."""
    canonical = resolve(name)
    return None if is_available(canonical) else _failures[canonical]


__all__ = ["Backend", "OutOfMemoryError", "available", "cuda", "cudnn", "get", "is_available", "loaded", "manual_seed", "initial_seed", "mps", "resolve",
           "unavailable_reason"]
