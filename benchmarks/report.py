"""results.json and results.md from the collected measurements."""
import json
import os

from benchmarks.runners import RUNNERS
from benchmarks.workloads import TRANSPOSED_FORMS, WORKLOADS, is_headline

CHECK_RTOL = 1e-3  # first-step results that differ more than this from torch's are flagged


def fmt_time(s):
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if s >= scale or unit == "ns":
            v = s / scale
            return f"{v:.3g} {unit}" if v < 100 else f"{v:.0f} {unit}"


def target_key(r):
    return f"{r['library']}:{r['device']}"


_DEV_RANK = {"numpy": 0, "cpp": 1, "cpp+compiled": 1.5, "cpu": 2, "cupy": 3, "cupy+compiled": 3.5, "cuda": 4}


def _rank(key):
    """tinygrad_chain first, then torch, then the peers; CPU devices before GPU ones."""
    lib, dev = key.split(":", 1)
    libs = list(RUNNERS)
    return (libs.index(lib) if lib in libs else 99, _DEV_RANK.get(dev, 9))


def _order(keys):
    return sorted(keys, key=_rank)


def _case_key(r):
    return (list(WORKLOADS).index(r["workload"]), tuple(r["params"].values()))


def ok_results(doc):
    return [r for r in doc["results"] if r.get("status") == "ok"]


def baseline(doc, workload, params, device_type):
    """torch's result on the same device type, or None."""
    for r in ok_results(doc):
        if (r["library"] == "torch" and r["device_type"] == device_type and r["workload"] == workload
                and r["params"] == params):
            return r
    return None


def _cell(r, base, stat="median_s"):
    if r is None:
        return "—"
    if r.get("status") != "ok":
        return r["status"]
    if "us_per_op" in r:
        text = f"{r['us_per_op'] * r[stat] / r['median_s']:.3g} µs/op"
    else:
        text = fmt_time(r[stat])
    if base is not None and base is not r:
        text += f" ({r[stat] / base[stat]:.2f}×)"
    return text


def device_table(doc, device_type, headline_only=False, stat="median_s"):
    """Markdown rows: one per case, one column per library:device of this device type."""
    rows = [r for r in doc["results"] if r["device_type"] == device_type]
    if headline_only:
        preset = doc["config"]["preset"]
        rows = [r for r in rows if is_headline(r["workload"], r["params"], preset)]
    cols = _order({target_key(r) for r in rows})
    if not cols:
        return []
    cases = sorted({(_case_key(r), r["workload"], r["label"]) for r in rows})
    by = {(target_key(r), r["workload"], r["label"]): r for r in rows}
    out = ["| workload | case | " + " | ".join(cols) + " |", "|---|---|" + "---:|" * len(cols)]
    for _, wl, lab in cases:
        any_r = next(r for r in rows if r["workload"] == wl and r["label"] == lab)
        base = baseline(doc, wl, any_r["params"], device_type)
        out.append(f"| {wl} | {lab} | " + " | ".join(_cell(by.get((c, wl, lab)), base, stat) for c in cols) + " |")
    return out


def _consistency(doc):
    """Cases whose first-step result differs from torch's (CPU) beyond CHECK_RTOL."""
    lines = []
    for r in ok_results(doc):
        base = baseline(doc, r["workload"], r["params"], "cpu")
        if base is None or r is base or r.get("check") is None or base.get("check") is None:
            continue
        a, b = r["check"], base["check"]
        if abs(a - b) > CHECK_RTOL * max(1.0, abs(b)):
            lines.append(f"- {target_key(r)} {r['workload']} ({r['label']}): {a:.6g} vs torch {b:.6g}")
    return lines


def _load_line(doc):
    loads = sorted(r["loadavg_1m"] for r in doc["results"] if "loadavg_1m" in r)
    if not loads:
        return []
    median = loads[len(loads) // 2]
    line = (f"1-minute load average at the start of each case: median {median:.1f}, "
            f"range {loads[0]:.1f} to {loads[-1]:.1f} (this suite itself adds up to {doc['config']['threads']}).")
    if median > doc["config"]["threads"] + 0.5:  # on 2 cores any outside process means oversubscription
        line += (" **Other work kept the machine busy during this run: the timings are noisy. Cases were "
                 "interleaved across libraries, so ratios within the run are fairer than absolute times.**")
    return [line]


def markdown(doc):
    m, c = doc["machine"], doc["config"]
    gpus = ", ".join(g["name"] for g in m["gpus"]) or "none"
    from benchmarks import summary  # it formats with this module's helpers
    out = ["# tinygrad_chain benchmarks", "",
           f"{m['date']}; CPU {m['cpu_model']} ({m['usable_cpus']} usable of {m['logical_cpus']} logical CPUs, "
           f"{m['memory_gib']} GiB; {summary.isa_text(m)}); GPU {gpus}; Python {m['python']}; commit {m['git_commit']}.", "",
           f"Preset `{c['preset']}`, {c['threads']} threads per library (each in its own process), " +
           (f"{c['rounds']} rounds (every library in turn each round), the median of the rounds' medians of "
            if c.get("rounds", 1) > 1 else "median of ") +
           f"{c['repeat']} timed repeats after {c['warmup']} warm-up calls "
           f"(fast steps looped to at least {c['min_time_s']} s per repeat); GPU work synchronised before the clock stops.",
           ""] + _load_line(doc) + ["", "Versions: " + ", ".join(f"{k} {v}" for k, v in m.get("library_versions", {}).items()) + ".", "",
           "Cells give the median time per step, and in brackets the ratio to torch on the same device type "
           "(below 1 is faster than torch). autograd_overhead is per op (two ops per step, forward + backward).", ""]
    out += summary.table(doc)
    busy = any("busy" in line for line in _load_line(doc))
    for dtype, title in (("cpu", "CPU"), ("cuda", "GPU")):
        table = device_table(doc, dtype)
        if table:
            out += [f"## {title}", ""] + table + [""]
        if table and busy:  # outside load inflates medians; the fastest repeat is closer to the intrinsic cost
            out += [f"## {title}, fastest repeat (min) of each case", "",
                    "The machine was busy, so here is the same table from each case's fastest repeat.", ""]
            out += device_table(doc, dtype, stat="min_s") + [""]
    mm = [r for r in ok_results(doc) if "gflops" in r and r["workload"] in ("matmul", "matmul_t")]
    if mm:
        cols = _order({target_key(r) for r in mm})
        forms = ("A@B",) + TRANSPOSED_FORMS
        cases = sorted({(r["params"]["n"], r["params"].get("form", "A@B")) for r in mm},
                       key=lambda c: (c[0], forms.index(c[1])))
        by = {(target_key(r), r["params"]["n"], r["params"].get("form", "A@B")): r for r in mm}
        out += ["## matmul GFLOP/s (float32)", "", "| n | form | " + " | ".join(cols) + " |",
                "|---:|---|" + "---:|" * len(cols)]
        for n, form in cases:
            out.append(f"| {n} | {form} | " + " | ".join(f"{by[(k, n, form)]['gflops']:.1f}" if (k, n, form) in by
                                                         else "—" for k in cols) + " |")
        out.append("")
    not_ok = {}
    for r in doc["results"]:
        if r.get("status") != "ok":
            not_ok.setdefault((target_key(r), r["status"], r.get("reason", "")), []).append(r["workload"])
    skipped_targets = [t for t in doc["targets"] if t.get("status") != "ok"]
    if not_ok or skipped_targets:
        out += ["## Not measured", ""]
        for t in skipped_targets:
            out.append(f"- {t['library']}{':' + t['device'] if t.get('device') else ''}: {t['status']}: "
                       f"{t.get('reason', '')[:300]}")
        for (key, status, reason), wls in sorted(not_ok.items()):
            out.append(f"- {key} {', '.join(sorted(set(wls)))}: {status}: {reason[:300]}")
        out.append("")
    notes = sorted({(target_key(r), r["workload"], r["note"]) for r in ok_results(doc) if r.get("note")})
    if notes:
        out += ["## Notes", ""] + [f"- {k} {w}: {n}" for k, w, n in notes] + [""]
    bad = _consistency(doc)
    out += ["## Cross-library check", "",
            "Every library starts from the same data; the first step's loss (or sum) is compared with torch's on the CPU.",
            ""] + (bad or ["All results agree with torch within 1e-3."]) + [""]
    out += ["## Every measurement", "", "Peak RSS: the worker's high-water mark during the case (in brackets, "
            "its growth over the RSS the case started from).", "",
            "| library:device | workload | case | median | min | max | runs | peak RSS |",
            "|---|---|---|---:|---:|---:|---:|---:|"]
    for r in sorted(ok_results(doc), key=lambda r: (_rank(target_key(r)), _case_key(r))):
        rss = f"{r['peak_rss_mb']:.0f} MB (+{r['rss_growth_mb']:.0f})" if "peak_rss_mb" in r else "—"
        out.append(f"| {target_key(r)} | {r['workload']} | {r['label']} | {fmt_time(r['median_s'])} | "
                   f"{fmt_time(r['min_s'])} | {fmt_time(r['max_s'])} | {len(r['times_s'])}×{r['inner']} | {rss} |")
    return "\n".join(out) + "\n"


def write_all(doc, out, plots=True):
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(doc, f, indent=1)
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(markdown(doc))
    if plots:
        from benchmarks import plots as plotting
        doc["charts"] = plotting.write_charts(doc, out)
        with open(os.path.join(out, "results.json"), "w") as f:
            json.dump(doc, f, indent=1)
