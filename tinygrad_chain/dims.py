"""Dimension, shape and scalar arguments, checked once: the helpers every Tensor method file uses."""
import builtins
import math
import numbers
import operator

import numpy as np

INT64_MAX = 2 ** 63 - 1


def int_arg(v, op, arg, pos=None):
    """v as a Python int: anything with __index__ (NumPy integers, 1-element integer tensors), not
    a bool, float or string (torch's TypeError, naming the op and the argument)."""
    if type(v) is builtins.int:
        return v
    if not isinstance(v, builtins.bool):
        try:
            return operator.index(v)
        except TypeError:
            pass
    where = f"must be int, not {type(v).__name__}" if pos is None else \
        f"must be tuple of ints, but found element of type {type(v).__name__} at pos {pos}"
    raise TypeError(f"{op}(): argument '{arg}' {where}")


def number_arg(value, op, arg):
    """value as a Python or NumPy number (a 1-element tensor gives its value); anything else is
    torch's TypeError, naming the op and the argument."""
    if not isinstance(value, (numbers.Number, np.bool_)) and callable(getattr(value, "numel", None)) and \
            value.numel() == 1:
        value = value.item()
    if not isinstance(value, (numbers.Number, np.bool_)):
        raise TypeError(f"{op}(): argument '{arg}' must be Number, not {type(value).__name__}")
    return value


def dim_index(d, ndim, op):
    """The non-negative axis that `d` names in a tensor of `ndim` dims (IndexError names the op)."""
    d = int_arg(d, op, "dim")
    n = builtins.max(ndim, 1)
    if not -n <= d < n:
        raise IndexError(f"{op}: Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {d})")
    return d % n


def as_1d(x, dim, op):
    """The tensor to work on along `dim`, and its axis: a 0-d tensor is handled as shape (1,), as
    torch lets ops along a dim (softmax, cumsum, max(dim), sort...) take dim 0 or -1 of a scalar."""
    if not isinstance(dim, builtins.int) or isinstance(dim, builtins.bool):
        raise TypeError(f"{op}(): argument 'dim' must be int, not {type(dim).__name__}")
    d = dim_index(dim, x.ndim, op)
    return (x.reshape(1), 0) if x.ndim == 0 else (x, d)


def shape_arg(shape, op, arg="size"):
    """The sizes of f(2, 3) or f((2, 3)) (torch accepts both) as a tuple of Python ints."""
    if len(shape) == 1 and not hasattr(type(shape[0]), "__index__"):
        if not isinstance(shape[0], (tuple, list)):
            raise TypeError(f"{op}(): argument '{arg}' must be tuple of ints, not {type(shape[0]).__name__}")
        shape = shape[0]
    return tuple(int_arg(n, op, arg, i) for i, n in enumerate(shape))


def check_sizes(shape, op, itemsize=1):
    """A shape an array can have: no negative size, and numel * itemsize within int64 (NumPy's limit,
    torch's too), refused before anything is allocated."""
    for n in shape:
        if n < 0:
            raise RuntimeError(f"{op}: Trying to create tensor with negative dimension {n}: {list(shape)}")
    if math.prod(builtins.max(n, 1) for n in shape) * itemsize > INT64_MAX:
        raise RuntimeError(f"{op}: Storage size calculation overflowed with sizes={list(shape)}")
    return shape


def infer_shape(shape, size, old):
    if shape.count(-1) > 1:
        raise RuntimeError("reshape: only one dimension can be inferred")
    known = 1
    for n in shape:
        if n != -1:
            known *= n
    if -1 in shape:
        if known == 0 or size % known:
            raise RuntimeError(f"reshape: shape '{list(shape)}' is invalid for input of size {size}")
        shape = tuple(size // known if n == -1 else n for n in shape)
    elif known != size:
        raise RuntimeError(f"reshape: shape '{list(shape)}' is invalid for input of size {size} "
                           f"(input shape {list(old)})")
    return check_sizes(shape, "reshape")


def check_index_range(op, index, size, dim, error=RuntimeError):
    """Every entry of the integer tensor `index` in [0, size), as torch's gather, scatter and
    index_select demand: NumPy would take a negative one from the end (a wrong value, no error)."""
    if index.numel():
        lo, hi = builtins.int(index.min()), builtins.int(index.max())
        if lo < 0 or hi >= size:
            raise error(f"{op}(): index {lo if lo < 0 else hi} is out of bounds for dimension {dim} with size {size} "
                        f"(index of shape {list(index.shape)})")
