"""tinygrad_chain on every device it has here (numpy, cpp, cupy), eager and captured (tc.compile).

The cpp kernels pick their instruction set at run time; TINYGRAD_CHAIN_ISA (the benchmark's --isa)
forces one, and the probe reports the one they run with.
"""
import os
import warnings

import tinygrad_chain as tc
from tinygrad_chain import backends

from benchmarks.runners import VARIANT, Skip, torchlike

NAME = "tinygrad_chain"
COMPILED_DEVICES = ("cpp", "cupy")  # the compiled variant's devices (issue 18's targets)
_NO_COMPILE = "tc.compile is not in this tinygrad_chain yet (issue 18: captured training steps)"


def _isa():
    """(the cpp kernels' instruction set, or None; why the cpp device cannot run as asked, or None)."""
    if not backends.is_available("cpp"):
        return None, None
    from tinygrad_chain import _C
    want = os.environ.get("TINYGRAD_CHAIN_ISA")
    if want and not _C.set_isa(want):
        return _C.isa(), f"TINYGRAD_CHAIN_ISA={want} (--isa) asks for kernels this CPU cannot run"
    return _C.isa(), None


def probe():
    devices, skipped = [], []
    isa, isa_problem = _isa()
    for name in ("numpy", "cpp", "cupy"):
        dtype = "cuda" if name == "cupy" else "cpu"
        if not backends.is_available(name):
            skipped.append((name, backends.unavailable_reason(name) or "not available"))
            continue
        if name == "cpp" and isa_problem:
            skipped.append((name, isa_problem))
            continue
        devices.append((name, dtype))
        if name in COMPILED_DEVICES:
            if hasattr(tc, "compile"):
                devices.append((name + VARIANT + "compiled", dtype))
            else:
                skipped.append((name + VARIANT + "compiled", _NO_COMPILE))
    return {"version": getattr(tc, "__version__", "unknown"), "devices": devices, "skipped": skipped,
            "isa": isa, "isa_forced": os.environ.get("TINYGRAD_CHAIN_ISA")}


def configure(threads):
    if hasattr(tc, "set_num_threads"):
        tc.set_num_threads(threads)
    _isa()  # the forced instruction set, in this process too


def sync(device):
    if device != "cupy":
        return
    cuda = getattr(tc, "cuda", None)
    if cuda is not None and hasattr(cuda, "synchronize"):
        cuda.synchronize()
    else:  # until tc.cuda exists: wait on the device directly, never time queued work
        import cupy
        cupy.cuda.Device().synchronize()


def compile_step(step, watched_calls=4):
    """tc.compile(step). Its warnings during the first calls (a fallback to eager, re-tracing) become the
    result's note, so a case that did not replay says so; later calls run without the watch."""
    if not hasattr(tc, "compile"):
        raise Skip(_NO_COMPILE)
    compiled, calls, seen = tc.compile(step), [0], []

    def run():
        if calls[0] >= watched_calls:
            return compiled()
        calls[0] += 1
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = compiled()
        for w in caught:
            text = f"tc.compile warned: {w.category.__name__}: {w.message}"[:300]
            if text not in seen:
                seen.append(text)
        run.note = "; ".join(filter(None, [getattr(step, "note", None), *seen])) or None
        return out

    run.note = getattr(step, "note", None)
    run.min_warmup = 3  # trace, then replay: time only replays
    return run


scalar = torchlike.scalar
WORKLOADS = torchlike.workloads(tc)
