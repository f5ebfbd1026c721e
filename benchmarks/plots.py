"""PNG charts (matplotlib, Agg): time per workload, GPU speed-up, log-log scaling curves.

Every chart is always written; where a run has no data for it (no GPU, a
workload not selected), the chart says so instead of being left out, so the
output folder always has the same files.
"""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402

from benchmarks.report import _order, fmt_time, ok_results, target_key  # noqa: E402
from benchmarks.workloads import WORKLOADS, is_headline  # noqa: E402

CHARTS = ("time_per_workload.png", "gpu_speedup.png", "scaling_matmul.png", "scaling_mlp.png")
_LIB_COLORS = {"tinygrad_chain": "#d62728", "torch": "#1f77b4", "numpy": "#2ca02c", "mygrad": "#9467bd",
               "autograd": "#8c564b", "tinygrad": "#e377c2", "micrograd": "#7f7f7f"}
_DEV_STYLE = {"numpy": ":", "cpp": "-", "cpu": "-", "cupy": "--", "cuda": "--"}


_TIME_FMT = matplotlib.ticker.FuncFormatter(lambda v, _: fmt_time(v) if v > 0 else "0")


def _short(r):
    """A short case name for axis labels: the workload, and its scaling parameter if it has one."""
    axis = WORKLOADS[r["workload"]][1]
    return f"{r['workload']}\n{axis}={r['params'][axis]}" if axis else r["workload"]


def _color(key):
    return _LIB_COLORS.get(key.split(":")[0], "black")


def _empty(path, title, why):
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.axis("off")
    ax.set_title(title)
    ax.text(0.5, 0.5, why, ha="center", va="center", wrap=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _subtitle(doc):
    m, c = doc["machine"], doc["config"]
    gpu = ", ".join(g["name"] for g in m["gpus"]) or "no GPU"
    return f"{m['cpu_model']} ({m['usable_cpus']} CPUs), {gpu}; {c['threads']} threads; {m['date'][:10]}"


def time_per_workload(doc, path):
    preset = doc["config"]["preset"]
    rows = [r for r in ok_results(doc) if is_headline(r["workload"], r["params"], preset)]
    names = [w for w in WORKLOADS if any(r["workload"] == w for r in rows)]
    if not names:
        return _empty(path, "time per workload", "no measurements")
    ncol = 2 if len(names) > 1 else 1
    nrow = (len(names) + ncol - 1) // ncol
    fig, axes = plt.subplots(nrow, ncol, figsize=(7 * ncol, 0.5 + 2.6 * nrow), squeeze=False)
    for ax, wl in zip(axes.flat, names):
        rs = {target_key(r): r for r in rows if r["workload"] == wl}
        keys = _order(rs)[::-1]
        # autograd_overhead is drawn per op, as its labels say; the rest per step
        per = {k: rs[k]["us_per_op"] * 1e-6 / rs[k]["median_s"] if "us_per_op" in rs[k] else 1.0 for k in keys}
        t = [rs[k]["median_s"] * per[k] for k in keys]
        err = [[(rs[k]["median_s"] - rs[k]["min_s"]) * per[k] for k in keys],
               [(rs[k]["max_s"] - rs[k]["median_s"]) * per[k] for k in keys]]
        bars = ax.barh(keys, t, xerr=err, color=[_color(k) for k in keys],
                       hatch=None, alpha=0.85, error_kw={"lw": 0.8})
        for b, k in zip(bars, keys):
            if rs[k]["device_type"] == "cuda":
                b.set_hatch("//")
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(_TIME_FMT)
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_title(f"{wl} ({rs[keys[0]]['label']})", fontsize=10)
        unit = "op" if any("us_per_op" in rs[k] for k in keys) else "step"
        ax.set_xlabel(f"time per {unit} (log; bars = median, whiskers = min..max)", fontsize=8)
        ax.tick_params(labelsize=8)
        for b, k in zip(bars, keys):
            r = rs[k]
            text = f"{r['us_per_op']:.3g} µs/op" if "us_per_op" in r else fmt_time(r["median_s"])
            ax.text(r["median_s"] * per[k], b.get_y() + b.get_height() / 2, " " + text, va="center", fontsize=7)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.suptitle("Time per workload and library (hatched: GPU)\n" + _subtitle(doc), fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def gpu_speedup(doc, path):
    """For each library with a GPU device: its best CPU time over its GPU time, per case."""
    rows = ok_results(doc)
    pairs = []  # (library, gpu key, case label, speed-up)
    for g in (r for r in rows if r["device_type"] == "cuda"):
        cpu = [r for r in rows if r["library"] == g["library"] and r["device_type"] == "cpu"
               and r["workload"] == g["workload"] and r["params"] == g["params"]]
        if cpu:
            best = min(cpu, key=lambda r: r["median_s"])
            pairs.append((g["library"], _short(g), best["median_s"] / g["median_s"]))
    if not pairs:
        return _empty(path, "GPU speed-up over CPU", "no GPU measurements in this run\n(" + _subtitle(doc) + ")")
    libs = sorted({p[0] for p in pairs})
    cases = list(dict.fromkeys(p[1] for p in pairs))
    width = 0.8 / len(libs)
    fig, ax = plt.subplots(figsize=(max(7, 0.45 * len(cases) * len(libs) + 2), 5))
    for i, lib in enumerate(libs):
        vals = {p[1]: p[2] for p in pairs if p[0] == lib}
        xs = [j + i * width for j, c in enumerate(cases) if c in vals]
        bars = ax.bar(xs, [vals[c] for c in cases if c in vals], width, label=lib, color=_LIB_COLORS.get(lib))
        for b in bars:
            ax.text(b.get_x() + b.get_width() / 2, b.get_height(), f"{b.get_height():.2g}×", ha="center",
                    va="bottom", fontsize=6)
    ax.axhline(1.0, color="black", lw=0.8)
    ax.set_yscale("log")
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(cases))])
    ax.set_xticklabels(cases, fontsize=7, rotation=60, ha="right")
    ax.set_ylabel("speed-up: best CPU time / GPU time (log)")
    ax.legend(fontsize=8)
    ax.set_title("GPU speed-up over the same library's best CPU device\n" + _subtitle(doc), fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def scaling(doc, path, workload, axis, xlabel):
    rows = [r for r in ok_results(doc) if r["workload"] == workload]
    if not rows:
        return _empty(path, f"{workload} scaling", f"no {workload} measurements in this run")
    fig, ax = plt.subplots(figsize=(7.5, 5))
    for key in _order({target_key(r) for r in rows}):
        rs = sorted((r for r in rows if target_key(r) == key), key=lambda r: r["params"][axis])
        xs = [r["params"][axis] for r in rs]
        ax.plot(xs, [r["median_s"] for r in rs], marker="o", ms=3, label=key, color=_color(key),
                linestyle=_DEV_STYLE.get(key.split(":")[1], "-"))
        ax.fill_between(xs, [r["min_s"] for r in rs], [r["max_s"] for r in rs], color=_color(key), alpha=0.15)
    ax.set_xscale("log", base=2)
    ax.set_xticks(sorted({r["params"][axis] for r in rows}))
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.yaxis.set_major_formatter(_TIME_FMT)
    ax.set_ylabel("time per step (log; band = min..max)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"{WORKLOADS[workload][0]}\n{_subtitle(doc)}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_charts(doc, out):
    import os
    paths = {name: os.path.join(out, name) for name in CHARTS}
    time_per_workload(doc, paths["time_per_workload.png"])
    gpu_speedup(doc, paths["gpu_speedup.png"])
    scaling(doc, paths["scaling_matmul.png"], "matmul", "n", "matrix size n (n x n @ n x n, log)")
    scaling(doc, paths["scaling_mlp.png"], "mlp", "batch", "batch size (log)")
    return list(CHARTS)
