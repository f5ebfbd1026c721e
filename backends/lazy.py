"""Lazy arrays: a fusing backend's chain of elementwise ops computed in one pass over memory.

This is tinygrad's LazyBuffer idea: the laziness sits between the ops and the device, not in the Tensor. A
backend that fuses (cpp, cupy) applies `fusing` to its class once, at import. Its elementwise methods (`binary`,
`unary` and each method named like one of its fused instructions) then do not compute an op on large float
arrays at once (a broadcast operand that reads in flat order, a bias row or a per-row value, may join them):
they return a `LazyArray` recording it. Every other method of the backend first computes the LazyArrays among
its arguments, so its own code sees only its arrays, and the expression runs as one program, block by block in
cache: the intermediates never travel to memory and back. `(tanh(x*w+b)*sigmoid(x)).sum()` reads x, w and b once
and writes only what backward saved and cannot recompute from one array (tanh's output; sigmoid's is recomputed
from x in backward's pass). Callers above the backend (the Tensor, the registry, the engine, the ops) hold
LazyArrays as arrays: they answer shape, dtype, ndim and size, and anything else read from one computes it
first.

What gets written: the requested result, every other pending node that something besides the expression itself
still holds (a tensor, a saved output) unless it is one op on one array (it stays pending: `_recomputable`), and
the pending results that share a pending node with it (a backward pass's gradients of x, w and b share their
inputs: one pass computes all three). Python's reference counts say what is held; an intermediate nobody holds
is never stored. A sum of a pending expression is taken inside the same pass (accumulated in float64, rounded
once to the array's dtype), and the summed expression stays pending.

Why deferring is safe: a pending expression reads its input arrays later than eager code would, so those arrays
must not change in between. Every backend method that writes into an array (`WRITES`) first computes the pending
expressions that read its memory (`before_write`), and memory that code outside the library can reach (`shared`,
`to_dlpack`, `from_numpy`, `from_dlpack`) is never read lazily (`expose`).

The backend provides `fused_ops` (instruction name -> opcode), `fuses_repeats` (whether
`run_fused` reads inputs smaller than the program, repeated), `fusable(a)` and
`run_fused(code, inputs, consts, outputs, n_scratch, n_sums, stretch)`: registers are
numbered inputs, then consts (float64 values), then outputs, then n_scratch temporaries;
each int32 row (opcode, dst, a, b) writes register dst from a and b (b = -1 for one
operand); a `sum` row adds register a into sums[dst], which it returns.

TINYGRAD_CHAIN_FUSION=0 turns fusion off; TINYGRAD_CHAIN_FUSE_MIN sets the smallest
array fused (elements; below it an op costs less eagerly than recorded).
"""
import functools
import inspect
import math
import os
import sys
import threading
import weakref

import numpy

MAX_NODES = 32  # a longer expression is computed in pieces: bounded scratch, bounded memory held
_MAX_ROOTS = 16
_MAX_SCAN = 256  # pending nodes alive beyond this: a result is computed without its siblings
_NUMBERS = (int, float, bool)  # Python numbers; a bool scalar counts as 0 or 1, as in torch


class _Config:
    enabled = os.environ.get("TINYGRAD_CHAIN_FUSION", "1") != "0"
    min_elements = int(os.environ.get("TINYGRAD_CHAIN_FUSE_MIN", 1 << 16))


config = _Config()
# Every LazyArray not computed yet, held weakly: a reference drops out of the set when its
# node dies. Python threads share it; its add, discard and copy are single C calls, each atomic
# (a WeakSet iterates in Python code, and another thread adding meanwhile broke the iteration).
_pending = set()
# id(root array) -> weak reference to it: memory user code holds (a plain dict: its lookup is one C call)
_exposed = {}
# One program at a time: Python threads that share pending arrays must not compile an
# expression another thread is computing (the kernel itself still runs on every core).
_running = threading.RLock()


def _after_fork_in_child():
    global _running
    _running = threading.RLock()  # a thread holding it at fork time does not exist in the child


os.register_at_fork(after_in_child=_after_fork_in_child)


class LazyArray:
    """An elementwise result not computed yet: `op` applied to `args` (LazyArrays, backend
    arrays or Python numbers). It answers shape, dtype, ndim and size like an array; `get()`
    computes it (once), and any other attribute, item or operator is the computed array's."""
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
            self.backend.realize(self)
        return self.value

    def __repr__(self):
        state = "computed" if self.value is not None else f"{self.nodes} ops pending"
        return f"<LazyArray {self.op} {list(self.shape)} {self.dtype}: {state}>"

    # Code that handles arrays itself (outside the backend's methods) reads the computed one.
    def __getattr__(self, name):
        return getattr(self.get(), name)

    def __array__(self, *args, **kwargs):
        return self.get().__array__(*args, **kwargs)

    def __setitem__(self, index, value):
        a = self.get()
        before_write(a)
        a[index] = value


def _reading(name):
    def method(self, *args):
        return getattr(self.get(), name)(*args)
    method.__name__ = name
    return method


def _writing(name):  # a += b on a LazyArray writes the computed array, as on an array
    def method(self, other):
        a = self.get()
        before_write(a)
        getattr(a, name)(other)
        return self
    method.__name__ = name
    return method


for _op in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or", "xor"):
    for _name in (f"__{_op}__", f"__r{_op}__"):
        setattr(LazyArray, _name, _reading(_name))
    setattr(LazyArray, f"__i{_op}__", _writing(f"__i{_op}__"))
for _name in ("__neg__", "__pos__", "__abs__", "__invert__", "__lt__", "__le__", "__gt__", "__ge__", "__bool__",
              "__float__", "__int__", "__index__", "__len__", "__iter__", "__getitem__"):
    setattr(LazyArray, _name, _reading(_name))


def realized(a):
    """a's array: a LazyArray computed, anything else as it is."""
    return a.get() if type(a) is LazyArray else a


def is_pending(a):
    return type(a) is LazyArray and a.value is None


def record(b, name, args):
    """`name` (an instruction of backend b) on `args`, recorded as a LazyArray, or (for a sum
    of one pending expression) summed in one pass; None when it should run now."""
    if not config.enabled:
        return None
    if name == "sum":  # args: (a, axis, keepdims), as reduce's
        x, axis, keepdims = args
        if type(x) is LazyArray and x.value is None and axis is None:
            return _sum(x, keepdims)
        return None
    return _record(name, b, args)


def compute_all():
    """Compute every pending expression now (before timing a device or reading its memory
    figures, so the work and the memory are where eager code would have them)."""
    used = set()  # ids of the nodes other pending nodes read: computed with those, not as roots
    for p in _pending_now():
        used.update(id(a) for a in p.args if type(a) is LazyArray)
    for ref in list(_pending):
        p = ref()  # the only strong reference held here: reference counts stay the program's to read
        if p is not None and p.value is None and id(p) not in used:
            p.get()
        p = None


def _realize(self, a):
    """a's array: a LazyArray computed (with the pending results that share a node with it),
    anything else as it is. A method of the backend, so that what computes a LazyArray from
    outside the backend's methods is a backend call too (tc.compile's trace records those)."""
    if type(a) is LazyArray:
        if a.value is None:
            _run(_with_siblings(a))
        return a.value
    return a


def before_write(a):
    """Array `a` (or None: nothing) is about to be written in place: compute first every pending
    expression that reads its memory."""
    if not _pending or a is None:
        return
    root = _root(a)
    for p in _pending_now():
        if p.value is None and any(_root(x) is root for x in _arrays_read(p)):
            p.get()


def _pending_now():
    """The live LazyArrays, from one atomic copy of the set (other threads add meanwhile)."""
    return [p for ref in list(_pending) if (p := ref()) is not None]


def expose(a):
    """Code outside the library may now hold and write `a`: never read it lazily again, and what
    reads it now (a sigmoid of it saved for backward, say) is computed first."""
    root = _root(a)
    if type(root) is type(a) and root.size < config.min_elements:
        return  # never fused anyway (a loss's .item(), an optimizer's step count)
    before_write(root)
    key = id(root)
    try:
        _exposed[key] = weakref.ref(root, lambda ref: _exposed.get(key) is ref and _exposed.pop(key, None))
    except TypeError:  # memory owned by something that takes no weak reference: see _is_exposed
        pass


def _with_siblings(p):
    """p and the pending results that share a pending node with it, each held outside the
    expressions (a backward pass's gradients of x, w and b share their inputs): one program
    computes them together, instead of one per result, each reading the shared inputs again."""
    live = _pending_now()
    if len(live) > _MAX_SCAN:
        return [p]
    group, users = {id(p)}, {}
    for n in live:
        if n.value is None:
            for a in n.args:
                if type(a) is LazyArray and a.value is None:
                    users.setdefault(id(a), []).append(n)
    stack = [p]  # the component: p's pending nodes and those that use them
    while stack:
        n = stack.pop()
        near = [a for a in n.args if type(a) is LazyArray and a.value is None] + users.get(id(n), [])
        for m in near:
            if id(m) not in group:
                group.add(id(m))
                stack.append(m)
    tops = [p] + [n for n in live if n is not p and id(n) in group and id(n) not in users]
    return tops[:_MAX_ROOTS]


# ---- the backend's side -----------------------------------------------------------
#: methods that write into arguments (by position): they compute first what reads that memory
WRITES = {"copy_into": (0,), "setitem": (0,), "index_add": (0,), "writable": (0,), "sgd_step": (0, 2),
          "adam_step": (0, 2, 3, 4), "sgd_steps": (0, 2), "adam_steps": (0, 2, 3, 4)}
LISTS = {"sgd_steps": (0, 1, 2), "adam_steps": (0, 1, 2, 3, 4)}  # arguments that are lists of arrays (foreach steps)
_EXPOSES_ARG = ("shared", "to_dlpack")        # hand an argument's memory to code outside
_EXPOSES_RESULT = ("from_numpy", "from_dlpack")  # take memory that code outside holds
_SETTLES = ("synchronize", "memory_stats")    # their figures are eager code's
#: methods that take LazyArrays as they are: metadata, and the fused programs' own
_AS_THEY_ARE = frozenset({"dtype_of", "native_dtype", "uniform_value", "fusable", "run_fused", "realize",
                          "asarray", "full", "empty", "arange", "linspace", "eye", "rand", "randn", "randint",
                          "permutation", "make_rng", "manual_seed", "rng_state", "set_rng_state"})


def fusing(cls):
    """Class decorator for a backend that fuses, applied once at import: each method named
    like one of its instructions (relu, sigmoid_backward, ...) records, `binary`, `unary`,
    `act` and `act_backward` record the instructions they name, `reduce` sums a pending expression in one pass, and
    every other method computes its LazyArray arguments first. Methods listed in the class's
    `lazy_aware` handle LazyArrays themselves (hot paths, where one more call would cost)."""
    ops, aware = cls.fused_ops, getattr(cls, "lazy_aware", ())
    cls.realize = _realize
    for name, f in inspect.getmembers(cls, inspect.isfunction):
        if name.startswith("_") or name in _AS_THEY_ARE or name in aware:
            continue
        if isinstance(inspect.getattr_static(cls, name), staticmethod):
            continue
        setattr(cls, name, functools.wraps(f)(_wrap(f, name, ops)))
    return cls


def _wrap(f, name, ops):
    """f behind a function of f's own signature (no *args packing: this runs for every call)
    that handles LazyArrays as the class docstring of `fusing` says."""
    params = list(inspect.signature(f).parameters.values())[1:]
    header, call, names, defaults, starred = [], [], [], {}, None
    for p in params:
        if p.kind is p.VAR_POSITIONAL:
            header.append(f"*{p.name}")
            call.append(f"*{p.name}")
            starred = p.name
            continue
        if p.kind is p.VAR_KEYWORD:
            header.append(f"**{p.name}")
            call.append(f"**{p.name}")
            continue
        if p.kind is p.KEYWORD_ONLY and starred is None:
            header.append("*")
            starred = ""
        if p.default is p.empty:
            header.append(p.name)
        else:
            defaults[f"_d_{p.name}"] = p.default
            header.append(f"{p.name}=_d_{p.name}")
        call.append(f"{p.name}={p.name}" if p.kind is p.KEYWORD_ONLY else p.name)
        names.append(p.name)
    realize = [f"    if type({n}) is _L: {n} = {n}.get()" for n in names]
    if starred:
        realize.append(f"    {starred} = [x.get() if type(x) is _L else x for x in {starred}]")
    invoke = f"_f(self, {', '.join(call)})"
    if name in ops:  # an instruction: every parameter an operand
        body = [f"    if _big_or_lazy(({', '.join(names)},)):",
                f"        out = _record({name!r}, self, ({', '.join(names)},)) if _config.enabled else None",
                "        if out is not None:", "            return out", *("    " + r for r in realize)]
    elif name in ("binary", "unary"):  # (name, operands...): the instruction it names
        operands = ", ".join(names[1:])
        body = [f"    if _big_or_lazy(({operands},)):",
                f"        out = _record({names[0]}, self, ({operands},)) if _config.enabled and {names[0]} in _ops "
                "else None",
                "        if out is not None:", "            return out", *("    " + r for r in realize[1:])]
    elif name in ("act", "act_backward"):  # (act's name, operands, *params): its instruction, if no params
        operands, op = ", ".join(names[1:]), names[0] + (" + '_backward'" if name == "act_backward" else "")
        body = [f"    if not {starred} and _big_or_lazy(({operands},)):",
                f"        out = _record({op}, self, ({operands},)) if _config.enabled and {op} in _ops else None",
                "        if out is not None:", "            return out", *realize[1:]]  # params may hold one too
    elif name == "reduce":  # (name, a, axis, keepdims): a sum of everything runs in the pass
        body = [f"    if type({names[1]}) is _L and {names[0]} == 'sum':",
                f"        out = record(self, 'sum', ({', '.join(names[1:4])}))",
                "        if out is not None:", "            return out", *realize]
    else:
        body = list(realize)
        lists = LISTS.get(name, ())
        body += [f"    {names[i]} = [x.get() if type(x) is _L else x for x in {names[i]}]" for i in lists]
        written = WRITES.get(name, ())
        if written:
            body.append("    if _pending:")
            body += [f"        for x in {names[i]}: before_write(x)" if i in lists
                     else f"        before_write({names[i]})" for i in written]
        if name in _SETTLES:
            body.append("    compute_all()")
        if name in _EXPOSES_ARG:
            body.append(f"    expose({names[0]})")
        if name in _EXPOSES_RESULT:
            body += [f"    out = {invoke}", "    expose(out)", "    return out"]
    if not body or not body[-1].startswith("    return"):
        body.append(f"    return {invoke}")
    source = f"def {name}(self, {', '.join(header)}):\n" + "\n".join(body) + "\n"
    namespace = dict(defaults, _f=f, _L=LazyArray, _ops=ops, _config=config, _big_or_lazy=_big_or_lazy,
                     _record=_record, record=record, before_write=before_write, compute_all=compute_all,
                     expose=expose, _pending=_pending)
    exec(compile(source, f"<lazy.fusing {f.__qualname__}>", "exec"), namespace)  # noqa: S102
    return namespace[name]


def _big_or_lazy(args):
    least = config.min_elements
    for a in args:
        if type(a) is LazyArray or (type(a) not in _NUMBERS and getattr(a, "size", 0) >= least):
            return True
    return False


# ---- recording ---------------------------------------------------------------------
def _record(name, b, arrays):
    ref = None  # the operand of the result's shape: the largest, then the one with most axes
    for a in arrays:
        if type(a) not in _NUMBERS and (ref is None or a.size > ref.size
                                        or (a.size == ref.size and a.ndim > ref.ndim)):
            ref = a
    if ref is None or ref.size < config.min_elements or not ref.ndim:
        return None
    shape, dtype, repeats = ref.shape, ref.dtype, b.fuses_repeats
    args = []
    nodes = 1
    for a in arrays:
        kind = type(a)
        if kind is LazyArray and a.op == "mul" and a.value is None:  # read x, as eager's ones-shortcut does
            a = _times_one(a)
            kind = type(a)
        if kind in _NUMBERS:
            args.append(float(a))
            continue
        if a.dtype != dtype:
            return None
        if kind is LazyArray:
            if a.value is None and a.shape == shape:
                nodes += a.nodes
                args.append(a)
                continue
            a = a.get()  # a smaller operand (a per-row mean) is computed now and read broadcast
        elif kind is numpy.ndarray and a.ndim and a.size and not any(a.strides):
            # one value broadcast (a sum's gradient in tc.compile's replay): a constant, read now as eager
            args.append(float(a.flat[0]))
            continue
        if a.shape != shape and not (repeats and _stretch(a.shape, shape) is not None):
            return None
        if not b.fusable(a) or _is_exposed(a):
            return None
        args.append(a)
    if not any(type(x) is not float and x.size == ref.size for x in args):  # a program runs over its largest
        return None  # input: one of the result's size must remain beside broadcast values made constants
    if nodes > MAX_NODES:  # compute the operands now; this op starts a new expression
        args = [x.get() if type(x) is LazyArray else x for x in args]
        nodes = 1
    p = LazyArray(name, tuple(args), ref, b, nodes)
    _pending.add(weakref.ref(p, _pending.discard))
    return p


def _times_one(p):
    """x for pending p = x * 1.0 (tc.compile's replay: a sum's gradient times a saved output), else p."""
    x, y = p.args  # a product has two operands
    return x if type(y) is float and y == 1.0 else (y if type(x) is float and x == 1.0 else p)


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
    if a.base is None:  # a owns its memory: the common case, one lookup
        held = _exposed.get(id(a))
        return held is not None and held() is a
    root = _root(a)
    if type(root) is not type(a):  # memory from outside (a buffer, an mmap)
        return True
    held = _exposed.get(id(root))
    return held is not None and held() is root


def _arrays_read(p):
    for x in p.args:
        if type(x) is LazyArray:
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
    with `reduce`, also the sum of that LazyArray, which is returned (a one-element float64
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
    outputs = [n for n, r in zip(order, refs) if n is not reduce and (
        id(n) in root_ids or (r - _BASE_REFS > uses[id(n)] and not _recomputable(n)))]
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


def _recomputable(n):
    """Whether held node n (not asked for) stays pending, recomputed where read, rather than stored: one
    op on one array (sigmoid(x) saved for backward). Storing costs writes; reading x instead costs none."""
    arrays = 0
    for a in n.args:
        kind = type(a)
        if kind is LazyArray and a.value is None:
            return False
        arrays += kind is not float
    return arrays == 1


def _topological(tops):
    """The pending nodes under `tops`, each after its operands, and how many times each
    is an operand inside this expression (a top no other node reads counts 0)."""
    order, uses = [], {}
    for top in tops:
        if id(top) not in uses:
            uses[id(top)] = 0
            _visit(top, order, uses)
    return order, uses


def _visit(n, order, uses):
    """Depth first (as deep as an expression: MAX_NODES at most). A module function, not a
    closure: a closure that calls itself is a reference cycle, which would hold the nodes
    (and their arrays) until the cyclic collector runs."""
    for a in n.args:
        if type(a) is LazyArray and a.value is None:
            k = id(a)
            if k in uses:
                uses[k] += 1
            else:
                uses[k] = 1
                _visit(a, order, uses)
    order.append(n)


def _ref_counts(nodes):
    """Each node's reference count. Beyond _BASE_REFS (the list's own reference and the
    counting's, measured once on this Python) and its uses inside the expression, a node
    is held outside it (by a tensor, a saved output, another pending expression): then
    it is stored, not recomputed later."""
    return [sys.getrefcount(n) for n in nodes]


_BASE_REFS = _ref_counts([object()])[0]


def _compile(b, order, uses, outputs, reduce):
    """Registers and instructions (backends/base.py: run_fused) for `order`."""
    inputs, consts, index = [], [], {}  # index: id(input) or a constant's key -> its position
    for n in order:
        for a in n.args:
            kind = type(a)
            if kind is LazyArray:
                if a.value is None:
                    continue
                a = a.value
            elif kind is float:
                key = (a, math.copysign(1.0, a))  # 0.0 and -0.0 are different constants
                if key not in index:
                    index[key] = len(consts)
                    consts.append(a)
                continue
            if id(a) not in index:
                index[id(a)] = len(inputs)
                inputs.append(a)
    n_in = len(inputs)
    first_out = n_in + len(consts)
    reg = {id(n): first_out + j for j, n in enumerate(outputs)}  # pending node -> its register
    stored = len(reg)
    next_scratch, free, left, code = first_out + stored, [], dict(uses), []
    opcodes = b.fused_ops
    for n in order:
        operands = []
        for a in n.args:
            kind = type(a)
            if kind is LazyArray:
                if a.value is None:
                    k = id(a)
                    operands.append(reg[k])
                    left[k] -= 1
                    if left[k] == 0 and reg[k] >= first_out + stored:  # scratch, read for the last time
                        free.append(reg[k])
                    continue
                a = a.value
            elif kind is float:
                operands.append(n_in + index[(a, math.copysign(1.0, a))])
                continue
            operands.append(index[id(a)])
        dst = reg.get(id(n))
        if dst is None:  # a scratch register: a freed one (never an operand of this row), or a new one
            dst = free.pop() if free and free[-1] not in operands else next_scratch
            if dst == next_scratch:
                next_scratch += 1
            reg[id(n)] = dst
        code.append((opcodes[n.op], dst, operands[0], operands[1] if len(operands) > 1 else -1))
        if n is reduce:
            code.append((opcodes["sum"], 0, dst, -1))
    code = numpy.array(code, dtype=numpy.int32).reshape(-1, 4)
    n_scratch = next_scratch - first_out - stored
    return code, inputs, numpy.array(consts, dtype=numpy.float64), n_scratch
