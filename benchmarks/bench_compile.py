"""tc.compile beside eager: each training workload's step (benchmarks/runners/torchlike.py, the text
torch and tinygrad_chain share) timed as torch eager, tinygrad_chain eager and tinygrad_chain
compiled, in one process, interleaved round by round (the machine's load hits all three alike).

    python -m benchmarks.bench_compile [--device cpp] [--rounds 15] [--threads 2]

Prints per-step medians and the ratios to torch eager; the issue's targets for the compiled step
are <= 0.5x torch eager for the MLP at batch 32 and 256, the LSTM and the autograd-overhead chain.
"""
import argparse
import os
import time

import numpy as np

from benchmarks import workloads as W

CASES = [("mlp", {"batch": 32}), ("mlp", {"batch": 256}), ("lstm", None), ("autograd_overhead", None),
         ("cnn", None), ("transformer", None)]


def _setups(device):
    import torch

    import tinygrad_chain as tc
    from benchmarks.runners import torchlike
    torch_w, tc_w = torchlike.workloads(torch), torchlike.workloads(tc)

    def make(name, params, lib):
        d = W.make_data(name, params)
        if lib == "torch":
            return torch_w[name]("cpu", d, params)
        step = tc_w[name](device, d, params)
        return tc.compile(step) if lib == "compiled" else step
    return make


def _time(step, calls):
    t0 = time.perf_counter()
    for _ in range(calls):
        step()
    return (time.perf_counter() - t0) / calls


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpp")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--budget", type=float, default=0.2, help="seconds per variant per round (sets the calls)")
    args = ap.parse_args(argv)
    import torch

    import tinygrad_chain as tc
    torch.set_num_threads(args.threads)
    tc.set_num_threads(args.threads)
    make = _setups(args.device)
    full = {name: p for name, p in W.cases("full", [name for name, _ in CASES])}
    print(f"load average {os.getloadavg()[0]:.2f}; device {args.device}; {args.threads} threads; "
          f"{args.rounds} interleaved rounds; per-step medians")
    print(f"{'workload':34} {'torch eager':>12} {'tc eager':>12} {'tc compiled':>12} {'eager/torch':>12} "
          f"{'compiled/torch':>15}")
    for name, params in CASES:
        params = params or full[name]
        steps = {lib: make(name, params, lib) for lib in ("torch", "eager", "compiled")}
        for step in steps.values():  # warm-up, and the compiled step's trace (its second call)
            for _ in range(3):
                step()
        calls = {lib: max(1, int(args.budget / max(_time(s, 1), 1e-6))) for lib, s in steps.items()}
        times = {lib: [] for lib in steps}
        for _ in range(args.rounds):
            for lib, step in steps.items():
                times[lib].append(_time(step, calls[lib]))
        med = {lib: float(np.median(t)) for lib, t in times.items()}
        unit, scale = ("us/op", 1e6 / params["steps"]) if name == "autograd_overhead" else ("ms", 1e3)
        label = f"{name} ({W.label(params)}) [{unit}]"
        print(f"{label:34} {med['torch'] * scale:12.3f} {med['eager'] * scale:12.3f} {med['compiled'] * scale:12.3f} "
              f"{med['eager'] / med['torch']:12.2f} {med['compiled'] / med['torch']:15.2f}", flush=True)


if __name__ == "__main__":
    main()
