// Shared by the sliding-window kernels (conv_window.cpp, pool.cpp) on NCHW
// images: the window geometry, the range of outputs a tap lands inside the
// image, and argument checks. These kernels move data rather than compute, so
// they are compiled once (no per-ISA variants); threads split the work so that
// no two write the same element.
#pragma once
#include <string>
#include <vector>

#include "pyutil.h"

namespace tc {

// One spatial geometry: input H x W, output OH x OW, kernel taps, stride,
// dilation and the top/left padding (bottom/right padding is implied by OH, OW).
struct Win {
    i64 h, w, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl;
    // The input row/column a tap reads for output position o (may be outside [0, n)).
    i64 row(i64 o, i64 i) const { return o * sh - pt + i * dh; }
    i64 col(i64 o, i64 j) const { return o * sw - pl + j * dw; }
};

// The geometry of x's spatial axes hdim, hdim + 1 (out_hw, kernel, ... are (h, w) pairs).
inline Win win_of(const py::array& x, py::tuple out_hw, py::tuple kernel, py::tuple stride, py::tuple dilation,
                  py::tuple padding, int hdim) {
    auto at = [](py::tuple t, int i) { return t[i].cast<i64>(); };
    Win g{x.shape(hdim), x.shape(hdim + 1), at(out_hw, 0), at(out_hw, 1), at(kernel, 0), at(kernel, 1),
          at(stride, 0), at(stride, 1), at(dilation, 0), at(dilation, 1), at(padding, 0), at(padding, 1)};
    if (g.oh < 0 || g.ow < 0 || g.kh < 1 || g.kw < 1 || g.sh < 1 || g.sw < 1 || g.dh < 1 || g.dw < 1)
        throw py::value_error("window: bad geometry");
    return g;
}

// The output positions [o0, o1) whose tap at offset `off` (= tap*dilation - pad) lands in [0, n).
inline void valid_range(i64 n, i64 o_count, i64 s, i64 off, i64& o0, i64& o1) {
    // o*s + off >= 0  <=>  o >= ceil(-off / s);  o*s + off < n  <=>  o < ceil((n - off) / s)
    o0 = off >= 0 ? 0 : (-off + s - 1) / s;
    o1 = n - off <= 0 ? 0 : (n - off + s - 1) / s;
    if (o1 > o_count) o1 = o_count;
    if (o0 > o1) o0 = o1;
}

inline void check_image(const py::array& x, const char* op) {
    check_float(x, op);
    check_contig(x, op);
    if (x.ndim() != 4) throw py::value_error(std::string(op) + ": expected a 4-D (N, C, H, W) array");
}

inline py::array new_array(const py::array& like, std::vector<py::ssize_t> shape) {
    return py::array(like.dtype(), shape);
}

}  // namespace tc
