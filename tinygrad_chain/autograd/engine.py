"""The backward pass: the chain rule, applied node by node over the tape.

1. Walk the graph from the roots with an explicit stack (no recursion, so a
   chain 100,000 ops deep works) and check, before any gradient is written,
   that nothing saved was freed or modified in place.
2. Visit the nodes in reverse creation order, so that each node's gradient is
   complete (every consumer was created later) before its VJP runs.
3. Each VJP's input gradients are summed back to the input's shape here, the
   one place where broadcasting is undone, and accumulated per parent.
"""
import gc
import sys

from tinygrad_chain.ops import fusion

from .grad_mode import state
from .indexed_grad import IndexedGrad, add_grads, dense
from .node import Node


def backward(roots, seeds, retain_graph=False, create_graph=False, inputs=None, allow_unused=False):
    """Propagate `seeds` (one gradient per root) back through the tape.

    With `inputs=None` the gradients are accumulated into the `.grad` of
    leaves (and of tensors that asked to retain theirs). Otherwise nothing is
    written and the gradients of `inputs` are returned, in order.
    """
    nodes = _collect([r.grad_fn for r in roots if r.grad_fn is not None])
    grads = {}        # node -> gradient of the tensor it made
    leaf_grads = {}   # id(leaf) -> [leaf, gradient]
    owned = set()     # ids of arrays given to a .grad in this pass (never shared)
    for r, s in zip(roots, seeds):
        owned.add(id(s._array))
        if r.grad_fn is not None:
            _accumulate(grads, r.grad_fn, s)
        else:
            _accumulate_leaf(leaf_grads, r, s)

    wanted = None
    if inputs is not None:
        wanted = {id(t.grad_fn if t.grad_fn is not None else t): i for i, t in enumerate(inputs)}
        results = [None] * len(inputs)

    previous = state.enabled
    state.enabled = create_graph
    # The walk makes and drops many small objects, all freed by reference counting;
    # the cyclic collector would only re-traverse the live graph (a third of the cost
    # of a backward through small ops). Paused here, it runs again afterwards.
    collecting = gc.isenabled()
    gc.disable()
    try:
        for node in sorted(nodes, key=_seq, reverse=True):
            g = grads.pop(node, None)
            if g is None:
                continue
            g = dense(g)
            if node.hooks:
                for hook in node.hooks:
                    g = _run_hook(hook, g)
            if wanted is None:
                if node.retained:
                    _write_retained(node, g, create_graph, owned)
            elif id(node) in wanted:
                results[wanted[id(node)]] = g if create_graph else _owned(g, owned)
            _propagate(node, g, grads, leaf_grads)
            if not retain_graph:
                node.release()

        # the leaves' gradients often share their inputs: one pass computes the pending ones
        fusion.compute_together([g._data for _, g in leaf_grads.values() if type(g) is not IndexedGrad])
        if wanted is not None:
            for leaf, g in leaf_grads.values():
                g = dense(g)
                for hook in leaf._hooks or ():
                    g = _run_hook(hook, g)
                if id(leaf) in wanted:
                    results[wanted[id(leaf)]] = g if create_graph else _owned(g, owned)
            return _check_used(results, inputs, allow_unused)
        for leaf, g in leaf_grads.values():
            g = dense(g)
            for hook in leaf._hooks or ():
                g = _run_hook(hook, g)
            _write_grad(leaf, g, create_graph, owned)
    finally:
        state.enabled = previous
        if collecting:
            gc.enable()
    return None


def _seq(node):
    return node.seq


def _collect(start):
    """Every node reachable from `start`, checked for freed or modified saved tensors."""
    seen = set()
    nodes = []
    stack = list(start)
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        node.check_saved()
        nodes.append(node)
        for p in node.parents:
            if type(p) is Node and p not in seen:
                stack.append(p)
    return nodes


def _propagate(node, g, grads, leaf_grads):
    """Run node's VJP and hand each input gradient to its parent."""
    in_grads = node.op.vjp(node, g)
    if state.detect_anomaly:
        _check_nan(node, in_grads)
    for parent, meta, gi in zip(node.parents, node.in_meta, in_grads):
        if parent is None or gi is None:
            continue
        shape, dtype = meta
        if gi.shape != shape:
            gi = gi._sum_to_shape(shape)
        if gi.dtype is not dtype:
            gi = dense(gi).to(dtype)
        if type(parent) is Node:
            _accumulate(grads, parent, gi)
        else:
            _accumulate_leaf(leaf_grads, parent, gi)


def _accumulate(grads, node, g):
    prev = grads.get(node)
    grads[node] = g if prev is None else add_grads(prev, g)


def _accumulate_leaf(leaf_grads, leaf, g):
    entry = leaf_grads.get(id(leaf))
    if entry is None:
        leaf_grads[id(leaf)] = [leaf, g]
    else:
        entry[1] = add_grads(entry[1], g)


def _run_hook(hook, g):
    out = hook(g)
    return g if out is None else out


def _owned(g, owned):
    """g, or a copy of it when its array may be shared: a view, an array already given to
    another .grad, or one that anything besides g holds (VJPs may pass an input's or a
    saved array on as a gradient, e.g. the product's when the upstream gradient is one)."""
    data = g._array
    # 3 references when g alone holds it: g's slot, `data`, and getrefcount's argument
    if g._b.is_view(data) or id(data) in owned or sys.getrefcount(data) > 3:
        g = g.detach().clone()
    owned.add(id(g._array))
    return g


def _write_grad(t, g, create_graph, owned):
    """Accumulate g into t.grad, as torch does (in place unless create_graph)."""
    if t.grad is None:
        t.grad = g if create_graph else _owned(g, owned)
    elif create_graph or t.grad.requires_grad:
        t.grad = t.grad + g
    else:
        t.grad._b.copy_into(t.grad._writable(), t.grad._b.binary("add", t.grad._array, g._array))


def _write_retained(node, g, create_graph, owned):
    for ref in node.retained:
        t = ref()
        if t is not None and t.grad_fn is node:
            _write_grad(t, g, create_graph, owned)


def _check_nan(node, in_grads):
    for i, gi in enumerate(in_grads):
        if gi is not None and dense(gi).isnan().any().item():
            raise RuntimeError(f"Function '{node.name()}' returned nan values in its {i}th output.")


def _check_used(results, inputs, allow_unused):
    for i, (r, t) in enumerate(zip(results, inputs)):
        if r is None and not allow_unused:
            raise RuntimeError(f"One of the differentiated Tensors (input {i}, shape {list(t.shape)}) appears "
                               f"to not have been used in the graph. Set allow_unused=True if this is the "
                               f"desired behavior.")
    return tuple(results)
