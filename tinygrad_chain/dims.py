"""Dimension and shape arguments, checked once: the helpers every Tensor method file uses."""
import builtins


def dim_index(d, ndim, op):
    """The non-negative axis that `d` names in a tensor of `ndim` dims (IndexError names the op)."""
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


def shape_arg(shape):
    """torch accepts f(2, 3) and f((2, 3)) alike."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def infer_shape(shape, size, old):
    shape = tuple(builtins.int(n) for n in shape)
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
    return shape
