"""Tensor methods: arithmetic, comparisons, elementwise math and reductions."""
import builtins
import math
from collections import namedtuple

from tinygrad_chain import dtypes
from tinygrad_chain.autograd.tensor_core import TensorCore
from tinygrad_chain.dims import as_1d, dim_index, number_arg
from tinygrad_chain.ops import activations as A
from tinygrad_chain.ops import elementwise as E
from tinygrad_chain.ops import reduce as R
from tinygrad_chain.ops.registry import apply
from tinygrad_chain.widen import float32_inside


class TensorMath:
    __slots__ = ()

    # ---- arithmetic ------------------------------------------------------
    def __add__(self, other):
        return apply(E.Add, self, other)

    def __radd__(self, other):
        return apply(E.Add, other, self)

    def __sub__(self, other):
        return apply(E.Sub, self, other)

    def __rsub__(self, other):
        return apply(E.Sub, other, self)

    def __mul__(self, other):
        return apply(E.Mul, self, other)

    def __rmul__(self, other):
        return apply(E.Mul, other, self)

    def __truediv__(self, other):
        return apply(E.Div, self, other)

    def __rtruediv__(self, other):
        if isinstance(other, (int, float)):  # torch's: reciprocal keeps its output, not self, for the gradient
            return self.reciprocal() * other
        return apply(E.Div, other, self)

    def __floordiv__(self, other):
        return apply(E.Floordiv, self, other)

    def __rfloordiv__(self, other):
        return apply(E.Floordiv, other, self)

    def __mod__(self, other):
        return apply(E.Remainder, self, other)

    def __rmod__(self, other):
        return apply(E.Remainder, other, self)

    def __pow__(self, other):
        return apply(E.Pow, self, other)

    def __rpow__(self, other):
        return apply(E.Pow, other, self)

    def __neg__(self):
        return apply(E.Neg, self)

    def __pos__(self):
        return self

    def __abs__(self):
        return apply(E.Abs, self)

    def __matmul__(self, other):
        return self.matmul(other)

    def __rmatmul__(self, other):
        return self._wrap(other).matmul(self)

    add = __add__
    mul = __mul__
    multiply = __mul__
    def div(self, other, rounding_mode=None):
        """rounding_mode: None (true division), "floor" or "trunc" (toward zero, keeping an integral dtype)."""
        if rounding_mode is None:
            return self / other
        if rounding_mode == "floor":
            return self // other
        if rounding_mode != "trunc":
            raise RuntimeError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
                               f"'{rounding_mode}'")
        q = self / other
        q = E.where(q < 0, q.ceil(), q.floor())
        return q if q.dtype is (out := (self // other).dtype) else q.to(out)

    divide = div
    true_divide = __truediv__
    floor_divide = __floordiv__
    remainder = __mod__
    pow = __pow__
    neg = __neg__
    negative = __neg__
    abs = __abs__

    def sub(self, other, alpha=1):
        return self - (other * alpha if alpha != 1 else other)

    subtract = sub

    # ---- comparisons and logic (bool results, never require grad) --------
    def __eq__(self, other):
        return apply(E.Eq, self, other)

    def __ne__(self, other):
        return apply(E.Ne, self, other)

    def __lt__(self, other):
        return apply(E.Lt, self, other)

    def __le__(self, other):
        return apply(E.Le, self, other)

    def __gt__(self, other):
        return apply(E.Gt, self, other)

    def __ge__(self, other):
        return apply(E.Ge, self, other)

    def logical_and(self, other):
        return apply(E.LogicalAnd, self, other)

    def logical_or(self, other):
        return apply(E.LogicalOr, self, other)

    def logical_xor(self, other):
        return apply(E.LogicalXor, self, other)

    def logical_not(self):
        return apply(E.LogicalNot, self)

    # & | ^ ~ are bitwise, as torch's: on bool tensors the same as the logical ops, on integers bitwise
    def __and__(self, other):
        return apply(E.BitwiseAnd, self, other)

    def __rand__(self, other):
        return apply(E.BitwiseAnd, other, self)

    def __or__(self, other):
        return apply(E.BitwiseOr, self, other)

    def __ror__(self, other):
        return apply(E.BitwiseOr, other, self)

    def __xor__(self, other):
        return apply(E.BitwiseXor, self, other)

    def __rxor__(self, other):
        return apply(E.BitwiseXor, other, self)

    def __invert__(self):
        return apply(E.BitwiseNot, self)

    eq, ne, lt, le, gt, ge = __eq__, __ne__, __lt__, __le__, __gt__, __ge__
    bitwise_and, bitwise_or, bitwise_xor, bitwise_not = __and__, __or__, __xor__, __invert__

    def isnan(self):
        return apply(E.Isnan, self)

    def isinf(self):
        return apply(E.Isinf, self)

    def equal(self, other):
        return self.shape == other.shape and builtins.bool((self == other).all())

    def allclose(self, other, rtol=1e-05, atol=1e-08):
        return builtins.bool(((self - other).abs() <= atol + rtol * other.abs()).all())

    def all(self, dim=None, keepdim=False):
        return self.bool().long().sum(dim, keepdim) == (self.numel() if dim is None else _count(self, dim))

    def any(self, dim=None, keepdim=False):
        return self.bool().long().sum(dim, keepdim) > 0

    # ---- unary math ------------------------------------------------------
    def exp(self):
        return apply(E.Exp, self)

    def log(self):
        return apply(E.Log, self)

    def log1p(self):
        return apply(E.Log1p, self)

    def expm1(self):
        return apply(E.Expm1, self)

    def sqrt(self):
        return apply(E.Sqrt, self)

    def rsqrt(self):
        return apply(E.Rsqrt, self)

    def sin(self):
        return apply(E.Sin, self)

    def cos(self):
        return apply(E.Cos, self)

    def tan(self):
        return apply(E.Tan, self)

    def atan(self):
        return apply(E.Atan, self)

    def asin(self):
        return apply(E.Asin, self)

    def acos(self):
        return apply(E.Acos, self)

    arctan, arcsin, arccos = atan, asin, acos

    def atan2(self, other):
        """The angle of (other, self), quadrant by quadrant from atan(self / other), as C's atan2."""
        other = self._wrap(other)
        base = (self / E.where(other == 0, 1.0, other)).atan()
        half_pi = E.where(self > 0, math.pi / 2, E.where(self < 0, -math.pi / 2, 0.0))
        left = E.where(self < 0, base - math.pi, base + math.pi)
        return E.where(other > 0, base, E.where(other < 0, left, half_pi))

    arctan2 = atan2

    def tanh(self):
        return apply(A.Tanh, self)

    def sigmoid(self):
        return apply(A.Sigmoid, self)

    def relu(self):
        return apply(A.Relu, self)

    def erf(self):
        return apply(E.Erf, self)

    def sign(self):
        return apply(E.Sign, self)

    def floor(self):
        return apply(E.Floor, self)

    def ceil(self):
        return apply(E.Ceil, self)

    def round(self, decimals=0):
        if decimals:
            scale = 10.0 ** decimals
            return apply(E.Round, self * scale) / scale
        return apply(E.Round, self)

    def reciprocal(self):
        return apply(E.Reciprocal, self)

    def square(self):
        return self * self

    def maximum(self, other):
        return apply(E.Maximum, self, other)

    def minimum(self, other):
        return apply(E.Minimum, self, other)

    def clamp(self, min=None, max=None):  # noqa: A002
        if min is None and max is None:
            raise RuntimeError("clamp: At least one of 'min' or 'max' must not be None")
        for name, v in (("min", min), ("max", max)):
            if v is not None and not isinstance(v, TensorCore):
                number_arg(v, "clamp", name)
        if isinstance(min, TensorCore) or isinstance(max, TensorCore):
            out = self if min is None else self.maximum(min)
            return out if max is None else out.minimum(max)
        return apply(E.Clamp, self, min=min, max=max)

    clip = clamp

    def where(self, condition, other):
        """torch's Tensor.where: where(condition, self, other)."""
        return E.where(condition, self, other)

    def masked_fill(self, mask, value):
        if not isinstance(mask, TensorCore) or mask.dtype is not dtypes.bool_:
            raise RuntimeError(f"masked_fill: only boolean masks are supported, got "
                               f"{mask.dtype.name if isinstance(mask, TensorCore) else type(mask).__name__}")
        return E.where(mask, value, self)

    # ---- reductions --------------------------------------------------------
    def sum(self, dim=None, keepdim=False, dtype=None):
        x = self.to(dtypes.accumulated(self.dtype) if dtype is None else dtype)
        return apply(R.Sum, x, axis=R.normalize_dims(dim, x.ndim, "sum"), keepdims=keepdim)

    def mean(self, dim=None, keepdim=False, dtype=None):
        x = self if dtype is None else self.to(dtype)
        if not x.dtype.is_floating_point:
            raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either a floating "
                               f"point or complex dtype. Got: {x.dtype.name}")
        return _mean(x, dim, keepdim)

    @float32_inside
    def var(self, dim=None, unbiased=None, keepdim=False, correction=None):
        correction = _correction(unbiased, correction)
        centered = self - self.mean(dim, keepdim=True)
        return (centered * centered).sum(dim, keepdim) / builtins.max(_count(self, dim) - correction, 0)

    @float32_inside
    def std(self, dim=None, unbiased=None, keepdim=False, correction=None):
        var = self.var(dim, unbiased, keepdim, correction)
        # torch's std_backward: gradient 0 where the std is 0 (constant values), not sqrt's inf times 0
        zero = var == 0
        return E.where(zero, 0.0, E.where(zero, 1.0, var).sqrt())

    def prod(self, dim=None, keepdim=False):
        return apply(R.Prod, self.to(dtypes.accumulated(self.dtype)), axis=R.normalize_dims(dim, self.ndim, "prod"), keepdims=keepdim)

    def amax(self, dim=None, keepdim=False):
        _check_nonempty(self, dim, "amax")
        return apply(R.Amax, self, axis=R.normalize_dims(() if dim is None else dim, self.ndim, "amax"),
                     keepdims=keepdim)

    def amin(self, dim=None, keepdim=False):
        _check_nonempty(self, dim, "amin")
        return apply(R.Amin, self, axis=R.normalize_dims(() if dim is None else dim, self.ndim, "amin"),
                     keepdims=keepdim)

    def max(self, dim=None, keepdim=False):
        """max() -> a value; max(dim) -> (values, indices); max(other) -> maximum."""
        if isinstance(dim, TensorCore):
            return self.maximum(dim)
        _check_nonempty(self, dim, "max")
        return self.amax() if dim is None else _values_indices(self, dim, keepdim, "argmax")

    def min(self, dim=None, keepdim=False):
        if isinstance(dim, TensorCore):
            return self.minimum(dim)
        _check_nonempty(self, dim, "min")
        return self.amin() if dim is None else _values_indices(self, dim, keepdim, "argmin")

    def argmax(self, dim=None, keepdim=False):
        _check_nonempty(self, dim, "argmax")
        return _arg(self, R.Argmax, dim, keepdim)

    def argmin(self, dim=None, keepdim=False):
        _check_nonempty(self, dim, "argmin")
        return _arg(self, R.Argmin, dim, keepdim)

    def logsumexp(self, dim, keepdim=False):
        return apply(R.Logsumexp, self, axis=R.normalize_dims(dim, self.ndim, "logsumexp"), keepdims=keepdim)

    def softmax(self, dim):
        return _along(self, R.Softmax, dim)

    def log_softmax(self, dim):
        return _along(self, R.LogSoftmax, dim)

    def norm(self, p="fro", dim=None, keepdim=False):
        p = 2.0 if p in ("fro", None) else builtins.float(p)
        if (p < 0 or p == builtins.float("inf")) and _count(self, dim) == 0:
            raise RuntimeError(f"norm(): cannot compute the {p} norm of no elements (input of shape "
                               f"{list(self.shape)}, dim={dim}): the operation has no identity")
        return apply(R.Norm, self, p=p, axis=R.normalize_dims(dim, self.ndim, "norm"), keepdims=keepdim)

    def cumsum(self, dim):
        return _along(self.to(dtypes.accumulated(self.dtype)), R.Cumsum, dim)

    # ---- activations ------------------------------------------------------
    def leaky_relu(self, negative_slope=0.01):
        return apply(A.LeakyRelu, self, negative_slope=negative_slope)


# torch.return_types.max / .min: a (values, indices) pair with field names
_RETURN_TYPES = {"argmax": namedtuple("max", ["values", "indices"]), "argmin": namedtuple("min", ["values", "indices"])}


@float32_inside
def _mean(x, dim, keepdim):
    return x.sum(dim, keepdim) / _count(x, dim)  # over no elements: 0 / 0 = nan, as torch


def _count(x, dim):
    axes = R.normalize_dims(dim, x.ndim)
    n = 1
    for i, s in enumerate(x.shape):
        if axes is None or i in axes:
            n *= s
    return n


def _along(x, op, dim):
    """op along one dim; a 0-d x acts as shape (1,), as torch lets it."""
    t, d = as_1d(x, dim, op.name)
    out = apply(op, t, axis=d)
    return out.reshape(()) if x.ndim == 0 else out


def _check_nonempty(x, dim, name):
    """max, min, argmax... have no value over no elements (no identity): torch's error, before any kernel."""
    if dim is None:
        if x.numel() == 0:  # torch: IndexError from argmax/argmin, RuntimeError from the others
            raise (IndexError if name.startswith("arg") else RuntimeError)(
                f"{name}(): Expected reduction dim to be specified for input.numel() == 0 (input of shape "
                f"{list(x.shape)}). Specify the reduction dim with the 'dim' argument.")
        return
    for d in R.normalize_dims(dim, x.ndim, name) or ():
        if x.ndim and x.shape[d] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size (input of shape "
                             f"{list(x.shape)})")


def _correction(unbiased, correction):
    if correction is not None:
        return correction
    return 1 if unbiased is None or unbiased else 0


def _values_indices(x, dim, keepdim, arg):
    t, d = as_1d(x, dim, arg[3:])
    idx = apply(R.Argmax if arg == "argmax" else R.Argmin, t, axis=d, keepdims=True)
    values = t.gather(d, idx)
    if x.ndim == 0:
        values, idx = values.reshape(()), idx.reshape(())
    elif not keepdim:
        values, idx = values.squeeze(d), idx.squeeze(d)
    return _RETURN_TYPES[arg](values, idx)


def _arg(x, op, dim, keepdim):
    if dim is None:
        out = apply(op, x.reshape(-1), axis=0, keepdims=False)
        return out.reshape((1,) * x.ndim) if keepdim else out
    return apply(op, x, axis=dim_index(dim, x.ndim, op.name), keepdims=keepdim)
