"""`python -m benchmarks --workloads allreduce,ddp_mlp`: the distributed workloads, under mpirun.

allreduce: float32 all-reduce bandwidth from 1 KiB to 64 MiB on 2 ranks, tinygrad_chain (numpy and cpp
tensors) against raw mpi4py on NumPy arrays, in the same job on the same communicator.
ddp_mlp: the MLP step (784-512-512-10, global batch 256) on 1 rank and on 2, with no communication,
one all-reduce after backward, and DDP's buckets (one bucket, or 1 MB buckets launched during backward).
Writes distributed.json and distributed.md into --out.
"""
import json
import os
import subprocess
import sys

from benchmarks import machine

WORKLOADS = {"allreduce": "float32 all-reduce, 1 KiB - 64 MiB, 2 ranks, vs raw mpi4py",
             "ddp_mlp": "MLP 784-512-512-10 SGD step, global batch 256, 1 and 2 ranks, DDP buckets vs after backward"}
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_SIZES = {"full": [1 << k for k in range(10, 27, 2)], "quick": [1 << k for k in range(10, 27, 4)],
          "smoke": [1 << 10, 1 << 16]}
_BATCH = {"full": 256, "quick": 256, "smoke": 32}


def _job(nprocs, workload, spec, threads, timeout):
    from tinygrad_chain.distributed import launch
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    cmd = launch.mpirun_command(nprocs) + [sys.executable, "-m", "benchmarks.dist_worker", workload,
                                           json.dumps({**spec, "threads": threads})]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    for line in proc.stdout.splitlines():
        if line.startswith("@@DIST "):
            return json.loads(line[len("@@DIST "):])
    return {"workload": workload, "ranks": nprocs, "failed": f"exit {proc.returncode}: {proc.stderr[-800:]}"}


def run(args, names):
    """Run the named distributed workloads; returns the document written to --out."""
    cores = len(os.sched_getaffinity(0))
    runs = []
    common = {"repeat": args.repeat, "min_time": max(args.min_time, 0.05 if args.preset != "smoke" else 0.0)}
    if "allreduce" in names:
        spec = {**common, "sizes": _SIZES[args.preset], "devices": ["numpy", "cpp"]}
        runs.append(_job(2, "allreduce", spec, max(1, cores // 2), args.timeout))
    if "ddp_mlp" in names:
        for ranks in (1, 2):
            spec = {**common, "batch": _BATCH[args.preset], "device": "cpp"}
            runs.append(_job(ranks, "ddp_mlp", spec, max(1, cores // ranks), args.timeout))
    doc = {"machine": machine.machine_info(), "preset": args.preset, "repeat": args.repeat,
           "command": "python -m benchmarks " + " ".join(sys.argv[1:]), "runs": runs}
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "distributed.json"), "w") as f:
        json.dump(doc, f, indent=1)
    text = report(doc)
    with open(os.path.join(args.out, "distributed.md"), "w") as f:
        f.write(text)
    print(text, flush=True)
    return doc


def _ms(s):
    return f"{s * 1e3:.3g} ms" if s >= 1e-3 else f"{s * 1e6:.3g} µs"


def _size(b):
    return f"{b >> 20} MiB" if b >= 1 << 20 else f"{b >> 10} KiB"


def report(doc):
    m = doc["machine"]
    lines = [f"# Distributed benchmarks ({doc['preset']}, {doc['repeat']} repeats)", "",
             f"`{doc.get('command', 'python -m benchmarks')}` on {m.get('date')}: {m.get('cpu_model')}, "
             f"{m.get('usable_cpus')} usable cores. Medians; a repeat's time is its slowest rank's. A shared machine "
             f"makes these noisy: compare within one run.", ""]
    for r in doc["runs"]:
        if "failed" in r:
            lines += [f"**{r['workload']} on {r['ranks']} ranks failed**: {r['failed']}", ""]
            continue
        if r["workload"] == "allreduce":
            others = [k for k in r["rows"][0] if k.startswith("tinygrad_chain")]
            lines += [f"## all_reduce, float32 SUM, {r['ranks']} ranks", "",
                      "Ratios to raw mpi4py: of the medians, and (in brackets) of the fastest repeats.", "",
                      "| size | mpi4py | " + " | ".join(others) + " | " + " | ".join(f"{o} / mpi4py" for o in others)
                      + " | mpi4py GB/s |", "|---" * (3 + 2 * len(others)) + "|"]
            for row in r["rows"]:
                raw, fast = row["mpi4py"]["median_s"], row["mpi4py"]["min_s"]
                lines.append(f"| {_size(row['bytes'])} | {_ms(raw)} | " +
                             " | ".join(_ms(row[o]["median_s"]) for o in others) + " | " +
                             " | ".join(f"{row[o]['median_s'] / raw:.2f}x ({row[o]['min_s'] / fast:.2f}x)"
                                        for o in others) + f" | {row['bytes'] / raw / 1e9:.2f} |")
            lines.append("")
        else:
            lines += [f"## MLP step, {r['ranks']} rank(s), {r['rows'][0]['per_rank_batch']} rows per rank", "",
                      "| mode | step (median) | fastest |", "|---|---|---|"]
            lines += [f"| {row['mode']} | {_ms(row['median_s'])} | {_ms(row['min_s'])} |" for row in r["rows"]]
            lines.append("")
    return "\n".join(lines)
