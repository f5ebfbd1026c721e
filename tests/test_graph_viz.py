"""Pictures of the graph (tc.autograd.graph.to_dot / render) and tc.nn.utils.gradient_flow.

DOT text is checked for content and stability, and parsed by pydot (a test dependency) and,
where Graphviz is installed, by Graphviz itself. Pictures must be valid PNG / SVG files: the
matplotlib fallback always, Graphviz's when it is installed.
"""
import math
import struct
import warnings
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from helpers import to_np

import tinygrad_chain as tc
from tinygrad_chain import nn
from tinygrad_chain.autograd import graph


def leaf(v):
    return tc.tensor(float(v), dtype=tc.float64, requires_grad=True)


def mygrad_pair(backward=True):
    """Seed 003 at x=3, y=1, every gradient kept."""
    x, y = leaf(3), leaf(1)
    with tc.autograd.retain_grads():
        p = y * x ** 2
        q = 2 * x + y
        g = p ** 2 - q ** 3
    if backward:
        g.backward(retain_graph=True)
    return g, dict(x=x, y=y, p=p, q=q, g=g)


def assert_png(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width > 50 and height > 20
    assert data.rstrip(b"\0")[-8:-4] == b"IEND"
    import matplotlib.image
    assert matplotlib.image.imread(path).shape[:2] == (height, width)  # decodes


def assert_svg(path, *texts):
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")
    content = path.read_text()
    for t in texts:
        assert t in content


# ---- DOT -----------------------------------------------------------------------------------
def test_dot_shows_tensors_ops_local_derivatives_and_grads():
    g, names = mygrad_pair()
    dot = graph.to_dot(g, names=names)
    assert dot.startswith("digraph autograd {") and dot.rstrip().endswith("}")
    assert '"x\\n[] float64' in dot and "value 3\\ngrad -186" in dot  # name, shape, dtype, value, grad
    assert "value 81" in dot  # p ** 2: its value was saved by the op that read it
    for op in ("pow(·, 2)", "pow(·, 3)", "mul(2, ·)", '"mul"', '"add"', '"sub"'):
        assert op in dot
    assert 'label="×6\\ngrad 108"' in dot and 'label="×2\\ngrad -294"' in dot  # x's two edges: 108 - 294
    assert 'label="×-1\\ngrad -1"' in dot
    assert f"[] float64 {g._b.name}" in dot  # the device


def test_dot_is_stable_for_a_fixed_graph():
    first = graph.to_dot(mygrad_pair()[0])
    assert graph.to_dot(mygrad_pair()[0]) == first
    g, names = mygrad_pair()
    assert graph.to_dot(g, names=names) == graph.to_dot(g, names=names)
    assert graph.to_dot(g, show_values=False, show_grads=False).count("value") == 0
    assert "\\ngrad" not in graph.to_dot(g, show_values=False, show_grads=False)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pydot's use of older pyparsing names
def test_dot_parses_with_pydot():
    pydot = pytest.importorskip("pydot", reason="pydot (a test dependency) parses DOT without Graphviz")
    g, names = mygrad_pair()
    dot = graph.to_dot(g, names=names)
    (parsed,) = pydot.graph_from_dot_data(dot)
    assert len(parsed.get_edges()) == dot.count("->")
    assert len([n for n in parsed.get_nodes() if n.get_name() not in ("node", "edge")]) == 16  # 9 tensors, 7 ops
    labels = {n.get_name(): n.get_label() for n in parsed.get_nodes()}
    assert labels["t0"].startswith('"x\\n')


def test_dot_parses_with_graphviz():
    reason = graph.graphviz_missing()
    if reason is not None:
        pytest.skip(reason)
    import graphviz
    g, names = mygrad_pair()
    svg = graphviz.Source(graph.to_dot(g, names=names)).pipe(format="svg").decode()
    assert svg.count('class="node"') == 16 and svg.count('class="edge"') == 17


def test_dot_after_a_backward_that_freed_the_graph():
    """Values and grads held by tensors remain; the edges' local derivatives need the saved tensors."""
    g, names = mygrad_pair(backward=False)
    g.backward()
    dot = graph.to_dot(g, names=names)
    assert "grad -186" in dot and "×" not in dot and "value 3" in dot


def test_tensor_graph_edges_carry_gradient_norms():
    lin = nn.Linear(3, 2).double()
    x = tc.tensor(np.arange(12.0).reshape(4, 3) / 10, dtype=tc.float64)
    loss = lin(x).tanh().sum()
    dot = graph.to_dot(loss, names=dict(lin.named_parameters()))
    assert "weight\\n[2, 3] float64" in dot and "bias\\n[2] float64" in dot
    assert "grad norm" in dot and "×" not in dot  # no scalar edge here
    norms = [float(v) for v in dot.split("grad norm ")[1:] for v in [v.split('"')[0]]]
    assert all(n > 0 for n in norms)
    loss.backward(retain_graph=True)  # the flow along weight's edge is its .grad
    norm = float(np.linalg.norm(to_np(lin.weight.grad)))
    assert f"grad norm {norm:.4g}" in graph.to_dot(loss, names=dict(lin.named_parameters()))


# ---- pictures ------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_matplotlib_fallback_draws_valid_files(tmp_path, fmt):
    g, names = mygrad_pair()
    out = graph.render(g, tmp_path / "g", format=fmt, names=names, engine="matplotlib")
    assert out == tmp_path / f"g.{fmt}"
    if fmt == "png":
        assert_png(out)
    else:
        assert_svg(out)


@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_graphviz_draws_valid_files(tmp_path, fmt):
    reason = graph.graphviz_missing()
    if reason is not None:
        pytest.skip(reason)
    g, names = mygrad_pair()
    out = graph.render(g, tmp_path / f"g.{fmt}", names=names, engine="graphviz")
    if fmt == "png":
        assert_png(out)
    else:
        assert_svg(out, "×6", "pow(·, 3)")


def test_without_graphviz_render_says_so_and_falls_back(tmp_path, monkeypatch):
    monkeypatch.setattr(graph, "graphviz_missing", lambda: "the graphviz Python package is not installed")
    g, _ = mygrad_pair()
    with pytest.warns(UserWarning, match="graphviz Python package is not installed.*matplotlib"):
        assert_png(graph.render(g, tmp_path / "g.png"))
    with pytest.raises(RuntimeError, match="engine='graphviz'.*not installed"):
        graph.render(g, tmp_path / "h.png", engine="graphviz")


def test_render_checks_its_arguments(tmp_path):
    g, _ = mygrad_pair()
    with pytest.raises(ValueError, match="format"):
        graph.render(g, tmp_path / "g.pdf")
    with pytest.raises(ValueError, match="ends in .png"):
        graph.render(g, tmp_path / "g.png", format="svg")
    with pytest.raises(ValueError, match="engine"):
        graph.render(g, tmp_path / "g.png", engine="tikz")


def test_graphviz_missing_names_what_to_install(monkeypatch):
    import shutil
    monkeypatch.setattr(shutil, "which", lambda name: None)
    reason = graph.graphviz_missing()
    assert "pip install 'tinygrad_chain[viz]'" in reason or "apt-get install graphviz" in reason


# ---- gradient flow -------------------------------------------------------------------------
def small_model():
    tc.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Sigmoid(), nn.Linear(8, 8), nn.Sigmoid(), nn.Linear(8, 3),
                          nn.Linear(3, 3))  # the last layer is not used: no gradient
    x, y = tc.randn(16, 4), tc.randint(0, 3, (16,))
    loss = nn.functional.cross_entropy(model[4](model[:4](x)), y)
    return model, loss


def test_gradient_flow_reports_norms_and_update_ratios(tmp_path):
    model, loss = small_model()
    loss.backward()
    flow = tc.nn.utils.gradient_flow(model, lr=0.1)
    assert [r.name for r in flow] == [n for n, _ in model.named_parameters()]
    row = flow.rows[0]
    g, w = to_np(model[0].weight.grad).astype(np.float64), to_np(model[0].weight).astype(np.float64)
    assert row.layer == "0" and row.shape == (8, 4) and row.status == "ok"
    assert math.isclose(row.grad_norm, np.linalg.norm(g), rel_tol=1e-6)
    assert math.isclose(row.grad_mean_abs, np.abs(g).mean(), rel_tol=1e-6)
    assert math.isclose(row.grad_max_abs, np.abs(g).max(), rel_tol=1e-6)
    assert math.isclose(row.update_ratio, 0.1 * np.linalg.norm(g) / np.linalg.norm(w), rel_tol=1e-6)
    assert [r.status for r in flow.problems()] == ["no grad", "no grad"]  # model[5]
    text = str(flow)
    assert "0.weight" in text and "no grad" in text and "lr |grad| / |param|" in text
    assert_png(flow.plot(tmp_path / "flow.png"))


def test_gradient_flow_measures_any_optimizers_update():
    model, loss = small_model()
    loss.backward()
    opt = tc.optim.Adam(model.parameters(), lr=1e-2)
    by_group = tc.nn.utils.gradient_flow(model, lr=opt)
    assert math.isclose(by_group.rows[2].update_ratio, 1e-2 * by_group.rows[2].grad_norm / by_group.rows[2].param_norm)
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    opt.step()
    flow = tc.nn.utils.gradient_flow(model, before=before)
    w, w0 = to_np(model[2].weight).astype(np.float64), to_np(before["2.weight"]).astype(np.float64)
    assert math.isclose(flow.rows[2].update_ratio, np.linalg.norm(w - w0) / np.linalg.norm(w0), rel_tol=1e-6)
    assert "measured" in flow.update_source
    assert math.isnan(tc.nn.utils.gradient_flow(model).rows[0].update_ratio)


def test_gradient_flow_flags_zero_and_non_finite_gradients():
    a, b = nn.Parameter(tc.ones(3)), nn.Parameter(tc.ones(2))
    a.grad, b.grad = tc.zeros(3), tc.tensor([1.0, float("inf")])
    flow = tc.nn.utils.gradient_flow([("a", a), ("b", b)])
    assert [r.status for r in flow] == ["zero grad", "non-finite grad"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # log axes and missing values draw without warnings
        fig = flow.plot()
    assert len(fig.axes) == 1  # no update ratios: one panel
    import matplotlib.pyplot as plt
    plt.close(fig)
