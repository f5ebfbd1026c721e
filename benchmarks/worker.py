"""The subprocess that benchmarks one (library, device) pair, or probes libraries.

    python -m benchmarks.worker run '<json spec>'     (all the spec's cases, then exit)
    python -m benchmarks.worker serve '<json spec>'   (cases read from stdin, one per line)
    python -m benchmarks.worker probe lib1,lib2,...

The parent sets OMP_NUM_THREADS and friends in our environment, so thread pools
are sized before any library is imported. Every finished case is written at
once as one line `@@BENCH <json>` on stdout, so the parent can show progress
and keeps what was measured even if a later case crashes this process.
"""
import json
import os
import resource
import sys
import time
import traceback

TAG = "@@BENCH "
_SKIP_TYPES = (AttributeError, ImportError, NotImplementedError)


def emit(obj):
    sys.stdout.write(TAG + json.dumps(obj) + "\n")
    sys.stdout.flush()


def _reason(e):
    return f"{type(e).__name__}: {e}".strip()[:400]


def probe(libraries):
    from benchmarks.runners import HOW_TO_GET, load
    for lib in libraries:
        try:
            info = load(lib).probe()
            emit({"event": "probe", "library": lib, "ok": True, **info})
        except Exception as e:  # not installed, or broken here
            hint = f"; to get it: {HOW_TO_GET}" if isinstance(e, ImportError) else ""
            emit({"event": "probe", "library": lib, "ok": False, "reason": _reason(e) + hint})


def _status_mb():
    """{'VmRSS': MB, 'VmHWM': MB} of this process (Linux), or {}."""
    out = {}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    out[key] = int(value.split()[0]) / 1024.0
    except (OSError, ValueError):
        pass
    return out


def _reset_peak_rss():
    """Restart this process's RSS high-water mark (Linux >= 4.0), so each case gets its own peak."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _with_memory(case):
    """Run case() and add its peak RSS: the high-water mark during the case, and its growth over the
    RSS the case started from (what the library allocated for it, less what earlier cases left cached)."""
    fresh = _reset_peak_rss()
    start = _status_mb().get("VmRSS")
    res = case()
    peak = _status_mb().get("VmHWM")
    if res.get("status") == "ok" and fresh and start is not None and peak is not None:
        res.update(peak_rss_mb=round(peak, 1), rss_growth_mb=round(peak - start, 1))
    return res


def run_case(runner, device, workload, params, spec):
    from benchmarks.runners import Skip, split_variant
    from benchmarks.timing import measure
    from benchmarks.workloads import make_data
    out = {"event": "case", "workload": workload, "params": params}
    setup = runner.WORKLOADS.get(workload)
    if setup is None:
        return {**out, "status": "unsupported", "reason": f"{runner.NAME} has no runner for {workload}"}
    device, variant = split_variant(device)
    try:
        step = setup(device, make_data(workload, params), params)
        if variant == "compiled":
            step = runner.compile_step(step)
        m = measure(step, lambda: runner.sync(device), runner.scalar, repeat=spec["repeat"],
                    warmup=max(spec["warmup"], getattr(step, "min_warmup", 1)), min_time=spec["min_time"])
    except Skip as e:
        return {**out, "status": "skipped", "reason": str(e)}
    except _SKIP_TYPES as e:
        return {**out, "status": "skipped", "reason": _reason(e)}
    except Exception as e:
        tb = traceback.format_exc(limit=3)
        return {**out, "status": "failed", "reason": _reason(e), "traceback": tb[-1500:]}
    note = getattr(step, "note", None)  # e.g. a fallback used because a feature is missing
    return {**out, "status": "ok", **m, **({"note": note} if note else {})}


def run(spec):
    from benchmarks.runners import load
    runner = load(spec["library"])
    runner.configure(spec["threads"])
    emit({"event": "start", "library": spec["library"], "device": spec["device"], "pid": os.getpid()})
    t_start = time.perf_counter()
    for workload, params in spec["cases"]:
        t0 = time.perf_counter()
        res = _with_memory(lambda: run_case(runner, spec["device"], workload, params, spec))
        res["wall_s"] = round(time.perf_counter() - t0, 3)
        emit(res)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    emit({"event": "end", "peak_rss_mb": round(peak_mb, 1), "wall_s": round(time.perf_counter() - t_start, 3)})


def serve(spec):
    """Run cases as the parent sends them, one JSON [workload, params] line at a time on stdin.

    The parent keeps one such worker per (library, device) and hands out the
    cases in turn, so every library is measured in the same stretch of time and
    a burst of outside load does not fall on one library only.
    """
    from benchmarks.runners import load
    runner = load(spec["library"])
    runner.configure(spec["threads"])
    emit({"event": "start", "library": spec["library"], "device": spec["device"], "pid": os.getpid()})
    t_start = time.perf_counter()
    for line in sys.stdin:
        if not line.strip():
            continue
        workload, params = json.loads(line)
        t0 = time.perf_counter()
        res = _with_memory(lambda: run_case(runner, spec["device"], workload, params, spec))
        res["wall_s"] = round(time.perf_counter() - t0, 3)
        emit(res)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    emit({"event": "end", "peak_rss_mb": round(peak_mb, 1), "wall_s": round(time.perf_counter() - t_start, 3)})


def main(argv):
    if argv[0] == "probe":
        probe(argv[1].split(","))
    elif argv[0] == "run":
        run(json.loads(argv[1]))
    elif argv[0] == "serve":
        serve(json.loads(argv[1]))
    else:
        raise SystemExit(f"unknown worker command {argv[0]!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
