"""Fused CUDA kernels for the cupy backend.

Elementwise kernels (cupy.ElementwiseKernel: one pass, broadcasting and
strides handled by cupy) for activations, their backward, the optimizer
updates and fused programs, all built from backends/formulas.py; and
row-wise kernels (one block per row, cupy.RawModule) for the stable softmax,
log_softmax, their backward and logsumexp, which otherwise take four or five
passes over memory. Everything compiles on first use
(NVRTC, cached on disk by cupy), so importing this module costs nothing.

Callers pass only float32/float64 cupy arrays of one dtype; the backend
falls back to the composed defaults for anything else.
"""
import numpy

import cupy

from . import formulas

# ---- elementwise: backends/formulas.py's formulas as __device__ functions ------------------------
PREAMBLE = formulas.cuda_preamble()
_act_kernels = {}


def act(name, backward):
    """The kernel of activation `name`: (x, p0, p1) -> y, or backward (g, saved, p0, p1) -> dx."""
    kernel = _act_kernels.get((name, backward))
    if kernel is None:
        if backward:
            args = ("T g, T xy, T p0, T p1", "T dx", f"dx = act_{name}_bwd(g, xy, p0, p1);")
        else:
            args = ("T x, T p0, T p1", "T y", f"y = act_{name}_fwd(x, p0, p1);")
        kernel = _act_kernels[name, backward] = cupy.ElementwiseKernel(
            *args, f"tc_{name}_{'bwd' if backward else 'fwd'}", preamble=PREAMBLE)
    return kernel


def update_source(name, state):
    """ElementwiseKernel (in_params, out_params, operation) for update `name` of formulas.UPDATES, in place
    on the arrays `state` (a prefix of its state; the rest are locals: adam's vmax without AMSGrad)."""
    u = formulas.UPDATE[name]
    ins = ", ".join(f"T {a}" for a in u.inputs + u.scalars)
    local = "".join(f"T {s} = T(0); " for s in u.state if s not in state)
    return ins, ", ".join(f"T {s}" for s in state), f"{local}update_{name}({', '.join(u.state + u.inputs + u.scalars)});"


_update_kernels = {}


def update(name, state):
    kernel = _update_kernels.get((name, state))
    if kernel is None:
        kernel = _update_kernels[name, state] = cupy.ElementwiseKernel(
            *update_source(name, state), f"tc_{name}_{len(state)}", preamble=PREAMBLE)
    return kernel


# per-row loss -log_softmax = ls - (logits[row, target] - m), from the row's shift m and
# ls = log(sum(exp(x - m))) (row_stats); 0 for ignored rows, NaN for targets out of range
cross_entropy_pick = cupy.ElementwiseKernel(
    "raw T logits, I t, T m, T ls, int64 C, I ignore", "T loss",
    """
    if (t == ignore) { loss = T(0); }
    else if (t < 0 || t >= C) { loss = T(__longlong_as_double(0x7ff8000000000000LL)); }
    else { loss = ls - (logits[i * C + t] - m); }
    """,
    "tc_cross_entropy_pick")

# g * (softmax(logits) - onehot(target)) over (N, C); m, ls, t, g are (N, 1), c is (1, C)
cross_entropy_backward = cupy.ElementwiseKernel(
    "T x, T m, T ls, I t, T g, I c, I ignore", "T dx",
    "dx = t == ignore ? T(0) : g * (exp((x - m) - ls) - (c == t ? T(1) : T(0)))",
    "tc_cross_entropy_backward")

# ---- fused elementwise programs (backends/lazy.py) --------------------------------
# Each instruction is formulas.py's instr_NAME(a, b) (b = a for one operand), as in the C++ programs,
# so a fused result equals the unfused one.
_fused_kernels = {}


def fused_source(names, code, n_in, n_const, n_out, n_scratch, n_sums):
    """ElementwiseKernel (in_params, out_params, operation) for a fused program: registers
    become i0.. (inputs), c0.. (float64 scalars), o0.. (outputs) and s0.. (locals); a sum
    row copies its register to the extra output r<k>, which the caller sums."""
    first_const, first_out = n_in, n_in + n_const
    first_scratch = first_out + n_out

    def reg(r):
        if r < first_const:
            return f"i{r}"
        if r < first_out:
            return f"T(c{r - first_const})"
        if r < first_scratch:
            return f"o{r - first_out}"
        return f"s{r - first_scratch}"
    lines = [f"T {', '.join(f's{k}' for k in range(n_scratch))};"] if n_scratch else []
    for op, dst, a, b in code:
        name = names[op]
        if name == "sum":
            lines.append(f"r{dst} = {reg(a)};")
        else:
            lines.append(f"{reg(dst)} = instr_{name}({reg(a)}, {reg(b) if b >= 0 else reg(a)});")
    ins = [f"T i{k}" for k in range(n_in)] + [f"float64 c{k}" for k in range(n_const)]
    outs = [f"T o{k}" for k in range(n_out)] + [f"T r{k}" for k in range(n_sums)]
    return ", ".join(ins), ", ".join(outs), "\n".join(lines)


def fused_kernel(names, code, n_in, n_const, n_out, n_scratch, n_sums):
    """The compiled kernel for a fused program, made once per program."""
    key = (code.tobytes(), n_in, n_const, n_out, n_scratch, n_sums)
    kernel = _fused_kernels.get(key)
    if kernel is None:
        params = fused_source(names, code.tolist(), n_in, n_const, n_out, n_scratch, n_sums)
        kernel = _fused_kernels[key] = cupy.ElementwiseKernel(*params, f"tc_fused_{len(_fused_kernels)}",
                                                              preamble=PREAMBLE)
    return kernel


def scatter_add(a, index, values):
    """a[index] += values, accumulating repeated indices (atomic adds)."""
    if hasattr(cupy.add, "at"):
        cupy.add.at(a, index, values)
    else:  # cupy before ufunc.at
        import cupyx
        cupyx.scatter_add(a, index, values)


# ---- row-wise ----------------------------------------------------------------
_ROWS_SRC = r"""
template<typename T> __device__ __forceinline__ T tc_neg_inf();
template<> __device__ __forceinline__ float tc_neg_inf<float>() { return __int_as_float(0xff800000); }
template<> __device__ __forceinline__ double tc_neg_inf<double>() {
    return __longlong_as_double(0xfff0000000000000LL);
}

// NaN wins, so a row holding NaN gives NaN (as NumPy and torch do)
template<typename T> __device__ __forceinline__ T tc_max(T a, T b) { return (a > b || a != a) ? a : b; }

template<typename T, bool MAX> __device__ __forceinline__ T tc_warp_reduce(T v) {
    for (int o = 16; o > 0; o >>= 1) {
        T other = __shfl_xor_sync(0xffffffffu, v, o);
        v = MAX ? tc_max(v, other) : v + other;
    }
    return v;
}

// blockDim.x is a multiple of 32, at most 1024; every thread gets the result
template<typename T, bool MAX> __device__ T tc_block_reduce(T v, T* sh) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
    v = tc_warp_reduce<T, MAX>(v);
    __syncthreads();  // sh may still be read from the previous reduction
    if (lane == 0) sh[warp] = v;
    __syncthreads();
    if (warp == 0) {
        T w = lane < nwarps ? sh[lane] : (MAX ? tc_neg_inf<T>() : T(0));
        w = tc_warp_reduce<T, MAX>(w);
        if (lane == 0) sh[0] = w;
    }
    __syncthreads();
    return sh[0];
}

// y = softmax (log_out = 0) or log_softmax (log_out = 1) of each contiguous row of x
template<typename T>
__global__ void tc_softmax_fwd(const T* __restrict__ x, T* __restrict__ y, long long cols, int log_out) {
    __shared__ T sh[32];
    const long long off = (long long)blockIdx.x * cols;
    x += off;
    y += off;
    T m = tc_neg_inf<T>();
    for (long long c = threadIdx.x; c < cols; c += blockDim.x) m = tc_max(m, x[c]);
    m = tc_block_reduce<T, true>(m, sh);
    T s = T(0);
    for (long long c = threadIdx.x; c < cols; c += blockDim.x) s += exp(x[c] - m);
    s = tc_block_reduce<T, false>(s, sh);
    if (log_out) {
        const T ls = log(s);
        for (long long c = threadIdx.x; c < cols; c += blockDim.x) y[c] = (x[c] - m) - ls;
    } else {
        for (long long c = threadIdx.x; c < cols; c += blockDim.x) y[c] = exp(x[c] - m) / s;
    }
}

// softmax:     dx = g*y - y * sum(g*y)
// log_softmax: dx = g - exp(y) * sum(g)
template<typename T>
__global__ void tc_softmax_bwd(const T* __restrict__ g, const T* __restrict__ y, T* __restrict__ dx,
                               long long cols, int log_out) {
    __shared__ T sh[32];
    const long long off = (long long)blockIdx.x * cols;
    g += off;
    y += off;
    dx += off;
    T s = T(0);
    for (long long c = threadIdx.x; c < cols; c += blockDim.x) s += log_out ? g[c] : g[c] * y[c];
    s = tc_block_reduce<T, false>(s, sh);
    if (log_out) {
        for (long long c = threadIdx.x; c < cols; c += blockDim.x) dx[c] = g[c] - exp(y[c]) * s;
    } else {
        for (long long c = threadIdx.x; c < cols; c += blockDim.x) dx[c] = g[c] * y[c] - y[c] * s;
    }
}

// out[row] = log(sum(exp(x - m))) + m, or with `split` out[2 row] = m and out[2 row + 1] =
// log(sum(exp(x - m))) (their sum rounds where m is large); m = 0 when the row's max is infinite
template<typename T>
__global__ void tc_logsumexp(const T* __restrict__ x, T* __restrict__ out, long long cols, int split) {
    __shared__ T sh[32];
    x += (long long)blockIdx.x * cols;
    T m = tc_neg_inf<T>();
    for (long long c = threadIdx.x; c < cols; c += blockDim.x) m = tc_max(m, x[c]);
    m = tc_block_reduce<T, true>(m, sh);
    if (m == tc_neg_inf<T>() || m == -tc_neg_inf<T>()) m = T(0);
    T s = T(0);
    for (long long c = threadIdx.x; c < cols; c += blockDim.x) s += exp(x[c] - m);
    s = tc_block_reduce<T, false>(s, sh);
    if (threadIdx.x == 0) {
        if (split) {
            out[2 * (long long)blockIdx.x] = m;
            out[2 * (long long)blockIdx.x + 1] = log(s);
        } else {
            out[blockIdx.x] = log(s) + m;
        }
    }
}
"""

_KERNELS = ("tc_softmax_fwd", "tc_softmax_bwd", "tc_logsumexp")
_CTYPE = {numpy.dtype(numpy.float32): "float", numpy.dtype(numpy.float64): "double"}
_module = None

# one block per row suits many short rows; a few very long rows leave most of the
# GPU idle, so they go to cupy's grid-wide reductions instead (the composed path)
_LONG_ROW = 1 << 16
_FEW_ROWS = 256


def _kernel(name, dtype):
    global _module
    if _module is None:
        names = [f"{k}<{t}>" for k in _KERNELS for t in _CTYPE.values()]
        _module = cupy.RawModule(code=_ROWS_SRC, name_expressions=names)
    return _module.get_function(f"{name}<{_CTYPE[dtype]}>")


def _threads(cols):
    t = 32
    while t < cols and t < 512:
        t *= 2
    return t


def _as_rows(a, axes):
    """a with `axes` moved last and made contiguous, and its (rows, cols) shape."""
    rest = [i for i in range(a.ndim) if i not in axes]
    x = cupy.ascontiguousarray(a.transpose(rest + list(axes)))
    cols = 1
    for i in axes:
        cols *= a.shape[i]
    return x, (x.size // cols if cols else 0), cols


def _rowwise(rows, cols):
    # (the grid's x dimension holds the rows: at most 2**31 - 1)
    return 0 < rows < 2**31 - 1 and cols > 0 and not (rows < _FEW_ROWS and cols >= _LONG_ROW)


def softmax_rows(a, axis, log):
    """softmax or log_softmax along `axis`; None when the composed path fits better."""
    if a.ndim == 0:
        return None
    axis %= a.ndim
    x, rows, cols = _as_rows(a, (axis,))
    if not _rowwise(rows, cols):
        return None
    y = cupy.empty_like(x)
    _kernel("tc_softmax_fwd", x.dtype)((rows,), (_threads(cols),), (x, y, numpy.int64(cols), numpy.int32(log)))
    return cupy.moveaxis(y, -1, axis)


def softmax_backward_rows(g, y, axis, log):
    if y.ndim == 0 or g.shape != y.shape:
        return None
    axis %= y.ndim
    gr, rows, cols = _as_rows(g, (axis,))
    yr, _, _ = _as_rows(y, (axis,))
    if not _rowwise(rows, cols):
        return None
    dx = cupy.empty_like(yr)
    _kernel("tc_softmax_bwd", yr.dtype)((rows,), (_threads(cols),),
                                        (gr, yr, dx, numpy.int64(cols), numpy.int32(log)))
    return cupy.moveaxis(dx, -1, axis)


def logsumexp_rows(a, axis, keepdims):
    axes = tuple(range(a.ndim)) if axis is None else tuple(sorted(i % a.ndim for i in axis))
    if a.ndim == 0 or not axes:
        return None
    x, rows, cols = _as_rows(a, axes)
    if not _rowwise(rows, cols):
        return None
    out = cupy.empty(rows, dtype=a.dtype)
    _kernel("tc_logsumexp", x.dtype)((rows,), (_threads(cols),), (x, out, numpy.int64(cols), numpy.int32(0)))
    kept = [1 if i in axes else n for i, n in enumerate(a.shape)]
    return out.reshape(kept if keepdims else [n for i, n in enumerate(a.shape) if i not in axes])


def row_stats(x):
    """(rows, 2): each row's shift m and log(sum(exp(x - m))) for contiguous 2-D x (cross-entropy's
    stats, as the backend's cross_entropy defines them); None when the composed path fits better."""
    rows, cols = x.shape
    if not _rowwise(rows, cols):
        return None
    out = cupy.empty((rows, 2), dtype=x.dtype)
    _kernel("tc_logsumexp", x.dtype)((rows,), (_threads(cols),), (x, out, numpy.int64(cols), numpy.int32(1)))
    return out
