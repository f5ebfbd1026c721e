"""What the mpirun jobs share: the device loop, deterministic data, and the record of checks.

Each rank records {check name: "ok" or the error} and writes it to OUT/rank<r>.json at the
end; the pytest side reads every rank's file. A check that fails is recorded, not raised, so
one failure does not hide the others (the checks are symmetric: every rank runs the same
collectives, so a failing comparison never leaves another rank waiting).
"""
import contextlib
import json
import os
import sys
import traceback

import numpy as np

import tinygrad_chain as tc
from tinygrad_chain import backends
from tinygrad_chain.backends import lazy as fusion

DEVICES = ("numpy", "cpp", "cpp_kernels", "cpp_fused")  # as tests/conftest.py's device fixture
results = {}


def devices():
    """The test devices that work here (cpp needs the compiled extension)."""
    return [d for d in DEVICES if backends.unavailable_reason(d.split("_")[0]) is None]


@contextlib.contextmanager
def on_device(name):
    """Make `name` the default device, with the cpp variants' settings (see tests/conftest.py)."""
    base, _, variant = name.partition("_")
    previous, threshold = tc.get_default_device(), fusion.config.min_elements
    sizes = None
    tc.set_default_device(base)
    if variant == "fused":
        fusion.config.min_elements = 1
    elif variant == "kernels":
        from tinygrad_chain.backends import cpp_backend
        sizes = cpp_backend.set_min_sizes(**{family: 0 for family in cpp_backend.min_sizes()})
    try:
        yield
    finally:
        tc.set_default_device(previous)
        fusion.config.min_elements = threshold
        if sizes is not None:
            cpp_backend.set_min_sizes(**sizes)


def check(name, fn, *args, **kwargs):
    if os.environ.get("MPI_JOBS_TRACE"):  # to find where a job hangs
        print(f"[{os.getpid()}] {name}", file=sys.stderr, flush=True)
    try:
        fn(*args, **kwargs)
        results[name] = "ok"
    except Exception:
        results[name] = traceback.format_exc(limit=6)


def to_np(t):
    return np.array(t._b.to_numpy(t._data))


def values(rank, shape, dtype, salt=0):
    """Rank `rank`'s data: small integers, so sums, products and means are exact in every dtype."""
    rng = np.random.default_rng([salt, rank])
    return np.asarray(rng.integers(-3, 4, size=shape)).astype(dtype)


def save(out, rank):
    with open(os.path.join(out, f"rank{rank}.json"), "w") as f:
        json.dump(results, f, indent=1)
