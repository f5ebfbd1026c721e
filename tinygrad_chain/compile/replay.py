"""A traced step as one generated Python function: the recorded calls in order, straight-line.

    v7 = f3(v2, k1)               # a recorded backend call on slots and constants
    v8, (v9, _) = f4(v7, v0)      # outputs unpacked into slots
    del v2, v7                    # a slot is dropped after its last use (eager's memory profile)
    f5(k2)                        # an opaque call (optimizer.step), replayed as a call
    _grad(k3, _mk(v9, k4, False)) # p.grad rebound to the new gradient

Slots are local variables and methods are bound once, so a replayed op costs one Python call of
the backend method, with no dispatch, no Tensor and no tape node.
"""
import math

from tinygrad_chain.tensor import Tensor


class Diverged(Exception):
    """A replayed check (hooks.replayed_check) gave another result than at the trace."""

    def __init__(self, index, safe):
        super().__init__(index, safe)
        self.index, self.safe = index, safe


def _mk(array, backend, requires_grad):
    return Tensor._make(array, backend, requires_grad, None, [0])


def _bump(t):
    t._version[0] += 1


def _set_grad(t, g):
    t._grad = g  # checked at the trace: same shape, dtype and device every replay


def _diverged(index, safe):
    raise Diverged(index, safe)


class _Source:
    def __init__(self):
        self.ns = {"_mk": _mk, "_grad": _set_grad, "_diverged": _diverged, "_bump": _bump, "_setattr": setattr}
        self._names = {}

    def const(self, obj):
        name = self._names.get(id(obj))
        if name is None:
            name = self._names[id(obj)] = f"k{len(self._names)}"
            self.ns[name] = obj
        return name

    def expr(self, spec):
        kind = spec[0]
        if kind == "s":
            return f"v{spec[1]}"
        if kind == "k":
            x = spec[1]
            if x is None or type(x) in (bool, int) or (type(x) is float and math.isfinite(x)):
                return repr(x)
            return self.const(x)
        if kind == "I":
            return f"T[{spec[1]}]"
        if kind == "T":
            return f"_mk(v{spec[1]}, {self.const(spec[2])}, {spec[3]})"
        if kind == "t":
            return "(" + "".join(self.expr(p) + ", " for p in spec[1]) + ")"
        if kind == "l":
            return "[" + ", ".join(self.expr(p) for p in spec[1]) + "]"
        return "{" + ", ".join(f"{self.const(k)}: {self.expr(v)}" for k, v in spec[1].items()) + "}"

    def call(self, fn, args, kwargs):
        parts = [self.expr(a) for a in args] + [f"{k}={self.expr(v)}" for k, v in kwargs.items()]
        return f"{self.const(fn)}({', '.join(parts)})"


def _target(spec):
    if spec is None:
        return "_"
    if spec[0] == "s":
        return f"v{spec[1]}"
    return "(" + "".join(_target(p) + ", " for p in spec[1]) + ")"


def _slots(spec, found):
    """The slots a spec reads or writes, into `found`."""
    if spec is None:
        return found
    kind = spec[0]
    if kind in ("s", "T"):
        found.append(spec[1])
    elif kind in ("t", "l"):
        for p in spec[1]:
            _slots(p, found)
    elif kind == "d":
        for p in spec[1].values():
            _slots(p, found)
    return found


def reads(entry):
    """The slots a recorded entry reads (a call's outputs not included)."""
    kind, _, args, kwargs = entry[:4]
    if kind == "grad":
        return _slots(args, _slots(kwargs, []))
    if kind == "version":
        return []
    if kind == "setattr":
        return _slots(kwargs[1], [])
    used = []
    for a in list(args) + list(kwargs.values()):
        _slots(a, used)
    return used


def build(entries, n_inputs, result, name):
    """The replay function f(T, v0, ..., v{n_inputs-1}) -> the step's result, for tensors T and
    their arrays."""
    src = _Source()
    lines, read = [], []
    for i, (kind, fn, args, kwargs, out, extra) in enumerate(entries):
        used = reads(entries[i])
        if kind == "grad":
            lines.append(f"_grad({src.expr(args)}, {src.expr(kwargs)})")
            read.append(used)
            continue
        if kind == "version":
            lines.append(f"_bump({src.expr(args)})")
            read.append(used)
            continue
        if kind == "setattr":
            lines.append(f"_setattr({src.expr(args)}, {kwargs[0]!r}, {src.expr(kwargs[1])})")
            read.append(used)
            continue
        call = src.call(fn, args, kwargs)
        if kind == "check":
            lines.append(f"if {call} != {src.expr(('k', out))}: _diverged({i}, {extra})")
        elif out is None or not _slots(out, []):
            lines.append(call)
        else:
            lines.append(f"{_target(out)} = {call}")
            used += _slots(out, [])
        read.append(used)
    lines.append(f"return {src.expr(result)}")
    read.append(_slots(result, []))
    last = {}
    for i, used in enumerate(read):
        for s in used:
            last[s] = i
    dead = {}
    for s, i in last.items():
        if i < len(lines) - 1:
            dead.setdefault(i, []).append(f"v{s}")
    body = []
    for i, line in enumerate(lines):
        body.append("    " + line)
        if i in dead:
            body.append("    del " + ", ".join(sorted(dead[i])))
    params = "".join(f", v{i}" for i in range(n_inputs))
    code = f"def replay(T{params}):\n" + "\n".join(body) + "\n"
    exec(compile(code, f"<tc.compile {name}>", "exec"), src.ns)  # noqa: S102
    replay = src.ns["replay"]
    replay.source = code
    return replay
