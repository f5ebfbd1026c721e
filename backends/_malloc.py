"""Keep freed large blocks in the C heap, so big temporaries stop page-faulting.

glibc serves blocks above 128 KiB with mmap and unmaps them on free: every
fresh gradient or activation array is then page-faulted and zeroed again by
the kernel, which costs as much as the arithmetic in elementwise work.
Raising the mmap threshold (to glibc's maximum, 32 MiB) and the trim
threshold lets free() keep those pages for the next array of that size, as
torch's caching allocator does. It is process-wide, so it is applied once,
when the cpp device loads; set TINYGRAD_CHAIN_MALLOC_TUNING=0 to leave
malloc alone.
"""
import ctypes
import ctypes.util
import os
import platform

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_applied = None


def keep_freed_memory():
    """Apply the tuning once; True when glibc accepted it."""
    global _applied
    if _applied is not None:
        return _applied
    _applied = False
    if os.environ.get("TINYGRAD_CHAIN_MALLOC_TUNING", "1") == "0" or platform.libc_ver()[0] != "glibc":
        return _applied
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        _applied = bool(libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, 1 << 30))
    except (OSError, AttributeError):
        _applied = False
    return _applied
