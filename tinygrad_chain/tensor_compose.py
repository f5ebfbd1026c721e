"""torch's long tail of Tensor methods, each composed from the primitives (so each differentiates and runs
on every device with no new kernel): trunc, fmod, lerp, addcmul, cumprod, diff, unfold, movedim, ...,
and the in-place spellings (exp_, masked_fill_, scatter_, ...) of out-of-place methods.
"""
import builtins
import math

import numpy

from tinygrad_chain import creation, dtypes
from tinygrad_chain.dims import dim_index, int_arg
from tinygrad_chain.ops import elementwise as E
from tinygrad_chain.ops import movement as M
from tinygrad_chain.ops.registry import apply
from tinygrad_chain.tensor_sort import return_types


class TensorCompose:
    __slots__ = ()

    # ---- elementwise -------------------------------------------------------------
    def trunc(self):
        return E.where(self < 0, self.ceil(), self.floor()) if self.dtype.is_floating_point else self.clone()

    fix = trunc

    def frac(self):
        return self - self.trunc()

    def fmod(self, other):
        """The remainder with the sign of self (C's fmod), where % takes the divisor's sign."""
        r = self % other
        return E.where((r != 0) & ((r < 0) != (self < 0)), r - other, r)

    def log2(self):
        return self.log() * (1 / math.log(2))

    def log10(self):
        return self.log() * (1 / math.log(10))

    def exp2(self):
        return (self * math.log(2)).exp()

    def sinh(self):
        return (self.exp() - (-self).exp()) * 0.5

    def cosh(self):
        return (self.exp() + (-self).exp()) * 0.5

    def logit(self, eps=None):
        x = self if eps is None else self.clamp(eps, 1 - eps)
        return (x / (1 - x)).log()

    def xlogy(self, other):
        return E.where(self == 0, 0.0, self * self._wrap(other).log())

    def hypot(self, other):
        return (self * self + other * other).sqrt()

    def lerp(self, end, weight):
        return self + weight * (end - self)

    def addcmul(self, tensor1, tensor2, value=1):
        return self + value * tensor1 * tensor2

    def addcdiv(self, tensor1, tensor2, value=1):
        return self + value * tensor1 / tensor2

    def clamp_min(self, min):  # noqa: A002
        return self.clamp(min=min)

    def clamp_max(self, max):  # noqa: A002
        return self.clamp(max=max)

    def isfinite(self):
        return ~(self.isnan() | self.isinf()) if self.dtype.is_floating_point else self == self

    def isposinf(self):
        return self == math.inf

    def isneginf(self):
        return self == -math.inf

    def signbit(self):
        return (self < 0) | ((self == 0) & ((1 / self) < 0)) if self.dtype.is_floating_point else self < 0

    def nan_to_num(self, nan=0.0, posinf=None, neginf=None):
        if not self.dtype.is_floating_point:
            return self.clone()
        info = dtypes.finfo(self.dtype)
        out = E.where(self.isnan(), nan, self)
        out = E.where(self == math.inf, info.max if posinf is None else posinf, out)
        return E.where(self == -math.inf, info.min if neginf is None else neginf, out)

    def nansum(self, dim=None, keepdim=False):
        return E.where(self.isnan(), 0.0, self).sum(dim, keepdim)

    def nanmean(self, dim=None, keepdim=False):
        return self.nansum(dim, keepdim) / (~self.isnan()).sum(dim, keepdim)

    def type_as(self, other):
        return self.to(other.dtype)

    # ---- along a dim -------------------------------------------------------------
    def cumprod(self, dim, dtype=None):
        """Running products, one multiply per step (exact through zeros, unlike exp(cumsum(log)))."""
        x = self.to(dtypes.accumulated(self.dtype) if dtype is None else dtype)
        if x.ndim == 0:
            return x.clone()
        d = dim_index(dim, x.ndim, "cumprod")
        steps = x.unbind(d)
        out = [steps[0]] if steps else []
        for s in steps[1:]:
            out.append(out[-1] * s)
        return x.clone() if not out else _stack(out, d)

    def cummax(self, dim):
        return _running(self, dim, "cummax", numpy.maximum)

    def cummin(self, dim):
        return _running(self, dim, "cummin", numpy.minimum)

    def logcumsumexp(self, dim):
        """log(cumsum(exp(x))), shifted by the dim's max (no overflow; a term far below it underflows to 0)."""
        d = dim_index(dim, self.ndim, "logcumsumexp")
        top = self.detach().amax(d, keepdim=True) if self.ndim else self.detach()
        top = E.where(top.isinf(), 0.0, top)
        return (self - top).exp().cumsum(d).log() + top

    def diff(self, n=1, dim=-1, prepend=None, append=None):
        d = dim_index(dim, self.ndim, "diff")
        if int_arg(n, "diff", "n") < 0:
            raise RuntimeError(f"diff: order must be non-negative but got {n}")
        x = self
        if prepend is not None or append is not None:
            parts = [p for p in (prepend, x, append) if p is not None]
            x = apply(M.Cat, *parts, axis=d)
        for _ in range(n):
            x = x.narrow(d, 1, x.shape[d] - 1) - x.narrow(d, 0, x.shape[d] - 1)
        return x

    def unfold(self, dimension, size, step):
        """Windows of `size` every `step` along `dimension`, as a new last dim."""
        d = dim_index(dimension, self.ndim, "unfold")
        if int_arg(step, "unfold", "step") <= 0 or int_arg(size, "unfold", "size") < 0:
            raise RuntimeError(f"unfold: step must be > 0 and size >= 0, got step {step} and size {size}")
        count = (self.shape[d] - size) // step + 1
        if count <= 0:
            raise RuntimeError(f"unfold: maximum size for tensor at dimension {d} is {self.shape[d]} but size is "
                               f"{size}")
        starts = creation.arange(0, count * step, step, device=self.device)
        index = (starts.unsqueeze(1) + creation.arange(size, device=self.device)).reshape(-1)
        shape = list(self.shape)
        shape[d:d + 1] = [count, size]
        return self.index_select(d, index).reshape(shape).movedim(d + 1, -1)

    def movedim(self, source, destination):
        src = [source] if isinstance(source, builtins.int) else list(source)
        dst = [destination] if isinstance(destination, builtins.int) else list(destination)
        src = [dim_index(s, self.ndim, "movedim") for s in src]
        dst = [dim_index(s, self.ndim, "movedim") for s in dst]
        if len(src) != len(dst):
            raise RuntimeError(f"movedim: Invalid source or destination dims: source ({src} dims) should contain "
                               f"the same number of dims as destination ({dst} dims)")
        order = [i for i in range(self.ndim) if i not in src]
        for s, t in sorted(zip(dst, src)):
            order.insert(s, t)
        return self.permute(*order)

    moveaxis = movedim

    def swapdims(self, dim0, dim1):
        return self.transpose(dim0, dim1)

    def ravel(self):
        return self.reshape(-1)

    def fliplr(self):
        return self.flip(1)

    def flipud(self):
        return self.flip(0)

    def tile(self, *dims):
        dims = tuple(dims[0]) if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
        dims = (1,) * (self.ndim - len(dims)) + tuple(dims)
        return self.reshape((1,) * (len(dims) - self.ndim) + tuple(self.shape)).repeat(*dims)

    def sum_to_size(self, *size):
        size = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else size
        lead = self.ndim - len(size)
        out = self.sum(tuple(range(lead))) if lead else self
        dims = tuple(i for i, n in enumerate(size) if n == 1 and out.shape[i] != 1)
        return out.sum(dims, keepdim=True) if dims else out

    # ---- products -----------------------------------------------------------------
    def mv(self, vec):
        return self.matmul(vec)

    def addmm(self, mat1, mat2, beta=1, alpha=1):
        return _scaled(self, beta) + _scaled(mat1.matmul(mat2), alpha)

    addmv = addmm
    baddbmm = addmm

    def addbmm(self, batch1, batch2, beta=1, alpha=1):
        return _scaled(self, beta) + _scaled(batch1.matmul(batch2).sum(0), alpha)

    def cross(self, other, dim=None):
        if dim is None:
            dim = next(i for i, n in enumerate(self.shape) if n == 3)
        d = dim_index(dim, self.ndim, "cross")
        a, b = self.unbind(d), other.unbind(d)
        return _stack([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]], d)

    def kron(self, other):
        nd = builtins.max(self.ndim, other.ndim)
        a = self.reshape((1,) * (nd - self.ndim) + tuple(self.shape))
        b = other.reshape((1,) * (nd - other.ndim) + tuple(other.shape))
        out = a.reshape([n for s in a.shape for n in (s, 1)]) * b.reshape([n for s in b.shape for n in (1, s)])
        return out.reshape([x * y for x, y in zip(a.shape, b.shape)])

    # ---- random fills (in place, outside autograd like uniform_ and normal_) ---------
    def bernoulli_(self, p=0.5):
        return self._replace_data((self.new_empty(self.shape).uniform_() < p).to(self.dtype)._data)

    def bernoulli(self, p=None):
        return (self.new_empty(self.shape).uniform_() < (self if p is None else p)).to(self.dtype)

    def exponential_(self, lambd=1.0):
        return self._replace_data((-(1 - self.new_empty(self.shape).uniform_()).log() / lambd)._data)

    def random_(self, low=0, high=None):
        if high is None:
            low, high = 0, low if low else 2 ** 24
        return self._replace_data((self.new_empty(self.shape).uniform_() * (high - low) + low).floor()
                                  .to(self.dtype)._data)

    def fill_diagonal_(self, fill_value, wrap=False):
        n = builtins.min(self.shape)
        index = creation.arange(n, device=self.device)
        self[(index,) * self.ndim] = fill_value
        return self


def _running(x, dim, name, better):
    """cummax / cummin: the running extreme's index along dim found on the host (a later equal value takes
    over, as torch's), the values gathered with it, so the gradient goes to the element each value came from."""
    t = x.reshape(1) if x.ndim == 0 else x
    d = dim_index(dim, t.ndim, name)
    values = numpy.moveaxis(t._b.to_numpy(t._data), d, -1)
    index = numpy.zeros(values.shape, dtype=numpy.int64)
    if not values.shape[-1]:  # an empty dim: empty results, as torch's
        return getattr(return_types, name)(x.clone(), creation.tensor(index, device=t.device).reshape(x.shape))
    best = values[..., 0].copy()
    for i in range(1, values.shape[-1]):
        take = (better(values[..., i], best) == values[..., i]) | numpy.isnan(values[..., i])
        best = numpy.where(take, values[..., i], best)
        index[..., i] = numpy.where(take, i, index[..., i - 1])
    idx = creation.tensor(numpy.moveaxis(index, -1, d), device=t.device)
    out = getattr(return_types, name)(t.gather(d, idx), idx)
    return out if x.ndim else getattr(return_types, name)(out[0].reshape(()), out[1].reshape(()))


def _stack(tensors, d):
    return apply(M.Cat, *(t.unsqueeze(d) for t in tensors), axis=d)


def _scaled(t, k):
    return t if k == 1 else t * k


# in-place spellings: x.exp_() writes x.exp() into x, through _inplace (the version counter, the leaf check)
_INPLACE = ("abs", "neg", "exp", "log", "log1p", "expm1", "sqrt", "rsqrt", "sin", "cos", "tanh", "sigmoid",
            "relu", "floor", "ceil", "round", "trunc", "frac", "sign", "reciprocal", "square", "erf", "pow",
            "remainder", "fmod", "lerp", "addcmul", "addcdiv", "clamp_min", "clamp_max", "clip", "masked_fill",
            "tril", "triu", "scatter", "scatter_add", "index_add", "index_copy", "index_fill", "index_put",
            "floor_divide", "nan_to_num", "logit", "leaky_relu")


def _inplace_method(name):
    def method(self, *args, **kwargs):
        return self._inplace(name + "_", lambda t: getattr(t, name)(*args, **kwargs))
    method.__name__ = name + "_"
    method.__doc__ = f"x.{name}_(...) writes x.{name}(...) into x."
    return method


def add_inplace_methods(cls):
    for name in _INPLACE:
        if hasattr(cls, name) and not hasattr(cls, name + "_"):
            setattr(cls, name + "_", _inplace_method(name))

