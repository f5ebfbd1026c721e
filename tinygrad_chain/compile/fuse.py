"""A traced schedule's 2-D products joined with the elementwise ops that read only them.

    v0 = matmul(x, w); v1 = binary('add', v0, b); v2 = act('relu', v1)  ->  v2 = matmul_bias_act(x, w, b, 'relu')
    v3 = matmul(g, wT); ...; v5 = act_backward('relu', v3, y)          ->  v5 = matmul_act_backward(g, wT, 'relu', y)
    v6 = linear(x, w, b); v7 = act('relu', v6)                         ->  v7 = linear_act(x, w, b, 'relu')

A backend that has these methods (cpp: the GEMM applies the bias, ReLU or ReLU's mask to each tile of
the product while it is in cache) gets one call instead of two or three, each a Python call and a pass
over memory. Each method gives the bits of the calls it replaces (it falls back to those calls where
its kernel would not), so the replay stays equal to eager. A product (or linear) joins its one reader when that
reader's other operand exists already at the product and nothing in between writes memory in place.
"""
from tinygrad_chain import backends
from tinygrad_chain.backends import lazy

from .replay import _slots, reads
from .trace import _WRITES

_ACTS = ("relu",)


def products(entries, n_inputs, result):
    """`entries` with each product and its elementwise readers as one call, where the backend fuses."""
    entries = list(entries)
    i = 0
    while i < len(entries):
        fused = _join(entries, i, n_inputs, result)
        if fused is None:
            i += 1
    return entries


def _join(entries, i, n_inputs, result):
    """Join entry i (a product) with its reader(s) in place; None where nothing joins."""
    kind, fn, args, kwargs, out, name = entries[i]
    if kind != "call" or name not in ("matmul", "linear") or kwargs or out is None or out[0] != "s":
        return None
    b = _backend(fn, name)
    if b is None or not hasattr(b, "matmul_bias_act") or len(args) != (2 if name == "matmul" else 3):
        return None
    j = _only_reader(entries, i, out[1], result)
    if j is None:
        return None
    _, rfn, rargs, rkw, rout, rname = entries[j]
    if rkw or rout is None or rout[0] != "s" or not _same(b, rfn, rname):
        return None
    if name == "linear":
        if rname == "act" and len(rargs) == 2 and rargs[0][0] == "k" and rargs[0][1] in _ACTS and rargs[1] == out:
            entries[i] = ("call", b.linear_act, [*args, rargs[0]], {}, rout, "linear_act")
            del entries[j]
            return True
        return None
    if rname == "binary" and len(rargs) == 3 and rargs[0] == ("k", "add") and rargs[1] == out:
        bias = rargs[2]
        if not _ready(bias, entries, i, n_inputs):
            return None
        act, last, final = ("k", None), j, rout
        k = _only_reader(entries, j, rout[1], result)
        if k is not None:
            _, afn, aargs, akw, aout, aname = entries[k]
            if (aname == "act" and not akw and len(aargs) == 2 and aargs[0][0] == "k" and aargs[0][1] in _ACTS
                    and aargs[1] == rout and aout is not None and aout[0] == "s" and _same(b, afn, aname)):
                act, last, final = aargs[0], k, aout
        entries[i] = ("call", b.matmul_bias_act, [args[0], args[1], bias, act], {}, final, "matmul_bias_act")
        for n in sorted({j, last}, reverse=True):
            del entries[n]
        return True
    if (rname == "act_backward" and len(rargs) == 3 and rargs[0][0] == "k" and rargs[0][1] in _ACTS
            and rargs[1] == out and _ready(rargs[2], entries, i, n_inputs)):
        entries[i] = ("call", b.matmul_act_backward, [args[0], args[1], rargs[0], rargs[2]], {}, rout,
                      "matmul_act_backward")
        del entries[j]
        return True
    return None


def _backend(fn, name):
    for b in backends.loaded():
        if getattr(b, name, None) == fn:
            return b
    return None


def _same(b, fn, name):
    return getattr(b, name, None) == fn


def _only_reader(entries, i, slot, result):
    """The index of the one entry after i that reads `slot`, when nothing else (the result included)
    reads it and the entries in between only compute (no in-place write, no opaque call)."""
    if slot in _slots(result, []):
        return None
    found = None
    for n in range(i + 1, len(entries)):
        kind, name = entries[n][0], entries[n][5]
        if slot in reads(entries[n]):
            if found is not None:
                return None
            found = n
        elif found is None and (kind not in ("call", "check") or name in _WRITES or name in lazy.WRITES):
            return None
    return found


def _ready(spec, entries, i, n_inputs):
    """Whether the array `spec` names exists before entry i runs (a constant, an input, or an
    earlier entry's output)."""
    if spec[0] == "k":
        return True
    if spec[0] != "s":
        return False
    slot = spec[1]
    if slot < n_inputs:
        return True
    return any(entries[n][4] is not None and slot in _slots(entries[n][4], []) for n in range(i))
