"""The CuPy backend: the NumPy implementation run on an NVIDIA GPU.

It shares XpBackend with ``xp = cupy`` (Chainer's idea) and adds what a GPU
needs: explicit transfer, synchronisation, a pooled allocator that tracks the
peak and explains out-of-memory errors, and fused CUDA kernels for the hot
paths (activations and their backward, row-wise softmax/log_softmax/logsumexp,
optimizer steps), so each is one pass over memory instead of several.
matmul goes to cuBLAS through cupy.matmul.

Loading fails (the registry then lists "cupy" as unavailable, with the
reason) when cupy is missing or CUDA counts no device: cupy imports fine on
a machine without a GPU, so the import alone proves nothing.
"""
import numpy

try:
    import cupy
except ImportError as e:
    raise ImportError(f"cupy is not installed ({e}); install the extra: pip install 'tinygrad_chain[cuda]'") from None

from tinygrad_chain import dtypes

from . import OutOfMemoryError
from . import cupy_kernels as K
from . import dlpack, half, lazy

_NUMBERS, _F32 = half.NUMBERS, numpy.dtype(numpy.float32)
from . import formulas
from .base import FUSED_INSTRUCTIONS
from .xp_backend import XpBackend

_FLOATS = (numpy.dtype(numpy.float32), numpy.dtype(numpy.float64))


def _count_devices():
    """CUDA's device count, or an exception that says why there is none."""
    try:
        n = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:  # CUDARuntimeError: no driver, driver too old, no device
        raise RuntimeError(f"cupy is installed but CUDA reports no usable GPU ({type(e).__name__}: {e})") from None
    if n == 0:
        raise RuntimeError("cupy is installed but CUDA counts 0 devices")
    return n


class _OutOfMemory(OutOfMemoryError, cupy.cuda.memory.OutOfMemoryError):
    """tc.cuda.OutOfMemoryError that cupy's own code still recognises as its OOM error."""

    def __init__(self, msg, size, total):
        RuntimeError.__init__(self, msg)
        self._size, self._total, self._limit = size, total, 0  # cupy's attributes

    def __reduce__(self):
        return (type(self), (str(self), self._size, self._total))


def _fmt(n):
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n} bytes" if unit == "bytes" else f"{n:.2f} {unit}"
        n /= 1024


class _TrackingAllocator:
    """cupy's memory pool, plus the peak of its used bytes and a clear out-of-memory error.

    Every device allocation cupy makes (arrays, cuBLAS workspaces) passes
    through __call__, so this is the one place to see them all. The pool's
    used_bytes() walks its live blocks, so it is asked only when an upper
    bound on current use (last exact figure plus everything allocated since)
    could pass the recorded peak: the peak stays exact, the common path cheap.
    """

    def __init__(self, pool):
        self.pool = pool
        self.peak = 0
        self._last = 0   # used_bytes() when last asked
        self._since = 0  # bytes handed out since then (frees are not seen)

    def __call__(self, size):
        try:
            ptr = self.pool.malloc(size)
        except cupy.cuda.memory.OutOfMemoryError:
            raise self._oom(size) from None
        self._since += ptr.mem.size if size else 0
        if self._last + self._since > self.peak:
            self.sample()
        return ptr

    def sample(self):
        used = self.pool.used_bytes()
        self._last, self._since = used, 0
        if used > self.peak:
            self.peak = used
        return used

    def reset_peak(self):
        self.peak = self.sample()

    def _oom(self, size):
        used, total = self.pool.used_bytes(), self.pool.total_bytes()
        try:
            free_dev, total_dev = cupy.cuda.runtime.memGetInfo()
            device = f"; the device has {_fmt(free_dev)} free of {_fmt(total_dev)}"
        except Exception:
            device = ""
        limit = self.pool.get_limit()
        limit = f", pool limit {_fmt(limit)}" if limit else ""
        msg = (f"CUDA out of memory: tried to allocate {_fmt(size)}. The memory pool holds {_fmt(used)} in live "
               f"arrays and {_fmt(total - used)} cached ({_fmt(total)} reserved{limit}){device}. Free tensors "
               f"you no longer need (del them, let backward() free the graph), call tc.cuda.empty_cache(), "
               f"or use smaller batches.")
        return _OutOfMemory(msg, size, used)


@lazy.fusing  # elementwise chains fused into one kernel (backends/lazy.py)
class CupyBackend(XpBackend):
    name = "cupy"
    device_type = "cuda"
    xp = cupy

    def __init__(self):
        self._device_count = _count_devices()
        self._pool = cupy.get_default_memory_pool()
        self._alloc = _TrackingAllocator(self._pool)
        cupy.cuda.set_allocator(self._alloc)
        super().__init__()
        self._unary["erf"] = self._erf

    def _make_native(self, dtype):
        # float16 is CuPy's own; bfloat16 is ml_dtypes', which only newer CuPy can hold (cupy#9494)
        native = super()._make_native(dtype)
        if dtype is dtypes.bfloat16:
            try:
                cupy.empty(1, dtype=native)
            except Exception as e:
                raise TypeError(f"bfloat16 is not available on device 'cupy': CuPy {cupy.__version__} cannot "
                                f"hold ml_dtypes.bfloat16 arrays ({type(e).__name__}: {e}); CuPy releases with "
                                f"ml_dtypes support can. float16 works.") from None
        return native

    # ---- device queries (tc.cuda) ------------------------------------------
    def device_count(self):
        return self._device_count

    def device_name(self, index=0):
        name = cupy.cuda.runtime.getDeviceProperties(index)["name"]
        return name.decode() if isinstance(name, bytes) else str(name)

    def memory_stats(self):
        used = self._alloc.sample()
        return {"allocated": used, "peak": self._alloc.peak, "reserved": self._pool.total_bytes()}

    def reset_peak(self):
        self._alloc.reset_peak()

    def empty_cache(self):
        self._pool.free_all_blocks()
        cupy.get_default_pinned_memory_pool().free_all_blocks()

    def mem_get_info(self):
        return cupy.cuda.runtime.memGetInfo()

    def synchronize(self):
        cupy.cuda.Device().synchronize()

    # ---- creation and transfer ----------------------------------------
    def asarray(self, data, dtype=None):
        # cupy.asarray copies NumPy arrays, scalars and nested lists to the device
        return cupy.asarray(data, dtype=None if dtype is None else self._native[dtype])

    def to_numpy(self, a):
        return cupy.asnumpy(a)

    def copy_into(self, dst, src):
        dst[...] = cupy.asarray(src) if isinstance(src, numpy.ndarray) else src

    def setitem(self, a, index, value):
        a[index] = cupy.asarray(value) if isinstance(value, numpy.ndarray) else value

    # ---- DLPack: CuPy's own (it synchronises streams; bfloat16 where this CuPy has it) ----
    def to_dlpack(self, a, stream=None, max_version=None, dl_device=None, copy=None):
        asked = {"stream": stream, "max_version": max_version, "dl_device": dl_device, "copy": copy}
        return a.__dlpack__(**{k: v for k, v in asked.items() if v is not None})

    def from_dlpack(self, obj):
        return cupy.from_dlpack(dlpack.Holder(obj) if dlpack.is_capsule(obj) else obj)

    # ---- random --------------------------------------------------------
    # cupy's RandomState (cuRAND) draws every dtype we need and permutations
    def make_rng(self, seed):
        return cupy.random.RandomState(seed % 2 ** 63)

    def rand(self, shape, dtype, rng=None):
        nd = self._native[dtype]
        draw = (rng or self._rng).random_sample(shape, dtype=nd if nd in _FLOATS else numpy.float32)
        return draw.astype(nd, copy=False)

    def randn(self, shape, dtype, rng=None):
        nd = self._native[dtype]
        draw = (rng or self._rng).standard_normal(shape, dtype=nd if nd in _FLOATS else numpy.float32)
        return draw.astype(nd, copy=False)

    def randint(self, low, high, shape, dtype, rng=None):
        draw = (rng or self._rng).randint(low, high, size=shape, dtype=numpy.int64)
        return draw.astype(self._native[dtype], copy=False)

    def permutation(self, n, rng=None):
        return (rng or self._rng).permutation(n)

    # ---- elementwise ---------------------------------------------------
    # GPU math never warns, so there is no errstate to enter (cupy has none)
    def unary(self, name, a):
        return self._unary[name](a)

    def binary(self, name, a, b):
        # a Python number meeting a half array computes in float32 (backends/half.py); float32 is
        # ruled out first, by identity: this is the per-op path of small tensors
        if type(b) in _NUMBERS:
            if a.dtype is not _F32 and a.dtype in self.half_natives:
                return half.with_number(self, name, a, b)
        elif type(a) in _NUMBERS:
            if b.dtype is not _F32 and b.dtype in self.half_natives:
                return half.with_number(self, name, a, b)
        elif getattr(a, "dtype", None) is not getattr(b, "dtype", None):
            a, b = self.torch_operands(a, b)
            if type(a) in _NUMBERS or type(b) in _NUMBERS:  # was a NumPy scalar
                return self.binary(name, a, b)
        return self._binary[name](a, b)

    def _erf(self, a):
        try:
            from cupyx.scipy import special
        except ImportError:  # cupyx without scipy support: the shared formula
            return super()._erf(a)
        out = special.erf(a)
        return out if out.dtype == a.dtype else out.astype(a.dtype)

    # ---- movement and indexing -----------------------------------------
    def index_add(self, a, index, values):
        K.scatter_add(a, index, values)

    def scatter_add_along_axis(self, shape, indices, values, axis):
        out = cupy.zeros(shape, dtype=values.dtype)
        nd = indices.ndim
        # an arange along every other axis, broadcasting against `indices`
        index = [cupy.arange(n).reshape((1,) * i + (n,) + (1,) * (nd - i - 1)) for i, n in enumerate(indices.shape)]
        index[axis] = indices
        K.scatter_add(out, tuple(index), values)
        return out

    def take_along_axis(self, a, indices, axis):
        return cupy.take_along_axis(a, indices, axis)

    # ---- linear algebra ------------------------------------------------
    def einsum(self, equation, *arrays):
        # cupy's optimize= takes only False or an explicit path; its default contracts pairwise
        return cupy.einsum(equation, *arrays)

    # ---- fused elementwise programs (backends/lazy.py) ------------------------
    fused_ops = {name: i for i, name in enumerate(FUSED_INSTRUCTIONS)}
    fuses_repeats = False  # every input of a program has its shape

    def fusable(self, a):
        return type(a) is cupy.ndarray and a.dtype in _FLOATS and a.flags.c_contiguous

    def run_fused(self, code, inputs, consts, outputs, n_scratch, n_sums, stretch=None):  # no fuses_repeats
        kernel = K.fused_kernel(FUSED_INSTRUCTIONS, code, len(inputs), len(consts), len(outputs), n_scratch, n_sums)
        reduced = [cupy.empty_like(inputs[0]) for _ in range(n_sums)]  # each summed below
        kernel(*inputs, *[float(c) for c in consts], *outputs, *reduced)
        return cupy.stack([r.sum(dtype=cupy.float64) for r in reduced]) if n_sums else cupy.empty(0, cupy.float64)

    # ---- fused kernels ---------------------------------------------------
    def act(self, name, a, *params):
        if not (_float(a) or name == "relu" and isinstance(a, cupy.ndarray) and a.dtype.kind in "iu"):
            return super().act(name, a, *params)
        t = a.dtype.type
        return K.act(name, False)(a, *(t(p) for p in params + (0, 0)[len(params):]))

    def act_backward(self, name, g, saved, *params):
        if not _same_float(g, saved):
            return super().act_backward(name, g, saved, *params)
        t = g.dtype.type
        return K.act(name, True)(g, saved, *(t(p) for p in params + (0, 0)[len(params):]))

    def softmax(self, a, axis):
        out = K.softmax_rows(a, axis, log=False) if _float(a) else None
        return super().softmax(a, axis) if out is None else out

    def log_softmax(self, a, axis):
        out = K.softmax_rows(a, axis, log=True) if _float(a) else None
        return super().log_softmax(a, axis) if out is None else out

    def softmax_backward(self, g, y, axis):
        out = K.softmax_backward_rows(g, y, axis, log=False) if _same_float(g, y) else None
        return super().softmax_backward(g, y, axis) if out is None else out

    def log_softmax_backward(self, g, y, axis):
        out = K.softmax_backward_rows(g, y, axis, log=True) if _same_float(g, y) else None
        return super().log_softmax_backward(g, y, axis) if out is None else out

    def logsumexp(self, a, axis, keepdims):
        out = K.logsumexp_rows(a, axis, keepdims) if _float(a) else None
        return super().logsumexp(a, axis, keepdims) if out is None else out

    def cross_entropy(self, logits, target, ignore_index):
        if not (_float(logits) and logits.ndim == 2 and isinstance(target, cupy.ndarray) and target.dtype.kind == "i"):
            return super().cross_entropy(logits, target, ignore_index)
        x = cupy.ascontiguousarray(logits)
        stats = K.row_stats(x)
        if stats is None:
            return super().cross_entropy(logits, target, ignore_index)
        loss = K.cross_entropy_pick(x, target, stats[:, 0], stats[:, 1], numpy.int64(x.shape[1]),
                                    target.dtype.type(ignore_index))
        return loss, stats

    def cross_entropy_backward(self, g, logits, stats, target, ignore_index):
        if not (_same_float(logits, stats) and logits.ndim == 2 and isinstance(target, cupy.ndarray)
                and target.dtype.kind == "i" and isinstance(g, cupy.ndarray) and g.dtype == logits.dtype):
            return super().cross_entropy_backward(g, logits, stats, target, ignore_index)
        cols = cupy.arange(logits.shape[1], dtype=target.dtype).reshape(1, -1)
        return K.cross_entropy_backward(logits, stats[:, :1], stats[:, 1:], target.reshape(-1, 1),
                                        cupy.broadcast_to(g, (logits.shape[0],)).reshape(-1, 1), cols,
                                        target.dtype.type(ignore_index))

    def update_step(self, name, scalars, *arrays, scratch=None):
        # one kernel per update and set of present states (formulas.py's row; cupy_kernels.update)
        state = formulas.UPDATE[name].state
        p = arrays[0]
        if not all(a is None or (_same_float(p, a) and a.shape == p.shape) for a in arrays):
            return super().update_step(name, scalars, *arrays, scratch=scratch)
        present = tuple(s for s, a in zip(state, arrays) if a is not None)
        t = p.dtype.type
        K.update(name, present)(*arrays[len(state):], *map(t, scalars),
                                *(a for a in arrays[:len(state)] if a is not None))

    # ---- convolution windows ---------------------------------------------
    def sliding_windows(self, x, kernel, stride, padding, dilation, value=0):
        # the shared version, less NumPy's writeable= (cupy's as_strided has no such argument)
        if any(padding):
            x = cupy.pad(x, ((0, 0), (0, 0), padding[:2], padding[2:]), mode="constant", constant_values=value)
        n, c, h, w = x.shape
        (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
        oh, ow = (h - dh * (kh - 1) - 1) // sh + 1, (w - dw * (kw - 1) - 1) // sw + 1
        s0, s1, s2, s3 = x.strides
        return cupy.lib.stride_tricks.as_strided(x, (n, c, oh, ow, kh, kw),
                                                 (s0, s1, s2 * sh, s3 * sw, s2 * dh, s3 * dw))


def _float(a):
    return isinstance(a, cupy.ndarray) and a.dtype in _FLOATS


def _same_float(a, b):
    return _float(a) and isinstance(b, cupy.ndarray) and b.dtype == a.dtype
