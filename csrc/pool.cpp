// Max pooling with argmax indices and its scatter; average pooling and its spread.
#include <atomic>
#include <cstdint>
#include <limits>

#include "window.h"

namespace tc {

namespace {
template <class V, class T> inline V loadu_v(const T* p) { V v; __builtin_memcpy(&v, p, sizeof(V)); return v; }

// One kernel tap over a row of outputs: where the tap's value beats the
// running maximum (or is NaN, or is the window's first in-image value), take
// it. Branch-free selects over ox, so the loop vectorizes. SW > 0 fixes the
// column stride at compile time (1 and 2 are the common ones).
template <int SW, class T>
inline void max_tap(const T* in, i64 c0, i64 c1, i64 sw, i64 off, std::int32_t base, T* best, std::int32_t* at) {
    const i64 s = SW > 0 ? SW : sw;
    for (i64 ox = c0; ox < c1; ++ox) {
        T v = in[ox * s + off];
        bool take = v > best[ox] || v != v || at[ox] < 0;
        best[ox] = take ? v : best[ox];
        at[ox] = take ? base + std::int32_t(ox * s + off) : at[ox];
    }
}

// SSE-width vectors (the baseline every x86-64 CPU has) for the 2x2 pooling path.
typedef float f32x4 __attribute__((vector_size(16)));
typedef int i32x4 __attribute__((vector_size(16)));
typedef double f64x2 __attribute__((vector_size(16)));
typedef long long i64x2 __attribute__((vector_size(16)));
#if defined(__clang__)  // no __builtin_shuffle: the same with the indices as arguments
#define TC_SHUFFLE(a, b, M, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
#else
#define TC_SHUFFLE(a, b, M, ...) __builtin_shuffle(a, b, M{__VA_ARGS__})
#endif
template <class T> struct Sse;
template <> struct Sse<float> {
    typedef f32x4 V; typedef i32x4 M; static constexpr int N = 4;
    static V evens(V a, V b) { return TC_SHUFFLE(a, b, M, 0, 2, 4, 6); }
    static V odds(V a, V b) { return TC_SHUFFLE(a, b, M, 1, 3, 5, 7); }
};
template <> struct Sse<double> {
    typedef f64x2 V; typedef i64x2 M; static constexpr int N = 2;
    static V evens(V a, V b) { return TC_SHUFFLE(a, b, M, 0, 2); }
    static V odds(V a, V b) { return TC_SHUFFLE(a, b, M, 1, 3); }
};

// The common 2x2 stride-2 tiling (no padding, no dilation). Data-dependent
// branches would mispredict half the time, and GCC branches on scalar float
// compares, so N outputs go at once in vectors: the maximum and which of the
// four taps holds it, as selects (take a later tap where it is greater or NaN).
template <class T>
void max_pool_2x2(const T* src, i64 w, i64 oh, i64 ow, T* out, std::int64_t* idx) {
    using S = Sse<T>;
    using V = typename S::V;
    constexpr int N = S::N;
    const i64 offset[4] = {0, 1, w, w + 1};
    for (i64 oy = 0; oy < oh; ++oy) {
        const T* r0 = src + 2 * oy * w;
        const T* r1 = r0 + w;
        T* o = out + oy * ow;
        std::int64_t* k = idx + oy * ow;
        i64 ox = 0;
        for (; ox + N <= ow; ox += N) {
            V a0 = loadu_v<V>(r0 + 2 * ox), a1 = loadu_v<V>(r0 + 2 * ox + N);
            V b0 = loadu_v<V>(r1 + 2 * ox), b1 = loadu_v<V>(r1 + 2 * ox + N);
            V taps[3] = {S::odds(a0, a1), S::evens(b0, b1), S::odds(b0, b1)};
            V best = S::evens(a0, a1), tap = V{};
            for (int t = 0; t < 3; ++t) {
                auto take = (taps[t] > best) | (taps[t] != taps[t]);
                best = take ? taps[t] : best;
                tap = take ? V{} + T(t + 1) : tap;
            }
            __builtin_memcpy(o + ox, &best, sizeof(V));
            for (int l = 0; l < N; ++l) k[ox + l] = 2 * oy * w + 2 * (ox + l) + offset[int(tap[l])];
        }
        for (; ox < ow; ++ox) {  // the row's last few outputs
            i64 q = 2 * oy * w + 2 * ox, at = q;
            T best = src[q];
            for (int t = 1; t < 4; ++t) {
                T v = src[q + offset[t]];
                if (v > best || v != v) best = v, at = q + offset[t];
            }
            o[ox] = best;
            k[ox] = at;
        }
    }
}

// Window maxima over the positions inside the image (padding never wins, as
// torch's -inf padding); idx holds the flat h*W + w of the first maximum.
// NaN propagates: each NaN takes over, as in torch's kernel (so the last wins).
// Taps run in window order over whole output rows (first maximum kept).
template <class T>
void max_pool_t(const T* x, i64 planes, const Win& g, T* out, std::int64_t* idx) {
    py::gil_scoped_release nogil;
    i64 hw = g.h * g.w, plane = g.oh * g.ow;
    std::vector<i64> c0(g.kw), c1(g.kw);
    for (i64 j = 0; j < g.kw; ++j) valid_range(g.w, g.ow, g.sw, j * g.dw - g.pl, c0[j], c1[j]);
    bool tiles2 = g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2 && g.dh == 1 && g.dw == 1 && g.pt == 0 &&
                  g.pl == 0 && 2 * g.oh <= g.h && 2 * g.ow <= g.w;
    parallel_for(planes, planes * hw >= EW_PARALLEL / 4 ? 2 : planes + 1, 1, [&](i64 b, i64 e) {
        std::vector<std::int32_t> at(g.ow);  // int32 (H*W < 2^31, checked) so it vectorizes beside T
        for (i64 p = b; p < e; ++p) {
            const T* src = x + p * hw;
            if (tiles2) {
                max_pool_2x2(src, g.w, g.oh, g.ow, out + p * plane, idx + p * plane);
                continue;
            }
            for (i64 oy = 0; oy < g.oh; ++oy) {
                T* best = out + p * plane + oy * g.ow;
                for (i64 ox = 0; ox < g.ow; ++ox) best[ox] = -std::numeric_limits<T>::infinity(), at[ox] = -1;
                for (i64 i = 0; i < g.kh; ++i) {
                    i64 y = g.row(oy, i);
                    if (y < 0 || y >= g.h) continue;
                    const T* in = src + y * g.w;
                    auto base = std::int32_t(y * g.w);
                    for (i64 j = 0; j < g.kw; ++j) {
                        i64 off = j * g.dw - g.pl;
                        if (g.sw == 1) max_tap<1>(in, c0[j], c1[j], 1, off, base, best, at.data());
                        else if (g.sw == 2) max_tap<2>(in, c0[j], c1[j], 2, off, base, best, at.data());
                        else max_tap<0>(in, c0[j], c1[j], g.sw, off, base, best, at.data());
                    }
                }
                std::int64_t* k = idx + p * plane + oy * g.ow;
                for (i64 ox = 0; ox < g.ow; ++ox) k[ox] = at[ox] < 0 ? 0 : at[ox];  // < 0: window all padding
            }
        }
    });
}

// gx (planes, H*W) = zeros with g added at idx (overlapping windows add up). Returns false
// (having skipped them) when some index lies outside the plane.
template <class T>
bool max_pool_backward_t(const T* g, const std::int64_t* idx, i64 planes, i64 plane, i64 hw, T* gx) {
    py::gil_scoped_release nogil;
    std::atomic<bool> ok{true};
    parallel_for(planes, planes * hw >= EW_PARALLEL / 4 ? 2 : planes + 1, 1, [&](i64 b, i64 e) {
        bool good = true;
        for (i64 p = b; p < e; ++p) {
            T* dst = gx + p * hw;
            for (i64 q = 0; q < hw; ++q) dst[q] = T(0);
            const T* src = g + p * plane;
            const std::int64_t* k = idx + p * plane;
            for (i64 q = 0; q < plane; ++q) {
                bool in = std::uint64_t(k[q]) < std::uint64_t(hw);  // one compare also catches k < 0
                good &= in;
                if (in) dst[k[q]] += src[q];
            }
        }
        if (!good) ok.store(false, std::memory_order_relaxed);
    });
    return ok.load();
}

// Window sums over zero padding, each divided by div[oy*OW + ox].
template <class T>
void avg_pool_t(const T* x, i64 planes, const Win& g, const T* div, T* out) {
    py::gil_scoped_release nogil;
    i64 hw = g.h * g.w, plane = g.oh * g.ow;
    parallel_for(planes, planes * hw >= EW_PARALLEL / 4 ? 2 : planes + 1, 1, [&](i64 b, i64 e) {
        for (i64 p = b; p < e; ++p) {
            const T* src = x + p * hw;
            for (i64 oy = 0; oy < g.oh; ++oy)
                for (i64 ox = 0; ox < g.ow; ++ox) {
                    T s = T(0);
                    for (i64 i = 0; i < g.kh; ++i) {
                        i64 y = g.row(oy, i);
                        if (y < 0 || y >= g.h) continue;
                        for (i64 j = 0; j < g.kw; ++j) {
                            i64 xx = g.col(ox, j);
                            if (xx >= 0 && xx < g.w) s += src[y * g.w + xx];
                        }
                    }
                    out[p * plane + oy * g.ow + ox] = s / div[oy * g.ow + ox];
                }
        }
    });
}

// The adjoint of avg_pool_t: each g / div spread over its window's in-image positions.
template <class T>
void avg_pool_backward_t(const T* g, i64 planes, const Win& w, const T* div, T* gx) {
    py::gil_scoped_release nogil;
    i64 hw = w.h * w.w, plane = w.oh * w.ow;
    parallel_for(planes, planes * hw >= EW_PARALLEL / 4 ? 2 : planes + 1, 1, [&](i64 b, i64 e) {
        for (i64 p = b; p < e; ++p) {
            T* dst = gx + p * hw;
            for (i64 q = 0; q < hw; ++q) dst[q] = T(0);
            for (i64 oy = 0; oy < w.oh; ++oy)
                for (i64 ox = 0; ox < w.ow; ++ox) {
                    T share = g[p * plane + oy * w.ow + ox] / div[oy * w.ow + ox];
                    for (i64 i = 0; i < w.kh; ++i) {
                        i64 y = w.row(oy, i);
                        if (y < 0 || y >= w.h) continue;
                        for (i64 j = 0; j < w.kw; ++j) {
                            i64 xx = w.col(ox, j);
                            if (xx >= 0 && xx < w.w) dst[y * w.w + xx] += share;
                        }
                    }
                }
        }
    });
}

void check_div(const py::array& div, const py::array& x, const Win& g, const char* op) {
    check_contig(div, op);
    if (!same_dtype(x.dtype(), div.dtype()) || i64(div.size()) != g.oh * g.ow)
        throw py::value_error(std::string(op) + ": divisor must be an (OH, OW) array of the input's dtype");
}
}  // namespace

void bind_pool(py::module_& m) {
    m.def("max_pool2d", [](const py::array& x, py::tuple kernel, py::tuple stride, py::tuple padding,
                           py::tuple dilation, py::tuple out_hw) {
        check_image(x, "max_pool2d");
        Win g = win_of(x, out_hw, kernel, stride, dilation, padding, 2);
        if (g.h * g.w >= (i64(1) << 31)) throw py::value_error("max_pool2d: an image plane over 2^31 elements");
        i64 n = x.shape(0), c = x.shape(1);
        py::array out = new_array(x, {n, c, g.oh, g.ow});
        py::array_t<std::int64_t> idx(std::vector<py::ssize_t>{n, c, g.oh, g.ow});
        if (is_f32(x)) max_pool_t<float>(cptr<float>(x), n * c, g, mptr<float>(out), idx.mutable_data());
        else max_pool_t<double>(cptr<double>(x), n * c, g, mptr<double>(out), idx.mutable_data());
        return py::make_tuple(out, idx);
    }, "Window maxima of an (N, C, H, W) image -> (out, flat argmax within each H*W plane).");
    m.def("max_pool2d_backward", [](const py::array& g, const py::array_t<std::int64_t>& idx, i64 h, i64 w) {
        check_image(g, "max_pool2d_backward");
        if (!(idx.flags() & py::array::c_style) || idx.size() != g.size())
            throw py::value_error("max_pool2d_backward: indices must be a contiguous int64 array shaped like g");
        i64 n = g.shape(0), c = g.shape(1), plane = g.shape(2) * g.shape(3);
        const std::int64_t* k = idx.data();
        py::array gx = new_array(g, {n, c, h, w});
        bool ok = is_f32(g) ? max_pool_backward_t<float>(cptr<float>(g), k, n * c, plane, h * w, mptr<float>(gx))
                            : max_pool_backward_t<double>(cptr<double>(g), k, n * c, plane, h * w, mptr<double>(gx));
        if (!ok) throw py::value_error("max_pool2d_backward: index out of range");
        return gx;
    }, "Zeros (N, C, h, w) with g added at the flat argmax indices.");
    m.def("avg_pool2d", [](const py::array& x, py::tuple kernel, py::tuple stride, py::tuple padding,
                           py::tuple out_hw, const py::array& div) {
        check_image(x, "avg_pool2d");
        Win g = win_of(x, out_hw, kernel, stride, py::make_tuple(1, 1), padding, 2);
        check_div(div, x, g, "avg_pool2d");
        i64 n = x.shape(0), c = x.shape(1);
        py::array out = new_array(x, {n, c, g.oh, g.ow});
        if (is_f32(x)) avg_pool_t<float>(cptr<float>(x), n * c, g, cptr<float>(div), mptr<float>(out));
        else avg_pool_t<double>(cptr<double>(x), n * c, g, cptr<double>(div), mptr<double>(out));
        return out;
    }, "Window sums over zero padding divided by div (an (OH, OW) array).");
    m.def("avg_pool2d_backward", [](const py::array& g, i64 h, i64 w, py::tuple kernel, py::tuple stride,
                                    py::tuple padding, const py::array& div) {
        check_image(g, "avg_pool2d_backward");
        i64 n = g.shape(0), c = g.shape(1);
        Win wn{h, w, g.shape(2), g.shape(3), kernel[0].cast<i64>(), kernel[1].cast<i64>(), stride[0].cast<i64>(),
               stride[1].cast<i64>(), 1, 1, padding[0].cast<i64>(), padding[1].cast<i64>()};
        check_div(div, g, wn, "avg_pool2d_backward");
        py::array gx = new_array(g, {n, c, h, w});
        if (is_f32(g)) avg_pool_backward_t<float>(cptr<float>(g), n * c, wn, cptr<float>(div), mptr<float>(gx));
        else avg_pool_backward_t<double>(cptr<double>(g), n * c, wn, cptr<double>(div), mptr<double>(gx));
        return gx;
    }, "The adjoint of avg_pool2d: each g / div spread over its window.");
}

}  // namespace tc
