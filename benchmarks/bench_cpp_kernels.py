"""Kernel-level benchmark of the cpp device: C++ kernels vs NumPy (OpenBLAS) vs torch, one run, 2 threads.

    python benchmarks/bench_cpp_kernels.py [--threads 2] [--quick] [--only gemm|elementwise|windows]
                                           [--isa avx2|avx512|generic]

GEMM: GFLOP/s of float32 n x n x n products, n = 64 ... 2048, in the three layouts of a matmul
and its VJP (A @ B, A @ B.T, A.T @ B; transposed operands passed as strided views), and float64
A @ B up to 1024; then the Transformer's batched attention products at their real strides
(microseconds). --isa forces the kernels' instruction set (as TINYGRAD_CHAIN_ISA does). Elementwise: milliseconds
per call of the fused kernels on 4.2M float32 elements, and the chain
y = (tanh(x*w + b) * sigmoid(x)).sum() forward + backward written with backend calls. Windows: the
conv/pool kernels on the CNN benchmark's shapes (batch 64), against the numpy device and torch's
unfold/fold/max_pool2d (torch's convolution itself does not go through im2col).
Times are the median of the better half of repeated runs, each at least --min-time long.
"""
import argparse
import os
import sys


def _setup_threads(n):
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)


def timeit(fn, min_time=0.2, repeat=7):
    import time
    fn()  # warm-up: allocator, page faults, thread pools
    n, t = 1, 0.0
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        t = time.perf_counter() - t0
        if t >= min_time / repeat or n > 1 << 20:
            break
        n *= 2
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        times.append((time.perf_counter() - t0) / n)
    times.sort()
    best = times[: max(1, len(times) // 2)]
    return best[len(best) // 2]


def bench_gemm(np, torch, C, sizes, min_time):
    print("\n## GEMM, GFLOP/s (higher is better)\n")
    print("| dtype | layout | n | cpp | torch | numpy/OpenBLAS | cpp / torch |")
    print("|---|---|---:|---:|---:|---:|---:|")
    rng = np.random.default_rng(0)
    for dtype in ("float32", "float64"):
        for layout in ("A@B", "A@B.T", "A.T@B"):
            for n in sizes:
                if dtype == "float64" and (n > 1024 or layout != "A@B"):
                    continue
                a = rng.standard_normal((n, n)).astype(dtype)
                b = rng.standard_normal((n, n)).astype(dtype)
                opa = a.T if layout == "A.T@B" else a
                opb = b.T if layout == "A@B.T" else b
                out = np.empty((n, n), dtype)
                ta, tb = torch.from_numpy(a), torch.from_numpy(b)
                topa = ta.T if layout == "A.T@B" else ta
                topb = tb.T if layout == "A@B.T" else tb
                tout = torch.empty((n, n), dtype=getattr(torch, dtype))
                flop = 2.0 * n ** 3
                t_cpp = timeit(lambda: C.gemm(opa, opb, out), min_time)
                t_th = timeit(lambda: torch.matmul(topa, topb, out=tout), min_time)
                t_np = timeit(lambda: np.matmul(opa, opb, out=out), min_time)
                g = [flop / t / 1e9 for t in (t_cpp, t_th, t_np)]
                print(f"| {dtype} | {layout} | {n} | {g[0]:.1f} | {g[1]:.1f} | {g[2]:.1f} | {g[0] / g[1]:.2f}x |",
                      flush=True)


def bench_attention(np, torch, C, min_time):
    """The Transformer workload's batched products (quick and full presets) at their real strides:
    q, k and v are head views of one (L, N, 3E) projection; the VJPs read transposed views."""
    print("\n## Batched attention products, float32, microseconds per call (lower is better)\n")
    print("| (L, N, E, heads) | product | cpp | torch | numpy | cpp / torch | cpp / numpy |")
    print("|---|---|---:|---:|---:|---:|---:|")
    rng = np.random.default_rng(0)
    for L, N, E, H in ((32, 16, 64, 4), (64, 32, 128, 4)):
        qkv = rng.standard_normal((L, N, 3 * E)).astype(np.float32)
        q, k, v = (qkv[..., i * E:(i + 1) * E].reshape(L, N, H, E // H).transpose(1, 2, 0, 3) for i in range(3))
        p = rng.standard_normal((N, H, L, L)).astype(np.float32)
        g = rng.standard_normal((N, H, L, E // H)).astype(np.float32)
        mT = lambda x: x.swapaxes(-1, -2)  # noqa: E731
        for name, a, b in (("q @ k.T", q, mT(k)), ("p @ v", p, v), ("g @ v.T", g, mT(v)), ("p.T @ g", mT(p), g),
                           ("p @ k", p, k), ("p.T @ q", mT(p), q)):
            out = np.empty(a.shape[:-1] + b.shape[-1:], np.float32)
            ta, tb, tout = torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(out.copy())
            t = [timeit(f, min_time) * 1e6 for f in (lambda: C.gemm(a, b, out), lambda: torch.matmul(ta, tb, out=tout),
                                                     lambda: np.matmul(a, b))]
            print(f"| {(L, N, E, H)} | {name} | {t[0]:.0f} | {t[1]:.0f} | {t[2]:.0f} | {t[0] / t[1]:.2f}x | "
                  f"{t[0] / t[2]:.2f}x |", flush=True)


def bench_elementwise(np, torch, cpp, ref, n, min_time):
    print(f"\n## Elementwise, float32, {n:,} elements: ms per call (lower is better)\n")
    print("| kernel | cpp | numpy device | torch | cpp / torch |")
    print("|---|---:|---:|---:|---:|")
    rng = np.random.default_rng(0)
    x = rng.standard_normal(n).astype(np.float32)
    w = rng.standard_normal(n).astype(np.float32)
    g = rng.standard_normal(n).astype(np.float32)
    y = ref.sigmoid(x)
    tx, tw, tg, ty = (torch.from_numpy(v) for v in (x, w, g, y))
    F = torch.nn.functional
    rows = x[: n - n % 1000].reshape(-1, 1000)
    trows = torch.from_numpy(rows)
    cases = [
        ("add", lambda b: b.binary("add", x, w), lambda: tx + tw),
        ("mul", lambda b: b.binary("mul", x, w), lambda: tx * tw),
        ("mul scalar", lambda b: b.binary("mul", x, 1.5), lambda: tx * 1.5),
        ("exp", lambda b: b.unary("exp", x), lambda: torch.exp(tx)),
        ("tanh", lambda b: b.unary("tanh", x), lambda: torch.tanh(tx)),
        ("sigmoid", lambda b: b.sigmoid(x), lambda: torch.sigmoid(tx)),
        ("relu", lambda b: b.relu(x), lambda: torch.relu(tx)),
        ("gelu", lambda b: b.gelu(x), lambda: F.gelu(tx)),
        ("gelu tanh", lambda b: b.gelu(x, "tanh"), lambda: F.gelu(tx, approximate="tanh")),
        ("silu", lambda b: b.silu(x), lambda: F.silu(tx)),
        ("softplus", lambda b: b.softplus(x, 1.0, 20.0), lambda: F.softplus(tx)),
        ("relu backward", lambda b: b.relu_backward(g, x), lambda: torch.ops.aten.threshold_backward(tg, tx, 0)),
        ("sigmoid backward", lambda b: b.sigmoid_backward(g, y), lambda: torch.ops.aten.sigmoid_backward(tg, ty)),
        ("tanh backward", lambda b: b.tanh_backward(g, y), lambda: torch.ops.aten.tanh_backward(tg, ty)),
        ("gelu backward", lambda b: b.gelu_backward(g, x), lambda: torch.ops.aten.gelu_backward(tg, tx)),
        ("silu backward", lambda b: b.silu_backward(g, x), lambda: torch.ops.aten.silu_backward(tg, tx)),
        ("softmax rows of 1000", lambda b: b.softmax(rows, 1), lambda: torch.softmax(trows, 1)),
        ("log_softmax rows of 1000", lambda b: b.log_softmax(rows, 1), lambda: torch.log_softmax(trows, 1)),
        ("sum", lambda b: b.reduce("sum", x, None, False), lambda: tx.sum()),
        ("sum over rows (axis 0)", lambda b: b.reduce("sum", rows, (0,), False), lambda: trows.sum(0)),
        ("max (axis 1)", lambda b: b.reduce("max", rows, (1,), False), lambda: trows.amax(1)),
    ]
    for name, fb, ft in cases:
        t = [timeit(lambda: fb(cpp), min_time), timeit(lambda: fb(ref), min_time), timeit(ft, min_time)]
        print(f"| {name} | {t[0] * 1e3:.2f} | {t[1] * 1e3:.2f} | {t[2] * 1e3:.2f} | {t[0] / t[2]:.2f}x |", flush=True)

    # the chain, written as the backend calls the engine makes (w and b are tensors)
    bb = rng.standard_normal(n).astype(np.float32)

    def chain(be):
        xw = be.binary("mul", x, w)
        u = be.binary("add", xw, bb)
        t = be.unary("tanh", u)
        s = be.sigmoid(x)
        p = be.binary("mul", t, s)
        be.reduce("sum", p, None, False)
        gp = be.full(p.shape, 1.0, be.dtype_of(p))  # d sum / d p
        gt = be.binary("mul", gp, s)
        gs = be.binary("mul", gp, t)
        gu = be.tanh_backward(gt, t)  # = grad of b
        gx = be.binary("add", be.binary("mul", gu, w), be.sigmoid_backward(gs, s))
        gw = be.binary("mul", gu, x)
        return gx, gw, gu

    tbx, tbw, tbb = (torch.from_numpy(v.copy()).requires_grad_() for v in (x, w, bb))

    def tchain():
        (torch.tanh(tbx * tbw + tbb) * torch.sigmoid(tbx)).sum().backward()
        tbx.grad = tbw.grad = tbb.grad = None

    t = [timeit(lambda: chain(cpp), min_time), timeit(lambda: chain(ref), min_time), timeit(tchain, min_time)]
    print(f"| chain fwd+bwd (backend calls; torch autograd) | {t[0] * 1e3:.2f} | {t[1] * 1e3:.2f} | "
          f"{t[2] * 1e3:.2f} | {t[0] / t[2]:.2f}x |")


def bench_windows(np, torch, cpp, ref, min_time):
    print("\n## Conv and pooling windows, float32, the CNN step's shapes (batch 64): ms per call\n")
    print("| kernel | cpp | numpy device | torch | cpp / torch |")
    print("|---|---:|---:|---:|---:|")
    F = torch.nn.functional
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 8, 26, 26)).astype(np.float32)    # conv1 output, into the first pool
    x2 = rng.standard_normal((64, 8, 13, 13)).astype(np.float32)   # into conv2 (3x3)
    tx, tx2 = torch.from_numpy(x), torch.from_numpy(x2)
    out, idx = ref.max_pool2d(x, (2, 2), (2, 2), (0, 0), (1, 1), (13, 13))
    g = rng.standard_normal(out.shape).astype(np.float32)
    cols = ref.im2col(x2, 3, 3, (1, 1), (0, 0, 0, 0), (1, 1))
    tcols = F.unfold(tx2, 3)
    t_out, t_idx = F.max_pool2d(tx, 2, return_indices=True)
    tg = torch.from_numpy(g)
    cases = [
        ("max_pool2d 2x2 forward", lambda b: b.max_pool2d(x, (2, 2), (2, 2), (0, 0), (1, 1), (13, 13)),
         lambda: F.max_pool2d(tx, 2, return_indices=True)),
        ("max_pool2d 2x2 backward", lambda b: b.max_pool2d_backward(g, idx, x.shape, False),
         lambda: torch.ops.aten.max_pool2d_with_indices_backward(tg, tx, [2, 2], [2, 2], [0, 0], [1, 1], False, t_idx)),
        ("max_pool2d 3x3 stride 1 pad 1", lambda b: b.max_pool2d(x, (3, 3), (1, 1), (1, 1), (1, 1), (26, 26)),
         lambda: F.max_pool2d(tx, 3, 1, 1, return_indices=True)),
        ("im2col 3x3", lambda b: b.im2col(x2, 3, 3, (1, 1), (0, 0, 0, 0), (1, 1)), lambda: F.unfold(tx2, 3)),
        ("col2im 3x3", lambda b: b.col2im(cols, x2.shape, 3, 3, (1, 1), (0, 0, 0, 0), (1, 1)),
         lambda: F.fold(tcols, (13, 13), 3)),
    ]
    for name, fb, ft in cases:
        t = [timeit(lambda: fb(cpp), min_time), timeit(lambda: fb(ref), min_time), timeit(ft, min_time)]
        print(f"| {name} | {t[0] * 1e3:.3f} | {t[1] * 1e3:.3f} | {t[2] * 1e3:.3f} | {t[0] / t[2]:.2f}x |", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--quick", action="store_true", help="smaller sizes, shorter timing")
    p.add_argument("--only", choices=("gemm", "elementwise", "windows"))
    p.add_argument("--min-time", type=float, default=None)
    p.add_argument("--isa", choices=("avx512", "avx2", "generic"), help="force the kernels' instruction set")
    args = p.parse_args()
    _setup_threads(args.threads)

    import numpy as np
    import torch

    try:
        from tinygrad_chain import _C
    except ImportError as e:
        sys.exit(f"the C++ extension is not built ({e}): pip install -e . --no-build-isolation")
    from tinygrad_chain.backends.cpp_backend import CppBackend
    from tinygrad_chain.backends.numpy_backend import NumpyBackend

    torch.set_num_threads(args.threads)
    _C.set_num_threads(args.threads)
    if args.isa and not _C.set_isa(args.isa):
        sys.exit(f"this CPU lacks {args.isa}")
    min_time = args.min_time or (0.1 if args.quick else 0.4)
    print(f"# cpp kernels: isa={_C.isa()}, threads={args.threads} (kernels, OpenBLAS, torch), "
          f"numpy {np.__version__}, torch {torch.__version__}")
    if args.only in (None, "gemm"):
        sizes = [64, 256, 512] if args.quick else [64, 128, 256, 512, 1024, 2048]
        bench_gemm(np, torch, _C, sizes, min_time)
        bench_attention(np, torch, _C, min_time)
    if args.only in (None, "elementwise"):
        bench_elementwise(np, torch, CppBackend(), NumpyBackend(), 1 << 18 if args.quick else 4_200_000, min_time)
    if args.only in (None, "windows"):
        bench_windows(np, torch, CppBackend(), NumpyBackend(), min_time)


if __name__ == "__main__":
    main()
