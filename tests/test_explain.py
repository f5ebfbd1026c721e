"""tc.autograd.explain: a gradient as the sum over paths of products of local derivatives.

The property (hypothesis, float64): on random DAGs of scalar ops with fan-out and reuse, the sum
over every path equals the gradient autograd computes, for leaves and interior tensors alike.
Then: the seeds' numbers, tensor graphs (an element's paths, the per-edge flows), the limits
(paths, work) with their messages, linear work on long chains, and that nothing changes.
"""
import gc
import math

import numpy as np
import pytest
from helpers import assert_close, to_np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinygrad_chain as tc
from tinygrad_chain.autograd.subgraph import ancestors

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def leaf(v):
    return tc.tensor(float(v), dtype=tc.float64, requires_grad=True)


def close(a, b):
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


# ---- the property: sum over paths == autograd's gradient --------------------------------------
UNARY = {
    "sin": lambda v: v.sin(), "cos": lambda v: v.cos(), "tanh": lambda v: v.tanh(),
    "sigmoid": lambda v: v.sigmoid(), "square": lambda v: v ** 2, "cube": lambda v: v ** 3,
    "scale": lambda v: v * 1.7, "neg": lambda v: -v, "exp_tanh": lambda v: v.tanh().exp(),
    "sqrt1p": lambda v: (v * v + 1).sqrt(), "relu": lambda v: v.relu(),
}
BINARY = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "div": lambda a, b: a / (b * b + 1), "maximum": lambda a, b: a.maximum(b),
}


@st.composite
def programs(draw):
    """Leaves, then ops whose operands are any earlier value (so fan-out, and x op x reuse)."""
    leaves = draw(st.lists(st.floats(-2, 2, allow_nan=False).filter(lambda v: abs(v) > 1e-3),
                           min_size=1, max_size=3))
    steps, n = [], len(leaves)
    for _ in range(draw(st.integers(1, 12))):
        if draw(st.booleans()):
            steps.append((draw(st.sampled_from(sorted(UNARY))), draw(st.integers(0, n - 1)), None))
        else:
            steps.append((draw(st.sampled_from(sorted(BINARY))), draw(st.integers(0, n - 1)),
                          draw(st.integers(0, n - 1))))
        n += 1
    extra = draw(st.lists(st.integers(0, n - 1), max_size=3))  # summed into the output: fan-in
    return leaves, steps, extra


def run_program(program):
    """The output sums every value no op consumed, so each leaf reaches it, plus `extra` (fan-in)."""
    leaves, steps, extra = program
    values = [leaf(v) for v in leaves]
    used = set()
    for op, i, j in steps:
        values.append(UNARY[op](values[i]) if j is None else BINARY[op](values[i], values[j]))
        used.update((i, j))
    sinks = [k for k in range(len(values)) if k not in used] + list(extra)
    out = values[sinks[0]] * 1.0
    for k in sinks[1:]:
        out = out + values[k]
    return values, out


@SETTINGS
@given(programs(), st.data())
def test_sum_over_paths_is_autograds_gradient(program, data):
    values, out = run_program(program)
    n_leaves = len(program[0])
    interior = [v for v in values[n_leaves:] if v.grad_fn is not None]
    wanted = values[:n_leaves] + ([data.draw(st.sampled_from(interior))] if interior else [])
    expected = tc.autograd.grad(out, wanted, retain_graph=True, allow_unused=True)
    for x, g in zip(wanted, expected):
        g = 0.0 if g is None else g.item()
        ex = tc.autograd.explain(out, x, max_paths=50)
        assert close(ex.path_sum, g), (ex.path_sum, g, str(ex))
        assert close(ex.gradient, g)
        assert ex.total_paths >= len(ex.paths)
        if ex.total_paths <= 50:
            assert not ex.limited and close(ex.listed_sum, ex.path_sum)
        for p in ex.paths:  # each listed product is the product of its listed factors
            assert close(p.product, math.prod(p.factors))
        assert [abs(p.product) for p in ex.paths] == sorted((abs(p.product) for p in ex.paths), reverse=True)


# ---- the seeds' worked examples ------------------------------------------------------------
def test_mygrad_pair_paths_and_values():
    """Seed 003 at x=3, y=1: dg/dx = -186 as 2 paths (108 and -294); dg/dp = 18, dg/dq = -147."""
    x, y = leaf(3), leaf(1)
    p = y * x ** 2
    q = 2 * x + y
    g = p ** 2 - q ** 3
    names = dict(x=x, y=y, p=p, q=q, g=g)
    ex = tc.autograd.explain(g, x, names=names)
    assert ex.gradient == -186.0 and ex.path_sum == -186.0 and ex.total_paths == 2
    routes = {p.route(): (p.factors, p.product) for p in ex.paths}
    assert routes == {"x -> mul -> add(q) -> pow -> sub -> g": ((2.0, 1.0, 147.0, -1.0), -294.0),
                      "x -> pow -> mul(p) -> pow -> sub -> g": ((6.0, 1.0, 18.0, 1.0), 108.0)}
    assert [s.op for s in ex.paths[0].steps] == ["mul", "add", "pow", "sub"]
    assert tc.autograd.explain(g, y, names=names).path_sum == 15.0
    assert tc.autograd.explain(g, p, names=names).gradient == 18.0
    assert tc.autograd.explain(g, q, names=names).gradient == -147.0
    text = str(ex)
    assert "x -> mul -> add(q) -> pow -> sub -> g" in text and "2 × 1 × 147 × -1" in text
    assert "-294" in text and "-186" in text


def test_tree_diagram_three_paths():
    """Seed 002: z = x^2 + sin(xy), x = t^2, y = e^t: dz/dt is a sum over three paths."""
    tv = 0.7
    t = leaf(tv)
    x, y = t ** 2, t.exp()
    z = x ** 2 + (x * y).sin()
    xv, yv = tv ** 2, math.exp(tv)
    ex = tc.autograd.explain(z, t)
    assert ex.total_paths == 3
    hand = sorted([2 * xv * 2 * tv, math.cos(xv * yv) * yv * 2 * tv, math.cos(xv * yv) * xv * yv])
    assert all(close(a, b) for a, b in zip(sorted(p.product for p in ex.paths), hand))
    assert close(ex.path_sum, sum(hand))


def test_reuse_x_times_x_names_the_input_slots():
    x = leaf(1.5)
    ex = tc.autograd.explain(x * x, x, names={"x": x})
    assert ex.total_paths == 2 and [p.factors for p in ex.paths] == [(1.5,), (1.5,)]
    assert {p.steps[0].input for p in ex.paths} == {0, 1}
    assert "mul@0" in str(ex) and "mul@1" in str(ex)


def test_a_custom_function_is_explained_by_its_backward():
    class Cube(tc.autograd.Function):
        @staticmethod
        def forward(ctx, v):
            ctx.save_for_backward(v)
            return v * v * v

        @staticmethod
        def backward(ctx, g):
            (v,) = ctx.saved_tensors
            return 3 * v * v * g

    x = leaf(2.0)
    ex = tc.autograd.explain(Cube.apply(x).sin(), x)
    assert ex.paths[0].steps[0].op == "Cube" and close(ex.paths[0].factors[0], 12.0)
    assert close(ex.path_sum, math.cos(8.0) * 12.0)


def test_a_second_derivative_graph_is_explained_too():
    """create_graph=True records the backward's own ops: d/dx of dy/dx is a sum over their paths."""
    xv = 1.3
    x = leaf(xv)
    (dy,) = tc.autograd.grad((x ** 2).sin(), x, create_graph=True)
    ex = tc.autograd.explain(dy, x)
    assert close(ex.path_sum, -math.sin(xv ** 2) * 4 * xv ** 2 + 2 * math.cos(xv ** 2)) and ex.total_paths == 2


def test_paths_across_devices(other_device):
    if other_device is None:
        pytest.skip("one device here")
    x = leaf(0.5)
    z = ((x * 3).to(other_device).exp() * 2).to(x.device).sum()
    ex = tc.autograd.explain(z, x)
    assert [s.op for s in ex.paths[0].steps] == ["mul", "to_device", "exp", "mul", "to_device", "sum"]
    assert close(ex.path_sum, 6 * math.exp(1.5)) and close(ex.gradient, 6 * math.exp(1.5))


# ---- tensor graphs ---------------------------------------------------------------------------
def mlp_loss(rng):
    x = tc.tensor(rng.standard_normal((6, 3)), dtype=tc.float64)
    W1 = tc.tensor(rng.standard_normal((4, 3)), dtype=tc.float64, requires_grad=True)
    W2 = tc.tensor(rng.standard_normal((2, 4)), dtype=tc.float64, requires_grad=True)
    loss = ((x @ W1.t()).tanh() @ W2.t()).sigmoid().sum()
    return W1, W2, loss


def test_an_element_of_a_tensor_input(rng):
    W1, W2, loss = mlp_loss(rng)
    loss.backward(retain_graph=True)
    ex = tc.autograd.explain(loss, W1, index=(2, 1), names={"W1": W1, "W2": W2, "loss": loss})
    assert close(ex.path_sum, to_np(W1.grad)[2, 1]) and close(ex.gradient, to_np(W1.grad)[2, 1])
    assert ex.total_paths == 6 * 2  # through each of the 6 rows and the 2 outputs
    assert ex.paths[0].start == "W1[2, 1]" and ex.paths[0].end == "loss"
    assert "W1[2, 1] -> " in str(ex)
    assert tc.autograd.explain(loss, W1, index=(-2, 1)).gradient == ex.gradient


def test_tensor_input_reports_the_flow_along_each_edge(rng):
    W1, W2, loss = mlp_loss(rng)
    ex = tc.autograd.explain(loss, W1, names={"W1": W1, "W2": W2}, top_k=3)
    loss.backward()
    assert_close(ex.gradient, W1.grad, rtol=1e-12, atol=1e-14)
    assert ex.total_paths is None and ex.limited and "index=" in ex.message
    shapes = {(f.into, f.op): f.shape for f in ex.edges}
    assert shapes[("W1", "permute#1")] == (4, 3)  # the gradient into W1 came from W1.t()
    into_w1 = [f for f in ex.edges if f.into == "W1"][0]
    assert math.isclose(into_w1.norm, float(np.linalg.norm(to_np(W1.grad))), rel_tol=1e-12)
    assert [f.norm for f in ex.edges] == sorted((f.norm for f in ex.edges), reverse=True)
    assert len(ex.top_edges()) == 3
    per_op = {o.op: o for o in ex.per_op}
    assert per_op["matmul"].nodes == 2 and per_op["matmul"].edges == 2  # W2 is not explained
    text = str(ex)
    assert "the 3 largest of 6" in text and "per op" in text and "[6, 2]" in text


# ---- limits ----------------------------------------------------------------------------------
def test_wide_fan_out_stops_at_the_path_limit():
    x = leaf(0.3)
    ys = [x * (1 + i / 100) for i in range(600)]
    out = ys[0]
    for y in ys[1:]:
        out = out + y
    ex = tc.autograd.explain(out, x, names={"x": x, "out": out}, max_paths=20)
    assert ex.total_paths == 600 and len(ex.paths) == 20 and ex.limited
    assert "600 paths lead from x to out; the limit max_paths=20 was reached" in ex.message
    assert "The other 580 add" in ex.message and ex.message in str(ex)
    assert [p.factors[0] for p in ex.paths] == [1 + i / 100 for i in range(599, 579, -1)]  # the largest
    assert close(ex.path_sum, sum(1 + i / 100 for i in range(600)))


def test_exponentially_many_paths_are_counted_not_enumerated():
    x = leaf(0.4)
    h = x
    for _ in range(40):
        h = h.sin() + h.cos()  # every level doubles the paths
    ex = tc.autograd.explain(h, x, max_paths=8)
    assert ex.total_paths == 2 ** 40 and len(ex.paths) == 8
    assert ex.visited["element_vjp_calls"] == 3 * 40
    (g,) = tc.autograd.grad(h, x)
    assert close(ex.path_sum, g.item()) and close(ex.gradient, g.item())


def test_work_limit_leaves_the_paths_out_with_a_message():
    x = leaf(0.5)
    out = tc.stack([x * i for i in range(300)]).sum()  # each element of the stack: 300 input gradients
    ex = tc.autograd.explain(out, x, names={"x": x}, max_work=5_000)
    assert ex.paths == [] and ex.total_paths is None and ex.limited
    assert "max_work=5000" in ex.message and "raise max_work" in ex.message
    assert close(ex.gradient, sum(range(300)))  # the flows still give the gradient


def test_the_work_is_linear_in_the_chain_length():
    """10,000 ops: one path of 10,000 factors; each node's VJP runs once in each walk."""
    steps = (lambda h: h * 1.0001, lambda h: h.sin(), lambda h: h + 0.001)
    for n in (1_000, 10_000):
        x = leaf(0.5)
        h = x
        for i in range(n):
            h = steps[i % 3](h)
        ex = tc.autograd.explain(h, x)
        assert ex.visited == {"nodes": n, "flow_vjp_calls": n, "element_vjp_calls": n, "element_vjp_work": 2 * n,
                              "element_edges": n}
        assert ex.total_paths == 1 and len(ex.paths[0].steps) == n
    (g,) = tc.autograd.grad(h, x)
    assert close(ex.path_sum, g.item()) and close(ex.gradient, g.item())
    assert "...(" in str(ex)  # the 10,000-step path is shortened in the table


# ---- nothing changes -------------------------------------------------------------------------
def test_explain_leaves_the_graph_and_grads_as_it_found_them():
    x, y = leaf(3), leaf(1)
    p = y * x ** 2
    p.retain_grad()
    g = p ** 2 - (2 * x + y) ** 3
    g.backward(retain_graph=True)
    grads = {"x": x.grad, "y": y.grad, "p": p.grad}
    values = {k: v.item() for k, v in grads.items()}
    calls = []
    p.register_hook(lambda grad: calls.append(grad.item()))
    nodes = ancestors([g.grad_fn])
    saved = [(n._inputs, n._out, n.saved, n._versions, n.hooks, n.retained) for n in nodes]

    with tc.autograd.retain_grads():
        ex = tc.autograd.explain(g, x)
        tc.autograd.graph.to_dot(g)
    assert ex.gradient == -186.0 and ex.notes  # the hook is named, not run
    assert calls == []
    assert {"x": x.grad, "y": y.grad, "p": p.grad} == grads  # the same tensors ...
    assert {k: v.item() for k, v in grads.items()} == values  # ... with the same values
    assert ancestors([g.grad_fn]) == nodes
    assert [(n._inputs, n._out, n.saved, n._versions, n.hooks, n.retained) for n in nodes] == saved
    assert tc.is_grad_enabled() and gc.isenabled()

    g.backward()  # the graph was kept: a second backward works and accumulates
    assert x.grad.item() == -372.0 and calls == [18.0]
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        tc.autograd.explain(g, x)  # freed by that backward, as a third backward would say


def test_explain_sees_in_place_changes_as_backward_does():
    x = leaf(2.0)
    y = x * 1.0
    z = (y * y).sum()
    with tc.no_grad():
        y.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        tc.autograd.explain(z, x)


def test_errors_name_the_problem():
    x = tc.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="one-element output"):
        tc.autograd.explain(x * 2, x)
    with pytest.raises(RuntimeError, match="not on the tape"):
        tc.autograd.explain(tc.tensor(1.0), x)
    with pytest.raises(RuntimeError, match="does not require grad"):
        tc.autograd.explain((x * 2).sum(), tc.tensor([1.0, 2.0]))
    with pytest.raises(IndexError, match="out of bounds"):
        tc.autograd.explain((x * 2).sum(), x, index=2)
    with pytest.raises(IndexError, match="entries"):
        tc.autograd.explain((x * 2).sum(), x, index=(0, 0))
    with pytest.raises(TypeError, match="two Tensors"):
        tc.autograd.explain((x * 2).sum(), 1.0)


def test_no_path_means_a_zero_gradient():
    x, unused = leaf(1.0), leaf(2.0)
    ex = tc.autograd.explain(x.sin(), unused)
    assert ex.gradient == 0.0 and ex.total_paths == 0 and "does not reach" in ex.message
    v = tc.tensor([-1.0, 2.0], dtype=tc.float64, requires_grad=True)
    ex = tc.autograd.explain(v.relu().sum(), v, index=0)  # relu's rate is 0 there
    assert ex.gradient == 0.0 and ex.total_paths == 0 and "non-zero local derivative" in ex.message
    ex = tc.autograd.explain(x.sin(), x.cos())  # an interior tensor of another graph
    assert ex.total_paths == 0
    y = x.sin()
    ex = tc.autograd.explain(y, y)
    assert ex.gradient == 1.0 and ex.total_paths == 1 and ex.paths[0].steps == ()
