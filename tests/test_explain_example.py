"""examples/explain_chain_rule.py end to end: every explained gradient matches its hand-derived value,
and the graph pictures and the gradient-flow plot are written to --out (valid PNG and SVG)."""
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import tinygrad_chain as tc

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture
def device():
    """Overrides the suite's per-device fixture: the script runs once, on its default device."""
    return None


def test_explain_chain_rule_example(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(Path(tc.__file__).resolve().parent.parent), os.environ.get("PYTHONPATH", "")]))
    out = tmp_path / "explain"
    cmd = [sys.executable, str(EXAMPLES / "explain_chain_rule.py"), "--out", str(out), "--no-progress", "--smoke"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, cwd=EXAMPLES.parent)
    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["mismatches"] == 0 and metrics["gradients_explained"] >= 10
    text = proc.stdout
    assert text.count("[ok]") == metrics["gradients_explained"] and "MISMATCH" not in text
    assert "x -> mul -> add(q) -> pow -> sub -> g" in text and "sum over all 2 paths: -186" in text
    assert "3 paths from t to z" in text  # the tree diagram
    for name in ("mygrad_pair", "sin_of_square", "tree_diagram", "sigmoid_network"):
        assert (out / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert ET.parse(out / f"{name}.svg").getroot().tag.endswith("svg")
    assert (out / "gradient_flow.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
