"""Elementwise fusion: a chain of elementwise ops computed in one pass over memory.

On a backend that fuses (the cpp device), `apply` does not compute an elementwise op
on large same-shape float arrays at once (a broadcast operand that reads in flat order,
a bias row or a per-row value, may join them): it records it as a `Pending` expression.
When something reads the result (any other op, `.data`, printing, backward), the
expression runs as one program, block by block in cache, so the intermediates never
travel to memory and back. `(tanh(x*w + b) * sigmoid(x)).sum()` reads x, w and b once
and writes only what the backward pass saved (tanh's and sigmoid's outputs).

What gets written: the requested result, and every other pending node that something
besides the expression itself still holds (a tensor, a saved output). Python's
reference counts say which; an intermediate nobody holds is never stored. A sum of a
pending expression is taken inside the same pass (accumulated in float64, rounded once
to the tensor's dtype), and the summed expression stays pending.

Why deferring is safe: a pending expression reads its input arrays later than eager
code would, so those arrays must not change in between. Every write into a tensor's
memory first computes the pending expressions that read it (`before_write`; `.data` is
a tensor sharing the memory, so its in-place ops do too), and memory that code outside
the library can reach as arrays (`.numpy()`, `__array__`, `from_numpy`) is never read
lazily (`expose`).

TINYGRAD_CHAIN_FUSION=0 turns fusion off; TINYGRAD_CHAIN_FUSE_MIN sets the smallest
array fused (elements; below it an op costs less eagerly than recorded).
"""
import math
import os
import sys
import threading
import weakref

import numpy

MAX_NODES = 32  # a longer expression is computed in pieces: bounded scratch, bounded memory held
_MAX_ROOTS = 16
_NUMBERS = (int, float)


class _Config:
    enabled = os.environ.get("TINYGRAD_CHAIN_FUSION", "1") != "0"
    min_elements = int(os.environ.get("TINYGRAD_CHAIN_FUSE_MIN", 1 << 16))


config = _Config()
# Every Pending not computed yet, held weakly: a reference drops out of the set when its Pending
# dies. Python threads share it; its add, discard and copy are single C calls, each atomic (a
# WeakSet iterates in Python code, and another thread adding meanwhile broke the iteration).
_pending = set()
_exposed = weakref.WeakValueDictionary()     # id(root array) -> root array: memory user code holds
# One program at a time: Python threads that share pending tensors must not compile an
# expression another thread is computing (the kernel itself still runs on every core).
_running = threading.RLock()


def _after_fork_in_child():
    global _running
    _running = threading.RLock()  # a thread holding it at fork time does not exist in the child


os.register_at_fork(after_in_child=_after_fork_in_child)


class Pending:
    """An elementwise result not computed yet: `op` applied to `args` (Pending nodes,
    backend arrays or Python numbers). It answers shape, dtype, ndim and size like an
    array; `get()` computes it."""
    __slots__ = ("op", "args", "shape", "dtype", "ndim", "size", "backend", "nodes", "value", "__weakref__")

    def __init__(self, op, args, ref, backend, nodes):
        self.op = op
        self.args = args
        self.shape, self.dtype, self.ndim, self.size = ref.shape, ref.dtype, ref.ndim, ref.size
        self.backend = backend
        self.nodes = nodes  # expression size, shared subexpressions counted once per use
        self.value = None   # the array, once computed

    def get(self):
        if self.value is None:
            _run([self])
        return self.value

    def __repr__(self):
        state = "computed" if self.value is not None else f"{self.nodes} ops pending"
        return f"<Pending {self.op} {list(self.shape)} {self.dtype}: {state}>"


def prepare(op, b, arrays, attrs):
    """(out, arrays) for `apply` when an operand is pending, or a fusable op has a large
    one: out is the op's result when it was recorded (a Pending) or summed inside a pass,
    else None, and the op runs now on `arrays`, with every pending operand computed."""
    out = forward(op, b, arrays, attrs)
    return (out, arrays) if out is not None else (None, _computed(arrays))


def _computed(arrays):
    return [a.get() if type(a) is Pending else a for a in arrays]


def forward(op, b, arrays, attrs):
    """The output of `op` on `arrays` as a Pending (or, for a sum of one, the sum), or
    None when the op should run now."""
    name = op.fuse
    if name is None or not config.enabled:
        return None
    if name == "sum":
        x = arrays[0]
        if type(x) is Pending and x.value is None and attrs.get("axis") is None:
            return _sum(x, attrs.get("keepdims", False))
        return None
    if name not in b.fused_ops or attrs:
        return None
    return _record(name, b, arrays)


def is_pending(a):
    return type(a) is Pending and a.value is None


def compute_together(values):
    """Compute every pending value in `values` in as few passes as possible (the
    gradients a backward pass hands to several leaves share their inputs)."""
    todo = [v for v in values if type(v) is Pending and v.value is None]
    groups = {}  # one program runs over arrays of one shape and dtype
    for p in todo:
        groups.setdefault((id(p.backend), p.shape, p.dtype), []).append(p)
    for group in groups.values():
        for i in range(0, len(group), _MAX_ROOTS):
            _run(group[i:i + _MAX_ROOTS])


def compute_all():
    """Compute every pending expression now (before timing a device or reading its memory
    figures, so the work and the memory are where eager code would have them)."""
    compute_together(_pending_now())


def before_write(a):
    """Array `a` is about to be written in place: compute first every pending expression
    that reads its memory."""
    if not _pending:
        return
    root = _root(a)
    for p in _pending_now():
        if p.value is None and any(_root(x) is root for x in _arrays_read(p)):
            p.get()


def _pending_now():
    """The live Pending nodes, from one atomic copy of the set (other threads add meanwhile)."""
    return [p for ref in list(_pending) if (p := ref()) is not None]


def expose(a):
    """Code outside the library may now hold and write `a`: never read it lazily again."""
    root = _root(a)
    try:
        _exposed[id(root)] = root
    except TypeError:  # memory owned by something that takes no weak reference: see _is_exposed
        pass


# ---- recording ---------------------------------------------------------------------
def _record(name, b, arrays):
    ref = None  # the operand of the result's shape: the largest, then the one with most axes
    for a in arrays:
        if type(a) not in _NUMBERS and (ref is None or (a.size, a.ndim) > (ref.size, ref.ndim)):
            ref = a
    if ref is None or ref.size < config.min_elements or not ref.ndim:
        return None
    args = []
    nodes = 1
    for a in arrays:
        if type(a) not in _NUMBERS and a.dtype != ref.dtype:
            return None
        if type(a) is Pending:
            if a.value is None and a.shape == ref.shape:
                nodes += a.nodes
                args.append(a)
                continue
            a = a.get()  # a smaller operand (a per-row mean) is computed now and read broadcast
        if (type(a) not in _NUMBERS and a.shape != ref.shape
                and not (b.fuses_repeats and _stretch(a.shape, ref.shape) is not None)):
            return None
        if type(a) in _NUMBERS:
            args.append(float(a))
        elif b.fusable(a) and not _is_exposed(a):
            args.append(a)
        else:
            return None
    if nodes > MAX_NODES:  # compute the operands now; this op starts a new expression
        args = [x.get() if type(x) is Pending else x for x in args]
        nodes = 1
    p = Pending(name, tuple(args), ref, b, nodes)
    _pending.add(weakref.ref(p, _pending.discard))
    return p


def _stretch(shape, full):
    """How an array of `shape` broadcast to `full` reads in flat order: r such that flat
    element e of the result is its element (e // r) % size, or None when no r does. A bias
    row repeats (r = 1); a per-row value, shape (..., 1), stands r = full[-1] times in a row.
    It works when the axes the array has (size > 1) are consecutive in `full`: broadcast
    axes before them repeat it, after them stretch it; one in between does neither."""
    if len(shape) > len(full):
        return None
    shape = (1,) * (len(full) - len(shape)) + tuple(shape)
    kept = [d for d, (s, f) in enumerate(zip(shape, full)) if f > 1 and s == f]
    spread = [d for d, (s, f) in enumerate(zip(shape, full)) if s != f]
    if any(shape[d] != 1 for d in spread) or (kept and any(kept[0] < d < kept[-1] for d in spread)):
        return None
    r = 1
    for d in spread:
        if kept and d > kept[-1]:
            r *= full[d]
    return r


def _root(a):
    """The object that owns a's memory (a itself, or the base of a view)."""
    while True:
        base = getattr(a, "base", None)
        if base is None:
            return a
        a = base


def _is_exposed(a):
    root = _root(a)
    if type(root) is not type(a):  # memory from outside (a buffer, an mmap)
        return True
    return _exposed.get(id(root)) is root


def _arrays_read(p):
    for x in p.args:
        if type(x) is Pending:
            if x.value is not None:
                yield x.value
        elif type(x) not in _NUMBERS:
            yield x


# ---- running -----------------------------------------------------------------------
def _sum(p, keepdims):
    b = p.backend
    sums = _run([], reduce=p)  # float64, on the device: no round trip to the host
    return b.astype(b.reshape(sums, (1,) * p.ndim if keepdims else ()), b.dtype_of(p))


def _run(roots, reduce=None):
    """Compute `roots` (and the pending nodes under them held elsewhere) in one program;
    with `reduce`, also the sum of that Pending, which is returned (a one-element float64
    array) and not stored."""
    with _running:
        roots = [r for r in roots if r.value is None]  # another thread may have computed some
        if reduce is not None and reduce.value is not None:
            b = reduce.backend
            return b.run_fused(numpy.array([[b.fused_ops["sum"], 0, 0, -1]], numpy.int32), [reduce.value],
                               numpy.zeros(0), [], 0, 1)
        if roots or reduce is not None:
            return _run_program(roots, reduce)
    return None


def _run_program(roots, reduce):
    tops = roots + [reduce] if reduce is not None else roots
    b = tops[0].backend
    order, uses = _topological(tops)
    refs = _ref_counts(order)
    root_ids = {id(r) for r in roots}
    outputs = [n for n, r in zip(order, refs)
               if n is not reduce and (id(n) in root_ids or r - _BASE_REFS > uses.get(id(n), 0))]
    code, inputs, consts, n_scratch = _compile(b, order, uses, outputs, reduce)
    out_arrays = [b.empty(n.shape, b.dtype_of(n)) for n in outputs]
    full = tops[0].shape  # every node of one program has the result's shape
    stretch = [1 if a.shape == full else _stretch(a.shape, full) for a in inputs]
    sums = b.run_fused(code, inputs, consts, out_arrays, n_scratch, 1 if reduce is not None else 0,
                       stretch=stretch if any(r != 1 for r in stretch) else None)
    for n, arr in zip(outputs, out_arrays):
        n.value = arr
        n.args = ()
        _pending.discard(weakref.ref(n))  # equal to (and hashed like) the registered reference
    return sums if reduce is not None else None


def _topological(tops):
    """The pending nodes under `tops`, each after its operands, and how many times each
    is an operand inside this expression."""
    order, uses, done, entered = [], {}, set(), set()
    stack = list(tops)
    while stack:
        n = stack[-1]
        if id(n) in done:
            stack.pop()
        elif id(n) in entered:
            stack.pop()
            done.add(id(n))
            order.append(n)
        else:
            entered.add(id(n))
            for a in n.args:
                if type(a) is Pending and a.value is None:
                    uses[id(a)] = uses.get(id(a), 0) + 1
                    if id(a) not in done:
                        stack.append(a)
    return order, uses


def _ref_counts(nodes):
    """Each node's reference count. Beyond _BASE_REFS (the list's own reference and the
    counting's, measured once on this Python) and its uses inside the expression, a node
    is held outside it (by a tensor, a saved output, another pending expression): then
    it is stored, not recomputed later."""
    return [sys.getrefcount(n) for n in nodes]


_BASE_REFS = _ref_counts([object()])[0]


def _compile(b, order, uses, outputs, reduce):
    """Registers and instructions (backends/base.py: run_fused) for `order`."""
    inputs, in_index, consts, const_index = [], {}, [], {}
    for n in order:
        for a in n.args:
            if type(a) is Pending:
                if a.value is None:
                    continue
                a = a.value
            if type(a) is float:
                key = (a, math.copysign(1.0, a))  # 0.0 and -0.0 are different constants
                if key not in const_index:
                    const_index[key] = len(consts)
                    consts.append(a)
            elif id(a) not in in_index:
                in_index[id(a)] = len(inputs)
                inputs.append(a)
    n_in, n_const = len(inputs), len(consts)
    out_index = {id(n): n_in + n_const + j for j, n in enumerate(outputs)}
    first_scratch = n_in + n_const + len(outputs)

    reg, left, free, n_scratch, code = {}, dict(uses), [], 0, []
    opcodes = b.fused_ops
    for n in order:
        operands = []
        for a in n.args:
            if type(a) is Pending and a.value is None:
                operands.append(reg[id(a)])
            elif type(a) is float:
                operands.append(n_in + const_index[(a, math.copysign(1.0, a))])
            else:
                operands.append(in_index[id(a.value if type(a) is Pending else a)])
        dst = out_index.get(id(n))
        if dst is None:
            if free:
                dst = free.pop()
            else:
                dst = first_scratch + n_scratch
                n_scratch += 1
        reg[id(n)] = dst
        code.append((opcodes[n.op], dst, operands[0], operands[1] if len(operands) > 1 else -1))
        for a in n.args:  # operands' registers free up after their last use (never dst itself)
            if type(a) is Pending and a.value is None:
                left[id(a)] -= 1
                if left[id(a)] == 0 and id(a) not in out_index:
                    free.append(reg[id(a)])
        if n is reduce:
            code.append((opcodes["sum"], 0, dst, -1))
    code = numpy.array(code, dtype=numpy.int32).reshape(-1, 4)
    return code, inputs, numpy.array(consts, dtype=numpy.float64), n_scratch
