"""The elementwise chain y = (tanh(x*w + b) * sigmoid(x)).sum(), forward + backward on 4.2M float32,
in steady state: each library alone in a fresh process, 60 steps, the median of the last 50.

    python benchmarks/bench_chain_steady.py [--threads 2] [--repeat 3] [--steps 60]

torch's first steps page-fault on every large tensor until the C allocator keeps the freed blocks,
so a short run can measure it at 2-4x its steady time; this script reports the warmed-up figure
(tinygrad_chain's cpp device keeps freed blocks from the start, backends/_malloc.py).
"""
import argparse
import os
import subprocess
import sys

_WORKER = r"""
import sys, time
import numpy as np
lib, steps, n = sys.argv[1], int(sys.argv[2]), 4_200_000
rng = np.random.default_rng(0)
vals = [rng.standard_normal(n).astype(np.float32) for _ in range(3)]
if lib == "torch":
    import torch as T
    T.set_num_threads(int(sys.argv[3]))
    x, w, b = (T.tensor(v, requires_grad=True) for v in vals)
else:
    import tinygrad_chain as T
    T.set_num_threads(int(sys.argv[3]))
    x, w, b = (T.tensor(v, device=lib, requires_grad=True) for v in vals)
times = []
for _ in range(steps):
    t0 = time.perf_counter()
    (T.tanh(x * w + b) * T.sigmoid(x)).sum().backward()
    x.grad = w.grad = b.grad = None
    times.append(time.perf_counter() - t0)
tail = sorted(times[10:])
print(f"{tail[len(tail) // 2] * 1e3:.2f} {tail[0] * 1e3:.2f} {times[0] * 1e3:.2f}")
"""


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=3, help="fresh processes per library")
    p.add_argument("--steps", type=int, default=60)
    args = p.parse_args()
    env = dict(os.environ, **{v: str(args.threads) for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")})
    print("| run | library | median of steps 11.. (ms) | min (ms) | first step (ms) |")
    print("|---|---|---:|---:|---:|")
    medians = {}
    for r in range(args.repeat):
        for lib in ("cpp", "torch"):  # alternated, so drift hits both
            out = subprocess.run([sys.executable, "-c", _WORKER, lib, str(args.steps), str(args.threads)],
                                 capture_output=True, text=True, env=env, check=True).stdout.split()
            med, low, first = map(float, out)
            medians.setdefault(lib, []).append(med)
            print(f"| {r + 1} | {'tinygrad_chain cpp' if lib == 'cpp' else 'torch'} | {med:.2f} | {low:.2f} | "
                  f"{first:.2f} |", flush=True)
    ratios = [c / t for c, t in zip(medians["cpp"], medians["torch"])]
    print(f"\ncpp / torch per run: {', '.join(f'{r:.2f}' for r in ratios)}")


if __name__ == "__main__":
    main()
