"""Functions over several tensors: tc.cat, tc.stack, tc.split, tc.einsum, ..."""
from tinygrad_chain import dtypes
from tinygrad_chain.device import backend_for
from tinygrad_chain.dims import check_sizes, dim_index, int_arg
from tinygrad_chain.ops import linalg as L
from tinygrad_chain.ops import movement as M
from tinygrad_chain.ops.registry import apply
from tinygrad_chain.tensor import Tensor


def _all_tensors(tensors, op):
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}(): expected Tensor as element {i} in argument 0, but got {type(t).__name__}")


def cat(tensors, dim=0):
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("cat(): expected a non-empty list of Tensors")
    _all_tensors(tensors, "cat")
    ref = tensors[0]
    d = dim_index(dim, ref.ndim, "cat")
    for i, t in enumerate(tensors):
        if t.ndim != ref.ndim or any(a != b for j, (a, b) in enumerate(zip(t.shape, ref.shape)) if j != d):
            raise RuntimeError(f"cat: Sizes of tensors must match except in dimension {d}. Expected "
                               f"{list(ref.shape)} but got {list(t.shape)} for tensor number {i} in the list.")
    dt = ref.dtype
    for t in tensors[1:]:
        dt = dtypes.promote_types(dt, t.dtype)
    tensors = [t if t.dtype is dt else t.to(dt) for t in tensors]
    return apply(M.Cat, *tensors, axis=d)


concat = cat
concatenate = cat


def stack(tensors, dim=0):
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    _all_tensors(tensors, "stack")
    for i, t in enumerate(tensors):
        if t.shape != tensors[0].shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(tensors[0].shape)} at "
                               f"entry 0 and {list(t.shape)} at entry {i}")
    d = dim_index(dim, tensors[0].ndim + 1, "stack")
    return cat([t.unsqueeze(d) for t in tensors], d)


def split(tensor, split_size_or_sections, dim=0):
    return tensor.split(split_size_or_sections, dim)


def chunk(tensor, chunks, dim=0):
    return tensor.chunk(chunks, dim)


def gather(input, dim, index):  # noqa: A002
    return input.gather(dim, index)


def einsum(equation, *operands):
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    ins, _ = L.parse_einsum(equation)
    if len(ins) != len(operands):
        raise RuntimeError(f"einsum(): the equation {equation!r} names {len(ins)} operands but "
                           f"{len(operands)} were given")
    for sub, t in zip(ins, operands):
        if "." not in sub and len(sub) != t.ndim:
            raise RuntimeError(f"einsum(): the subscripts {sub!r} do not match an operand of shape "
                               f"{list(t.shape)}")
    return apply(L.Einsum, *operands, equation=L.spell_out_ellipsis(equation, [t.ndim for t in operands]))


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    m = n if m is None else m
    for name, v in (("n", n), ("m", m)):
        if int_arg(v, "eye", name) < 0:
            raise RuntimeError(f"eye: {name} must be greater or equal to 0, got {v}")
    dtype = dtypes.get(dtype or dtypes.get_default_dtype())
    check_sizes((n, m), "eye", dtype.itemsize)
    b = backend_for(device)
    t = Tensor._make(b.eye(n, m, dtype), b, False, None, [0])
    return t.requires_grad_(True) if requires_grad else t
