"""Local derivatives and the gradients that flow along edges, both read from the ops' own VJPs.

A VJP is linear in its cotangent, so called with a unit cotangent on one element of an op's
output it returns that element's row of the op's Jacobian: the local derivative of the element
with respect to every element of every input. No second table of derivative formulas exists.
Nothing is recorded, no saved tensor is freed and no .grad is written: the tape is only read.
"""
import contextlib
import math
from collections import namedtuple

import numpy as np

from . import collector
from .engine import _fit
from .grad_mode import state
from .indexed_grad import add_grads, dense
from .node import Node
from .tensor_core import constant

#: the gradient that flowed from `node` into its input `slot` (the tape's `parent` there):
#: its shape, its norm, and its value when it has one element (else None)
Flow = namedtuple("Flow", "node slot parent shape norm value")


@contextlib.contextmanager
def recording_off():
    """VJPs run as in a first-order backward: nothing they compute is put on the tape. As in
    the engine, the cyclic collector pauses (collector.py)."""
    previous = state.enabled
    state.enabled = False
    collector.pause()
    try:
        yield
    finally:
        state.enabled = previous
        collector.resume()


def host(t):
    """A tensor's values as a flat float64 NumPy array (a copy on GPU devices)."""
    return np.asarray(t._b.to_numpy(t._data), dtype=np.float64).reshape(-1)


_UNITS = {}  # (dtype, backend) -> the one-element unit cotangent; VJPs never write their g


def unit(meta, element):
    """A cotangent shaped like `meta` ((shape, dtype, backend)): one at `element` (flat), zero elsewhere."""
    shape, dtype, b = meta
    size = math.prod(shape)
    if size == 1:
        key = (shape, dtype, b)
        cached = _UNITS.get(key)
        if cached is None:
            cached = _UNITS[key] = constant(b.asarray(np.ones(shape), dtype), b)
        return cached
    onehot = np.zeros(size)
    onehot[element] = 1.0
    return constant(b.asarray(onehot.reshape(shape), dtype), b)


def fitted(node, meta, gi):
    """gi as the engine hands it on: dense, summed back over broadcast axes, in the input's dtype."""
    gi = dense(gi)
    if gi.shape != meta[0] or gi.dtype is not meta[1] or gi._b is not meta[2]:
        gi = _fit(node, meta, gi)
    return gi


def local_rows(node, meta, element):
    """Per input of `node`: d output[element] / d input, flat (None where no gradient flows)."""
    grads = node.op.vjp(node, unit(meta, element))
    return [None if p is None or gi is None else host(fitted(node, m, gi))
            for p, m, gi in zip(node.parents, node.in_meta, grads)]


def flows(sub):
    """Backward over `sub` (a Subgraph) from its output with a cotangent of ones, as backward()
    does for a one-element output. Returns the Flow of every edge, the gradient that reached
    sub.source (None without one) and the number of VJPs run. Hooks are not run."""
    out = sub.output
    grads = {sub.root: unit((out.shape, out.dtype, out._b), 0)}
    edges, at_source, calls = [], None, 0
    for node in sub.nodes:
        g = grads.pop(node, None)
        if g is None:
            continue
        calls += 1
        for slot, (parent, meta, gi) in enumerate(zip(node.parents, node.in_meta, node.op.vjp(node, dense(g)))):
            if gi is None or not sub.wanted(parent):
                continue
            gi = fitted(node, meta, gi)
            values = host(gi)
            value = float(values[0]) if values.size == 1 else None
            norm = abs(value) if value is not None else float(np.linalg.norm(values))
            edges.append(Flow(node, slot, parent, tuple(gi.shape), norm, value))
            if parent is sub.source:
                at_source = gi if at_source is None else add_grads(at_source, gi)
            elif type(parent) is Node:
                prev = grads.get(parent)
                grads[parent] = gi if prev is None else add_grads(prev, gi)
    return edges, at_source, calls
