"""`python -m benchmarks`: plan the runs, start one worker per (library, device), write the results."""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from benchmarks import dist_bench, machine, progress, workloads
from benchmarks.runners import RUNNERS, split_variant
from benchmarks.worker import TAG

SCHEMA = "tinygrad_chain-bench/1"
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                "VECLIB_MAXIMUM_THREADS")
# per preset: default repeats, warm-up calls, shortest timed block (s)
_PRESET_DEFAULTS = {"full": (5, 2, 0.2), "quick": (3, 2, 0.05), "smoke": (2, 1, 0.0)}


def _csv(text):
    return [t.strip() for t in text.split(",") if t.strip()] if text else []


def parse_args(argv):
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    ap.add_argument("--devices", default="all",
                    help="comma list of device types (cpu, cuda), tinygrad_chain devices (numpy, cpp, cupy) "
                         "or library:device pairs (torch:cuda); default all")
    ap.add_argument("--workloads", default="all",
                    help=f"comma list of {', '.join(workloads.WORKLOADS)}; default all; the distributed ones "
                         f"({', '.join(dist_bench.WORKLOADS)}, under mpirun) run only when named")
    ap.add_argument("--libraries", default="all", help=f"comma list of {', '.join(RUNNERS)}; default all installed")
    size = ap.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="smaller sizes and fewer repeats (a few minutes)")
    size.add_argument("--smoke", action="store_true", help="tiny sizes, for CI: checks that everything runs")
    ap.add_argument("--repeat", type=int, help="timed repeats per case (default 5, quick 3, smoke 2)")
    ap.add_argument("--warmup", type=int, help="untimed warm-up calls per case (default 2, smoke 1)")
    ap.add_argument("--min-time", type=float, help="shortest timed block in seconds; fast steps are looped")
    ap.add_argument("--threads", type=int, default=2, help="threads per library (OMP/MKL/OpenBLAS), default 2")
    ap.add_argument("--out", default="bench_out", help="output folder (default bench_out/)")
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds allowed per case (default 1800)")
    ap.add_argument("--pause", type=float, default=0.2,
                    help="seconds of quiet before each case, so the previous library's threads go idle")
    ap.add_argument("--rounds", type=int, default=1,
                    help="run every case this many times, all libraries in turn each round, and report the "
                         "median of the rounds' medians (steadier ratios on a shared machine)")
    ap.add_argument("--isa", choices=("avx2", "avx512", "generic"),
                    help="force the instruction set of tinygrad_chain's cpp kernels (TINYGRAD_CHAIN_ISA); default: "
                         "the best this CPU has, picked at run time (e.g. check the AVX2 path on an AVX-512 host)")
    ap.add_argument("--no-plots", action="store_true", help="skip the PNG charts")
    args = ap.parse_args(argv)
    args.preset = "smoke" if args.smoke else "quick" if args.quick else "full"
    rep, warm, mint = _PRESET_DEFAULTS[args.preset]
    args.repeat = args.repeat or rep
    args.warmup = warm if args.warmup is None else args.warmup
    args.min_time = mint if args.min_time is None else args.min_time
    args.workloads = list(workloads.WORKLOADS) if args.workloads == "all" else _csv(args.workloads)
    args.libraries = list(RUNNERS) if args.libraries == "all" else _csv(args.libraries)
    args.devices = None if args.devices == "all" else _csv(args.devices)
    known_workloads = {**workloads.WORKLOADS, **dist_bench.WORKLOADS}
    for name, known, what in ((args.workloads, known_workloads, "workload"), (args.libraries, RUNNERS, "library")):
        bad = [n for n in name if n not in known]
        if bad:
            ap.error(f"unknown {what} {', '.join(bad)}: choose from {', '.join(known)}")
    if args.threads < 1 or args.repeat < 1 or args.rounds < 1:
        ap.error("--threads, --repeat and --rounds must be at least 1")
    return args


def _env(threads, isa=None):
    env = dict(os.environ)
    for var in _THREAD_VARS:
        env[var] = str(threads)
    if isa:
        env["TINYGRAD_CHAIN_ISA"] = isa
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _lines(out):
    for line in out.splitlines():
        if line.startswith(TAG):
            yield json.loads(line[len(TAG):])


def probe(libraries, threads, isa=None):
    """{library: probe record} from one short subprocess (imports only)."""
    proc = subprocess.run([sys.executable, "-m", "benchmarks.worker", "probe", ",".join(libraries)],
                          env=_env(threads, isa), cwd=REPO, capture_output=True, text=True, timeout=600)
    found = {rec["library"]: rec for rec in _lines(proc.stdout)}
    for lib in libraries:
        found.setdefault(lib, {"library": lib, "ok": False,
                               "reason": f"probe crashed (rc={proc.returncode}): {proc.stderr[-300:]}"})
    return found


def _wanted(filters, library, device, dtype):
    return filters is None or any(f in (device, dtype, f"{library}:{device}") for f in filters)


def plan(probes, filters):
    """(targets to run, targets skipped with a reason)."""
    run, skipped = [], []
    for lib, rec in probes.items():
        if not rec["ok"]:
            skipped.append({"library": lib, "device": None, "status": "skipped",
                            "reason": f"not usable here: {rec['reason']}"})
            continue
        for device, dtype in rec["devices"]:
            if _wanted(filters, lib, device, dtype):
                run.append({"library": lib, "device": device, "device_type": dtype, "version": rec["version"]})
        for device, reason in rec["skipped"]:
            if _wanted(filters, lib, device, "cuda" if split_variant(device)[0] in ("cuda", "cupy") else "cpu"):
                skipped.append({"library": lib, "device": device, "status": "skipped", "reason": reason,
                                "version": rec["version"]})
    return run, skipped


class Worker:
    """One long-lived worker process for one (library, device), fed one case at a time."""

    def __init__(self, target, args):
        spec = {"library": target["library"], "device": target["device"], "repeat": args.repeat,
                "warmup": args.warmup, "min_time": args.min_time, "threads": args.threads}
        self.target, self.timeout = target, args.timeout
        self.rec = {**target, "threads": args.threads, "status": "ok"}
        self.err = tempfile.TemporaryFile("w+")
        self.proc = subprocess.Popen([sys.executable, "-m", "benchmarks.worker", "serve", json.dumps(spec)],
                                     env=_env(args.threads, args.isa), cwd=REPO, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.err, text=True, bufsize=1)
        self.dead = None  # why this worker can run no more cases

    @property
    def name(self):
        return f"{self.target['library']}:{self.target['device']}"

    def _read(self):
        """The next tagged message, or None when the worker has exited."""
        for line in self.proc.stdout:
            if line.startswith(TAG):
                return json.loads(line[len(TAG):])
        return None

    def _died(self, what):
        self.proc.wait()
        self.err.seek(0)
        self.dead = f"{what} (exit code {self.proc.returncode}): {self.err.read()[-600:]}"
        self.rec["status"], self.rec["reason"] = "failed", self.dead

    def wait_ready(self):
        msg = self._read()
        if msg is None or msg.get("event") != "start":
            self._died("worker failed to start")

    def run(self, workload, params):
        if self.dead:
            return {"workload": workload, "params": params, "status": "failed", "reason": self.dead}
        self.proc.stdin.write(json.dumps([workload, params]) + "\n")
        self.proc.stdin.flush()
        timed_out = []
        watchdog = threading.Timer(self.timeout, lambda: (timed_out.append(1), self.proc.kill()))
        watchdog.start()  # a hung case must not hang the suite
        try:
            msg = self._read()
        finally:
            watchdog.cancel()
        if msg is None:
            self._died(f"timed out after {self.timeout:g} s (--timeout) in {workload}" if timed_out
                       else f"worker crashed in {workload}")
            return {"workload": workload, "params": params, "status": "failed", "reason": self.dead}
        msg.pop("event", None)
        return msg

    def close(self):
        if not self.dead:
            self.proc.stdin.close()
            msg = self._read()
            if msg and msg.get("event") == "end":
                self.rec["peak_rss_mb"], self.rec["wall_s"] = msg["peak_rss_mb"], msg["wall_s"]
            self.proc.wait(timeout=120)
        self.err.close()
        return self.rec


def run_interleaved(targets, per_target, args, bar):
    """Case by case, each worker in turn: outside load spreads over all libraries alike."""
    workers = [Worker(t, args) for t in targets]
    for w in workers:
        w.wait_ready()
    rounds = {}  # (worker index, case) -> one result per round
    order = list(dict.fromkeys(json.dumps(c) for cases in per_target for c in cases))
    for case in map(json.loads, order):
        for _ in range(args.rounds):
            for i, (w, cases) in enumerate(zip(workers, per_target)):
                if case not in cases:
                    continue
                time.sleep(args.pause)  # let the previous library's spinning BLAS/OpenMP threads go to sleep
                load = round(os.getloadavg()[0], 2)
                res = w.run(*case)
                res["loadavg_1m"] = load  # others' load makes timings noisy: keep it so a reader can tell
                rounds.setdefault((i, json.dumps(case)), []).append(res)
                bar.update(1, f"{w.name} {case[0]}")
    results = [_augment(_merge_rounds(rs), workers[i].target) for (i, _), rs in rounds.items()]
    return [w.close() for w in workers], results


def _merge_rounds(rs):
    """One record from a case's rounds: the median of their medians, every time kept."""
    ok = [r for r in rs if r.get("status") == "ok"]
    if len(ok) < len(rs) or len(rs) == 1:
        return next((r for r in rs if r.get("status") != "ok"), rs[0])
    times = [t for r in ok for t in r["times_s"]]
    return {**ok[0], "times_s": times, "median_s": statistics.median(r["median_s"] for r in ok),
            "min_s": min(times), "max_s": max(times), "rounds": len(ok),
            "round_medians_s": [r["median_s"] for r in ok], "loadavg_1m": max(r["loadavg_1m"] for r in ok),
            **{k: max(r[k] for r in ok) for k in ("peak_rss_mb", "rss_growth_mb") if all(k in r for r in ok)}}


def _augment(res, target):
    """Add the target's fields and derived metrics to one case record."""
    res.update({k: target[k] for k in ("library", "device", "device_type")})
    res["label"] = workloads.label(res["params"])
    if res.get("status") == "ok":
        f = workloads.flops(res["workload"], res["params"])
        if f:
            res["gflops"] = f / res["median_s"] / 1e9
        if res["workload"] == "autograd_overhead":  # two ops (mul, add) per step, forward + backward
            res["us_per_op"] = res["median_s"] / (2 * res["params"]["steps"]) * 1e6
    return res


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    os.makedirs(args.out, exist_ok=True)
    distributed = [w for w in args.workloads if w in dist_bench.WORKLOADS]
    args.workloads = [w for w in args.workloads if w not in dist_bench.WORKLOADS]
    if distributed:
        dist_bench.run(args, distributed)
        if not args.workloads:
            return 0
    cases = workloads.cases(args.preset, args.workloads)
    print(f"benchmarks: preset {args.preset}, {len(cases)} cases per CPU device, repeat {args.repeat}, "
          f"{args.threads} threads -> {args.out}/", flush=True)
    info = machine.machine_info()
    probes = probe(args.libraries, args.threads, args.isa)
    targets, skipped = plan(probes, args.devices)
    for s in skipped:
        print(f"  skip {s['library']}{':' + s['device'] if s['device'] else ''}: {s['reason'][:300]}", flush=True)
    records = list(skipped)
    per_target = [[list(c) for c in workloads.cases(args.preset, args.workloads, t["device_type"])]
                  for t in targets]
    with progress.Bar(total=args.rounds * sum(map(len, per_target))) as bar:
        recs, results = run_interleaved(targets, per_target, args, bar)
    records += recs
    info["library_versions"] = {lib: rec["version"] for lib, rec in probes.items() if rec["ok"]}
    tc_probe = probes.get("tinygrad_chain", {})
    info["cpp_isa"], info["cpp_isa_forced"] = tc_probe.get("isa"), tc_probe.get("isa_forced")
    doc = {"schema": SCHEMA, "machine": info, "config": {
        "preset": args.preset, "repeat": args.repeat, "warmup": args.warmup, "min_time_s": args.min_time,
        "threads": args.threads, "pause_s": args.pause, "timeout_s": args.timeout, "rounds": args.rounds,
        "isa": args.isa,
        "schedule": "interleaved: one worker per (library, device), cases handed out in turn", "thread_env": {v: str(args.threads) for v in _THREAD_VARS},
        "workloads": args.workloads, "libraries": args.libraries, "devices": args.devices or "all",
        "argv": sys.argv[1:] if argv is None else list(argv)},
        "workload_descriptions": {k: v[0] for k, v in workloads.WORKLOADS.items()},
        "targets": records, "results": results}
    from benchmarks import report
    report.write_all(doc, args.out, plots=not args.no_plots)
    from benchmarks import summary
    print("\n".join(summary.table(doc)), flush=True)
    print(f"wrote {args.out}/results.json, results.md" + ("" if args.no_plots else " and charts"), flush=True)
    return 0
