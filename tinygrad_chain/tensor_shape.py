"""Tensor methods: shape and movement, indexing, and matmul."""
import builtins
import warnings

from tinygrad_chain import dtypes
from tinygrad_chain.autograd.tensor_core import TensorCore
from tinygrad_chain.dims import check_index_range, check_sizes, dim_index, infer_shape, int_arg, shape_arg
from tinygrad_chain.ops import linalg as L
from tinygrad_chain.ops import movement as M
from tinygrad_chain.ops import reduce as R
from tinygrad_chain.ops.registry import apply


class TensorShape:
    __slots__ = ()

    # ---- shape -----------------------------------------------------------------
    def reshape(self, *shape):
        shape = shape_arg(shape, "reshape", "shape")
        new = infer_shape(shape, self._data.size, self.shape)
        if new == self.shape:
            return self if not self._requires_grad else apply(M.Reshape, self, shape=new)
        return apply(M.Reshape, self, shape=new)

    view = reshape

    def view_as(self, other):
        return self.reshape(other.shape)

    def reshape_as(self, other):
        return self.reshape(other.shape)

    def flatten(self, start_dim=0, end_dim=-1):
        if self.ndim == 0:
            return self.reshape(1)
        s = dim_index(start_dim, self.ndim, "flatten")
        e = dim_index(end_dim, self.ndim, "flatten")
        if s > e:
            raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
        shape = self.shape
        return self.reshape(shape[:s] + (-1,) + shape[e + 1:])

    def unflatten(self, dim, sizes):
        d = dim_index(dim, self.ndim, "unflatten")
        return self.reshape(self.shape[:d] + tuple(sizes) + self.shape[d + 1:])

    def unsqueeze(self, dim):
        d = dim_index(dim, self.ndim + 1, "unsqueeze")
        return self.reshape(self.shape[:d] + (1,) + self.shape[d:])

    def squeeze(self, dim=None):
        if dim is None:
            return self.reshape(tuple(n for n in self.shape if n != 1))
        dims = R.normalize_dims(dim, self.ndim, "squeeze") or ()
        return self.reshape(tuple(n for i, n in enumerate(self.shape) if not (i in dims and n == 1)))

    def permute(self, *dims):
        dims = shape_arg(dims, "permute", "dims")
        if sorted(dim_index(d, self.ndim, "permute") for d in dims) != list(range(self.ndim)):
            raise RuntimeError(f"permute: dims {list(dims)} are not a permutation of the {self.ndim} dims of "
                               f"a tensor of shape {list(self.shape)}")
        return apply(M.Permute, self, perm=tuple(dim_index(d, self.ndim, "permute") for d in dims))

    def transpose(self, dim0, dim1):
        perm = list(range(self.ndim))
        a, b = dim_index(dim0, self.ndim, "transpose"), dim_index(dim1, self.ndim, "transpose")
        perm[a], perm[b] = perm[b], perm[a]
        return apply(M.Permute, self, perm=tuple(perm))

    swapaxes = transpose

    def t(self):
        if self.ndim > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {self.ndim}D")
        return self if self.ndim < 2 else self.transpose(0, 1)

    @property
    def T(self):  # noqa: N802
        return self if self.ndim < 2 else self.permute(*reversed(range(self.ndim)))

    @property
    def mT(self):  # noqa: N802
        if self.ndim < 2:
            raise RuntimeError(f"tensor.mT is only supported on matrices or batches of matrices. Got "
                               f"{self.ndim}-D tensor.")
        return self.transpose(-2, -1)

    def expand(self, *sizes):
        sizes = shape_arg(sizes, "expand")
        lead = len(sizes) - self.ndim
        if lead < 0:
            raise RuntimeError(f"expand: the number of sizes provided ({len(sizes)}) must be greater or equal "
                               f"to the number of dimensions in the tensor ({self.ndim})")
        shape = tuple(self.shape[i - lead] if n == -1 else n for i, n in enumerate(sizes))
        for i, n in enumerate(self.shape):
            if n != 1 and n != shape[i + lead]:
                raise RuntimeError(f"expand: the expanded size of the tensor ({shape[i + lead]}) must match the "
                                   f"existing size ({n}) at non-singleton dimension {i + lead}. Target sizes: "
                                   f"{list(sizes)}. Tensor sizes: {list(self.shape)}")
        return self if shape == self.shape else apply(M.Expand, self, shape=check_sizes(shape, "expand",
                                                                                       self._data.itemsize))

    def broadcast_to(self, shape):
        return self.expand(*shape)

    def expand_as(self, other):
        return self.expand(*other.shape)

    def flip(self, *args, dims=None):  # x.flip(0, 1), x.flip((0, 1)), x.flip(dims=0): torch's spellings
        dims = (args[0] if len(args) == 1 else args) if dims is None else dims
        dims = (dims,) if isinstance(dims, builtins.int) else tuple(dims)
        return apply(M.Flip, self, axis=R.normalize_dims(dims, self.ndim, "flip"))

    def roll(self, shifts, dims=None):
        shifts = (shifts,) if isinstance(shifts, builtins.int) else tuple(shifts)
        if dims is None:  # torch rolls the flattened tensor and restores the shape
            if len(shifts) != 1:
                raise RuntimeError(f"roll: shifts and dimensions must align. shifts: {len(shifts)}, dims:0")
            return self.flatten().roll(shifts, 0).reshape(self.shape)
        dims = (dims,) if isinstance(dims, builtins.int) else tuple(dims)
        if len(shifts) != len(dims):
            raise RuntimeError(f"roll: shifts and dimensions must align. shifts: {len(shifts)}, dims:{len(dims)}")
        out = self
        for shift, dim in zip(shifts, dims):
            d = dim_index(dim, self.ndim, "roll")
            n = self.shape[d]
            s = shift % n if n else 0
            if s:  # the last s entries move to the front
                out = apply(M.Cat, out.narrow(d, n - s, s), out.narrow(d, 0, n - s), axis=d)
        return out

    def repeat(self, *sizes):
        sizes = shape_arg(sizes, "repeat", "repeats")
        if len(sizes) < self.ndim:
            raise RuntimeError(f"repeat: Number of dimensions of repeat dims ({len(sizes)}) can not be smaller "
                               f"than number of dimensions of tensor ({self.ndim})")
        padded = (1,) * (len(sizes) - self.ndim) + self.shape
        check_sizes(tuple(r * n for r, n in zip(sizes, padded)), "repeat")
        return apply(M.Repeat, self, reps=tuple(sizes))

    def split(self, split_size_or_sections, dim=0):
        d = dim_index(dim, self.ndim, "split")
        n = self.shape[d]
        if hasattr(type(split_size_or_sections), "__index__"):
            step = int_arg(split_size_or_sections, "split", "split_size")
            if step < 0 or (step == 0 and n):
                raise RuntimeError(f"split: split_size can only be 0 if dimension size is 0 and must not be negative, "
                                   f"but got split_size={step} for dimension {d} of size {n}")
            sizes = [builtins.min(step, n - s) for s in range(0, n, step)] if step else [0]
        else:
            sizes = list(shape_arg((split_size_or_sections,), "split", "split_size_or_sections"))
            if builtins.min(sizes, default=0) < 0:
                raise RuntimeError(f"split_with_sizes expects split_sizes have only non-negative entries, but got "
                                   f"split_sizes={sizes}")
            if builtins.sum(sizes) != n:
                raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size "
                                   f"at dimension {d}), but got split_sizes={sizes}")
        out, start = [], 0
        for s in sizes:
            out.append(self.narrow(d, start, s))
            start += s
        return tuple(out)

    def chunk(self, chunks, dim=0):
        d = dim_index(dim, self.ndim, "chunk")
        n = self.shape[d]
        if int_arg(chunks, "chunk", "chunks") <= 0:
            raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
        return self.split( -(-n // chunks) if n else 1, d)

    def unbind(self, dim=0):
        d = dim_index(dim, self.ndim, "unbind")
        return tuple(self[(slice(None),) * d + (i,)] for i in range(self.shape[d]))

    def gather(self, dim, index):
        d = dim_index(dim, self.ndim, "gather")
        if not isinstance(index, TensorCore):
            raise TypeError(f"gather(): argument 'index' must be Tensor, not {type(index).__name__}")
        if index.dtype.is_floating_point or index.dtype is dtypes.bool_:
            raise RuntimeError(f"gather(): Expected dtype int32/int64 for index, got {index.dtype.name}")
        if index.ndim != self.ndim:
            raise RuntimeError(f"gather: Index tensor must have the same number of dimensions as input tensor "
                               f"({index.ndim} vs {self.ndim})")
        check_index_range("gather", index, self.shape[d], d)
        return apply(M.Gather, self, index, axis=d)

    def narrow(self, dim, start, length):
        d = dim_index(dim, self.ndim, "narrow")
        n = self.shape[d]
        start, length = int_arg(start, "narrow", "start"), int_arg(length, "narrow", "length")
        if not -n <= start <= n:
            raise IndexError(f"narrow(): start ({start}) out of range [{-n}, {n}] for dimension {d} of size {n}")
        start = start + n if start < 0 else start
        if length < 0 or start + length > n:
            raise RuntimeError(f"narrow(): start ({start}) + length ({length}) exceeds dimension size ({n}), or "
                               f"length is negative")
        return self[(slice(None),) * d + (slice(start, start + length),)]

    # ---- indexing ------------------------------------------------------------
    def __getitem__(self, index):
        index, basic = _index(self, index)
        out = apply(M.GetItemView if basic else M.GetItemCopy, self, index=index)
        move = None if basic else _advanced_moves(self._data.ndim, index)
        return out if move is None else out.permute(*_moved(out._data.ndim, *move))

    def __setitem__(self, index, value):
        index, basic = _index(self, index)
        if isinstance(value, TensorCore) and value.dtype is not self.dtype:
            value = value.to(self.dtype)
        move = None if basic or not isinstance(value, TensorCore) else _advanced_moves(self._data.ndim, index)
        if move is not None:  # value broadcasts to torch's layout of the target, then goes to NumPy's
            target = self.detach()[index].shape
            perm = _moved(len(target), *move)
            value = value.expand(*target).permute(*[perm.index(i) for i in range(len(perm))])
        self._inplace("__setitem__", lambda t: apply(M.IndexPut, t, value, index=index))

    # ---- linear algebra ------------------------------------------------------
    def matmul(self, other):
        other = self._wrap(other)
        nx, ny = self._data.ndim, other._data.ndim  # read once: each property read is a call
        if nx == 0 or ny == 0:
            raise RuntimeError(f"matmul: both arguments need to be at least 1D, but they are {nx}D and {ny}D")
        x = self.unsqueeze(0) if nx == 1 else self
        y = other.unsqueeze(-1) if ny == 1 else other
        if (nx == 1 or ny == 1) and x.shape[-1] != y.shape[-2]:
            raise RuntimeError(f"matmul: size mismatch, got input ({list(self.shape)}) and "
                               f"({list(other.shape)}): {x.shape[-1]} != {y.shape[-2]}")
        out = apply(L.Matmul, x, y)
        if ny == 1:
            out = out.squeeze(-1)
        if nx == 1:
            out = out.squeeze(-2 if ny > 1 else -1)
        return out

    mm = matmul
    bmm = matmul

    def dot(self, other):
        return (self * other).sum()


def _index(x, index):
    """The native index for x[index], and whether it is basic (a view)."""
    if not isinstance(index, tuple):
        index = (index,)
    out = []
    basic = True
    for i in index:
        if isinstance(i, TensorCore):
            if i._b is not x._b:
                raise RuntimeError(f"indices should be on the same device as the indexed tensor "
                                   f"({i._b.name} vs {x._b.name})")
            if i.dtype.is_floating_point or i.dtype in (dtypes.int8, dtypes.int16):
                raise IndexError(f"tensors used as indices must be long, int, byte or bool tensors, got "
                                 f"{i.dtype.name}")
            if i.dtype is dtypes.uint8:  # a mask, as torch 2.13 still reads it (with its warning)
                warnings.warn("indexing with dtype torch.uint8 is now deprecated, please use a dtype torch.bool "
                              "instead.", UserWarning, stacklevel=3)
                i = i.to(dtypes.bool_)
            out.append(i._data)
            basic = False
        elif isinstance(i, (list, tuple)) or hasattr(i, "dtype"):
            out.append(x._b.asarray(i))
            basic = False
        else:
            out.append(i)
    return tuple(out), basic


def _advanced_moves(ndim, index):
    """Where torch's advanced-indexing layout differs from NumPy's: (p, n) when NumPy puts the n
    indexed axes first and torch at p, else None. torch applies integers before the index arrays,
    so x[0, :, idx] has idx's axis last (NumPy counts the 0 as an array: separated, first)."""
    def is_array(i):
        return hasattr(i, "shape")

    arrays = [k for k, i in enumerate(index) if is_array(i)]
    if not arrays or not any(type(i) is int for i in index):
        return None
    core = [i for i in index if type(i) is not int]  # torch's view of the index: integers gone
    spots = [k for k, i in enumerate(core) if is_array(i)]
    if spots[-1] - spots[0] + 1 != len(spots):
        return None  # separated for torch too: both put them first
    full = [k for k, i in enumerate(index) if is_array(i) or type(i) is int]
    if full[-1] - full[0] + 1 == len(full):
        return None  # adjacent for NumPy too: same place
    used = sum(i.ndim if getattr(i, "dtype", None) == bool else 1 for i in index
               if is_array(i) or type(i) is int or isinstance(i, slice))
    def dims(i):  # result axes an entry gives (integers and arrays aside)
        return ndim - used if i is Ellipsis else int(i is None or isinstance(i, slice))
    before = sum(dims(i) for i in core[:spots[0]])
    rest = sum(dims(i) for i in core if not is_array(i))
    return before, rest


def _moved(ndim, before, rest):
    """The permutation taking NumPy's layout (indexed axes first) to torch's (at `before`)."""
    n = ndim - rest
    order = list(range(n, ndim))
    return order[:before] + list(range(n)) + order[before:]
