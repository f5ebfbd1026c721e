// im2col and its adjoint col2im, and the layout copies around conv's matmuls.
#include "window.h"

namespace tc {

namespace {
// cols (C, kh, kw, N, OH, OW) from x (N, C, H, W); one (c, i, j, n) row of OH x OW per task.
template <class T>
void im2col_t(const T* x, i64 n, i64 c, const Win& g, T* cols) {
    py::gil_scoped_release nogil;
    i64 rows = c * g.kh * g.kw * n, plane = g.oh * g.ow;
    parallel_for(rows, rows * plane >= EW_PARALLEL ? 2 : rows + 1, 1 + 4096 / (plane + 1), [&](i64 b, i64 e) {
        for (i64 r = b; r < e; ++r) {
            i64 ni = r % n, t = r / n, j = t % g.kw, i = (t / g.kw) % g.kh, ci = t / (g.kw * g.kh);
            const T* src = x + (ni * c + ci) * g.h * g.w;
            T* dst = cols + r * plane;
            i64 r0, r1, c0, c1;
            valid_range(g.h, g.oh, g.sh, i * g.dh - g.pt, r0, r1);
            valid_range(g.w, g.ow, g.sw, j * g.dw - g.pl, c0, c1);
            for (i64 oy = 0; oy < g.oh; ++oy) {
                T* out = dst + oy * g.ow;
                if (oy < r0 || oy >= r1) {
                    for (i64 ox = 0; ox < g.ow; ++ox) out[ox] = T(0);
                    continue;
                }
                const T* in = src + g.row(oy, i) * g.w;
                for (i64 ox = 0; ox < c0; ++ox) out[ox] = T(0);
                if (g.sw == 1) {
                    const T* p = in + g.col(c0, j);
                    for (i64 ox = c0; ox < c1; ++ox) out[ox] = p[ox - c0];
                } else {
                    for (i64 ox = c0; ox < c1; ++ox) out[ox] = in[g.col(ox, j)];
                }
                for (i64 ox = c1; ox < g.ow; ++ox) out[ox] = T(0);
            }
        }
    });
}

// x (N, C, H, W) = the sum of every cols entry back at the position it was read from.
template <class T>
void col2im_t(const T* cols, i64 n, i64 c, const Win& g, T* x) {
    py::gil_scoped_release nogil;
    i64 planes = n * c, hw = g.h * g.w, plane = g.oh * g.ow;
    parallel_for(planes, planes * hw >= EW_PARALLEL / 4 ? 2 : planes + 1, 1, [&](i64 b, i64 e) {
        for (i64 p = b; p < e; ++p) {
            i64 ni = p / c, ci = p % c;
            T* dst = x + p * hw;
            for (i64 k = 0; k < hw; ++k) dst[k] = T(0);
            for (i64 i = 0; i < g.kh; ++i) {
                i64 r0, r1;
                valid_range(g.h, g.oh, g.sh, i * g.dh - g.pt, r0, r1);
                for (i64 j = 0; j < g.kw; ++j) {
                    i64 c0, c1;
                    valid_range(g.w, g.ow, g.sw, j * g.dw - g.pl, c0, c1);
                    const T* src = cols + (((ci * g.kh + i) * g.kw + j) * n + ni) * plane;
                    for (i64 oy = r0; oy < r1; ++oy) {
                        T* out = dst + g.row(oy, i) * g.w;
                        const T* in = src + oy * g.ow;
                        if (g.sw == 1) {
                            T* q = out + g.col(c0, j) - c0;
                            for (i64 ox = c0; ox < c1; ++ox) q[ox] += in[ox];
                        } else {
                            for (i64 ox = c0; ox < c1; ++ox) out[g.col(ox, j)] += in[ox];
                        }
                    }
                }
            }
        }
    });
}

// out[j, i, :] = x[i, j, :] (+ bias[i]): conv's matmul layout (O, N, P) to NCHW
// with the bias added in the same pass, and NCHW gradients to (O, N, P) rows.
template <class T>
void swap_leading_t(const T* x, i64 a, i64 b, i64 p, const T* bias, T* out) {
    py::gil_scoped_release nogil;
    parallel_for(b, a * b * p >= EW_PARALLEL ? 2 : b + 1, 1, [&](i64 j0, i64 j1) {
        for (i64 j = j0; j < j1; ++j)
            for (i64 i = 0; i < a; ++i) {
                const T* src = x + (i * b + j) * p;
                T* dst = out + (j * a + i) * p;
                T add = bias ? bias[i] : T(0);
                for (i64 q = 0; q < p; ++q) dst[q] = src[q] + add;
            }
    });
}
}  // namespace

void bind_conv_window(py::module_& m) {
    m.def("im2col", [](const py::array& x, py::tuple kernel, py::tuple stride, py::tuple padding, py::tuple dilation,
                       py::tuple out_hw) {
        check_image(x, "im2col");
        Win g = win_of(x, out_hw, kernel, stride, dilation, padding, 2);
        i64 n = x.shape(0), c = x.shape(1);
        py::array cols = new_array(x, {c, g.kh, g.kw, n, g.oh, g.ow});
        if (is_f32(x)) im2col_t<float>(cptr<float>(x), n, c, g, mptr<float>(cols));
        else im2col_t<double>(cptr<double>(x), n, c, g, mptr<double>(cols));
        return cols;
    }, "Patches of a contiguous (N, C, H, W) image as a (C, kh, kw, N, OH, OW) array (zero padding; "
       "padding is (top, left)).");
    m.def("col2im", [](const py::array& cols, i64 h, i64 w, py::tuple stride, py::tuple padding, py::tuple dilation) {
        check_float(cols, "col2im");
        check_contig(cols, "col2im");
        if (cols.ndim() != 6) throw py::value_error("col2im: expected a 6-D (C, kh, kw, N, OH, OW) array");
        i64 c = cols.shape(0), n = cols.shape(3);
        Win g{h, w, cols.shape(4), cols.shape(5), cols.shape(1), cols.shape(2), stride[0].cast<i64>(),
              stride[1].cast<i64>(), dilation[0].cast<i64>(), dilation[1].cast<i64>(), padding[0].cast<i64>(),
              padding[1].cast<i64>()};
        py::array x = new_array(cols, {n, c, h, w});
        if (is_f32(cols)) col2im_t<float>(cptr<float>(cols), n, c, g, mptr<float>(x));
        else col2im_t<double>(cptr<double>(cols), n, c, g, mptr<double>(x));
        return x;
    }, "The adjoint of im2col: (C, kh, kw, N, OH, OW) summed back into an (N, C, h, w) image.");
    m.def("swap_leading_axes", [](const py::array& x, const py::object& bias) {
        check_float(x, "swap_leading_axes");
        check_contig(x, "swap_leading_axes");
        if (x.ndim() != 3) throw py::value_error("swap_leading_axes: expected a 3-D (A, B, P) array");
        i64 a = x.shape(0), b = x.shape(1), p = x.shape(2);
        py::array out = new_array(x, {b, a, p});
        py::array bs;
        if (!bias.is_none()) {
            bs = py::reinterpret_borrow<py::array>(bias);
            check_contig(bs, "swap_leading_axes");
            if (!same_dtype(bs.dtype(), x.dtype()) || i64(bs.size()) != a)
                throw py::value_error("swap_leading_axes: bias must be an (A,) array of x's dtype");
        }
        if (is_f32(x)) swap_leading_t<float>(cptr<float>(x), a, b, p, bias.is_none() ? nullptr : cptr<float>(bs),
                                             mptr<float>(out));
        else swap_leading_t<double>(cptr<double>(x), a, b, p, bias.is_none() ? nullptr : cptr<double>(bs),
                                    mptr<double>(out));
        return out;
    }, py::arg("x"), py::arg("bias") = py::none(),
    "out[j, i, :] = x[i, j, :] (+ bias[i]) for a contiguous (A, B, P) array; returns (B, A, P).");
}

}  // namespace tc
