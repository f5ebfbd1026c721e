"""The recorded graph as vertices and labelled edges: what to_dot writes and the fallback draws.

Tensors and ops are separate vertices. An interior tensor is not held by the tape, only the
node that made it; its value is found where the tape still keeps it (a tensor named in
`names` or kept by retain_grad, the node's saved output, a consumer's saved input), so after
a backward that freed the graph fewer values are shown. Ids follow creation order, so the
same computation gives the same picture.
"""
import math
from dataclasses import dataclass, field

import numpy as np

from ..local_grad import flows, host, local_rows, recording_off
from ..node import Node
from ..subgraph import Subgraph, ancestors, tape_key
from ..tensor_core import TensorCore


@dataclass
class Vertex:
    id: str
    kind: str            # "leaf", "tensor" (interior), "output" or "op"
    lines: list = field(default_factory=list)


@dataclass
class Edge:
    src: str
    dst: str
    label: str = ""


@dataclass
class Graph:
    vertices: list
    edges: list


def build(outputs, names=None, show_values=True, show_grads=True, max_elements=6):
    """The graph behind `outputs` (a tensor or a list of them)."""
    outputs = [outputs] if isinstance(outputs, TensorCore) else list(outputs)
    named = {id(tape_key(t)): n for n, t in (names or {}).items()}
    nodes = ancestors([o.grad_fn for o in outputs if o.grad_fn is not None])
    seen = _Tensors(outputs, names, nodes)
    alive = _alive(nodes)
    flow = _flows(outputs, alive) if show_grads else {}
    fmt = _Formatter(show_values, show_grads, max_elements)

    vertices, edges, ids = [], [], {}

    def tensor_vertex(key, meta, kind):
        vid = ids[id(key)] = f"t{len(ids)}"
        t = seen.tensor(key)
        vertices.append(Vertex(vid, kind, fmt.tensor(named.get(id(key)), meta, t)))
        return vid

    roots = {id(tape_key(o)) for o in outputs}
    for o in outputs:  # an output that is a leaf has no node: it is its whole graph
        if o.grad_fn is None and id(o) not in ids:
            tensor_vertex(o, _meta(o), "output")
    for i, node in enumerate(nodes):
        op_id = f"op{i}"
        vertices.append(Vertex(op_id, "op", [_op_label(node)]))
        for slot, (parent, meta) in enumerate(zip(node.parents, node.in_meta)):
            if parent is None:
                continue
            if id(parent) not in ids:  # a leaf, met here first (nodes are met after their parents)
                tensor_vertex(parent, meta, "leaf")
            label = [fmt.local(node, slot, seen.meta(node)) if alive else ""]
            if (node, slot) in flow:
                label.append(fmt.flow(flow[(node, slot)]))
            edges.append(Edge(ids[id(parent)], op_id, "\n".join(x for x in label if x)))
        out_id = tensor_vertex(node, seen.meta(node), "output" if id(node) in roots else "tensor")
        edges.append(Edge(op_id, out_id))
    return Graph(vertices, edges)


def _meta(t):
    return (tuple(t.shape), t.dtype, t._b)


def _alive(nodes):
    """Whether every node still has what its VJP reads (no backward freed the graph)."""
    try:
        for node in nodes:
            node.check_saved()
    except RuntimeError:
        return False
    return all(getattr(node.op, "fn_cls", None) is None or node.saved is not None for node in nodes)


def _flows(outputs, alive):
    """(node, slot) -> the gradient that flowed there, for a single one-element output."""
    if not alive or len(outputs) != 1 or outputs[0].grad_fn is None or outputs[0].numel() != 1:
        return {}
    with recording_off():
        found, _, _ = flows(Subgraph(outputs[0]))
    return {(f.node, f.slot): f for f in found}


def _op_label(node):
    """The op's registered name, with its Python-number arguments when the node saved them."""
    saved = node._inputs
    if saved is None or all(m is not None for m in node.in_meta):
        return node.op.name
    args = ["·" if m is not None else f"{a:.4g}" if isinstance(a, float) else str(a)
            for a, m in zip(saved, node.in_meta)]
    return f"{node.op.name}({', '.join(args)})"


class _Tensors:
    """The tensor objects still reachable for each tape key (to read values and .grad)."""

    def __init__(self, outputs, names, nodes):
        self._by_key = {}
        self._meta = {}
        for t in list(outputs) + list((names or {}).values()):
            self._by_key[id(tape_key(t))] = t
        for node in nodes:
            for ref in node.retained or ():
                t = ref()
                if t is not None and t.grad_fn is node:
                    self._by_key.setdefault(id(node), t)
            for slot, (p, m) in enumerate(zip(node.parents, node.in_meta)):
                if type(p) is Node:
                    self._meta[p] = m
                    if node._inputs is not None:
                        self._by_key.setdefault(id(p), node._inputs[slot])
            if node._out is not None:
                self._by_key.setdefault(id(node), node.output)
        for t in outputs:
            if t.grad_fn is not None:
                self._meta[t.grad_fn] = _meta(t)
        self._keys = list(self._by_key.values())  # held: the ids above stay theirs

    def tensor(self, key):
        return self._by_key.get(id(key), key if type(key) is not Node else None)

    def meta(self, node):
        return self._meta[node]


class _Formatter:
    def __init__(self, show_values, show_grads, max_elements):
        self.values, self.grads, self.max = show_values, show_grads, max_elements

    def tensor(self, name, meta, t):
        shape, dtype, b = meta
        lines = [name] if name else []
        lines.append(f"{list(shape)} {dtype.name} {b.name}")
        if self.values and t is not None and math.prod(shape) <= self.max:
            lines.append("value " + _numbers(host(t)))
        grad = getattr(t, "grad", None) if self.grads and t is not None else None
        if grad is not None:
            g = host(grad)
            lines.append("grad " + (_numbers(g) if g.size <= self.max else f"norm {np.linalg.norm(g):.4g}"))
        return lines

    def local(self, node, slot, meta):
        """×d on an edge between one-element tensors: the node's VJP at a unit cotangent."""
        if math.prod(meta[0]) != 1 or math.prod(node.in_meta[slot][0]) != 1:
            return ""
        with recording_off():
            row = local_rows(node, meta, 0)[slot]
        return "" if row is None else f"×{row[0]:.4g}"

    def flow(self, f):
        return f"grad {f.value:.4g}" if f.value is not None else f"grad norm {f.norm:.4g}"


def _numbers(values):
    text = ", ".join(f"{v:.4g}" for v in values)
    return text if values.size == 1 else f"[{text}]"
