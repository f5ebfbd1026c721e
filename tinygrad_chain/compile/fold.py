"""Constant folding of a traced schedule: calls that read no array from the step, computed once.

backward's seed for a mean loss is such a chain, the same every step:

    v13 = full((), 1.0); v14 = binary('div', v13, 32); v15 = reshape(v14, (1,)); v16 = broadcast_to(v15, (32,))

Each call of it is deterministic and reads only constants, so the replay can take its result as a
constant made when the step is built: the same call on the same values, so the same bits. A folded
result is shared by every replay, so it is folded only where nothing may write it: each reader is a
computing call (no in-place write), and none hands it out as a tensor or returns it.
"""
from tinygrad_chain.backends import lazy

from .replay import _slots, reads
from .trace import _WRITES

#: backend calls that compute their result from their arguments alone
_PURE = frozenset({"full", "binary", "unary", "reshape", "broadcast_to", "astype"})


def constants(entries, result):
    """`entries` with each foldable call removed and its result put where its slot was read."""
    held = _held(entries, result)
    values = {}  # slot -> its folded value
    kept = []
    for entry in entries:
        kind, fn, args, kwargs, out, name = entry
        if values:
            args = [_put(a, values) for a in args] if kind in ("call", "check") else args
            kwargs = {k: _put(v, values) for k, v in kwargs.items()} if kind in ("call", "check") else kwargs
            entry = (kind, fn, args, kwargs, out, name)
        if (kind == "call" and name in _PURE and out is not None and out[0] == "s" and out[1] not in held
                and not reads(entry) and all(_plain(a, values) for a in list(args) + list(kwargs.values()))):
            value = fn(*[a[1] for a in args], **{k: v[1] for k, v in kwargs.items()})
            if type(value) is not lazy.LazyArray:
                values[out[1]] = value
                continue
        kept.append(entry)
    return kept


def _held(entries, result):
    """The slots something may write or keep: read by an in-place write, an opaque call, a .grad
    rebinding, a tensor made from it, or the result."""
    held = set(_slots(result, []))
    for kind, _, args, kwargs, _, name in entries:
        specs = list(args) + list(kwargs.values()) if kind in ("call", "check") else []
        if kind not in ("call", "check") or name in _WRITES or name in lazy.WRITES:
            held.update(reads((kind, None, args, kwargs)))
            continue
        for spec in specs:
            if spec[0] != "s":  # inside a tensor, a tuple or a list: kept as it is
                held.update(_slots(spec, []))
    return held


def _plain(spec, values):
    """A constant argument that is not an array from outside the step (which may change), or a folded one."""
    if spec[0] != "k":
        return False
    x = spec[1]
    return not (hasattr(x, "shape") and hasattr(x, "dtype")) or any(x is v for v in values.values())


def _put(spec, values):
    return ("k", values[spec[1]]) if spec[0] == "s" and spec[1] in values else spec
