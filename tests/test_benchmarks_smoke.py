"""Smoke test of the benchmark suite: `python -m benchmarks --smoke` writes well-formed outputs.

Tiny sizes, the fast libraries only (tinygrad_chain's numpy device, and torch
when installed); it checks the files, not the speed.
"""
import importlib.util
import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HAVE_TORCH = importlib.util.find_spec("torch") is not None
HAVE_MPL = importlib.util.find_spec("matplotlib") is not None


@pytest.fixture(autouse=True)
def device():
    """Overrides the suite's per-device parametrization: the benchmark picks its devices itself."""
    yield None


@pytest.fixture(scope="module")
def bench_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    libraries = "tinygrad_chain,torch" if HAVE_TORCH else "tinygrad_chain"
    cmd = [sys.executable, "-m", "benchmarks", "--smoke", "--repeat", "2", "--threads", "1",
           "--libraries", libraries, "--devices", "numpy,torch:cpu", "--out", str(out)]
    if not HAVE_MPL:
        cmd.append("--no-plots")
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return out


def test_results_json_schema(bench_out):
    doc = json.loads((bench_out / "results.json").read_text())
    assert doc["schema"] == "tinygrad_chain-bench/1"
    assert doc["config"]["threads"] == 1 and doc["config"]["preset"] == "smoke"
    assert doc["config"]["thread_env"]["OMP_NUM_THREADS"] == "1"
    for key in ("cpu_model", "usable_cpus", "gpus", "python", "library_versions", "date"):
        assert key in doc["machine"]
    assert doc["results"], "no measurements"
    for r in doc["results"]:
        assert {"library", "device", "device_type", "workload", "params", "label", "status"} <= r.keys()
        assert r["status"] in ("ok", "skipped", "unsupported", "failed")
        assert r["status"] != "failed", r
        if r["status"] == "ok":
            assert len(r["times_s"]) == 2 and r["inner"] >= 1
            assert 0 < r["min_s"] <= r["median_s"] <= r["max_s"]
        else:
            assert r["reason"]
    ran = {(r["library"], r["device"]) for r in doc["results"]}
    assert ("tinygrad_chain", "numpy") in ran
    if HAVE_TORCH:
        assert ("torch", "cpu") in ran
    ok = {(r["library"], r["workload"]) for r in doc["results"] if r["status"] == "ok"}
    for wl in ("matmul", "matmul_t", "elementwise", "mlp", "autograd_overhead"):
        assert ("tinygrad_chain", wl) in ok
    forms = {r["params"].get("form") for r in doc["results"] if r["workload"] == "matmul_t"}
    assert forms == {"A@B.T", "A.T@B"}
    per_case_rss = os.access("/proc/self/clear_refs", os.W_OK)  # Linux: each case gets its own peak
    for r in doc["results"]:
        if r["workload"] == "autograd_overhead" and r["status"] == "ok":
            assert r["us_per_op"] > 0
        if r["workload"] in ("matmul", "matmul_t") and r["status"] == "ok":
            assert r["gflops"] > 0
        if r["status"] == "ok" and per_case_rss:
            assert r["peak_rss_mb"] > 10 and -1 <= r["rss_growth_mb"] <= r["peak_rss_mb"], r


def test_results_markdown(bench_out):
    md = (bench_out / "results.md").read_text()
    assert md.startswith("# tinygrad_chain benchmarks")
    assert "## CPU" in md and "| workload | case |" in md
    assert "tinygrad_chain:numpy" in md
    if HAVE_TORCH:
        assert "torch:cpu" in md and "×)" in md  # ratios against torch


@pytest.mark.skipif(not HAVE_MPL, reason="matplotlib not installed (pip install .[bench])")
def test_charts_are_pngs(bench_out):
    doc = json.loads((bench_out / "results.json").read_text())
    names = ["time_per_workload.png", "gpu_speedup.png", "scaling_matmul.png", "scaling_mlp.png"]
    assert sorted(doc["charts"]) == sorted(names)
    for name in names:
        data = (bench_out / name).read_bytes()
        assert data[:8] == PNG_SIGNATURE, name
        assert data[12:16] == b"IHDR" and len(data) > 1000, name


def test_rounds_take_the_median_of_round_medians(tmp_path):
    """--rounds runs each case that many times, every library in turn, and keeps every time."""
    cmd = [sys.executable, "-m", "benchmarks", "--smoke", "--repeat", "2", "--threads", "1", "--rounds", "3",
           "--libraries", "tinygrad_chain", "--devices", "numpy", "--workloads", "matmul,autograd_overhead",
           "--no-plots", "--out", str(tmp_path)]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["config"]["rounds"] == 3
    cases = [(r["workload"], r["label"]) for r in doc["results"]]
    assert len(cases) == len(set(cases)) > 0  # one record per case, not one per round
    for r in doc["results"]:
        assert r["status"] == "ok" and r["rounds"] == 3 and len(r["times_s"]) == 6
        medians = sorted(r["round_medians_s"])
        assert r["median_s"] == medians[1]
        assert r["min_s"] == min(r["times_s"]) and r["max_s"] == max(r["times_s"])
    assert "3 rounds" in (tmp_path / "results.md").read_text()


def test_bad_arguments_are_rejected():
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--workloads", "nope"], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "unknown workload nope" in proc.stderr


def test_gpu_report_paths_with_synthetic_results(bench_out, tmp_path):
    """CI has no GPU: feed the report GPU rows (tinygrad_chain's CPU rows relabelled as cupy) to exercise the GPU table and chart."""
    sys.path.insert(0, REPO)  # plain `pytest` does not put the repository root on the path
    from benchmarks import report, workloads
    doc = json.loads((bench_out / "results.json").read_text())
    gpu = []
    for r in doc["results"]:
        if r["status"] == "ok" and r["library"] == "tinygrad_chain":
            g = dict(r, device="cupy", device_type="cuda")
            g.update({k: r[k] / 4 for k in ("median_s", "min_s", "max_s")})
            gpu.append(g)
    doc["results"] += gpu
    report.write_all(doc, str(tmp_path), plots=HAVE_MPL)
    md = (tmp_path / "results.md").read_text()
    assert "## GPU" in md and "tinygrad_chain:cupy" in md
    if HAVE_MPL:
        assert (tmp_path / "gpu_speedup.png").read_bytes()[:8] == PNG_SIGNATURE
    assert ("matmul", {"n": 8192}) in workloads.cases("full", ["matmul"], "cuda")
    assert ("matmul", {"n": 8192}) not in workloads.cases("full", ["matmul"], "cpu")
    assert ("elementwise", {"n": 67_108_864}) in workloads.cases("full", ["elementwise"], "cuda")


@pytest.mark.skipif(not HAVE_TORCH or importlib.util.find_spec("tinygrad_chain._C") is None,
                    reason="needs torch and the C++ extension")
def test_kernel_benchmark_script_runs():
    """benchmarks/bench_cpp_kernels.py (GEMM, elementwise, conv/pool windows) runs and prints its tables."""
    proc = subprocess.run([sys.executable, "benchmarks/bench_cpp_kernels.py", "--quick", "--min-time", "0.005",
                           "--threads", "1"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    for heading in ("GFLOP/s", "Elementwise", "Conv and pooling windows"):
        assert heading in proc.stdout
    assert proc.stdout.count("| max_pool2d") == 3


needs_torch_and_cpp = pytest.mark.skipif(not HAVE_TORCH or importlib.util.find_spec("tinygrad_chain._C") is None,
                                         reason="needs torch and the C++ extension")


def _script(path, *args):
    """Run a benchmark script on one thread; its stdout, after asserting it succeeded."""
    proc = subprocess.run([sys.executable, path, *args, "--threads", "1"], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return proc.stdout


@needs_torch_and_cpp
def test_steady_chain_script_runs():
    """benchmarks/bench_chain_steady.py (each library alone, warmed up) prints its table and ratios."""
    out = _script("benchmarks/bench_chain_steady.py", "--repeat", "1", "--steps", "12")
    assert "| 1 | torch |" in out and "cpp / torch per run:" in out


@needs_torch_and_cpp
def test_optimizer_step_script_runs():
    """benchmarks/bench_optim_step.py prints a row per parameter set and optimizer, with a ratio."""
    out = _script("benchmarks/bench_optim_step.py", "--repeat", "1", "--number", "3")
    rows = [line for line in out.splitlines() if line.startswith("| ") and line[2:3] != "-"][1:]
    assert len(rows) == 8 and all(float(row.split("|")[-2]) > 0 for row in rows), out


HAVE_CPP = importlib.util.find_spec("tinygrad_chain._C") is not None


def _bench():
    sys.path.insert(0, REPO)  # plain `pytest` does not put the repository root on the path
    import benchmarks.runners
    return benchmarks.runners


def _result(lib, device, workload, params, median_s, **extra):
    return {"library": lib, "device": device, "device_type": "cpu", "workload": workload, "params": params,
            "label": ", ".join(f"{k}={v}" for k, v in params.items()), "status": "ok", "median_s": median_s,
            **extra}


def test_issue_table_ratios_and_targets():
    """The summary divides cpp's time by torch's in the same case and marks each issue-18 target met or missed."""
    _bench()
    from benchmarks import summary
    results = [_result("torch", "cpu", "mlp", {"batch": 256}, 1.0e-2, peak_rss_mb=300.0, rss_growth_mb=40.0),
               _result("tinygrad_chain", "cpp", "mlp", {"batch": 256}, 0.8e-2, peak_rss_mb=120.0, rss_growth_mb=20.0),
               _result("torch", "cpu", "elementwise", {"n": 4096}, 1.0e-3),
               _result("tinygrad_chain", "cpp", "elementwise", {"n": 4096}, 0.5e-3),
               _result("torch", "cpu", "matmul_t", {"n": 64, "form": "A.T@B"}, 2.0e-5, gflops=26.2),
               _result("tinygrad_chain", "cpp", "matmul_t", {"n": 64, "form": "A.T@B"}, 2.0e-5, gflops=26.2),
               _result("torch", "cpu", "autograd_overhead", {"steps": 100}, 1e-3, us_per_op=5.0),
               _result("tinygrad_chain", "cpp", "autograd_overhead", {"steps": 100}, 1.2e-3, us_per_op=6.0),
               _result("micrograd", "cpu", "autograd_overhead", {"steps": 100}, 0.9e-3, us_per_op=4.5)]
    doc = {"results": results, "config": {"threads": 2, "repeat": 3, "rounds": 3, "argv": ["--rounds", "3"]},
           "machine": {"cpu_model": "Test CPU", "cpu_simd": ["avx2"], "cpp_isa": "avx2", "cpp_isa_forced": "avx2"},
           "targets": [{"library": "tinygrad_chain", "device": "cpp+compiled", "status": "skipped",
                        "reason": "tc.compile is not in this tinygrad_chain yet"}]}
    text = "\n".join(summary.table(doc))
    assert "| mlp | batch=256 | 8 ms | 10 ms | 0.80 | ≤ 0.90 ✓ |" in text
    assert "| elementwise | n=4096 | 500 µs | 1 ms | 0.50 | ≤ 0.30 ✗ |" in text
    assert "| matmul_t | n=64, form=A.T@B | 26.2 GFLOP/s | 26.2 GFLOP/s | 1.00 | ≤ 1.11 ✓ |" in text
    assert "| autograd_overhead | steps=100 | 6 µs/op | 5 µs/op | 1.20 | ≤ 0.80 ✗ |" in text
    assert "micrograd:cpu 4.5 µs/op" in text
    # the MLP step's products (2 * 256 * (2 * 668672 + 267264) FLOP) at the run's best cpp GEMM rate
    assert "best cpp GEMM rate of this run (26 GFLOP/s): mlp batch=256: 822 MFLOP, floor 31.4 ms = 3.14" in text
    assert "tinygrad_chain:cpp 120 MB (+20 MB" in text and "torch:cpu 300 MB (+40 MB" in text
    assert "cpp kernels run avx2 (forced by --isa avx2)" in text
    assert "Compiled variant: not measured (tc.compile is not in this tinygrad_chain yet)" in text
    doc["results"].append(_result("tinygrad_chain", "cpp+compiled", "mlp", {"batch": 256}, 0.4e-2))
    text = "\n".join(summary.table(doc))
    assert "| mlp | batch=256 | 8 ms | 10 ms | 0.80 | ≤ 0.90 ✓ | 4 ms | 0.40 | ≤ 0.50 ✓ |" in text


@pytest.mark.skipif(not HAVE_CPP, reason="needs the C++ extension")
def test_isa_option_forces_the_cpp_kernels(tmp_path):
    """--isa reaches the cpp kernels (TINYGRAD_CHAIN_ISA) and the run records the instruction set they used."""
    cmd = [sys.executable, "-m", "benchmarks", "--smoke", "--repeat", "1", "--threads", "1", "--isa", "generic",
           "--libraries", "tinygrad_chain", "--devices", "cpp", "--workloads", "matmul", "--no-plots",
           "--out", str(tmp_path)]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["machine"]["cpp_isa"] == "generic" and doc["machine"]["cpp_isa_forced"] == "generic"
    assert doc["config"]["isa"] == "generic"
    assert all(r["status"] == "ok" for r in doc["results"]) and doc["results"]
    assert "cpp kernels run generic (forced by --isa generic)" in (tmp_path / "results.md").read_text()
    bad = subprocess.run([sys.executable, "-m", "benchmarks", "--isa", "sse9"], cwd=REPO, capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode == 2 and "--isa" in bad.stderr


def test_missing_peer_says_how_to_get_it(monkeypatch, capsys):
    runners = _bench()
    from benchmarks import worker

    def load(lib):
        raise ModuleNotFoundError(f"No module named {lib!r}")
    monkeypatch.setattr(runners, "load", load)
    worker.probe(["mygrad"])
    rec = json.loads(capsys.readouterr().out[len(worker.TAG):])
    assert rec["ok"] is False and "No module named 'mygrad'" in rec["reason"]
    assert 'pip install -e ".[bench]"' in rec["reason"]


def test_zig_cc_translates_clangs_flags(monkeypatch, tmp_path):
    """tinygrad runs `$CC ... --target=x86_64-none-unknown-elf ... - -o -`: zig needs its own triple and a file."""
    _bench()
    from benchmarks.runners import zig_cc
    fake = tmp_path / "zig"  # records its arguments and writes an "object" where -o says
    fake.write_text('#!/bin/sh\nprintf "%s\\n" "$@" > "$(dirname "$0")/args"\n'
                    'while [ $# -gt 0 ]; do [ "$1" = -o ] && printf OBJ > "$2"; shift; done\n')
    fake.chmod(0o755)
    script = tmp_path / "cc"
    script.write_text(zig_cc.script_text(str(fake)))
    script.chmod(0o755)
    out = subprocess.run([str(script), "-c", "-x", "c", "-O2", "--target=x86_64-none-unknown-elf", "-march=native",
                          "-", "-o", "-"], input=b"int f(void){return 1;}", capture_output=True, timeout=60)
    assert out.returncode == 0 and out.stdout == b"OBJ", out.stderr
    args = (tmp_path / "args").read_text().split("\n")
    assert args[:2] == ["cc", "-g0"] and args[args.index("-target") + 1] == "x86_64-freestanding-none"
    assert not any(a.startswith("--target") for a in args) and args[args.index("-o") + 1] != "-"
    assert ["-c", "-x", "c", "-O2"] == args[2:6] and "-march=native" in args and "-" in args
    # no clang, no ziglang: the reason says how to get a compiler
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.setattr(zig_cc.shutil, "which", lambda name: None)
    monkeypatch.setattr(zig_cc, "_zig", lambda: None)
    cc, why = zig_cc.compiler()
    assert cc is None and "pip install ziglang" in why and "apt-get install clang" in why


@pytest.mark.skipif(importlib.util.find_spec("ziglang") is None, reason="ziglang not installed (the bench extra)")
def test_zig_cc_compiles_an_object_for_tinygrad(monkeypatch):
    _bench()
    from benchmarks.runners import zig_cc
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.setattr(zig_cc.shutil, "which", lambda name: None)  # as on a host without clang
    cc, how = zig_cc.compiler()
    assert "ziglang" in how
    out = subprocess.run([cc, "-c", "-x", "c", "-O2", "-fPIC", "-ffreestanding", "-nostdlib",
                          "--target=x86_64-none-unknown-elf", "-", "-o", "-"], input=b"int f(int x){return x+1;}",
                         capture_output=True, timeout=120)
    assert out.returncode == 0, out.stderr[-1000:]
    assert out.stdout[:4] == b"\x7fELF"


@pytest.mark.skipif(not HAVE_CPP, reason="needs the C++ extension")
def test_compiled_variant_runs_and_matches_eager(tmp_path):
    """cpp+compiled (tc.compile) replays the same steps: its first-step results equal the eager cpp device's."""
    cmd = [sys.executable, "-m", "benchmarks", "--smoke", "--repeat", "1", "--threads", "1", "--no-plots",
           "--libraries", "tinygrad_chain", "--devices", "cpp,cpp+compiled", "--workloads", "mlp,autograd_overhead",
           "--out", str(tmp_path)]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    doc = json.loads((tmp_path / "results.json").read_text())
    import tinygrad_chain as tc
    if not hasattr(tc, "compile"):
        skipped = [t for t in doc["targets"] if t.get("device") == "cpp+compiled"]
        assert skipped and "tc.compile" in skipped[0]["reason"] and "tc.compile" in proc.stdout
        return
    by = {(r["device"], r["label"]): r for r in doc["results"]}
    compiled = [r for r in doc["results"] if r["device"] == "cpp+compiled"]
    assert len(compiled) == 3
    for r in compiled:
        assert r["status"] == "ok" and "warned" not in (r.get("note") or ""), r
        assert r["check"] == by[("cpp", r["label"])]["check"]


def test_compiled_variant_uses_tc_compile_and_reports_its_warnings(monkeypatch):
    """The compiled variant wraps the step in tc.compile, and a fallback warning becomes the case's note."""
    _bench()
    import warnings

    import tinygrad_chain as tc
    from benchmarks.runners import Skip, tinygrad_chain_runner as runner
    calls = []

    def fake_compile(fn):
        def replay():
            warnings.warn("fell back to eager: .item() inside the step")
            return fn()
        return replay

    def step():
        calls.append(1)
        return len(calls)
    step.note = "manual SGD"
    monkeypatch.setattr(tc, "compile", fake_compile, raising=False)
    wrapped = runner.compile_step(step)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # calls after the watched ones warn as the fake always does
        assert [wrapped() for _ in range(6)] == [1, 2, 3, 4, 5, 6]
    assert wrapped.note == "manual SGD; tc.compile warned: UserWarning: fell back to eager: .item() inside the step"
    assert wrapped.min_warmup >= 2
    monkeypatch.delattr(tc, "compile")
    with pytest.raises(Skip, match="tc.compile"):
        runner.compile_step(step)
    assert any(d == "cpp+compiled" for d, _ in runner.probe()["skipped"]) or not HAVE_CPP
