"""Honest wall-clock timing of one step function.

The first calls are warm-up (JIT compilation, allocator growth, cache fills)
and are not counted. Each repeat times a block of `inner` calls, sized so a
block lasts at least `min_time` (timer noise stays small for tiny steps), and
reports the time per call. The device is synchronised before the clock starts
and before it stops, so queued GPU work is always inside the measurement.
"""
import gc
import math
import statistics
import time


def measure(step, sync, scalar, *, repeat, warmup, min_time, max_inner=10_000):
    """Time `step()`; returns dict(times_s, median_s, min_s, max_s, inner, check).

    check is scalar() of the first call's result, the value compared across
    libraries; it is taken at once so no graph or buffer outlives that call.
    """
    first = step()  # errors here are the step's own: they propagate
    sync()
    try:
        check = float(scalar(first))
    except Exception:  # the check is a courtesy; never lose a measurement over it
        check = None
    del first
    for _ in range(max(0, warmup - 1)):
        step()
        sync()
    gc.collect()
    t0 = time.perf_counter()
    step()
    sync()
    once = time.perf_counter() - t0
    inner = 1 if once >= min_time else min(max_inner, max(1, math.ceil(min_time / max(once, 1e-9))))
    # a slow step's sizing call is already a valid timed sample (after warm-up, synchronised): keep it
    times = [once] if inner == 1 else []
    for _ in range(repeat - len(times)):
        gc.collect()  # start every block from the same collector state; garbage made inside still counts
        sync()
        t0 = time.perf_counter()
        for _ in range(inner):
            step()
        sync()
        times.append((time.perf_counter() - t0) / inner)
    return {"times_s": times, "median_s": statistics.median(times), "min_s": min(times),
            "max_s": max(times), "inner": inner, "check": check}
