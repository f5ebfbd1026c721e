"""The "cpp" device: the NumPy backend with its hot paths in C++ (csrc/).

Importing this module raises ImportError when the extension was not built,
so the registry reports the device as unavailable.

Every override follows one pattern: if the operands are float32/float64
NumPy arrays of a size where the kernel wins, hand the kernel contiguous
buffers (a copy only for non-contiguous or negative-stride views); otherwise
fall back to NumPy. Plain arithmetic (binary) takes the kernel at every size:
for small tensors its call is cheaper than NumPy's ufunc dispatch.
"""
import math
import os
import warnings

import numpy as np

try:
    from tinygrad_chain import _C
except ImportError as e:  # the registry reports the device unavailable, with this reason
    raise ImportError(f"the C++ extension tinygrad_chain._C is not built or does not load ({e}); reinstall with "
                      f"a C++ compiler and pybind11 (pip install -v -e .) to see why") from e

from . import formulas, lazy
from ._malloc import keep_freed_memory
from .cpp_window import CppWindowMixin
from .numpy_backend import NumpyBackend, sums_pairwise

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _check_isa_request():
    """TINYGRAD_CHAIN_ISA names an instruction set; the extension quietly takes the best one when it
    names none it knows or one this CPU lacks, so say so here (a run meant for AVX2 is not one)."""
    want = os.environ.get("TINYGRAD_CHAIN_ISA")
    if want and want != _C.isa():
        known = ("generic", "avx2", "avx512")
        why = "this CPU lacks it" if want in known else f"expected one of {', '.join(known)}"
        warnings.warn(f"TINYGRAD_CHAIN_ISA={want!r} not used ({why}); the cpp kernels run {_C.isa()}", stacklevel=2)


_check_isa_request()
# opcodes come from the extension, by name (csrc/common.h lists each family once)
_OPCODES = {family: {name: i for i, name in enumerate(names)} for family, names in _C.opcodes().items()}
_BIN, _ACT, _RED, _FUSED = _OPCODES["binary"], _OPCODES["act"], _OPCODES["reduce"], _OPCODES["fused"]
_SOFTMAX, _LOG_SOFTMAX = _OPCODES["softmax"]["softmax"], _OPCODES["softmax"]["log_softmax"]

# Sizes (elements) from which the kernels beat NumPy (benchmarks/bench_cpp_kernels.py):
# the act kernels win early, ReLU's too (NumPy's maximum(x, 0) on 16K floats 7.0 us, the kernel
# 2.1; g * (y > 0) 5.9 against 2.2); plain arithmetic only once two threads help. Sums run in
# the kernel from _MIN_REDUCE on, and below it wherever NumPy would add in float64 too (float32
# down an axis that is not the last run of memory: a (32, 64) bias gradient, 2.7 us against 5.4),
# so that small sums keep the reference device's bits (see _kernel_sums).
_MIN_ACT = 2048
_MIN_ARITH = 1 << 16
_MIN_REDUCE = 1 << 14
_MIN_ROWS = 1  # the row kernels (softmax, cross-entropy) win at any size: (64, 10) CE 34 -> 5 us
_MIN_GEMM = 32 * 32 * 32
_MIN_GEMM_EACH = 16  # each product of a batch: its columns, and the cube root of its work (see matmul)
_MIN_OPTIM = 1  # one kernel call costs less than NumPy's update even for a bias (SGD 256 floats 5.0 -> 0.9 us, Adam 15 -> 1.2)
_MIN_NAMES = ("act", "arith", "reduce", "rows", "gemm", "gemm_each", "optim")


def min_sizes():
    """The smallest operand size (elements) at which each kernel family runs, by family."""
    return {name: globals()[f"_MIN_{name.upper()}"] for name in _MIN_NAMES}


def set_min_sizes(**sizes):
    """Set the sizes from which kernels run (the tests set all of them to 0, so even tiny
    inputs reach every kernel); returns the previous values, for restoring them."""
    unknown = set(sizes) - set(_MIN_NAMES)
    if unknown:
        raise ValueError(f"set_min_sizes: unknown kernel families {sorted(unknown)}; known: {list(_MIN_NAMES)}")
    previous = min_sizes()
    for name, size in sizes.items():
        if not isinstance(size, int) or size < 0:
            raise ValueError(f"set_min_sizes: {name} must be a non-negative int, got {size!r}")
        # at least 1: an empty array never needs a kernel (they assume an element; users never send one)
        globals()[f"_MIN_{name.upper()}"] = max(size, 1)
    return previous


def _kernel_sums(a, axis):
    """Whether the kernel (which adds in float64) sums `a` over `axis` (None: all): from _MIN_REDUCE
    elements on, and below that where NumPy adds in float64 as well, so the bits are the same."""
    return a.size >= _MIN_REDUCE or (a.size > 0 and a.dtype == np.float32 and not sums_pairwise(a, axis))


def _f(a):
    """True when a is a NumPy array of a kernel dtype."""
    return type(a) is np.ndarray and a.dtype in _FLOATS


def _same(a, b):
    return type(b) is np.ndarray and b.dtype == a.dtype and b.shape == a.shape


def _c(a, dtype=None):
    """a as a C-contiguous array of its own shape (np.ascontiguousarray makes a 0-d array 1-d)."""
    if dtype is None and a.flags.c_contiguous:  # the common case, asked first: half the cost
        return a
    out = np.ascontiguousarray(a, dtype)
    return out if out.ndim == a.ndim else out.reshape(())


def _c_or_none(a):
    return None if a is None else _c(a)


_ndarray = np.ndarray  # one lookup less on the per-op path of small tensors
_Lazy = lazy.LazyArray
_fuse = lazy.config  # min_elements: the smallest array an elementwise op records (backends/lazy.py)


def _as_scalar_if_uniform(a):
    """A Python float for a large stride-0 view of one value (expand of a scalar), else a."""
    if type(a) is np.ndarray and a.size >= _MIN_ARITH and a.dtype in _FLOATS and not any(a.strides):
        return float(a.flat[0])
    return a


def _py_scalar(s):
    """A Python float, or an int the kernel's double holds exactly (a larger one goes to NumPy, which
    rounds it to the array's dtype or raises); never a NumPy scalar, which may promote."""
    return type(s) is float or (type(s) is int and -_EXACT <= s <= _EXACT)


_EXACT = 1 << 53


def _numpy_after(size):
    """Whether the elementwise ops after a product of `size` elements run one at a time (NumPy's add, and
    ReLU in NumPy or its act kernel: maximum(x, 0) and g * (y > 0) either way), not in a fused program:
    where a GEMM's epilogue gives their bits."""
    return size < _MIN_ARITH and (size < _fuse.min_elements or not _fuse.enabled)


@lazy.fusing
class CppBackend(CppWindowMixin, NumpyBackend):
    name = "cpp"
    device_type = "cpu"
    #: methods that handle LazyArrays themselves (backends/lazy.py): the per-op path of small
    #: tensors, where a wrapper would cost
    lazy_aware = frozenset({"binary", "unary", "reduce", "mul_backward"})

    def __init__(self):
        super().__init__()
        keep_freed_memory()  # large temporaries reuse freed pages instead of faulting new ones

    # ---- threads ---------------------------------------------------------
    @staticmethod
    def set_num_threads(n):
        _C.set_num_threads(min(int(n), 2 ** 31 - 1))  # the kernels cap it (csrc/dispatch.cpp)

    @staticmethod
    def get_num_threads():
        return _C.get_num_threads()

    # ---- linear algebra --------------------------------------------------
    def matmul(self, a, b):
        # 2-D @ 2-D first, with as few Python steps as it takes (at 64^3 the kernel runs ~3 us, and
        # each check here costs 0.05-0.2 us)
        if type(a) is np.ndarray and type(b) is np.ndarray and a.ndim == 2 and b.ndim == 2:
            dt = a.dtype
            (m, k), (k2, n) = a.shape, b.shape
            if dt is b.dtype and dt in _FLOATS and k == k2 and m * n * k >= _MIN_GEMM:
                out = np.empty((m, n), dt)
                _C.gemm(a, b, out)
                return out
            return super().matmul(a, b)  # NumPy: its lower overhead on small products, other dtypes, its errors
        if not (_f(a) and type(b) is np.ndarray and b.dtype == a.dtype and a.ndim >= 2 and b.ndim >= 2):
            return super().matmul(a, b)
        m, k = a.shape[-2:]
        k2, n = b.shape[-2:]
        if k != k2:
            return super().matmul(a, b)  # NumPy's error message
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        # thresholds on the whole batch's work (NumPy's overhead is per call)
        rows = math.prod(batch) * m
        if rows * n * k < _MIN_GEMM:
            return super().matmul(a, b)
        if b.ndim == 2:
            # (..., m, k) @ (k, n): one tall GEMM over a's rows (copied only when they do not fold:
            # far cheaper than packing b once per batch element)
            out = np.empty((rows, n), a.dtype)
            _C.gemm(a.reshape(-1, k), b, out)
            return out.reshape(batch + (m, n))
        # Products are taken whole by each thread. One thread runs a product of 16 or more columns
        # and 16^3 multiply-adds as fast as NumPy's loop of BLAS calls (64 of 32x16x32: 24 us against
        # 23; with B transposed 34 against 42); narrower ones waste most of a micro-tile (64x64x8:
        # 1.6x NumPy's time) and stay with NumPy.
        if n < _MIN_GEMM_EACH or m * n * k < _MIN_GEMM_EACH**3:
            return super().matmul(a, b)
        # batch axes of any strides go to the kernel as they are (broadcast ones have stride 0)
        out = np.empty(batch + (m, n), a.dtype)
        _C.gemm(np.broadcast_to(a, batch + (m, k)), np.broadcast_to(b, batch + (k, n)), out)
        return out

    def linear(self, x, w, bias):
        out = self._linear(x, w, bias, False)
        return super().linear(x, w, bias) if out is None else out

    def _linear(self, x, w, bias, relu):
        """linear in the kernel (then ReLU, with relu), or None where it does not run there."""
        if not (_f(x) and x.ndim >= 2 and type(w) is np.ndarray and w.dtype == x.dtype and bias is not None
                and type(bias) is np.ndarray and bias.dtype == x.dtype and bias.shape == w.shape[:1]
                and x.shape[-1] == w.shape[1] and x.size * w.shape[0] >= _MIN_GEMM):
            return None
        # the bias is written first and the GEMM adds onto it (beta = 1): no separate pass for the add
        out = np.empty((x.size // x.shape[-1], w.shape[0]), x.dtype)
        out[...] = bias
        if relu:
            _C.gemm(x.reshape(-1, x.shape[-1]), w.T, out, 1.0, relu=True)
        else:  # no keyword: plain linear keeps working with an extension built before the epilogue
            _C.gemm(x.reshape(-1, x.shape[-1]), w.T, out, 1.0)
        return out.reshape(x.shape[:-1] + (w.shape[0],))

    # ---- a product with the elementwise ops that read it (tc.compile's replay: compile/fuse.py) ----
    def matmul_bias_act(self, a, b, bias, act):
        """act(a @ b + bias) (act "relu" or None) with the bits of matmul, binary("add") and act: where
        those run the GEMM and then NumPy, the GEMM adds the bias and applies ReLU to each tile instead."""
        if act in (None, "relu") and self._epilogue_fits(a, b, bias, (b.shape[-1],)):
            out = np.empty((a.shape[0], b.shape[1]), a.dtype)
            _C.gemm(a, b, out, 0.0, bias, act == "relu")
            return out
        out = self.binary("add", self.matmul(a, b), bias)
        return out if act is None else self.act(act, out)

    def linear_act(self, x, w, bias, act):
        """act(linear(x, w, bias)) likewise (act "relu"): the GEMM applies ReLU to each tile."""
        out = None
        if act == "relu" and _f(x) and x.ndim >= 2 and _numpy_after(x.size // x.shape[-1] * w.shape[0]):
            out = self._linear(x, w, bias, True)
        return self.act(act, self.linear(x, w, bias)) if out is None else out

    def matmul_act_backward(self, a, b, act, y):
        """act_backward(act, a @ b, y) likewise: ReLU's g * (y > 0) applied by the GEMM to each tile."""
        if act == "relu" and self._epilogue_fits(a, b, y, (a.shape[0], b.shape[-1])):
            out = np.empty((a.shape[0], b.shape[1]), a.dtype)
            _C.gemm(a, b, out, mask=y)
            return out
        return self.act_backward(act, self.matmul(a, b), y)

    @staticmethod
    def _epilogue_fits(a, b, other, shape):
        """Whether matmul runs a @ b in the kernel as given (a 2-D product of its size), and the op after it
        runs in NumPy (below the sizes where the act kernels or a fused program take it): their bits."""
        if not (type(a) is np.ndarray and type(b) is np.ndarray and a.ndim == 2 and b.ndim == 2
                and a.dtype in _FLOATS and b.dtype is a.dtype and a.shape[1] == b.shape[0]
                and type(other) is np.ndarray and other.dtype is a.dtype and other.shape == shape
                and other.flags.c_contiguous):
            return False
        (m, k), n = a.shape, b.shape[1]
        return m * n * k >= _MIN_GEMM and _numpy_after(m * n)

    # ---- the LSTM step (ops/recurrent.py) -----------------------------------
    def lstm_cell(self, gates, c):
        if not (_f(c) and type(gates) is np.ndarray and gates.dtype == c.dtype and c.ndim and c.size):
            return super().lstm_cell(gates, c)
        out, acts, tc = _C.lstm_cell_forward(_c(gates), _c(c))
        return out, (acts, tc)

    def lstm_cell_backward(self, grad, c, acts, tc):
        if not (_f(c) and _same(c, tc) and type(grad) is np.ndarray and grad.dtype == c.dtype and c.size):
            return super().lstm_cell_backward(grad, c, acts, tc)
        return tuple(_C.lstm_cell_backward(_c(grad), _c(c), _c(acts), _c(tc)))

    # ---- fused elementwise programs (backends/lazy.py) -------------------------
    fused_ops = _FUSED
    fuses_repeats = True

    def fusable(self, a):
        return type(a) is np.ndarray and a.dtype in _FLOATS and a.flags.c_contiguous

    def run_fused(self, code, inputs, consts, outputs, n_scratch, n_sums, stretch=None):
        return _C.fused_run(code, inputs, consts, outputs, n_scratch, n_sums, stretch or [])

    # ---- the LSTM layer: its time loop in C++ (csrc/lstm.cpp) ----------------
    def lstm_layer(self, xw, h0, c0, w_hh, b_hh=None):
        arrays = (h0, c0, w_hh) if b_hh is None else (h0, c0, w_hh, b_hh)
        if not (_f(xw) and all(type(a) is np.ndarray and a.dtype == xw.dtype for a in arrays)):
            return super().lstm_layer(xw, h0, c0, w_hh, b_hh)
        out, *saved = _C.lstm_layer_forward(_c(xw), _c(h0), _c(c0), _c(w_hh), _c_or_none(b_hh))
        return out, tuple(saved)

    def lstm_layer_backward(self, grad, w_hh, acts, tcs, hs, cs):
        if not (_f(grad) and type(w_hh) is np.ndarray and w_hh.dtype == grad.dtype):
            return super().lstm_layer_backward(grad, w_hh, acts, tcs, hs, cs)
        return tuple(_C.lstm_layer_backward(_c(grad), _c(w_hh), acts, tcs, hs, cs))

    # ---- elementwise -----------------------------------------------------
    def mul_backward(self, g, x, y):  # a LazyArray operand: the products below record
        if _f(g) and g.size >= _MIN_ARITH and _same(g, x) and _same(g, y):
            return tuple(_C.mul_backward(g, x, y))
        return super().mul_backward(g, x, y)

    def binary(self, name, a, b):
        # a LazyArray operand, or a large one: recorded where it can be (backends/lazy.py)
        if (type(a) is _Lazy or type(b) is _Lazy or (type(a) is _ndarray and a.size >= _fuse.min_elements)
                or (type(b) is _ndarray and b.size >= _fuse.min_elements)):
            out = lazy.record(self, name, (a, b)) if name in _FUSED else None
            if out is not None:
                return out
            a, b = lazy.realized(a), lazy.realized(b)
        # Arithmetic on float32/float64 arrays runs in the kernel at every size: its call costs less
        # than NumPy's ufunc dispatch (0.23 vs 0.56 us on one element, times a Python number), and a
        # 0-d result stays an array (NumPy's is a scalar). Half dtypes and broadcasting go to NumPy.
        op = _BIN.get(name)
        if op is not None:
            if type(a) is _ndarray and a.dtype in _FLOATS:
                if type(b) is float or _py_scalar(b):  # a float asked first, without a call: the common case
                    return _C.binary_scalar(op, a, b, False)
                if type(b) is _ndarray and b.dtype is a.dtype and b.shape == a.shape:
                    if a.size >= _MIN_ARITH:
                        # a broadcast single value (the gradient of a sum) acts as a scalar: no copy. Not
                        # both: the result must stay an array
                        ua, ub = _as_scalar_if_uniform(a), _as_scalar_if_uniform(b)
                        if ub is b and ua is not a:
                            return _C.binary_scalar(op, b, ua, True)
                        if ua is a and ub is not b:
                            return _C.binary_scalar(op, a, ub, False)
                    return _C.binary(op, a, b)
            elif _py_scalar(a) and type(b) is _ndarray and b.dtype in _FLOATS:
                return _C.binary_scalar(op, b, a, True)
        return super().binary(name, a, b)

    def unary(self, name, a):
        if type(a) is _Lazy or (name in _FUSED and type(a) is _ndarray and a.size >= _fuse.min_elements):
            out = lazy.record(self, name, (a,)) if name in _FUSED else None
            if out is not None:
                return out
            a = lazy.realized(a)
        # exp only: NumPy 2's own SIMD tanh beats the kernel's (benchmarks/bench_cpp_kernels.py)
        if name == "exp" and _f(a) and a.size >= _MIN_ACT:
            return _C.act_forward(_ACT["exp"], a)
        return super().unary(name, a)

    def act(self, name, a, *params):
        # not tanh: NumPy 2's own SIMD tanh beats the kernel's (benchmarks/bench_cpp_kernels.py)
        if _f(a) and a.size >= _MIN_ACT and name != "tanh":
            return _C.act_forward(_ACT[name], a, *map(float, params))
        return super().act(name, a, *params)

    def act_backward(self, name, g, saved, *params):
        if _f(saved) and saved.size >= _MIN_ACT and _same(saved, g):
            return _C.act_backward(_ACT[name], g, saved, *map(float, params))
        return super().act_backward(name, g, saved, *params)

    # ---- softmax family (kernels run along the last axis) ------------------
    @staticmethod
    def _last(a, axis):
        """a with `axis` moved last, and the function moving a result back."""
        axis = axis % a.ndim
        if axis == a.ndim - 1:
            return a, lambda r: r
        return np.moveaxis(a, axis, -1), lambda r: np.moveaxis(r, -1, axis)

    def _soft(self, kind, a, axis, fallback):
        if not (_f(a) and a.ndim >= 1 and a.size >= _MIN_ROWS):
            return fallback(a, axis)
        x, back = self._last(a, axis)
        return back(_C.softmax_forward(kind, _c(x)))

    def _soft_bwd(self, kind, g, y, axis, fallback):
        if not (_f(y) and y.ndim >= 1 and y.size >= _MIN_ROWS and _same(y, g)):
            return fallback(g, y, axis)
        gl, back = self._last(g, axis)
        yl, _ = self._last(y, axis)
        return back(_C.softmax_backward(kind, _c(gl), _c(yl)))

    def softmax(self, a, axis):
        return self._soft(_SOFTMAX, a, axis, super().softmax)

    def log_softmax(self, a, axis):
        return self._soft(_LOG_SOFTMAX, a, axis, super().log_softmax)

    def softmax_backward(self, g, y, axis):
        return self._soft_bwd(_SOFTMAX, g, y, axis, super().softmax_backward)

    def log_softmax_backward(self, g, y, axis):
        return self._soft_bwd(_LOG_SOFTMAX, g, y, axis, super().log_softmax_backward)

    def logsumexp(self, a, axis, keepdims):
        if _f(a) and a.ndim >= 1 and a.size >= _MIN_ROWS and axis is not None and len(axis) == 1:
            ax = axis[0] % a.ndim
            x, _ = self._last(a, ax)
            out = _C.logsumexp(_c(x))
            return np.expand_dims(out, ax) if keepdims else out
        return super().logsumexp(a, axis, keepdims)

    def cross_entropy(self, logits, target, ignore_index):
        if (_f(logits) and logits.ndim == 2 and logits.size >= _MIN_ROWS and type(target) is np.ndarray
                and target.ndim == 1 and target.dtype.kind in "iu"):
            return tuple(_C.cross_entropy_forward(_c(logits), _c(target, dtype=np.int64), int(ignore_index)))
        return super().cross_entropy(logits, target, ignore_index)

    def cross_entropy_backward(self, g, logits, stats, target, ignore_index):
        if (_f(logits) and logits.ndim == 2 and logits.size >= _MIN_ROWS and type(target) is np.ndarray
                and target.ndim == 1 and target.dtype.kind in "iu"):
            n = logits.shape[0]
            g = _c(np.broadcast_to(np.asarray(g, logits.dtype), (n,)))
            return _C.cross_entropy_backward(g, _c(logits), _c(stats, dtype=logits.dtype),
                                             _c(target, dtype=np.int64), int(ignore_index))
        return super().cross_entropy_backward(g, logits, stats, target, ignore_index)

    # ---- layer norm (csrc/layernorm.cpp) ------------------------------------
    @staticmethod
    def _row_size(x, k, *params):
        """The elements per row of a layer norm over x's last k axes when the kernel takes it (x and
        the parameters float32/float64 of one dtype, rows not empty), else 0."""
        n = math.prod(x.shape[x.ndim - k:])
        if not (_f(x) and x.size >= _MIN_ROWS and n):
            return 0
        ok = all(p is None or (type(p) is np.ndarray and p.dtype == x.dtype and p.size == n) for p in params)
        return n if ok else 0

    def layer_norm(self, x, weight, bias, eps, k):
        n = self._row_size(x, k, weight, bias)
        if not n:
            return super().layer_norm(x, weight, bias, eps, k)
        return tuple(_C.layer_norm_forward(_c(x), _c_or_none(weight), _c_or_none(bias), float(eps), n))

    def layer_norm_backward(self, g, x, mean, rstd, weight, k, need_input, need_weight, need_bias):
        n = self._row_size(x, k, weight)
        if not (n and _same(x, g) and _f(mean) and mean.dtype == x.dtype and _same(mean, rstd)):
            return super().layer_norm_backward(g, x, mean, rstd, weight, k, need_input, need_weight, need_bias)
        dx, dw, db = _C.layer_norm_backward(_c(g), _c(x), _c(mean), _c(rstd), _c_or_none(weight), n,
                                            bool(need_input), bool(need_weight), bool(need_bias))
        shape = x.shape[x.ndim - k:]
        return dx, None if dw is None else dw.reshape(shape), None if db is None else db.reshape(shape)

    # ---- reductions ------------------------------------------------------
    def reduce(self, name, a, axis, keepdims):
        if type(a) is _Lazy:  # a pending sum of all: taken in the pass that computes its operand
            out = lazy.record(self, name, (a, axis, keepdims)) if name == "sum" else None
            if out is not None:
                return out
            a = a.get()
        red = _RED.get(name)
        if red is None or not _f(a) or not ((name == "max" and a.size) or _kernel_sums(a, axis)):
            return super().reduce(name, a, axis, keepdims)
        axes = tuple(range(a.ndim)) if axis is None else tuple(sorted(x % a.ndim for x in axis))
        if not axes:
            return super().reduce(name, a, axis, keepdims)
        lo, hi = axes[0], axes[-1]
        shape = a.shape
        if hi - lo + 1 != len(axes):  # not one run of axes
            return self._reduce_around(name, a, axes, keepdims)
        outer, n, inner = math.prod(shape[:lo]), math.prod(shape[lo:hi + 1]), math.prod(shape[hi + 1:])
        kept = shape[:lo] + (1,) * len(axes) + shape[hi + 1:] if keepdims else shape[:lo] + shape[hi + 1:]
        return _C.reduce_axis(red, _c(a), outer, n, inner, kept)

    def _reduce_around(self, name, a, axes, keepdims):
        """sum or mean over every axis but one run of kept axes (a batch norm's (0, 2, 3)), in the
        kernel that adds in double; other patterns go to NumPy."""
        kept = [d for d in range(a.ndim) if d not in axes]
        if name == "max" or kept != list(range(kept[0], kept[-1] + 1)) or axes[0] != 0 or axes[-1] != a.ndim - 1:
            return super().reduce(name, a, axes, keepdims)
        shape = a.shape
        r1, r2 = math.prod(shape[:kept[0]]), math.prod(shape[kept[-1] + 1:])
        out = _C.sum_outer_inner(_c(a), r1, a.size // (r1 * r2), r2,
                                 tuple(n if d in kept else 1 for d, n in enumerate(shape)) if keepdims else
                                 tuple(shape[d] for d in kept))
        if name == "mean":
            out /= r1 * r2
        return out

    def sum_to_shape(self, a, shape):
        shape = tuple(shape)
        # a bias's gradient first, (m, n) -> (n,), in the few steps it takes (the general path below ends
        # in the same call: the float32 sums NumPy would take in float64 too, and all from _MIN_REDUCE on)
        if (type(a) is np.ndarray and a.ndim == 2 and len(shape) == 1 and shape[0] == a.shape[1] > 1
                and a.shape[0] > 1 and (a.dtype == np.float32 or (a.dtype == np.float64 and a.size >= _MIN_REDUCE))):
            return _C.reduce_axis(0, _c(a), 1, a.shape[0], shape[0], shape)
        if not _f(a) or a.shape == shape:
            return super().sum_to_shape(a, shape)
        lead = a.ndim - len(shape)
        if not _kernel_sums(a, tuple(range(lead)) + tuple(i + lead for i, n in enumerate(shape)
                                                          if n == 1 and a.shape[i + lead] != 1)):
            return super().sum_to_shape(a, shape)
        # each axis of a is kept (K) or summed (R); size-1 axes join either side
        flags = [True] * lead + [n == 1 and a.shape[i + lead] != 1 for i, n in enumerate(shape)]
        groups = []  # [reduced?, size]
        for red, n in zip(flags, a.shape):
            if n == 1:
                continue
            if groups and groups[-1][0] == red:
                groups[-1][1] *= n
            else:
                groups.append([red, n])
        pattern = tuple(g[0] for g in groups)
        sizes = [g[1] for g in groups]
        x = _c(a)
        # the result is made in its final shape: a reshaped one would be a view, which the
        # engine copies before it becomes a .grad
        if pattern == (True,):
            return _C.reduce_axis(0, x, 1, sizes[0], 1, shape)
        if pattern == (True, False):
            return _C.reduce_axis(0, x, 1, sizes[0], sizes[1], shape)
        if pattern == (False, True):
            return _C.reduce_axis(0, x, sizes[0], sizes[1], 1, shape)
        if pattern == (False, True, False):
            return _C.reduce_axis(0, x, sizes[0], sizes[1], sizes[2], shape)
        if pattern == (True, False, True):
            return _C.sum_outer_inner(x, sizes[0], sizes[1], sizes[2], shape)
        return super().sum_to_shape(a, shape)

    # ---- optimizers ------------------------------------------------------
    @staticmethod
    def _state_ok(p, *arrays):
        return all(x is None or (_same(p, x) and x.flags.c_contiguous and x.flags.writeable) for x in arrays)

    def sgd_step(self, param, grad, buf, lr, momentum, dampening, nesterov, weight_decay, scratch=None):
        if not (_f(param) and param.size >= _MIN_OPTIM and param.flags.c_contiguous and param.flags.writeable
                and _same(param, grad) and self._state_ok(param, buf)):
            return super().sgd_step(param, grad, buf, lr, momentum, dampening, nesterov, weight_decay, scratch)
        if not momentum:
            _C.sgd_step(param, _c(grad), None, formulas.sgd_scalars(lr, weight_decay))
            return buf
        init = buf is None
        if init:
            buf = np.empty_like(param)
        _C.sgd_step(param, _c(grad), buf,
                    formulas.sgd_momentum_scalars(lr, weight_decay, momentum, dampening, init, nesterov))
        return buf

    # The foreach steps: the kernels take the group's arrays as they are, or say they cannot (nothing
    # written) and the single steps run (NumPy's, with their errors).
    def sgd_steps(self, params, grads, bufs, lr, momentum, dampening, nesterov, weight_decay, scratch=None):
        init = momentum and bufs and all(buf is None for buf in bufs)
        if not momentum:
            if _C.sgd_steps(params, grads, bufs, formulas.sgd_scalars(lr, weight_decay)):
                return bufs
        elif init or not any(buf is None for buf in bufs):
            made = [np.empty_like(p) for p in params] if init else bufs  # the first step makes the buffers
            scalars = formulas.sgd_momentum_scalars(lr, weight_decay, momentum, dampening, init, nesterov)
            if _C.sgd_steps(params, grads, made, scalars):
                return made
        return super().sgd_steps(params, grads, bufs, lr, momentum, dampening, nesterov, weight_decay, scratch)

    def adam_steps(self, params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, lr, beta1, beta2, eps,
                   weight_decay, amsgrad, decoupled, maximize=False, scratch=None):
        scalars = {}  # by step count: a group's parameters usually share one
        for step in steps:
            if step not in scalars:
                scalars[step] = formulas.adam_scalars(step, lr, beta1, beta2, eps, weight_decay, amsgrad, decoupled,
                                                      maximize)
        if not (amsgrad and any(v is None for v in max_exp_avg_sqs)) and _C.adam_steps(
                params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, [scalars[step] for step in steps]):
            return
        super().adam_steps(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, lr, beta1, beta2, eps,
                           weight_decay, amsgrad, decoupled, maximize, scratch)

    def adam_step(self, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1, beta2, eps,
                  weight_decay, amsgrad, decoupled, maximize=False, scratch=None):
        if not (_f(param) and param.size >= _MIN_OPTIM and param.flags.c_contiguous and param.flags.writeable
                and _same(param, grad) and self._state_ok(param, exp_avg, exp_avg_sq, max_exp_avg_sq)
                and (max_exp_avg_sq is not None or not amsgrad)):
            return super().adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1, beta2,
                                     eps, weight_decay, amsgrad, decoupled, maximize, scratch)
        _C.adam_step(param, _c(grad), exp_avg, exp_avg_sq, max_exp_avg_sq,
                     formulas.adam_scalars(step, lr, beta1, beta2, eps, weight_decay, amsgrad, decoupled, maximize))
