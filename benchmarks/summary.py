"""Issue 18's table from one run: tinygrad_chain's cpp device against torch on the CPU, every cell with its
cpp/torch time ratio (below 1 is faster than torch) and the issue's target, plus the compiled variant
(tc.compile), the peak memory of the MLP step, and which CPU and instruction set ran it."""

CHAIN, DEVICE, COMPILED = "tinygrad_chain", "cpp", "cpp+compiled"
# issue 18's targets: the largest cpp/torch time ratio per workload (GEMM: >= 0.9x torch's GFLOP/s)
TARGETS = {"autograd_overhead": 0.8, "mlp": 0.9, "matmul": 1 / 0.9, "matmul_t": 1 / 0.9, "lstm": 1.0,
           "transformer": 1.0, "cnn": 0.8, "elementwise": 0.3}
# tc.compile's targets (compiled time / torch eager time), for these cases only
COMPILED_TARGETS = {("mlp", "batch=32"): 0.5, ("mlp", "batch=256"): 0.5, ("lstm", None): 0.5,
                    ("autograd_overhead", None): 0.5}
MEMORY_CASE = ("mlp", {"batch": 256})
_GEMM = ("matmul", "matmul_t")


def _find(doc, library, device, workload, params):
    return next((r for r in doc["results"] if r["library"] == library and r["device"] == device
                 and r["workload"] == workload and r["params"] == params and r.get("status") == "ok"), None)


def _value(r):
    if r is None:
        return "—"
    if r["workload"] in _GEMM:
        return f"{r['gflops']:.3g} GFLOP/s"
    if "us_per_op" in r:
        return f"{r['us_per_op']:.3g} µs/op"
    from benchmarks.report import fmt_time
    return fmt_time(r["median_s"])


def _ratio(r, base, target):
    """(ratio text, target text) of r's time over base's, the target marked met (✓) or missed (✗)."""
    if r is None or base is None:
        return "—", "" if target is None else f"≤ {target:.2f}"
    ratio = r["median_s"] / base["median_s"]
    if target is None:
        return f"{ratio:.2f}", ""
    return f"{ratio:.2f}", f"≤ {target:.2f} {'✓' if ratio <= target else '✗'}"


def _compiled_target(workload, label):
    return COMPILED_TARGETS.get((workload, label), COMPILED_TARGETS.get((workload, None)))


def _reason(doc, device):
    return next((t.get("reason", "") for t in doc["targets"] if t["library"] == CHAIN and t.get("device") == device
                 and t.get("status") != "ok"), None)


def isa_text(machine):
    """Which instruction set the cpp kernels ran with, and whether it was forced."""
    if not machine.get("cpp_isa"):
        return "no cpp kernels here"
    how = f"forced by --isa {machine['cpp_isa_forced']}" if machine.get("cpp_isa_forced") else "picked at run time"
    return f"cpp kernels run {machine['cpp_isa']} ({how})"


def _header(doc):
    m, c = doc["machine"], doc["config"]
    return [f"CPU {m['cpu_model']} (flags: {', '.join(m.get('cpu_simd', [])) or 'none found'}); {isa_text(m)}; "
            f"{c['threads']} threads; {c.get('rounds', 1)} round(s) of {c['repeat']} repeats; "
            f"`python -m benchmarks {' '.join(c.get('argv', []))}`.", ""]


def table(doc):
    """Markdown lines of issue 18's table, or [] when the run has no cpp device or no torch."""
    rows = [r for r in doc["results"] if r["library"] == "torch" and r["device"] == "cpu" and r.get("status") == "ok"]
    cells = [(r, _find(doc, CHAIN, DEVICE, r["workload"], r["params"]),
              _find(doc, CHAIN, COMPILED, r["workload"], r["params"])) for r in rows]
    cells = [c for c in cells if c[1] is not None or c[2] is not None]
    if not cells:
        return []
    has_compiled = any(c[2] for c in cells)
    out = ["## cpp vs torch (issue 18's table)", ""] + _header(doc)
    head = "| workload | case | cpp | torch | cpp / torch | target |"
    if has_compiled:
        head += " cpp compiled | compiled / torch | target |"
    out += [head, "|---|---|---:|---:|---:|---|" + ("---:|---:|---|" if has_compiled else "")]
    for torch_r, cpp, comp in cells:
        wl, label = torch_r["workload"], torch_r["label"]
        line = f"| {wl} | {label} | {_value(cpp)} | {_value(torch_r)} | " + \
            " | ".join(_ratio(cpp, torch_r, TARGETS.get(wl))) + " |"
        if has_compiled:
            line += f" {_value(comp)} | " + " | ".join(_ratio(comp, torch_r, _compiled_target(wl, label))) + " |"
        out.append(line)
    out += [""] + _others(doc) + _floors(doc) + _memory(doc)
    if not has_compiled:
        out.append(f"Compiled variant: not measured ({_reason(doc, COMPILED) or 'not asked for'}).")
    return out + [""]


def _others(doc):
    """The autograd overhead of every other library and device, beside cpp's (micrograd, the numpy device)."""
    rs = [r for r in doc["results"] if r["workload"] == "autograd_overhead" and r.get("status") == "ok"
          and r["device_type"] == "cpu" and (r["library"], r["device"]) not in ((CHAIN, DEVICE), (CHAIN, COMPILED),
                                                                     ("torch", "cpu"))]
    if not rs:
        return []
    return ["Autograd overhead of the others in the same run: " +
            ", ".join(f"{r['library']}:{r['device']} {r['us_per_op']:.3g} µs/op ({r['label']})" for r in rs) + ".", ""]


def _floors(doc):
    """Each compiled target's case beside its floor: the step's matrix-product work at the best GEMM rate
    the cpp device reached in this run (a replay removes Python, not arithmetic)."""
    from benchmarks.report import fmt_time
    from benchmarks.workloads import flops
    rates = [r["gflops"] for r in doc["results"] if r["library"] == CHAIN and r["device"] == DEVICE
             and r["workload"] in _GEMM and r.get("status") == "ok"]
    if not rates:
        return []
    peak, cells = max(rates), []
    for r in doc["results"]:
        work = flops(r["workload"], r["params"])
        if (r["library"], r["device"]) != ("torch", "cpu") or r.get("status") != "ok" or work is None \
                or r["workload"] in _GEMM or _compiled_target(r["workload"], r["label"]) is None:
            continue
        floor = work / (peak * 1e9)
        cells.append(f"{r['workload']} {r['label']}: {work / 1e6:.0f} MFLOP, floor {fmt_time(floor)} = "
                     f"{floor / r['median_s']:.2f} of torch's step")
    if not cells:
        return []
    return [f"GEMM floors of the compiled targets' cases, at the best cpp GEMM rate of this run "
            f"({peak:.0f} GFLOP/s): " + "; ".join(cells) + ".", ""]


def _memory(doc):
    wl, params = MEMORY_CASE
    cells = [(key, _find(doc, *key.split(":"), wl, params)) for key in ("tinygrad_chain:cpp", "torch:cpu",
                                                                        "tinygrad_chain:cpp+compiled")]
    cells = [(k, r) for k, r in cells if r is not None and "peak_rss_mb" in r]
    if not cells:
        return []
    text = "; ".join(f"{k} {r['peak_rss_mb']:.0f} MB (+{r['rss_growth_mb']:.0f} MB over the case's start)"
                     for k, r in cells)
    return [f"Peak memory (RSS high-water mark of the worker process during the case) of the {wl} step, "
            f"{', '.join(f'{k}={v}' for k, v in params.items())}: {text}.", ""]
