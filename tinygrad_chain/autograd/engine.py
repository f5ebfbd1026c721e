"""The backward pass: the chain rule, applied node by node over the tape.

1. Walk the graph from the roots with an explicit stack (no recursion, so a
   chain 100,000 ops deep works) and check, before any gradient is written,
   that nothing saved was freed or modified in place.
2. Visit the nodes in reverse creation order, so that each node's gradient is
   complete (every consumer was created later) before its VJP runs.
3. Each VJP's input gradients are checked against the input they belong to
   (its shape, dtype and device, recorded in the node), summed back to the
   input's shape here, the one place where broadcasting is undone, and
   accumulated per parent. A hook's replacement must match what it was given.
4. A leaf with post-accumulate-grad hooks (DistributedDataParallel's) gets its .grad
   written, and its hooks called, as soon as the last node that feeds it has run,
   not at the end: gradients can be sent while the rest of backward runs.
"""
import numbers
import operator
import weakref

from . import collector
from .grad_mode import state
from .indexed_grad import IndexedGrad, add_grads, dense
from .node import Node
from .tensor_core import LENT, TensorCore, constant

# id(leaf) -> [hook(leaf)], called once its .grad holds this backward's gradient. Keyed by id,
# not a WeakKeyDictionary: that compares keys with ==, which is elementwise on tensors.
post_accumulate_hooks = {}


def register_post_accumulate_hook(leaf, hook):
    """Add hook(leaf) to `leaf`'s post-accumulate hooks; the entry goes when the leaf dies."""
    hooks = post_accumulate_hooks.get(id(leaf))
    if hooks is None:
        hooks = post_accumulate_hooks[id(leaf)] = []
        weakref.finalize(leaf, post_accumulate_hooks.pop, id(leaf), None)
    hooks.append(hook)
    return hooks


def seed(t, gradient, what):
    """The gradient backward starts from at root t: ones for a scalar, else `gradient` checked
    against t (a number or a list becomes a tensor like t)."""
    if not t._requires_grad:
        raise RuntimeError(f"{what}: element 0 of tensors does not require grad and does not have a grad_fn")
    if gradient is None:
        if t._data.size != 1:
            raise RuntimeError(f"{what}: grad can be implicitly created only for scalar outputs (the output has "
                               f"shape {list(t.shape)}); pass gradient=")
        return TensorCore.make(t._b.full(t.shape, 1, t.dtype), t._b, False, None, [0])
    if not (isinstance(gradient, (TensorCore, numbers.Number, list, tuple)) or hasattr(gradient, "__array__")):
        raise TypeError(f"{what}: gradients can be either Tensors, numbers or None, but got {type(gradient).__name__}")
    gradient = t._wrap(gradient)
    if gradient.shape != t.shape:
        raise RuntimeError(f"{what}: Mismatch in shape: grad_output[0] has a shape of {list(gradient.shape)} and "
                           f"output[0] has a shape of {list(t.shape)}.")
    if gradient._b is not t._b:
        raise RuntimeError(f"{what}: gradient is on device {gradient._b.name} but the output is on {t._b.name}")
    return gradient.to(t.dtype)


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
        owned.add(id(s._data))
        if r.grad_fn is not None:
            _accumulate(grads, r.grad_fn, s)
        else:
            _accumulate_leaf(leaf_grads, r, s)

    wanted = None
    if inputs is not None:
        wanted = {id(t.grad_fn if t.grad_fn is not None else t): i for i, t in enumerate(inputs)}
        results = [None] * len(inputs)

    # leaves with post-accumulate hooks -> how many nodes still owe them a gradient
    waiting = _waiting_leaves(nodes) if wanted is None and post_accumulate_hooks else None

    previous = state.enabled
    state.enabled = create_graph
    collector.pause()  # see collector.py: the walk frees by reference counting
    try:
        # this loop runs once per node: its steps are written inline (a call costs as much as a step)
        nodes.sort(key=_seq, reverse=True)
        detect_anomaly = state.detect_anomaly
        for node in nodes:
            g = grads.pop(node, None)
            if g is None:
                if waiting:
                    _count_down(node, waiting, leaf_grads, create_graph, owned)
                continue
            if type(g) is IndexedGrad:
                g = g.dense()
            if node.hooks:
                for hook in node.hooks:
                    g = _run_hook(hook, g)
            if wanted is None:
                if node.retained:
                    _write_retained(node, g, create_graph, owned)
            elif id(node) in wanted:
                results[wanted[id(node)]] = g if create_graph else _owned(g, owned)

            # the VJP, and each input gradient handed to its parent
            in_grads = node.op.vjp(node, g)
            if detect_anomaly:
                _check_nan(node, in_grads)
            for parent, meta, gi in zip(node.parents, node.in_meta, in_grads):
                if parent is None or gi is None:
                    continue
                # the array's own shape and dtype: Tensor.shape makes a tc.Size, Tensor.dtype is a call more
                if type(gi) is IndexedGrad:
                    if (gi.shape, gi.dtype, gi._b) != meta:
                        gi = _fit(node, meta, gi)
                elif gi._data.shape != meta[0] or gi._b is not meta[2] or gi._b.dtype_of(gi._data) is not meta[1]:
                    gi = _fit(node, meta, gi)
                if type(parent) is Node:
                    prev = grads.get(parent)
                    grads[parent] = gi if prev is None else add_grads(prev, gi)
                else:
                    _accumulate_leaf(leaf_grads, parent, gi)
            # dropped before the next VJP: a pending (fused) value still referenced here would be
            # computed as an output of its program
            in_grads = gi = prev = None

            if waiting:
                _count_down(node, waiting, leaf_grads, create_graph, owned)
            if not retain_graph:
                node._inputs = node._out = node.saved = None  # Node.release, inline

        if wanted is not None:
            for leaf, g in leaf_grads.values():
                g = dense(g)
                for hook in leaf._hooks or ():
                    g = _run_hook(hook, g)
                if id(leaf) in wanted:
                    results[wanted[id(leaf)]] = g if create_graph else _owned(g, owned)
            return _check_used(results, inputs, allow_unused)
        for leaf, g in leaf_grads.values():
            _finish_leaf(leaf, g, create_graph, owned)
    finally:
        state.enabled = previous
        collector.resume()
    return None


_seq = operator.attrgetter("seq")


def _finish_leaf(leaf, g, create_graph, owned):
    """Run the leaf's hooks on g, accumulate it into .grad, then call its post-accumulate hooks."""
    g = dense(g)
    for hook in leaf._hooks or ():
        g = _run_hook(hook, g)
    _write_grad(leaf, g, create_graph, owned)
    if post_accumulate_hooks:
        for hook in list(post_accumulate_hooks.get(id(leaf), ())):
            hook(leaf)


def _waiting_leaves(nodes):
    """{id(leaf): [leaf, number of edges from `nodes`]} for the leaves with post-accumulate hooks."""
    waiting = {}
    for node in nodes:
        for p in node.parents:
            if p is not None and type(p) is not Node and post_accumulate_hooks.get(id(p)):
                entry = waiting.setdefault(id(p), [p, 0])
                entry[1] += 1
    return waiting


def _count_down(node, waiting, leaf_grads, create_graph, owned):
    """`node` has run (or had no gradient): the leaves it fed that now owe nothing are finished."""
    for p in node.parents:
        entry = waiting.get(id(p)) if p is not None and type(p) is not Node else None
        if entry is None:
            continue
        entry[1] -= 1
        if entry[1] == 0:
            del waiting[id(p)]
            done = leaf_grads.pop(id(p), None)
            if done is not None:
                _finish_leaf(p, done[1], create_graph, owned)


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
        op = node.op
        if op.saves_inputs or op.saves_output:  # nothing saved, nothing to check: a call less per node
            node.check_saved()
        nodes.append(node)
        for p in node.parents:
            if type(p) is Node and p not in seen:
                stack.append(p)
    return nodes


def _fit(node, meta, gi):
    """gi made to fit the input that `meta` (shape, dtype, backend) records, as torch does:
    broadcast axes are summed away, another dtype is cast, a 0-d gradient moves to the input's
    device. Any other misfit is a bug in the VJP (or a Function's backward), named here."""
    shape, dtype, backend = meta
    i = [m is meta for m in node.in_meta].index(True)  # found here: counting in the loop costs every node
    gi = dense(gi)
    if gi.shape != shape:
        if not _expandable(shape, gi.shape):
            raise RuntimeError(f"Function {node.name()} returned an invalid gradient at index {i} - got "
                               f"{list(gi.shape)} but expected shape compatible with {list(shape)}")
        if state.enabled:
            gi = gi._sum_to_shape(shape)
        else:  # first order: the sum needs no node
            gi = constant(gi._b.sum_to_shape(gi._data, shape), gi._b)
    if gi.dtype is not dtype:
        gi = gi.to(dtype)
    if gi._b is not backend:
        if gi.ndim:
            raise RuntimeError(f"Function {node.name()} returned an invalid gradient at index {i} - expected "
                               f"device {backend.name} but got {gi._b.name}")
        gi = gi.to(backend.name)
    return gi


def _expandable(shape, target):
    """Whether `shape` broadcasts to `target`, so that a gradient of `target` sums back to it."""
    if len(shape) > len(target):
        return False
    return all(n == m or n == 1 for n, m in zip(reversed(shape), reversed(target)))


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
    """hook(g), or g when the hook returns None. A replacement must be a tensor of g's shape,
    dtype and device (torch's rule): the engine sums and casts only what VJPs return."""
    out = hook(g)
    if out is None:
        return g
    name = getattr(hook, "__name__", type(hook).__name__)
    if not isinstance(out, TensorCore):
        raise TypeError(f"expected Tensor or None, but hook '{name}' returned '{type(out).__name__}'")
    if out.dtype is not g.dtype or out._b is not g._b:
        raise RuntimeError(f"hook '{name}' has changed the type of value (was {g.dtype.name} on {g._b.name} "
                           f"got {out.dtype.name} on {out._b.name})")
    if out.shape != g.shape:
        raise RuntimeError(f"hook '{name}' has changed the size of value (was {list(g.shape)} got "
                           f"{list(out.shape)})")
    # the hook's caller may hold the tensor it returned: lent, unless this pass is recorded
    return out if state.enabled else TensorCore.make(out._data, out._b, False, None, LENT)


def _owned(g, owned):
    """g, or a copy of it when its array may be shared: a view, an array already given to
    another .grad or handed in (a seed), or one lent by a VJP, a hook or a Function's backward
    (the product's VJP hands on the other factor's array when the upstream gradient is one)."""
    data = g._data
    if g._version is LENT or id(data) in owned or g._b.is_view(data):
        g = constant(g._b.copy(data), g._b)  # never recorded: create_graph keeps g as it is
    owned.add(id(g._data))
    return g


def _write_grad(t, g, create_graph, owned):
    """Accumulate g into t.grad, as torch does (in place unless create_graph)."""
    with collector.grad_lock:
        _add_to_grad(t, g, create_graph, owned)


def _add_to_grad(t, g, create_graph, owned):
    if t.grad is None:
        t.grad = g if create_graph else _owned(g, owned)
    elif create_graph or t.grad.requires_grad:
        t.grad = t.grad + g
    else:
        t.grad._b.copy_into(t.grad._writable(), t.grad._b.binary("add", t.grad._data, g._data))


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
