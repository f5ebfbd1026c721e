"""optimizer.step() of tinygrad_chain (cpp) and torch side by side, in one process, interleaved.

Two parameter sets: the benchmark MLP's six (784-512-512-10, 670K floats: memory-bound) and sixty
vectors of 64 floats (a Transformer's biases and norms: each parameter's fixed cost). Gradients are
set once; every step updates the same tensors, as in training.

    python benchmarks/bench_optim_step.py [--repeat 9] [--number 300] [--threads 2]
"""
import argparse
import timeit

import numpy as np
import torch

import tinygrad_chain as tc

SETS = {"mlp (6 params, 670K floats)": [(784, 512), (512,), (512, 512), (512,), (512, 10), (10,)],
        "60 x 64 floats": [(64,)] * 60}
OPTIMIZERS = [("SGD", "SGD", dict(lr=0.01)), ("SGD momentum", "SGD", dict(lr=0.01, momentum=0.9)),
              ("Adam", "Adam", dict(lr=0.01)), ("AdamW", "AdamW", dict(lr=0.01))]


def _optimizer(lib, shapes, cls, kw, seed):
    rng = np.random.default_rng(seed)
    values = [(rng.standard_normal(s).astype(np.float32), rng.standard_normal(s).astype(np.float32)) for s in shapes]
    if lib == "torch":
        params = [torch.tensor(v, requires_grad=True) for v, _ in values]
        for p, (_, g) in zip(params, values):
            p.grad = torch.tensor(g)
        return getattr(torch.optim, cls)(params, **kw)
    params = [tc.tensor(v, device="cpp", requires_grad=True) for v, _ in values]
    for p, (_, g) in zip(params, values):
        p.grad = tc.tensor(g, device="cpp")
    return getattr(tc.optim, cls)(params, **kw)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=9, help="timed repeats per library and case (the minimum is kept)")
    ap.add_argument("--number", type=int, default=300, help="steps per repeat")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    tc.set_num_threads(args.threads)
    print(f"optimizer.step(), min of {args.repeat} repeats of {args.number} steps, {args.threads} threads; "
          f"torch {torch.__version__} (its default: foreach where it applies)")
    print(f"| parameters | optimizer | tinygrad_chain cpp (us) | torch (us) | tc / torch |\n|---|---|---:|---:|---:|")
    for set_name, shapes in SETS.items():
        for label, cls, kw in OPTIMIZERS:
            opts = {lib: _optimizer(lib, shapes, cls, kw, 0) for lib in ("tc", "torch")}
            best = {lib: float("inf") for lib in opts}
            for lib, opt in opts.items():
                opt.step()  # the state is made at the first step
            for _ in range(args.repeat):  # the libraries in turn: a burst of outside load falls on both
                for lib, opt in opts.items():
                    best[lib] = min(best[lib], timeit.timeit(opt.step, number=args.number) / args.number)
            print(f"| {set_name} | {label} | {best['tc'] * 1e6:.1f} | {best['torch'] * 1e6:.1f} | "
                  f"{best['tc'] / best['torch']:.2f} |")


if __name__ == "__main__":
    main()
