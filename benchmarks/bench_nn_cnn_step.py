"""CNN training step (conv 1->8 3x3, relu, maxpool 2, conv 8->16 3x3, relu, maxpool 2, linear 400->10; batch 64),
torch and tinygrad_chain side by side in one process, identical data. Usage: python -m benchmarks.bench_nn_cnn_step [numpy|cpp]
TC_THREADS=n sets tinygrad_chain threads (default 2); torch uses 2. Reports median and min of 150 steps."""
import os, sys, time
os.environ.setdefault("OMP_NUM_THREADS", "2"); os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")
import numpy as np
import torch
import tinygrad_chain as tc
torch.set_num_threads(2)
import os as _o
if hasattr(tc, "set_num_threads"): tc.set_num_threads(int(_o.environ.get("TC_THREADS", "2")))
dev = sys.argv[1] if len(sys.argv) > 1 else "numpy"
rng = np.random.default_rng(0)
d = {"x": rng.standard_normal((64, 1, 28, 28)).astype(np.float32), "y": rng.integers(0, 10, 64),
     "c1w": (rng.standard_normal((8, 1, 3, 3)) * 0.3).astype(np.float32), "c1b": np.zeros(8, np.float32),
     "c2w": (rng.standard_normal((16, 8, 3, 3)) * 0.1).astype(np.float32), "c2b": np.zeros(16, np.float32),
     "fw": (rng.standard_normal((400, 10)) * 0.05).astype(np.float32), "fb": np.zeros(10, np.float32)}

def make(T, device):
    F = T.nn.functional
    x, y = T.tensor(d["x"], device=device), T.tensor(d["y"], device=device)
    ps = [T.tensor(d[k], device=device, requires_grad=True) for k in ("c1w", "c1b", "c2w", "c2b", "fw", "fb")]
    c1w, c1b, c2w, c2b, fw, fb = ps
    def step():
        h = F.max_pool2d(T.relu(F.conv2d(x, c1w, c1b)), 2)
        h = F.max_pool2d(T.relu(F.conv2d(h, c2w, c2b)), 2)
        loss = F.cross_entropy(h.reshape(h.shape[0], -1) @ fw + fb, y)
        loss.backward()
        with T.no_grad():
            for p in ps:
                p -= 0.01 * p.grad
                p.grad = None
        return loss
    return step

def bench(step, n=150):
    for _ in range(5): step()
    ts = []
    for _ in range(n):
        t0 = time.perf_counter(); step(); ts.append(time.perf_counter() - t0)
    return f"median {np.median(ts)*1e3:.2f} min {np.min(ts)*1e3:.2f}"

st, sc = make(torch, "cpu"), make(tc, dev)
print(f"loss torch {st().item():.5f} tc {sc().item():.5f}")
for _ in range(2):
    print(f"torch {bench(st)} ms | tinygrad_chain[{dev}] {bench(sc)} ms")
