"""How many threads the CPU kernels use: tc.set_num_threads / tc.get_num_threads."""
import os

from tinygrad_chain import backends

_requested = None


def set_num_threads(n):
    """Use n threads in the C++ kernels and in the BLAS under NumPy."""
    global _requested
    n = int(n)
    if n < 1:
        raise ValueError(f"set_num_threads: expected a positive number of threads, got {n}")
    if backends.is_available("cpp"):
        backends.get("cpp").set_num_threads(n)
    try:  # BLAS pools can only be resized through threadpoolctl, when it is installed
        import threadpoolctl
        threadpoolctl.threadpool_limits(n)
    except ImportError:
        pass
    _requested = n


def get_num_threads():
    if backends.is_available("cpp"):
        return backends.get("cpp").get_num_threads()
    if _requested is not None:
        return _requested
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
