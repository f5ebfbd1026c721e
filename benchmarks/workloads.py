"""The workloads: their sizes in each preset, and the data every library shares.

Data is drawn with NumPy from a fixed seed inside each worker process, so every
library starts from bit-identical inputs and weights. Weights use the layout
(in_features, out_features): a linear layer is `x @ W + b` in every runner.
"""
import numpy as np

SEED = 0
LR = 0.01  # the SGD learning rate of every training step

# name -> (description, axis name of the scaling parameter or None)
WORKLOADS = {
    "matmul": ("float32 matmul C = A @ B, n x n", "n"),
    "matmul_t": ("float32 matmul with a transposed operand, as backward uses it: A @ B.T (grad of the "
                 "input), A.T @ B (grad of the weight), n x n", "n"),
    "elementwise": ("(tanh(x*w + b) * sigmoid(x)).sum(), forward + backward", None),
    "mlp": ("MLP 784-512-512-10 ReLU, cross-entropy, SGD step", "batch"),
    "cnn": ("CNN conv1-8 3x3, relu, pool2, conv8-16 3x3, relu, pool2, linear 400-10; SGD step", None),
    "lstm": ("1-layer LSTM over a sequence, linear head on the last state, cross-entropy, SGD step", None),
    "transformer": ("1 post-norm Transformer encoder layer (ReLU FFN, no dropout), mean-pool, linear, "
                    "cross-entropy, SGD step", None),
    "autograd_overhead": ("x = x*1.0001 + 0.0001 on a 1-element tensor, forward + backward, per op", None),
}

TRANSPOSED_FORMS = ("A@B.T", "A.T@B")  # matmul_t's forms, as C = A @ B's backward needs them

_PRESETS = {
    "full": {
        "matmul": [{"n": n} for n in (64, 128, 256, 512, 1024, 2048)],
        "matmul_t": [{"n": n, "form": f} for n in (64, 128, 256, 512, 1024, 2048) for f in TRANSPOSED_FORMS],
        "elementwise": [{"n": 4_194_304}],
        "mlp": [{"batch": b} for b in (32, 64, 128, 256, 512, 1024, 2048, 4096, 8192)],
        "cnn": [{"batch": 64}],
        "lstm": [{"seq": 32, "batch": 64, "input": 64, "hidden": 128, "classes": 10}],
        "transformer": [{"seq": 64, "batch": 32, "d_model": 128, "nhead": 4, "ff": 256, "classes": 10}],
        "autograd_overhead": [{"steps": 5000}],
    },
    "quick": {
        "matmul": [{"n": n} for n in (64, 128, 256, 512)],
        "matmul_t": [{"n": n, "form": f} for n in (64, 256) for f in TRANSPOSED_FORMS],
        "elementwise": [{"n": 262_144}],
        "mlp": [{"batch": 64}, {"batch": 256}],
        "cnn": [{"batch": 64}],
        "lstm": [{"seq": 16, "batch": 32, "input": 32, "hidden": 64, "classes": 10}],
        "transformer": [{"seq": 32, "batch": 16, "d_model": 64, "nhead": 4, "ff": 128, "classes": 10}],
        "autograd_overhead": [{"steps": 5000}],
    },
    # tiny sizes for CI's smoke test: checks that everything runs, measures nothing useful
    "smoke": {
        "matmul": [{"n": 16}, {"n": 32}],
        "matmul_t": [{"n": 16, "form": f} for f in TRANSPOSED_FORMS],
        "elementwise": [{"n": 4096}],
        "mlp": [{"batch": 8}, {"batch": 16}],
        "cnn": [{"batch": 4}],
        "lstm": [{"seq": 4, "batch": 4, "input": 8, "hidden": 16, "classes": 10}],
        "transformer": [{"seq": 8, "batch": 4, "d_model": 16, "nhead": 2, "ff": 32, "classes": 10}],
        "autograd_overhead": [{"steps": 100}],
    },
}

# GPU-sized cases added for GPU devices in the full preset (the CuPy issue's targets:
# GEMM at 8192^3, the elementwise chain on 64M elements)
_GPU_EXTRA = {"matmul": [{"n": 4096}, {"n": 8192}], "elementwise": [{"n": 67_108_864}]}

# the case shown for each workload in the bar charts and the summary table
_HEADLINE = {"matmul": {"n": 1024}, "matmul_t": {"n": 1024, "form": "A@B.T"}, "mlp": {"batch": 256}}


def cases(preset, names, device_type="cpu"):
    """[(workload, params)] for the chosen preset, workloads and device type, in a stable order."""
    table = _PRESETS[preset]
    extra = _GPU_EXTRA if (preset == "full" and device_type == "cuda") else {}
    return [(name, dict(p)) for name in WORKLOADS if name in names for p in table[name] + extra.get(name, [])]


def is_headline(workload, params, preset):
    """True for the one case per workload that the summary shows."""
    want = _HEADLINE.get(workload)
    options = _PRESETS[preset][workload]
    if want is None or want not in options:
        return params == options[-1]
    return params == want


def transposed(a, b, form):
    """matmul_t's operands (x, y) for x @ y: `.T` is a transposed view in every library here."""
    return (a, b.T) if form == "A@B.T" else (a.T, b)


def label(params):
    return ", ".join(f"{k}={v}" for k, v in params.items())


def flops(workload, params):
    """The matrix products' floating-point operations in one run, where well defined (for GFLOP/s, and
    for a step's floor: no step runs faster than its products at the best GEMM rate of the machine).
    A training step's backward takes each weight's gradient and the gradient of every input that
    needs one; the data needs none."""
    if workload in ("matmul", "matmul_t"):
        return 2.0 * params["n"] ** 3
    if workload == "mlp":  # 784-512-512-10: forward, weight gradients, input gradients of layers 2 and 3
        b = params["batch"]
        return 2.0 * b * (2 * (784 * 512 + 512 * 512 + 512 * 10) + 512 * 512 + 512 * 10)
    if workload == "lstm":  # gates x @ W_ih.T and h @ W_hh.T per step; the head on the last state
        t, b, i, h, c = (params[k] for k in ("seq", "batch", "input", "hidden", "classes"))
        gates = 2.0 * t * b * 4 * h
        return gates * (i + h) * 2 + gates * h + 2.0 * b * h * c * 3
    return None


def _linear(rng, fan_in, fan_out):
    bound = 1.0 / np.sqrt(fan_in)  # torch's default Linear init range
    w = rng.uniform(-bound, bound, (fan_in, fan_out)).astype(np.float32)
    b = rng.uniform(-bound, bound, (fan_out,)).astype(np.float32)
    return w, b


def make_data(workload, params, seed=SEED):
    """The inputs and initial weights of one case, as NumPy float32/int64 arrays."""
    rng = np.random.default_rng(seed)
    if workload in ("matmul", "matmul_t"):
        n = params["n"]
        return {"a": rng.standard_normal((n, n), dtype=np.float32),
                "b": rng.standard_normal((n, n), dtype=np.float32)}
    if workload == "elementwise":
        n = params["n"]
        return {k: rng.standard_normal(n, dtype=np.float32) for k in ("x", "w", "b")}
    if workload == "mlp":
        b = params["batch"]
        d = {"x": rng.standard_normal((b, 784), dtype=np.float32),
             "y": rng.integers(0, 10, b).astype(np.int64)}
        for i, (fi, fo) in enumerate([(784, 512), (512, 512), (512, 10)], 1):
            d[f"w{i}"], d[f"b{i}"] = _linear(rng, fi, fo)
        return d
    if workload == "cnn":
        b = params["batch"]
        d = {"x": rng.standard_normal((b, 1, 28, 28), dtype=np.float32),
             "y": rng.integers(0, 10, b).astype(np.int64)}
        for i, (ci, co) in enumerate([(1, 8), (8, 16)], 1):
            bound = 1.0 / np.sqrt(ci * 9)
            d[f"c{i}w"] = rng.uniform(-bound, bound, (co, ci, 3, 3)).astype(np.float32)
            d[f"c{i}b"] = rng.uniform(-bound, bound, (co,)).astype(np.float32)
        d["fw"], d["fb"] = _linear(rng, 400, 10)
        return d
    if workload == "lstm":
        t, b, i, h, c = (params[k] for k in ("seq", "batch", "input", "hidden", "classes"))
        bound = 1.0 / np.sqrt(h)
        u = lambda *shape: rng.uniform(-bound, bound, shape).astype(np.float32)  # noqa: E731
        d = {"x": rng.standard_normal((t, b, i), dtype=np.float32),  # (seq, batch, feature)
             "y": rng.integers(0, c, b).astype(np.int64),
             # torch's layout and gate order (i, f, g, o)
             "w_ih": u(4 * h, i), "w_hh": u(4 * h, h), "b_ih": u(4 * h), "b_hh": u(4 * h)}
        d["fw"], d["fb"] = _linear(rng, h, c)
        return d
    if workload == "transformer":
        s, b, e, f, c = (params[k] for k in ("seq", "batch", "d_model", "ff", "classes"))
        d = {"x": rng.standard_normal((b, s, e), dtype=np.float32),  # batch_first
             "y": rng.integers(0, c, b).astype(np.int64)}
        # torch's layout: in_proj_weight (3E, E) used as x @ W.T
        bound = np.sqrt(6.0 / (e + 3 * e))
        d["in_w"] = rng.uniform(-bound, bound, (3 * e, e)).astype(np.float32)
        d["in_b"] = np.zeros(3 * e, np.float32)
        d["out_w"], d["out_b"] = (a.T.copy() if a.ndim == 2 else a for a in _linear(rng, e, e))
        d["l1_w"], d["l1_b"] = (a.T.copy() if a.ndim == 2 else a for a in _linear(rng, e, f))
        d["l2_w"], d["l2_b"] = (a.T.copy() if a.ndim == 2 else a for a in _linear(rng, f, e))
        for k in ("n1", "n2"):
            d[f"{k}_w"], d[f"{k}_b"] = np.ones(e, np.float32), np.zeros(e, np.float32)
        d["fw"], d["fb"] = _linear(rng, e, c)
        return d
    if workload == "autograd_overhead":
        return {"x": np.ones(1, np.float32)}
    raise KeyError(workload)
