"""Composites that accumulate run in float32 for float16/bfloat16 tensors.

A backend computes each half-precision op in float32 and rounds its result once
(backends/half.py). A function composed of several ops (mean = sum / n, var,
std, layer_norm, batch_norm, group_norm) would still round between them, and
could overflow where torch's single kernel does not: the squares inside a
variance of values near 300 pass float16's 65504. `float32_inside` runs such a
function on float32 copies of its half tensors (the casts are ops, so gradients
flow back in the half dtype) and rounds each result once.
"""
import functools
import inspect

from tinygrad_chain import dtypes
from tinygrad_chain.autograd.tensor_core import TensorCore


def float32_inside(fn=None, *, keep=()):
    """Decorate `fn` so that its half tensor arguments, all of one dtype, become float32 and its
    float32 tensor results that dtype again. Arguments named in `keep` are passed as they are
    (a batch norm's running statistics, which it updates in place)."""
    if fn is None:
        return functools.partial(float32_inside, keep=keep)
    names = list(inspect.signature(fn).parameters)
    kept = {names.index(k) for k in keep}

    @functools.wraps(fn)
    def call(*args, **kwargs):
        half = _half_of([a for i, a in enumerate(args) if i not in kept] +
                        [v for k, v in kwargs.items() if k not in keep])
        if half is None:
            return fn(*args, **kwargs)
        args = [a if i in kept else _cast(a, half, dtypes.float32) for i, a in enumerate(args)]
        kwargs = {k: v if k in keep else _cast(v, half, dtypes.float32) for k, v in kwargs.items()}
        out = fn(*args, **kwargs)
        return tuple(_cast(o, dtypes.float32, half) for o in out) if isinstance(out, tuple) else \
            _cast(out, dtypes.float32, half)
    return call


def _half_of(values):
    """The one half dtype of the tensors among `values`, or None (none is half, or they mix
    dtypes: then the widest computes, as it would anyway)."""
    found = {v.dtype for v in values if isinstance(v, TensorCore) and v.dtype.is_floating_point}
    return found.pop() if len(found) == 1 and not found.isdisjoint(dtypes.HALF) else None


def _cast(value, source, target):
    if isinstance(value, TensorCore) and value.dtype is source:
        return value.to(target)
    return value
