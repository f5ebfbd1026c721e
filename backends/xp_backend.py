"""One implementation of the backend interface over an array module `xp`.

NumPy and CuPy share this class (Chainer's idea): the NumPy backend sets
``xp = numpy``; the CuPy backend sets ``xp = cupy`` and overrides hot paths.
"""
import numpy

from tinygrad_chain import dtypes

from . import dlpack, half, special
from .base import Backend
from .xp_optim import XpOptimMixin

_NUMBERS, _F32 = half.NUMBERS, numpy.dtype(numpy.float32)


def _wrapped(number, dtype):
    """A Python int meeting an integer array of `dtype` as torch applies it: taken modulo 2**bits
    into the dtype's range (uint8 + 300 adds 44; NumPy raises OverflowError). Beyond int64 it stays,
    for NumPy's error."""
    info = numpy.iinfo(dtype)
    if info.min <= number <= info.max or not -2 ** 63 <= number < 2 ** 63:
        return number
    bits = 8 * dtype.itemsize
    return (number - info.min) % (1 << bits) + info.min


class XpBackend(XpOptimMixin, Backend):
    xp = numpy
    scalar_type = numpy.generic

    def __init__(self):
        xp = self.xp
        #: the native dtypes of float16 and bfloat16 in use (backends/half.py computes them in float32)
        self.half_natives = set()
        self._native, self._from_native = _Natives(self), _FromNatives(self)
        for d in dtypes.ALL:
            if d is not dtypes.bfloat16:  # registered on first use: its library is slow to import
                self._native[d]
        self.float64_native = self._native[dtypes.float64]
        self._unary = {
            "neg": xp.negative, "abs": xp.abs, "exp": xp.exp, "log": xp.log,
            "log1p": xp.log1p, "expm1": xp.expm1, "sqrt": xp.sqrt, "sin": xp.sin,
            "cos": xp.cos, "tan": xp.tan, "tanh": xp.tanh, "sign": xp.sign,
            "atan": xp.arctan, "asin": xp.arcsin, "acos": xp.arccos,
            "reciprocal": xp.reciprocal, "floor": xp.floor, "ceil": xp.ceil,
            "round": xp.round, "logical_not": xp.logical_not, "isnan": xp.isnan,
            "isinf": xp.isinf, "erf": self._erf, "bitwise_not": xp.invert,
        }
        self._binary = {
            "add": xp.add, "sub": xp.subtract, "mul": xp.multiply, "div": xp.true_divide,
            "floordiv": xp.floor_divide, "remainder": xp.remainder, "pow": xp.power,
            "maximum": xp.maximum, "minimum": xp.minimum, "eq": xp.equal,
            "ne": xp.not_equal, "lt": xp.less, "le": xp.less_equal, "gt": xp.greater,
            "ge": xp.greater_equal, "logical_and": xp.logical_and,
            "logical_or": xp.logical_or, "logical_xor": xp.logical_xor, "bitwise_and": xp.bitwise_and,
            "bitwise_or": xp.bitwise_or, "bitwise_xor": xp.bitwise_xor,
        }
        self._reduce = {"sum": xp.sum, "prod": xp.prod, "max": xp.max, "min": xp.min,
                        "mean": xp.mean}
        self._arg_reduce = {"argmax": xp.argmax, "argmin": xp.argmin}
        self.manual_seed(0)
        half.install(self, xp.ndarray)

    def _make_native(self, dtype):
        """The native dtype storing `dtype` (a backend without one raises TypeError)."""
        return dtypes.numpy_dtype(dtype)

    # ---- creation and transfer ----------------------------------------
    def asarray(self, data, dtype=None):
        return self.xp.asarray(data, dtype=None if dtype is None else self._native[dtype])

    def to_numpy(self, a):
        return numpy.asarray(a)

    def native_dtype(self, dtype):
        return self._native[dtype]

    def dtype_of(self, a):
        return self._from_native[a.dtype]

    def full(self, shape, value, dtype):
        return self.xp.full(shape, value, dtype=self._native[dtype])

    def empty(self, shape, dtype):
        return self.xp.empty(shape, dtype=self._native[dtype])

    def arange(self, start, end, step, dtype):
        return self.xp.arange(start, end, step, dtype=self._native[dtype])

    def linspace(self, start, end, steps, dtype):
        return self.xp.linspace(start, end, steps, dtype=self._native[dtype])

    def eye(self, n, m, dtype):
        return self.xp.eye(n, m, dtype=self._native[dtype])

    def astype(self, a, dtype):
        native = self._native[dtype]
        if native in self.half_natives and self.xp is numpy:  # beyond the range: inf, quietly, as torch
            with numpy.errstate(over="ignore"):
                return a.astype(native)
        return a.astype(native)

    def copy(self, a):
        return a.copy()

    def copy_into(self, dst, src):
        dst[...] = src

    def view_positions(self, base, view):
        xp, item = self.xp, base.itemsize
        if not (base.size and view.size) or view.itemsize != item or any(
                s % item for s in base.strides + view.strides):
            return None
        (b_lo, b_hi), (v_lo, v_hi) = _extent(base), _extent(view)
        if not b_lo <= v_lo < v_hi <= b_hi:
            return None
        # base's logical indices written at their addresses, then read at view's
        cells = xp.full((b_hi - b_lo) // item, -1, dtype=xp.int64)
        strided = xp.lib.stride_tricks.as_strided

        def at(a, start):
            return strided(cells[(start - b_lo) // item:], a.shape, tuple(s // item * 8 for s in a.strides))
        at(base, _address(base))[...] = xp.arange(base.size, dtype=xp.int64).reshape(base.shape)
        positions = at(view, _address(view)).copy()
        return None if bool((positions < 0).any()) else positions

    # ---- DLPack (backends/dlpack.py: bfloat16 crosses as relabelled uint16) ----------
    def to_dlpack(self, a, stream=None, max_version=None, dl_device=None, copy=None):
        asked = {"stream": stream, "max_version": max_version, "dl_device": dl_device, "copy": copy}
        kwargs = {k: v for k, v in asked.items() if v is not None}
        if a.dtype not in self.half_natives or self.dtype_of(a) is not dtypes.bfloat16:
            return a.__dlpack__(**kwargs)
        capsule = a.view(self.xp.uint16).__dlpack__(**kwargs)
        dlpack.relabel(capsule, dlpack.UINT, dlpack.BFLOAT)
        return capsule

    def dlpack_device(self, a):
        return a.__dlpack_device__()

    def from_dlpack(self, obj):
        """The memory of `obj` (an object with __dlpack__, or a capsule) as a native array, not copied."""
        capsule = obj if dlpack.is_capsule(obj) else _capsule_of(obj)
        bf16 = dlpack.relabel(capsule, dlpack.BFLOAT, dlpack.UINT)
        a = self.xp.from_dlpack(dlpack.Holder(capsule))
        return a.view(self._native[dtypes.bfloat16]) if bf16 else a

    # ---- random --------------------------------------------------------
    def manual_seed(self, seed):
        self._rng = self.make_rng(seed)

    def make_rng(self, seed):
        return self.xp.random.default_rng(seed)

    def rng_state(self):
        """The global RNG's state: nested dicts of ints and strings (its bit generator's own)."""
        return self._rng.bit_generator.state

    def set_rng_state(self, state):
        self._rng.bit_generator.state = state

    def rand(self, shape, dtype, rng=None):
        return (rng or self._rng).random(shape, dtype=self._native[dtype])

    def randn(self, shape, dtype, rng=None):
        return (rng or self._rng).standard_normal(shape, dtype=self._native[dtype])

    def randint(self, low, high, shape, dtype, rng=None):
        return (rng or self._rng).integers(low, high, shape).astype(self._native[dtype], copy=False)

    def permutation(self, n, rng=None):
        return (rng or self._rng).permutation(n)

    def _uniform64(self, shape, rng):
        """float64 uniforms in [0, 1) (rand, whatever the backend's native RNG is)."""
        return self.rand(shape, dtypes.float64, rng)

    def multinomial(self, weights, num_samples, replacement, rng=None):
        xp = self.xp
        w = weights.astype(xp.float64)
        rows, k = w.shape
        if not replacement:
            # exponential race: the smallest E_j / w_j wins, the next smallest is the second draw, ...
            # which is sequential sampling without replacement; zero weights come last (key inf)
            e = -xp.log1p(-self._uniform64((rows, k), rng))
            keys = xp.where(w > 0, e / xp.where(w > 0, w, 1.0), xp.inf)
            return self._stable_argsort(keys, 1)[:, :num_samples].astype(xp.int64)
        # inverse CDF per row: category j covers [cdf[j-1], cdf[j]), so zero weights are never drawn
        cdf = xp.cumsum(w, axis=1)
        cdf /= cdf[:, -1:]
        u = self._uniform64((rows, num_samples), rng)
        out = xp.empty((rows, num_samples), dtype=xp.int64)
        last = k - 1 - xp.argmax(w[:, ::-1] > 0, axis=1)  # the last category with weight (rounding guard)
        for r in range(rows):
            out[r] = xp.minimum(xp.searchsorted(cdf[r], u[r], side="right"), last[r])
        return out

    # ---- elementwise ---------------------------------------------------
    # Functions that can meet a pole or overflow give inf/nan quietly, as torch
    # does (NumPy would warn); the others skip the cost of entering errstate.
    _QUIET = frozenset(("exp", "log", "log1p", "expm1", "sqrt", "reciprocal", "tan", "asin", "acos", "div",
                        "floordiv",
                        "remainder", "pow", "erf"))

    def unary(self, name, a):
        if name in self._QUIET:
            with self.xp.errstate(all="ignore"):
                return self._unary[name](a)
        return self._unary[name](a)

    def binary(self, name, a, b):
        # a Python number meeting a half array computes in float32 (backends/half.py); float32 is
        # ruled out first, by identity: this is the per-op path of small tensors
        if type(b) in _NUMBERS:
            if a.dtype is not _F32 and a.dtype in self.half_natives:
                return half.with_number(self, name, a, b)
            if type(b) is int and not 0 <= b < 128 and a.dtype.kind in "iu":
                b = _wrapped(b, a.dtype)
        elif type(a) in _NUMBERS:
            if b.dtype is not _F32 and b.dtype in self.half_natives:
                return half.with_number(self, name, a, b)
            if type(a) is int and not 0 <= a < 128 and b.dtype.kind in "iu":
                a = _wrapped(a, b.dtype)
        elif getattr(a, "dtype", None) is not getattr(b, "dtype", None):
            a, b = self.torch_operands(a, b)
            if type(a) in _NUMBERS or type(b) in _NUMBERS:  # was a NumPy scalar: the half rule above
                return self.binary(name, a, b)
        if name in self._QUIET:
            with self.xp.errstate(all="ignore"):
                return self._binary[name](a, b)
        return self._binary[name](a, b)

    def torch_operands(self, a, b):
        """Operands of two dtypes as torch promotes them where NumPy differs: a NumPy scalar is a
        Python number (weak: float16 times np.float32(2) stays float16), and a 0-d array meeting one
        with dimensions takes its dtype unless of a higher kind (dtypes.zero_dim_joins)."""
        a = a.item() if isinstance(a, numpy.generic) else a
        b = b.item() if isinstance(b, numpy.generic) else b
        if getattr(a, "ndim", None) == 0 and getattr(b, "ndim", 0):
            if dtypes.zero_dim_joins(self.dtype_of(b), self.dtype_of(a)):
                a = a.astype(b.dtype)
        elif getattr(b, "ndim", None) == 0 and getattr(a, "ndim", 0):
            if dtypes.zero_dim_joins(self.dtype_of(a), self.dtype_of(b)):
                b = b.astype(a.dtype)
        if hasattr(a, "dtype") and hasattr(b, "dtype") and a.dtype != b.dtype:
            # an integer array meeting a float one computes in the float's dtype (torch); NumPy widens
            # int16 + float16 to float32 and int32 + float32 to float64
            fa, fb = self.dtype_of(a).is_floating_point, self.dtype_of(b).is_floating_point
            if fa != fb:
                a, b = (a, b.astype(a.dtype)) if fa else (a.astype(b.dtype), b)
        return a, b

    def where(self, cond, a, b):
        if getattr(a, "dtype", None) is not getattr(b, "dtype", None):
            a, b = self.torch_operands(a, b)
        out = self.xp.where(cond, a, b)
        if out.dtype is _F32 and (type(a) in _NUMBERS or type(b) in _NUMBERS):
            arr = b if type(a) in _NUMBERS else a
            if getattr(arr, "dtype", None) in self.half_natives:  # NumPy makes bfloat16 and a Python number
                out = out.astype(arr.dtype)                     # float32; the number is weak (torch)
        return out

    def clip(self, a, lo, hi):
        if lo is not None:
            a = self.xp.maximum(a, lo)
        if hi is not None:
            a = self.xp.minimum(a, hi)
        return a

    def _erf(self, a):
        return special.erf(self.xp, a)

    # ---- reductions ----------------------------------------------------
    def reduce(self, name, a, axis, keepdims):
        return self._reduce[name](a, axis=axis, keepdims=keepdims)

    def arg_reduce(self, name, a, axis, keepdims):
        return self._arg_reduce[name](a, axis=axis, keepdims=keepdims)

    def cumsum(self, a, axis):
        return self.xp.cumsum(a, axis=axis)

    def _stable_argsort(self, a, axis):
        # CuPy's sort is always stable and takes no kind="stable"
        return self.xp.argsort(a, axis=axis, kind="stable" if self.xp is numpy else None)

    def argsort(self, a, axis, descending):
        xp = self.xp
        if not descending:  # NumPy and CuPy already put NaN last
            return self._stable_argsort(a, axis).astype(xp.int64, copy=False)
        # sort the reversed array ascending and read the result backwards: descending order, NaN
        # first, and equal values in their original order (negating would break NaN and bool)
        n = a.shape[axis]
        order = self._stable_argsort(xp.flip(a, axis), axis)
        return (n - 1 - xp.flip(order, axis)).astype(xp.int64, copy=False)

    # ---- movement and indexing -----------------------------------------
    def reshape(self, a, shape):
        return a.reshape(shape)

    def transpose(self, a, perm):
        return a.transpose(perm)

    def broadcast_to(self, a, shape):
        return self.xp.broadcast_to(a, shape)

    def concatenate(self, arrays, axis):
        return self.xp.concatenate(arrays, axis=axis)

    def flip(self, a, axis):
        return self.xp.flip(a, axis=axis)

    def tile(self, a, reps):
        return self.xp.tile(a, reps)

    def pad(self, a, widths, value):
        return self.xp.pad(a, widths, mode="constant", constant_values=value)

    def getitem(self, a, index):
        return a[index]

    def setitem(self, a, index, value):
        a[index] = value

    def index_add(self, a, index, values):
        # basic indices (ints, slices, None, Ellipsis) never repeat a position: a plain += is exact and
        # far faster than ufunc.at (this is the VJP of every slice, e.g. gate chunks in an LSTM)
        parts = index if isinstance(index, tuple) else (index,)
        if all(p is None or p is Ellipsis or isinstance(p, (int, slice)) for p in parts):
            a[index] += values
        else:
            self.xp.add.at(a, index, values)

    def take_along_axis(self, a, indices, axis):
        return self.xp.take_along_axis(a, indices, axis)

    def scatter_add_along_axis(self, shape, indices, values, axis):
        out = self.xp.zeros(shape, dtype=values.dtype)
        index = list(self.xp.indices(indices.shape, sparse=True))
        index[axis] = indices
        self.xp.add.at(out, tuple(index), values)
        return out

    def is_view(self, a):
        return a.base is not None

    # ---- linear algebra ------------------------------------------------
    def matmul(self, a, b):
        return self.xp.matmul(a, b)

    def einsum(self, equation, *arrays):
        return self.xp.einsum(equation, *arrays, optimize=len(arrays) > 2)

    # ---- linear algebra: factorizations and solvers -------------------------
    def inv(self, a):
        return self.xp.linalg.inv(a)

    def solve(self, a, b):
        # the batch axes broadcast here: CuPy's solve wants them equal
        batch = numpy.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        xp = self.xp
        return xp.linalg.solve(xp.broadcast_to(a, batch + a.shape[-2:]), xp.broadcast_to(b, batch + b.shape[-2:]))

    def det(self, a):
        return self.xp.linalg.det(a)

    def slogdet(self, a):
        return tuple(self.xp.linalg.slogdet(a))

    def cholesky(self, a):
        return self.xp.linalg.cholesky(a)

    def qr(self, a, mode):
        return tuple(self.xp.linalg.qr(a, mode=mode))

    def svd(self, a, full_matrices, compute_uv=True):
        out = self.xp.linalg.svd(a, full_matrices=full_matrices, compute_uv=compute_uv)
        return tuple(out) if compute_uv else out

    def eigh(self, a, uplo):
        return tuple(self.xp.linalg.eigh(a, UPLO=uplo))

    def cross(self, a, b, axis):
        return self.xp.cross(a, b, axis=axis)

    # ---- convolution and pooling windows (nn_ops) ------------------------
    def sliding_windows(self, x, kernel, stride, padding, dilation, value=0):
        xp = self.xp
        if any(padding):
            x = xp.pad(x, ((0, 0), (0, 0), padding[:2], padding[2:]), mode="constant", constant_values=value)
        n, c, h, w = x.shape
        (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
        oh, ow = (h - dh * (kh - 1) - 1) // sh + 1, (w - dw * (kw - 1) - 1) // sw + 1
        s0, s1, s2, s3 = x.strides
        return xp.lib.stride_tricks.as_strided(x, (n, c, oh, ow, kh, kw), (s0, s1, s2 * sh, s3 * sw, s2 * dh, s3 * dw),
                                               writeable=False)

    def _to_nchw(self, out, bias):
        # one pass: the transposed copy and the bias add together
        dst = self.xp.empty(out.shape, dtype=out.dtype)
        if bias is None:
            dst[...] = out
        else:
            self.xp.add(out, bias.reshape(-1, 1, 1), out=dst)
        return dst

    def window_sum(self, w, x_shape, kernel, stride, padding, dilation):
        n, c, oh, ow, kh, kw = w.shape
        (sh, sw), (dh, dw) = stride, dilation
        pt, pb, pl, pr = padding
        h, wd = x_shape[2] + pt + pb, x_shape[3] + pl + pr
        out = self.xp.zeros((n, c, h, wd), dtype=w.dtype)
        if (kh, kw) == (sh, sw) and (dh, dw) == (1, 1) and not kh * oh > h and not kw * ow > wd:
            # windows tile the image: one strided copy instead of kh * kw adds
            out[:, :, :oh * kh, :ow * kw] = w.transpose(0, 1, 2, 4, 3, 5).reshape(n, c, oh * kh, ow * kw)
        else:
            for i in range(kh):
                for j in range(kw):
                    out[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh, j * dw:j * dw + sw * (ow - 1) + 1:sw] += w[..., i, j]
        return out[:, :, pt:pt + x_shape[2], pl:pl + x_shape[3]]

    def col2im(self, cols, x_shape, kh, kw, stride, padding, dilation):
        # accumulate in (C, N, H, W) order, where each kernel tap's block of cols is contiguous
        c, _, _, n, oh, ow = cols.shape
        (sh, sw), (dh, dw) = stride, dilation
        pt, pb, pl, pr = padding
        h, w = x_shape[2], x_shape[3]
        out = self.xp.zeros((c, n, h + pt + pb, w + pl + pr), dtype=cols.dtype)
        for i in range(kh):
            for j in range(kw):
                out[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh, j * dw:j * dw + sw * (ow - 1) + 1:sw] += cols[:, i, j]
        return self.xp.ascontiguousarray(out[:, :, pt:pt + h, pl:pl + w].transpose(1, 0, 2, 3))

    def max_pool2d(self, x, kernel, stride, padding, dilation, out_hw):
        (kh, kw), (oh, ow) = kernel, out_hw
        if (tuple(kernel) != tuple(stride) or any(padding) or tuple(dilation) != (1, 1)
                or oh * kh > x.shape[2] or ow * kw > x.shape[3]):
            return super().max_pool2d(x, kernel, stride, padding, dilation, out_hw)
        # windows tile the (cropped) image: the maximum of the kh * kw strided sub-images, and which one
        # held it first (NaN propagates through maximum, as torch's pooling)
        n, c, h, w = x.shape
        xp = self.xp
        subs = [x[:, :, i:oh * kh:kh, j:ow * kw:kw] for i in range(kh) for j in range(kw)]
        out = subs[0]
        for s in subs[1:]:
            out = xp.maximum(out, s)
        k = xp.full(out.shape, len(subs) - 1, dtype=xp.int8)  # an array even for a 1x1 kernel
        for i in range(len(subs) - 2, -1, -1):
            k = xp.where(subs[i] == out, xp.int8(i), k)
        if xp.isnan(out).any():  # each NaN takes over in torch's kernel: the last one is the argmax
            for i, sub in enumerate(subs):
                k = xp.where(xp.isnan(sub), xp.int8(i), k)
        offsets = xp.asarray([(i // kw) * w + i % kw for i in range(len(subs))], dtype=xp.int64)
        base = (xp.arange(oh, dtype=xp.int64) * (kh * w))[:, None] + xp.arange(ow, dtype=xp.int64) * kw
        return out, xp.take(offsets, k) + base

    def max_pool2d_backward(self, g, indices, x_shape, overlapping=True):
        if overlapping:
            return super().max_pool2d_backward(g, indices, x_shape, overlapping)
        # windows do not overlap: each input position gets at most one gradient, so assign instead of add
        n, c = x_shape[:2]
        xp = self.xp
        flat = xp.zeros((n, c, x_shape[2] * x_shape[3]), dtype=g.dtype)
        p = g.shape[2] * g.shape[3]
        flat[xp.arange(n)[:, None, None], xp.arange(c)[None, :, None], indices.reshape(n, c, p)] = g.reshape(n, c, p)
        return flat.reshape(x_shape)


def _capsule_of(obj):
    # a versioned capsule where the producer makes one: it says whether the memory is read-only,
    # so NumPy imports it writable (a legacy one always comes in read-only)
    try:
        return obj.__dlpack__(max_version=(1, 0))
    except TypeError:
        return obj.__dlpack__()


class _Natives(dict):
    """DType -> native dtype, each entered on first use."""

    def __init__(self, backend):
        super().__init__()
        self._backend = backend

    def __missing__(self, dtype):
        native = self[dtype] = self._backend._make_native(dtype)
        self._backend._from_native[native] = dtype
        if dtype in dtypes.HALF:
            self._backend.half_natives.add(native)
        return native


class _FromNatives(dict):
    """native dtype -> DType; a supported dtype not entered yet (bfloat16 arrays made outside the
    library) is entered on first sight. Any other dtype raises KeyError."""

    def __init__(self, backend):
        super().__init__()
        self._backend = backend

    def __missing__(self, native):
        try:
            dtype = dtypes.get(native.name)
        except TypeError:
            raise KeyError(native) from None
        if self._backend._native[dtype] != native:
            raise KeyError(native)
        return dtype


def _address(a):
    return a.data.ptr if hasattr(a.data, "ptr") else a.__array_interface__["data"][0]  # CuPy, NumPy


def _extent(a):
    """The byte range [lo, hi) a non-empty array's elements occupy."""
    start = _address(a)
    lo = start + sum((n - 1) * s for n, s in zip(a.shape, a.strides) if s < 0)
    hi = start + sum((n - 1) * s for n, s in zip(a.shape, a.strides) if s > 0) + a.itemsize
    return lo, hi
