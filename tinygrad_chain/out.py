"""torch's out= argument on the functional forms: tc.add(a, b, out=c) writes the result into c.

torch's rules, in one place:
- out is not differentiable: with grad mode on, an input or out that requires grad is an error;
- a result of a higher kind than out's dtype (float into an integer or bool tensor) is an error,
  any other dtype is cast into out;
- an out of another shape is resized to the result's (with a warning unless it was empty);
- the write is in place (views of out see it, its version counter moves) and out is returned;
- a function returning several tensors (max(dim), sort, topk) takes a tuple of as many outs.
"""
import functools
import warnings

from tinygrad_chain.autograd.grad_mode import state
from tinygrad_chain.tensor import Tensor


def with_out(fn, name=None):
    """fn, also taking torch's out= keyword."""
    name = name or fn.__name__

    @functools.wraps(fn)
    def call(*args, out=None, **kwargs):
        result = fn(*args, **kwargs)
        return result if out is None else write(name, result, out)
    return call


def write(name, result, out):
    """Write `result` (a tensor, or a tuple of them) into `out`; return out."""
    if isinstance(result, tuple):
        if not isinstance(out, (tuple, list)) or len(out) != len(result):
            raise TypeError(f"{name}(): out must be a tuple of {len(result)} tensors, got {type(out).__name__}")
        written = [write(name, r, o) for r, o in zip(result, out)]
        return type(result)(*written) if hasattr(result, "_fields") else tuple(written)
    if not isinstance(out, Tensor):
        raise TypeError(f"{name}(): argument 'out' must be Tensor, not {type(out).__name__}")
    if state.enabled and (result.requires_grad or out.requires_grad):
        raise RuntimeError(f"{name}(): functions with out=... arguments don't support automatic differentiation, "
                           f"but one of the arguments requires grad.")
    if out._b is not result._b:
        raise RuntimeError(f"{name}(): Expected out tensor to be on device {result._b.name}, but got {out._b.name}")
    if _rank(result.dtype) > _rank(out.dtype):
        raise RuntimeError(f"{name}(): result type {result.dtype.name} can't be cast to the desired output type "
                           f"{out.dtype.name}")
    values = result.detach().to(out.dtype)._data
    if out.shape == result.shape:
        out._b.copy_into(out._writable(), values)
    else:
        if out.numel():
            warnings.warn(f"{name}(): An output with one or more elements was resized since it had shape "
                          f"{list(out.shape)}, which does not match the required output shape "
                          f"{list(result.shape)}. Resize an out tensor only when it has zero elements.",
                          UserWarning, stacklevel=3)
        out._writable()  # pending readers of the old memory are computed before it goes
        out._data = out._b.copy(values)
    out._version[0] += 1
    return out


def _rank(dtype):
    """bool < integers < floats: a result may be cast into out of its rank or higher."""
    return 2 if dtype.is_floating_point else 0 if dtype.name == "bool" else 1
