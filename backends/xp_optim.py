"""In-place optimizer updates for array-module backends (NumPy; CuPy's fallback).

The defaults in compositions.py evaluate formulas.UPDATES with fresh arrays; on NumPy each
parameter-sized temporary is page-faulted in, which made an SGD step over an MLP's weights
about 15x slower than `p -= lr * g`. Here each row is compiled (inplace_source below) into
straight-line ufunc calls writing through `out=` into the state arrays and a few scratch
buffers, once per variant: the flags and the scalars that are 0, 1 or -1 (no weight decay, no
maximize, ...) are constants of the compiled code, so a step pays no Python beyond its ufunc
calls, and an unused weight decay no pass over memory. The scratch buffers belong to the
caller (`scratch`, the optimizer's dict): a cache on the backend would be shared by every
optimizer and thread (their steps would write each other's temporaries) and would keep every
shape ever stepped alive.
"""
import ast

import numpy

from . import formulas
from .formulas import _PY_OPS, parse

_KIND = {0: 0, 1: 1, -1: -1}  # the scalar values a variant is compiled for (True, False: 1, 0)
_UFUNCS = dict(add="add", sub="subtract", mul="multiply", div="true_divide", neg="negative", sqrt="sqrt",
               abs="absolute", maximum="maximum", minimum="minimum", exp="exp", expm1="expm1", tanh="tanh",
               lt="less", gt="greater", le="less_equal", ge="greater_equal", eq="equal", ne="not_equal")
_COMPILED = {}  # (xp, row, known scalars, absent arrays) -> (function, number of scratch buffers)


# ---- the compiler: an update as straight-line ufunc calls, specialised to its flags and identities
_NUMBER_OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Lt: "<", ast.Gt: ">", ast.LtE: "<=",
               ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}


def _const(n):
    return n.value if isinstance(n, ast.Constant) else None


def _neg(n):
    if isinstance(n, ast.Constant):
        return ast.Constant(-n.value)
    return n.operand if isinstance(n, ast.UnaryOp) else ast.UnaryOp(ast.USub(), n)


def specialise(n, known):
    """n with the names in `known` replaced by their values (0, 1, -1, a flag's True or False) and
    what they make trivial folded: where(flag, a, b) picks a branch, x * 1, x + 0, x - 0, x / 1 are x,
    x * -1 is -x, and x * 0 is 0 (torch skips a zero weight decay: the parameter is not even read)."""
    if isinstance(n, ast.Name):
        return ast.Constant(known[n.id]) if n.id in known else n
    if isinstance(n, ast.Constant):
        return n
    if isinstance(n, ast.UnaryOp):
        return _neg(specialise(n.operand, known))
    if isinstance(n, ast.Call):
        args = [specialise(a, known) for a in n.args]
        if n.func.id == "where" and isinstance(args[0], ast.Constant):
            return args[1] if args[0].value else args[2]
        return ast.Call(n.func, args, [])
    compare = isinstance(n, ast.Compare)
    a, b = specialise(n.left, known), specialise(n.comparators[0] if compare else n.right, known)
    op = n.ops[0] if compare else n.op
    ca, cb = _const(a), _const(b)
    if ca is not None and cb is not None:
        return ast.Constant(eval(f"{ca!r} {_NUMBER_OPS[type(op)]} {cb!r}"))
    if isinstance(op, ast.Mult):
        for c, other in ((ca, b), (cb, a)):
            if c is not None and c in (0, 1, -1):
                return ast.Constant(0) if c == 0 else other if c == 1 else _neg(other)
    if isinstance(op, ast.Add) and 0 in (ca, cb):
        return b if ca == 0 else a
    if isinstance(op, ast.Sub) and 0 in (ca, cb):
        return a if cb == 0 else _neg(b)
    if isinstance(op, ast.Div) and cb == 1:
        return a
    return ast.Compare(a, [op], [b]) if compare else ast.BinOp(a, op, b)


def _ssa(u, known):
    """u's body specialised, each assignment to a state array a new version (p, p~1, p~2), locals that
    nothing reads dropped; returns (statements, final version of each state)."""
    stmts, version = [], {s: s for s in u.state}
    for target, tree in parse(u.body):
        tree = specialise(tree, known)
        for n in ast.walk(tree):
            if isinstance(n, ast.Name) and n.id in version:
                n.id = version[n.id]
        if target in version:
            if isinstance(tree, ast.Name) and tree.id == version[target]:
                continue  # unchanged (a branch a flag switched off)
            version[target] = f"{target}~{len(stmts)}"
            target = version[target]
        stmts.append((target, tree))
    final = [version[s] for s in u.state]
    while True:
        read = {n.id for _, e in stmts for n in ast.walk(e) if isinstance(n, ast.Name)} | set(final)
        kept = [(t, e) for t, e in stmts if t in read]
        if len(kept) == len(stmts):
            return stmts, final
        stmts = kept


def inplace_source(u, known, absent=()):
    """(source, number of scratch buffers) of `def NAME(B, A, S)`: update u in place on the arrays A
    (its state, then its inputs) with the scalars S, specialised to the values `known` (see
    specialise) and to the arrays `absent` (None: never read; e.g. AMSGrad's maximum without
    AMSGrad). Each operation is a bare ufunc call writing, its `out` given positionally (a keyword
    costs), into the state array an assignment computes (when nothing still to be read lives there)
    or into one of the caller's buffers B (kept across steps: no temporaries), reusing a buffer once
    nothing still to be read lives in it. Comparisons make fresh boolean masks. Operations on numbers
    alone are Python's, in double (weak numbers)."""
    stmts, final = _ssa(u, known)
    uses = {}
    for _, e in stmts:
        for n in ast.walk(e):
            if isinstance(n, ast.Name):
                uses[n.id] = uses.get(n.id, 0) + 1
    for v in final:
        uses[v] = uses.get(v, 0) + 1
    home = {s: s for s in u.state + u.inputs if s not in absent}  # name -> the array holding its value
    number = {s: s for s in u.scalars if s not in known}  # name -> Python code of its number
    lines, pending, nbuf, masks = [], [], [0], [0]

    def busy(loc):
        return loc in pending or any(uses.get(v, 0) > 0 and h == loc for v, h in home.items())

    def go(n, out=None):
        if isinstance(n, ast.Constant):
            return repr(n.value), None
        if isinstance(n, ast.Name):
            uses[n.id] -= 1
            if n.id in home:
                return home[n.id], home[n.id]
            if n.id not in number:
                raise ValueError(f"formulas: {u.name} reads {n.id}, absent in this variant")
            return number[n.id], None
        if isinstance(n, ast.BinOp):
            op, args = _PY_OPS[type(n.op)], [n.left, n.right]
        elif isinstance(n, ast.UnaryOp):
            op, args = "neg", [n.operand]
        elif isinstance(n, ast.Compare):
            op, args = _PY_OPS[type(n.ops[0])], [n.left, n.comparators[0]]
        else:
            op, args = n.func.id, n.args
        values = []
        for a in args:
            values.append(go(a))
            pending.append(values[-1][1])
        del pending[len(pending) - len(values):]
        if all(loc is None for _, loc in values):  # numbers only: Python's arithmetic
            if op == "neg":
                return f"(-{values[0][0]})", None
            if not isinstance(n, (ast.BinOp, ast.Compare)):
                raise ValueError(f"formulas: {op}() of numbers only in {u.name}")
            sym = _NUMBER_OPS[type(n.op if isinstance(n, ast.BinOp) else n.ops[0])]
            return f"({values[0][0]} {sym} {values[1][0]})", None
        codes = [c for c, _ in values]
        if isinstance(n, ast.Compare):  # a mask
            masks[0] += 1
            lines.append(f"    m{masks[0]} = {op}({', '.join(codes)})")
            return f"m{masks[0]}", f"m{masks[0]}"
        avoid = values[1][1] if op == "where" else None  # where() writes its second branch, then its first
        if out is None or out == avoid or busy(out):
            # a buffer: one an operand dies in, else the first free one
            free = [loc for _, loc in values if loc and loc[0] == "b"] + [f"b{k}" for k in range(nbuf[0])]
            free = [loc for loc in free if loc != avoid and not busy(loc)]
            out = free[0] if free else f"b{nbuf[0]}"
            nbuf[0] += not free
        if op == "where":  # the second branch, then the first where the mask holds
            if codes[2] != out:
                lines.append(f"    copyto({out}, {codes[2]})")
            lines.append(f"    copyto({out}, {codes[1]}, where={codes[0]})")
        else:
            # out positionally (a keyword costs), but where NumPy deprecates that (maximum, minimum)
            lines.append(f"    {op}({', '.join(codes)}, {'out=' if op in ('maximum', 'minimum') else ''}{out})")
        return out, out

    for target, tree in stmts:
        state = target.split("~")[0]
        code, loc = go(tree, state if state in u.state and state not in absent else None)
        if loc is None:  # a number
            lines.append(f"    {target.replace('~', '_')} = {code}")
            number[target] = target.replace("~", "_")
        else:
            home[target] = loc
    # each state's final value into its array: first those that live in another state's array (a
    # value may, where an identity made it that array's old value), before that array is written
    copies = [(s, home.get(v) or number.get(v, s)) for s, v in zip(u.state, final)]
    copies = sorted(((s, v) for s, v in copies if s not in absent and v != s), key=lambda c: c[1] not in u.state)
    sourced = [(s, v) for s, v in copies if v in u.state]
    if any(v in dict(sourced) for _, v in sourced):
        raise NotImplementedError(f"formulas: {u.name} permutes its state arrays in this variant")
    lines += [f"    copyto({s}, {v})" for s, v in copies]
    head = (f"def {u.name}(B, A, S):\n    {', '.join(u.state + u.inputs)}, = A\n"
            f"    {', '.join(u.scalars)}, = S\n")
    unpack = "".join(f"    b{k} = B[{k}]\n" for k in range(nbuf[0]))
    return head + unpack + "\n".join(lines) + "\n", nbuf[0]


class XpOptimMixin:
    _FAST_DTYPES = frozenset((numpy.dtype(numpy.float32), numpy.dtype(numpy.float64)))

    def update_step(self, name, scalars, *arrays, scratch=None):
        p = arrays[0]
        shape, dtype = p.shape, p.dtype
        # float32/float64 only: in place, a Python scalar would be rounded to a half array's dtype
        # (torch applies it in float32; the defaults' binary() does too: backends/half.py)
        fast = dtype in self._FAST_DTYPES and p.flags.writeable
        for a in arrays:
            if a is not None and (a.shape != shape or a.dtype != dtype):
                fast = False
        if not fast:
            return super().update_step(name, scalars, *arrays, scratch=scratch)
        scratch = {} if scratch is None else scratch  # no caller's dict: temporaries for this step only
        # the variant (which scalars are 0, 1 or -1, which states are None) and its buffers, in one lookup
        key = (name, shape, dtype, *map(_KIND.get, scalars), *map(type, arrays))
        step = scratch.get(key)
        if step is None:
            step = scratch[key] = self._variant(key, len(scalars), scratch)
        step[0](step[1], arrays, scalars)

    def _variant(self, key, count, scratch):
        """(compiled function, its buffers) of the variant `key` names; the buffers are shared by the
        variants of one shape and dtype (a list they all index)."""
        (name, shape, dtype), xp = key[:3], self.xp
        u = formulas.UPDATE[name]
        known = {s: k for s, k in zip(u.scalars, key[3:3 + count]) if k is not None}
        absent = tuple(s for s, t in zip(u.state + u.inputs, key[3 + count:]) if t is type(None))
        compiled = _COMPILED.get((xp, name, tuple(known.items()), absent))
        if compiled is None:
            source, buffers = inplace_source(u, known, absent)
            scope = {k: getattr(xp, v) for k, v in _UFUNCS.items()}
            scope["copyto"] = xp.copyto
            exec(compile(source, f"<formulas:{name} in place>", "exec"), scope)
            compiled = _COMPILED[xp, name, tuple(known.items()), absent] = scope[name], buffers
        bufs = scratch.setdefault(("formulas", shape, dtype), [])
        while len(bufs) < compiled[1]:
            bufs.append(xp.empty(shape, dtype=dtype))
        return compiled[0], bufs
