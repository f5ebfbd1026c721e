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
    for wl in ("matmul", "elementwise", "mlp", "autograd_overhead"):
        assert ("tinygrad_chain", wl) in ok
    for r in doc["results"]:
        if r["workload"] == "autograd_overhead" and r["status"] == "ok":
            assert r["us_per_op"] > 0
        if r["workload"] == "matmul" and r["status"] == "ok":
            assert r["gflops"] > 0


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


@pytest.mark.skipif(not HAVE_TORCH or importlib.util.find_spec("tinygrad_chain._C") is None,
                    reason="needs torch and the C++ extension")
def test_steady_chain_script_runs():
    """benchmarks/bench_chain_steady.py (each library alone, warmed up) prints its table and ratios."""
    proc = subprocess.run([sys.executable, "benchmarks/bench_chain_steady.py", "--repeat", "1", "--steps", "12",
                           "--threads", "1"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "| 1 | torch |" in proc.stdout and "cpp / torch per run:" in proc.stdout
