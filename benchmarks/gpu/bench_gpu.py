"""GPU benchmark: tinygrad_chain's "cupy" device side by side with torch CUDA, in one run.

    python benchmarks/gpu/bench_gpu.py --out DIR [--quick]

Workloads (float32, the issue's targets in brackets):
  * MLP 784-512-512-10 training step (ReLU, cross-entropy, SGD) at batch 256 and 8192  [<= 1.5x torch]
  * elementwise chain (tanh(x*w + b) * sigmoid(x)).sum() forward + backward on 64M elements
    [<= 1.2x torch, <= 2x the memory-traffic floor]
  * GEMM 8192^3  [<= 1.1x torch]
  * the batch-8192 MLP step on the best CPU device, for the GPU's speed-up
The floor is the bytes a fully fused forward + backward must move (read x, w, b; write their
three gradients: 24 bytes an element) over the device copy bandwidth measured here.

Timing is honest: warm-up calls first (kernel compilation, pool growth), the device is
synchronised, then each repeat times a block of calls between two CUDA events on the stream
both libraries use (the legacy default stream); the median over repeats is reported, with the
wall clock of the same blocks as a cross-check. TF32 is off for both (torch's default; cupy
uses it only when CUPY_TF32=1), so GEMMs are true float32.
Writes results.json and results.md to --out.
"""
import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time
import traceback

import numpy as np

N_ELEMENTWISE = 64 * 1024 * 1024
GEMM_N = 8192
LR = 0.01


# ---- timing ----------------------------------------------------------------------------------
class _Clock:
    """CUDA events for one library: cupy's for tinygrad_chain, torch's for torch."""

    def __init__(self, lib):
        self.lib = lib
        if lib == "torch":
            import torch
            self.sync = torch.cuda.synchronize
            self.event = lambda: torch.cuda.Event(enable_timing=True)
            self.elapsed_ms = lambda a, b: a.elapsed_time(b)
        else:
            import cupy
            self.sync = lambda: cupy.cuda.Device().synchronize()
            self.event = cupy.cuda.Event
            self.elapsed_ms = lambda a, b: cupy.cuda.get_elapsed_time(a, b)


def gpu_time(step, clock, repeat, warmup=3, min_block_s=0.05):
    """Median seconds per call of step(), timed with CUDA events (and wall clock)."""
    for _ in range(warmup):
        step()
    clock.sync()
    t0 = time.perf_counter()
    step()
    clock.sync()
    once = time.perf_counter() - t0
    inner = max(1, min(1000, int(min_block_s / max(once, 1e-7))))
    ev, wall = [], []
    for _ in range(repeat):
        gc.collect()
        clock.sync()
        start, end = clock.event(), clock.event()
        w0 = time.perf_counter()
        start.record()
        for _ in range(inner):
            step()
        end.record()
        end.synchronize()
        wall.append((time.perf_counter() - w0) / inner)
        ev.append(clock.elapsed_ms(start, end) / 1e3 / inner)
    return {"median_s": statistics.median(ev), "min_s": min(ev), "max_s": max(ev), "wall_median_s":
            statistics.median(wall), "inner": inner, "repeat": repeat}


def cpu_time(step, repeat, warmup=2):
    for _ in range(warmup):
        step()
    ts = []
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        step()
        ts.append(time.perf_counter() - t0)
    return {"median_s": statistics.median(ts), "min_s": min(ts), "max_s": max(ts), "repeat": repeat}


# ---- workloads, written once against the torch API (T is torch or tinygrad_chain) -----------
def mlp_step(T, device, batch, seed=0):
    rng = np.random.default_rng(seed)
    x = T.tensor(rng.standard_normal((batch, 784), dtype=np.float32), device=device)
    y = T.tensor(rng.integers(0, 10, batch).astype(np.int64), device=device)
    params = []
    for fi, fo in ((784, 512), (512, 512), (512, 10)):
        bound = 1 / np.sqrt(fi)
        params.append(T.tensor(rng.uniform(-bound, bound, (fi, fo)).astype(np.float32), device=device,
                               requires_grad=True))
        params.append(T.tensor(rng.uniform(-bound, bound, fo).astype(np.float32), device=device,
                               requires_grad=True))
    w1, b1, w2, b2, w3, b3 = params
    opt = T.optim.SGD(params, lr=LR)
    F = T.nn.functional

    def step():
        h = T.relu(x @ w1 + b1)
        h = T.relu(h @ w2 + b2)
        loss = F.cross_entropy(h @ w3 + b3, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss
    return step


def elementwise_step(T, device, n, seed=0):
    rng = np.random.default_rng(seed)
    x, w, b = (T.tensor(rng.standard_normal(n, dtype=np.float32), device=device, requires_grad=True)
               for _ in range(3))

    def step():
        x.grad = w.grad = b.grad = None
        y = (T.tanh(x * w + b) * T.sigmoid(x)).sum()
        y.backward()
        return y
    return step


def gemm_step(T, device, n, seed=0):
    rng = np.random.default_rng(seed)
    a = T.tensor(rng.standard_normal((n, n), dtype=np.float32), device=device)
    b = T.tensor(rng.standard_normal((n, n), dtype=np.float32), device=device)
    return lambda: a @ b


# ---- the run ---------------------------------------------------------------------------------
def _libs():
    import torch
    import tinygrad_chain as tc
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    return tc, torch


def copy_bandwidth(tc, torch, n, repeat):
    """Device copy bandwidth in bytes/s (read + write), by cupy and by torch; the floor uses the best."""
    import cupy
    out = {}
    src, dst = cupy.ones(n, dtype=cupy.float32), cupy.empty(n, dtype=cupy.float32)
    t = gpu_time(lambda: cupy.copyto(dst, src), _Clock("cupy"), repeat)
    out["cupy_copy_GBps"] = 2 * src.nbytes / t["median_s"] / 1e9
    del src, dst
    ts, td = torch.ones(n, device="cuda"), torch.empty(n, device="cuda")
    t = gpu_time(lambda: td.copy_(ts), _Clock("torch"), repeat)
    out["torch_copy_GBps"] = 2 * ts.nbytes / t["median_s"] / 1e9
    del ts, td
    out["best_GBps"] = max(out["cupy_copy_GBps"], out["torch_copy_GBps"])
    return out


def _scalar(v):
    return float(v.detach().cpu().numpy()) if hasattr(v, "detach") else float(v)


def run_pair(name, make, tc, torch, repeat, flops=None):
    """Time make(T, device) on tinygrad_chain cuda and torch cuda; check their first results agree."""
    row = {"workload": name}
    for lib, T, clock in (("tinygrad_chain", tc, _Clock("cupy")), ("torch", torch, _Clock("torch"))):
        try:
            if lib == "torch":
                torch.cuda.reset_peak_memory_stats()
            else:
                tc.cuda.reset_peak_memory_stats()
            step = make(T, "cuda")
            first = step()
            row[f"{lib}_first"] = _scalar(first.sum() if getattr(first, "ndim", 0) else first)
            row[lib] = gpu_time(step, clock, repeat)
            row[lib]["peak_bytes"] = (torch.cuda.max_memory_allocated() if lib == "torch"
                                      else tc.cuda.max_memory_allocated())
            if flops:
                row[lib]["TFLOPs"] = flops / row[lib]["median_s"] / 1e12
            del step, first
        except Exception as e:  # record and go on: one failure must not hide the other numbers
            row[lib] = {"error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()}
        gc.collect()
        tc.cuda.empty_cache()
        torch.cuda.empty_cache()
    if "median_s" in row.get("tinygrad_chain", {}) and "median_s" in row.get("torch", {}):
        row["ratio"] = row["tinygrad_chain"]["median_s"] / row["torch"]["median_s"]
        a, b = row["tinygrad_chain_first"], row["torch_first"]
        row["first_result_rel_diff"] = abs(a - b) / max(abs(b), 1e-30)
    print(f"{name}: " + json.dumps({k: (v.get("median_s", v.get("error")) if isinstance(v, dict) else v)
                                     for k, v in row.items()}), flush=True)
    return row


def run_cpu_mlp(tc, torch, batch, repeat):
    out = {}
    from tinygrad_chain import backends
    cpu = backends.resolve("cpu")
    for lib, T, dev in (("tinygrad_chain_" + cpu, tc, cpu), ("torch_cpu", torch, "cpu")):
        try:
            step = mlp_step(T, dev, batch)
            out[lib] = cpu_time(step, repeat)
        except Exception as e:
            out[lib] = {"error": f"{type(e).__name__}: {e}"}
        print(f"mlp cpu batch {batch} {lib}: {out[lib].get('median_s', out[lib].get('error'))}", flush=True)
    out["torch_threads"] = torch.get_num_threads()
    return out


def _env(tc, torch):
    import cupy
    env = {"python": sys.version.split()[0], "platform": platform.platform(), "cpu_count": os.cpu_count(),
           "cupy": cupy.__version__, "torch": torch.__version__, "torch_cuda": torch.version.cuda,
           "cuda_runtime": cupy.cuda.runtime.runtimeGetVersion(), "cuda_driver": cupy.cuda.runtime.driverGetVersion(),
           "gpu": tc.cuda.get_device_name(), "gpu_torch": torch.cuda.get_device_name(0),
           "CUPY_TF32": os.environ.get("CUPY_TF32", ""), "torch_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
           "tinygrad_chain_devices": tc.backends.available()}
    return env


def _ms(d):
    return f"{d['median_s'] * 1e3:.3f} ms" if "median_s" in d else f"error: {d.get('error', '?')[:80]}"


def markdown(res):
    env = res["env"]
    lines = [f"# GPU benchmark: tinygrad_chain (cupy) vs torch CUDA on {env['gpu']}", "",
             f"cupy {env['cupy']}, torch {env['torch']} (CUDA {env['torch_cuda']}), CUDA runtime "
             f"{env['cuda_runtime']}, driver {env['cuda_driver']}. Medians of CUDA-event-timed blocks after "
             f"warm-up; TF32 off.", "",
             "| workload | tinygrad_chain | torch | ratio | target | met |", "|---|---:|---:|---:|---|---|"]
    targets = {"mlp_b256": 1.5, "mlp_b8192": 1.5, "elementwise_64M": 1.2, "gemm_8192": 1.1}
    for row in res["rows"]:
        tgt = targets.get(row["workload"])
        ratio = row.get("ratio")
        met = "" if ratio is None or tgt is None else ("yes" if ratio <= tgt else "no")
        extra = ""
        if "TFLOPs" in row.get("tinygrad_chain", {}):
            extra = f" ({row['tinygrad_chain']['TFLOPs']:.1f} vs {row['torch'].get('TFLOPs', 0):.1f} TFLOP/s)"
        lines.append(f"| {row['workload']}{extra} | {_ms(row['tinygrad_chain'])} | {_ms(row['torch'])} | "
                     f"{'' if ratio is None else f'{ratio:.2f}x'} | <= {tgt}x torch | {met} |")
    fl = res.get("floor")
    if fl:
        lines += ["", f"Copy bandwidth (read + write): cupy {fl['bandwidth']['cupy_copy_GBps']:.0f} GB/s, torch "
                  f"{fl['bandwidth']['torch_copy_GBps']:.0f} GB/s. Elementwise memory-traffic floor "
                  f"({fl['bytes'] / 1e9:.2f} GB fused fwd+bwd): {fl['floor_s'] * 1e3:.3f} ms; tinygrad_chain is "
                  f"{fl.get('tinygrad_chain_over_floor', float('nan')):.2f}x the floor (target <= 2x), torch "
                  f"{fl.get('torch_over_floor', float('nan')):.2f}x."]
    cpu = res.get("cpu_mlp_b8192")
    if cpu:
        parts = [f"{k} {_ms(v)}" for k, v in cpu.items() if isinstance(v, dict)]
        lines += ["", f"MLP batch {res['cpu_batch']} on the CPU ({env['cpu_count']} cores; torch threads {cpu['torch_threads']}): "
                  + ", ".join(parts) + "."]
        if res.get("gpu_speedup_over_best_cpu"):
            lines.append(f"GPU (tinygrad_chain cupy) speed-up over the best CPU device (tinygrad_chain): "
                         f"{res['gpu_speedup_over_best_cpu']:.1f}x.")
    lines += ["", "Peak GPU memory per step (max_memory_allocated): " + ", ".join(
        f"{r['workload']} {r['tinygrad_chain'].get('peak_bytes', 0) / 2**20:.0f} MiB vs "
        f"{r['torch'].get('peak_bytes', 0) / 2**20:.0f} MiB" for r in res["rows"]) + ".",
        "", "First-result agreement (relative difference of the first step's loss/sum): " + ", ".join(
        f"{r['workload']} {r.get('first_result_rel_diff', float('nan')):.1e}" for r in res["rows"]) + "."]
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--quick", action="store_true", help="small sizes: checks the script, measures little")
    ap.add_argument("--no-cpu", action="store_true", help="skip the CPU batch-8192 MLP")
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    tc, torch = _libs()
    if not tc.cuda.is_available():
        sys.exit(f"no GPU for tinygrad_chain: {tc.cuda.unavailable_reason()}")
    n_el = N_ELEMENTWISE // (64 if args.quick else 1)
    n_gemm = GEMM_N // (8 if args.quick else 1)
    big = 1024 if args.quick else 8192
    res = {"env": _env(tc, torch), "args": vars(args), "rows": []}
    print(json.dumps(res["env"]), flush=True)

    bw = copy_bandwidth(tc, torch, n_el, args.repeat)
    print("copy bandwidth", bw, flush=True)
    res["rows"].append(run_pair("mlp_b256", lambda T, d: mlp_step(T, d, 256), tc, torch, args.repeat))
    res["rows"].append(run_pair(f"mlp_b{big}", lambda T, d: mlp_step(T, d, big), tc, torch, args.repeat))
    el = run_pair("elementwise_64M" if not args.quick else "elementwise_1M",
                  lambda T, d: elementwise_step(T, d, n_el), tc, torch, args.repeat)
    res["rows"].append(el)
    res["rows"].append(run_pair(f"gemm_{n_gemm}", lambda T, d: gemm_step(T, d, n_gemm), tc, torch, args.repeat,
                                flops=2 * n_gemm ** 3))

    floor_bytes = 24 * n_el
    floor = {"bytes": floor_bytes, "bandwidth": bw, "floor_s": floor_bytes / (bw["best_GBps"] * 1e9)}
    for lib in ("tinygrad_chain", "torch"):
        if "median_s" in el.get(lib, {}):
            floor[f"{lib}_over_floor"] = el[lib]["median_s"] / floor["floor_s"]
    res["floor"] = floor

    if not args.no_cpu:
        res["cpu_batch"] = big
        res["cpu_mlp_b8192"] = cpu = run_cpu_mlp(tc, torch, big, max(3, args.repeat // 2))
        gpu = next(r for r in res["rows"] if r["workload"] == f"mlp_b{big}")
        tc_cpu = [v["median_s"] for k, v in cpu.items() if k.startswith("tinygrad_chain") and "median_s" in v]
        if tc_cpu and "median_s" in gpu.get("tinygrad_chain", {}):
            res["gpu_speedup_over_best_cpu"] = min(tc_cpu) / gpu["tinygrad_chain"]["median_s"]

    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(res, f, indent=2)
    md = markdown(res)
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(md)
    print(md)


if __name__ == "__main__":
    main()
