"""tc.autograd.explain: why a gradient has its value, as the chain rule tells it.

Rates multiply along a path and add over paths. Each edge of the recorded graph carries a
local derivative, read from the op's own VJP at a unit cotangent (local_grad.py); a path's
product is the product of its edges' local derivatives, and the sum over every path from the
input to the output is the gradient. Paths can be exponentially many, so they are counted
and summed by dynamic programming over the element graph (linear in its edges) and only the
`max_paths` largest by magnitude are listed. For tensor graphs, the gradient that flowed along
each tensor edge (its shape and norm) is reported too, largest first and aggregated per op.
"""
import heapq
import math
from dataclasses import dataclass, field

import numpy as np

from .explain_table import format_explanation
from .local_grad import flows, host, local_rows, recording_off
from .node import Node
from .subgraph import Subgraph, tape_key
from .tensor_core import TensorCore

_SOURCE = object()  # the chosen input element, as a key of the element graph


@dataclass(frozen=True)
class Step:
    """One edge of a path: into input `input` of an op, out at element `index` of its output."""
    op: str          # the op's registered name ("mul")
    input: int       # which input of the op the path enters by
    index: tuple     # the element of the op's output the path goes on from (() for one element)
    name: str        # the op's output tensor's name, when `names` gave one, else None
    local: float     # d output[index] / d input[previous element], from the op's VJP

    def label(self, slot=False):
        text = self.op + (f"({self.name})" if self.name else "") + (f"@{self.input}" if slot else "")
        return text + (f"[{', '.join(map(str, self.index))}]" if self.index else "")


@dataclass(frozen=True)
class Path:
    """A route from the input element to the output; its product is one term of the gradient."""
    start: str
    steps: tuple
    product: float
    end: str

    @property
    def factors(self):
        return tuple(s.local for s in self.steps)

    def route(self, slots=False):
        """"x -> mul -> pow -> sub -> g"; with slots, "mul@1" where a path enters mul by its input 1
        (two paths through x * x differ only there)."""
        labels = [self.start] + [s.label(slots) for s in self.steps[:-1]]
        if self.steps:
            last = self.steps[-1]
            labels.append(Step(last.op, last.input, last.index, None, last.local).label(slots))
        return " -> ".join(labels + [self.end])

    def __str__(self):
        return self.route()


@dataclass(frozen=True)
class EdgeFlow:
    """The gradient (VJP) that flowed from op `op` into its input `input`, the tensor `into`."""
    into: str
    op: str
    input: int
    shape: tuple
    norm: float


@dataclass(frozen=True)
class OpFlow:
    """The flows out of every node of one op kind: how many, their combined and largest norms."""
    op: str
    nodes: int
    edges: int
    total_norm: float  # the norm of all of them together (root of the sum of squares)
    max_norm: float


@dataclass
class Explanation:
    output: str
    input: str                 # the input element, e.g. "x[0, 1]", or the tensor's name
    index: tuple               # the element explained, None for a whole tensor
    gradient: object           # autograd's value: a float for one element, else a NumPy array
    paths: list                # Path, largest |product| first, at most max_paths of them
    total_paths: int = None    # every path, counted (None when paths were not listed)
    path_sum: float = None     # the sum of all total_paths products, listed or not
    limited: bool = False      # True when some paths, or all, were left out; `message` says why
    message: str = None
    edges: list = field(default_factory=list)    # EdgeFlow, largest norm first
    per_op: list = field(default_factory=list)   # OpFlow, largest total norm first
    visited: dict = field(default_factory=dict)  # work done: nodes, vjp calls, element edges
    notes: list = field(default_factory=list)
    top_k: int = 10

    @property
    def listed_sum(self):
        return math.fsum(p.product for p in self.paths)

    def top_edges(self, k=None):
        return self.edges[:self.top_k if k is None else k]

    def table(self, rows=20):
        """The explanation as text: the paths, the sum, and the per-edge flows of tensor graphs."""
        return format_explanation(self, rows)

    def __str__(self):
        return self.table()

    def __repr__(self):
        n = "?" if self.total_paths is None else self.total_paths
        return f"<Explanation d{self.output}/d{self.input}: {n} paths, gradient {_short(self.gradient)}>"


def _short(v):
    return f"{v:.6g}" if isinstance(v, float) else f"array of shape {list(np.shape(v))}"


def explain(output, input, index=None, *, names=None, max_paths=1000, top_k=10,  # noqa: A002
            max_work=10_000_000):
    """Explain d output / d input (or d output / d input[index]) as a sum over paths.

    output: a one-element tensor on the tape. input: a leaf or an interior tensor of its graph.
    index: the element of a many-element input to explain; without it only the per-edge
        flows are reported (paths are per element).
    names: {name: tensor} used in the printed paths (e.g. dict(model.named_parameters())).
    max_paths: how many paths to list (the largest); all are still counted and summed.
    max_work: a bound on the work of listing paths, which runs one VJP per element of every
        tensor between input and output: counted in tensor elements (each VJP's cotangent and
        the input gradients it returns). Past it the paths are left out, with a message (the
        per-edge flows remain).

    Returns an Explanation; print it for the table. The tape is only read: no saved tensor is
    freed (a graph freed by an earlier backward raises its usual error), no .grad is written
    and no hook runs (so a gradient hooks change is explained without their change).
    """
    _check(output, input, TensorCore)
    with recording_off():
        return _explain(output, input, index, dict(names or {}), max_paths, top_k, max_work)


def _explain(output, input, index, names, max_paths, top_k, max_work):  # noqa: A002
    label = _Labels(names)
    out_name = label.of(tape_key(output)) or "output"
    in_name = label.of(tape_key(input)) or "input"
    index = _normalise_index(index, input)
    start = in_name + (f"[{', '.join(map(str, index))}]" if index else "")
    sub = Subgraph(output, tape_key(input))
    sub.check_saved()
    label.number(sub.nodes)
    edges, at_source, flow_calls = flows(sub)
    gradient = _gradient(at_source, input, index)
    result = Explanation(out_name, start, index, gradient, [], top_k=top_k)
    result.edges, result.per_op = _summarise(edges, sub, label, in_name)
    result.visited = {"nodes": len(sub.nodes), "flow_vjp_calls": flow_calls}
    result.notes = _notes(sub, input)
    if sub.source is sub.root:  # d output / d output: one path of no steps
        result.gradient, result.total_paths, result.path_sum = 1.0, 1, 1.0
        result.paths = [Path(start, (), 1.0, out_name)]
        return result
    if not sub.nodes:
        result.total_paths, result.path_sum = 0, 0.0
        result.message = f"{in_name} does not reach {out_name}: there is no path, and the gradient is 0"
        return result
    if index is None:
        result.limited = True
        result.message = (f"{in_name} has {input.numel()} elements: paths are listed per element, so pass "
                          f"index=(...) for one of them; below, what flowed along each edge")
        return result
    flat = int(np.ravel_multi_index(index, input.shape)) if index else 0
    graph = _element_graph(sub, flat, max_work, result.visited)
    if graph is None:
        widest = max(sub.nodes, key=lambda n: math.prod(sub.meta[n][0]))
        result.limited = True
        result.message = (f"listing the paths from {start} needs more than max_work={max_work} (one VJP per "
                          f"element of every tensor between {in_name} and {out_name}, counted in the elements "
                          f"it reads and returns; {label.node(widest)} alone has "
                          f"{math.prod(sub.meta[widest][0])} elements): raise max_work, or read the per-edge "
                          f"flows below")
        return result
    _paths(result, graph, sub, label, start, out_name, max_paths)
    return result


def _check(output, input, Tensor):  # noqa: A002
    if not isinstance(output, Tensor) or not isinstance(input, Tensor):
        raise TypeError(f"explain(output, input): expected two Tensors, got {type(output).__name__} and "
                        f"{type(input).__name__}")
    if output.grad_fn is None:
        raise RuntimeError("explain: output is not on the tape (it was not computed from tensors that require "
                           "grad, or under no_grad), so there is no gradient to explain")
    if output.numel() != 1:
        raise RuntimeError(f"explain: output has shape {list(output.shape)}; a gradient is explained for a "
                           f"one-element output: pick one (output[i]) or reduce it (output.sum())")
    if not input.requires_grad:
        raise RuntimeError("explain: input does not require grad, so no gradient flows to it")


def _normalise_index(index, input):  # noqa: A002
    """The element as a tuple of non-negative ints; () for one-element inputs; None for a tensor."""
    shape = tuple(input.shape)
    if index is None:
        return () if input.numel() == 1 else None
    index = (index,) if isinstance(index, (int, np.integer)) else tuple(int(i) for i in index)
    if len(index) != len(shape) and not (input.numel() == 1 and index == ()):
        raise IndexError(f"explain: index {index} has {len(index)} entries for an input of shape {list(shape)}")
    out = []
    for i, n in zip(index, shape):
        if not -n <= i < n:
            raise IndexError(f"explain: index {index} is out of bounds for an input of shape {list(shape)}")
        out.append(i % n)
    return tuple(out)


class _Labels:
    """Names for tensors (from `names`) and for the op nodes (op#k, in creation order)."""

    def __init__(self, names):
        self._keys = [tape_key(t) for t in names.values()]  # held, so the ids below stay theirs
        self._by_id = {id(k): n for k, n in zip(self._keys, names)}
        self.rank = {}  # node -> its place in creation order among the nodes explained

    def number(self, nodes):
        self.rank = {n: i for i, n in enumerate(sorted(nodes, key=lambda n: n.seq), 1)}

    def of(self, key):
        return self._by_id.get(id(key)) if self._by_id else None

    def node(self, node):
        name = self.of(node)
        return f"{node.op.name}#{self.rank.get(node, node.seq)}" + (f" ({name})" if name else "")


def _gradient(at_source, input, index):  # noqa: A002
    values = np.zeros(input.shape) if at_source is None else host(at_source).reshape(input.shape)
    return values if index is None else float(values[index] if index else values.reshape(-1)[0]) + 0.0  # no -0


def _element_graph(sub, flat, max_work, visited):
    """{(node, element): [(parent key, input slot, local derivative)]}, from the output element back.

    Only elements whose row has a non-zero entry are followed; an edge from a one-element
    tensor is kept even at zero (it is there, its rate is 0), an edge from a many-element one
    only where non-zero (a VJP cannot tell 'no dependence' from 'zero derivative' there).
    The work is counted in tensor elements: each VJP costs its cotangent's size plus the sizes
    of the input gradients it returns (a wide op or a large tensor costs much per element).
    Past max_work it stops and returns None."""
    pending = {sub.root: {0}}
    incoming = {}
    calls = work = 0
    for node in sub.nodes:
        elements = pending.pop(node, None)
        if not elements:
            continue
        meta = sub.meta[node]
        size = math.prod(meta[0])
        for e in sorted(elements):
            rows = local_rows(node, meta, e)
            calls += 1
            work += size + sum(r.size for r in rows if r is not None)
            if work > max_work:
                return None
            entries = []
            for slot, (parent, row) in enumerate(zip(node.parents, rows)):
                if row is None or not sub.wanted(parent):
                    continue
                if parent is sub.source:
                    if row.size == 1 or row[flat] != 0:
                        entries.append((_SOURCE, slot, float(row[flat])))
                    continue
                want = pending.setdefault(parent, set())
                for k in (range(1) if row.size == 1 else np.flatnonzero(row).tolist()):
                    entries.append(((parent, k), slot, float(row[k])))
                    want.add(k)
            incoming[(node, e)] = entries
    visited["element_vjp_calls"] = calls
    visited["element_vjp_work"] = work
    visited["element_edges"] = sum(map(len, incoming.values()))
    return incoming


def _paths(result, incoming, sub, label, start, end, max_paths):
    """Count, sum and list (the max_paths largest) the paths from the source to the output."""
    count = {_SOURCE: 1}
    total = {_SOURCE: 1.0}
    best = {_SOURCE: [(0.0, 1.0, None)]}  # (log |product|, product, (previous link, edge))
    for key in sorted(incoming, key=lambda k: (k[0].seq, k[1])):  # parents before children
        n, s, candidates = 0, 0.0, []
        for parent, slot, local in incoming[key]:
            c = count.get(parent)
            if not c:
                continue  # this parent element does not depend on the source
            n += c
            s += total[parent] * local
            log = math.log(abs(local)) if local else -math.inf
            edge = (key, slot, local)
            for score, product, link in best[parent]:
                candidates.append((score + log, product * local, (link, edge)))
        if n:
            count[key], total[key] = n, s
            best[key] = candidates if len(candidates) <= max_paths else heapq.nlargest(
                max_paths, candidates, key=_score)
    sink = (sub.root, 0)
    result.total_paths = count.get(sink, 0)
    result.path_sum = total.get(sink, 0.0)
    listed = sorted(best.get(sink, []), key=_score, reverse=True)  # stable: ties keep graph order
    result.paths = [_path(link, product, label, sub, start, end) for _, product, link in listed]
    if result.total_paths > len(result.paths):
        result.limited = True
        rest = result.path_sum - result.listed_sum
        result.message = (f"{result.total_paths} paths lead from {start} to {end}; the limit max_paths="
                          f"{max_paths} was reached, so only the {len(result.paths)} largest are listed. "
                          f"The other {result.total_paths - len(result.paths)} add {rest:.6g} to the sum")
    elif not result.total_paths:
        result.message = (f"no path from {start} to {end} has a non-zero local derivative (an element of a "
                          f"many-element tensor is followed only where its local derivative is non-zero): "
                          f"the gradient is 0")


def _score(entry):
    return entry[0]


def _path(link, product, label, sub, start, end):
    steps = []
    while link is not None:  # iterative: a path 100,000 steps long is fine
        link, ((node, e), slot, local) = link
        shape = sub.meta[node][0]
        index = tuple(int(i) for i in np.unravel_index(e, shape)) if math.prod(shape) > 1 else ()
        steps.append(Step(node.op.name, slot, index, label.of(node), local))
    return Path(start, tuple(reversed(steps)), product, end)


def _summarise(edges, sub, label, in_name):
    """EdgeFlow per edge, largest first; OpFlow per op kind (the op the gradient left)."""
    def into(parent):
        if parent is sub.source and type(parent) is not Node:
            return in_name
        return label.node(parent) if type(parent) is Node else (label.of(parent) or "leaf")

    out = [EdgeFlow(into(f.parent), label.node(f.node), f.slot, f.shape, f.norm) for f in edges]
    out.sort(key=lambda f: -f.norm)
    by_op = {}
    for f in edges:
        nodes, sq, top, n = by_op.get(f.node.op.name, (set(), 0.0, 0.0, 0))
        nodes.add(f.node)
        by_op[f.node.op.name] = (nodes, sq + f.norm ** 2, max(top, f.norm), n + 1)
    per_op = [OpFlow(op, len(nodes), n, math.sqrt(sq), top) for op, (nodes, sq, top, n) in by_op.items()]
    per_op.sort(key=lambda o: -o.total_norm)
    return out, per_op


def _notes(sub, input):  # noqa: A002
    hooked = [n for n in sub.nodes if n.hooks] + ([input] if getattr(input, "_hooks", None) else [])
    if hooked:
        return [f"{len(hooked)} tensor hook(s) between input and output were not run: autograd's backward "
                f"applies them, so its gradient can differ from this one"]
    return []
