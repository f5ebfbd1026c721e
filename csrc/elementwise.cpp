// Bindings and threading for the fused activation and arithmetic kernels (the LSTM cell: lstm.cpp).
#include <string>
#include <vector>

#include "pyutil.h"

namespace tc {

namespace {
template <class T>
void act_fwd_t(Act act, const py::array& x, py::array& y, double p0, double p1) {
    const T* xp = cptr<T>(x);
    T* yp = mptr<T>(y);
    auto f = tk<T>().act_fwd;
    py::gil_scoped_release nogil;
    parallel_for(x.size(), EW_PARALLEL / 4, EW_GRAIN,
                 [&](i64 b, i64 e) { f(act, e - b, xp + b, yp + b, T(p0), T(p1)); });
}

template <class T>
void act_bwd_t(Act act, const py::array& g, const py::array& xy, py::array& out, double p0, double p1) {
    const T *gp = cptr<T>(g), *xp = cptr<T>(xy);
    T* op = mptr<T>(out);
    auto f = tk<T>().act_bwd;
    py::gil_scoped_release nogil;
    parallel_for(g.size(), EW_PARALLEL / 4, EW_GRAIN,
                 [&](i64 b, i64 e) { f(act, e - b, gp + b, xp + b, op + b, T(p0), T(p1)); });
}

template <class T>
void binary_t(Bin op, const py::array& a, const py::array& b, py::array& out) {
    const T *ap = cptr<T>(a), *bp = cptr<T>(b);
    T* o = mptr<T>(out);
    auto f = tk<T>().binary;
    py::gil_scoped_release nogil;
    parallel_for(a.size(), EW_PARALLEL, EW_GRAIN, [&](i64 s, i64 e) { f(op, e - s, ap + s, bp + s, o + s); });
}

template <class T>
void binary_scalar_t(Bin op, const py::array& a, double s, bool first, py::array& out) {
    const T* ap = cptr<T>(a);
    T* o = mptr<T>(out);
    auto f = tk<T>().binary_scalar;
    py::gil_scoped_release nogil;
    parallel_for(a.size(), EW_PARALLEL, EW_GRAIN, [&](i64 b, i64 e) { f(op, e - b, ap + b, T(s), o + b, first); });
}

// (g * y, g * x) in one pass: both gradients of a product read g once.
template <class T>
void mul_backward_t(const py::array& g, const py::array& x, const py::array& y, py::array& gx, py::array& gy) {
    const T *gp = cptr<T>(g), *xp = cptr<T>(x), *yp = cptr<T>(y);
    T *gxp = mptr<T>(gx), *gyp = mptr<T>(gy);
    auto f = tk<T>().binary;
    py::gil_scoped_release nogil;
    i64 n = g.size();
    parallel_for(n, EW_PARALLEL, EW_GRAIN, [&](i64 s, i64 e) {
        // block by block, so g's block is still in L1 for the second product
        constexpr i64 BLOCK = 4096;
        for (i64 b = s; b < e; b += BLOCK) {
            i64 len = e - b < BLOCK ? e - b : BLOCK;
            f(Bin::mul, len, gp + b, yp + b, gxp + b);
            f(Bin::mul, len, gp + b, xp + b, gyp + b);
        }
    });
}

// A float array as a C-contiguous one: itself, or a copy. Done here, where asking costs a flag
// test, not in Python, where a.flags costs an object per call (a third of a 1-element op's call).
py::array float_contig(const py::array& a, const char* op) {
    check_float(a, op);
    return a.flags() & py::array::c_style ? a : py::array::ensure(a, py::array::c_style);
}

}  // namespace

void bind_elementwise(py::module_& m) {
    m.def("act_forward", [](int act, const py::array& x_in, double p0, double p1, const py::object& out) {
        py::array x = float_contig(x_in, "act_forward");
        py::array y = out_or_new(out, x, "act_forward");
        if (is_f32(x)) act_fwd_t<float>(Act(act), x, y, p0, p1);
        else act_fwd_t<double>(Act(act), x, y, p0, p1);
        return y;
    }, py::arg("act"), py::arg("x"), py::arg("p0") = 0.0, py::arg("p1") = 0.0, py::arg("out") = py::none(),
    "y = f(x) for activation code `act` (see ACT in the Python wrapper).");

    m.def("act_backward", [](int act, const py::array& g_in, const py::array& xy_in, double p0, double p1,
                             const py::object& out) {
        py::array g = float_contig(g_in, "act_backward"), xy = float_contig(xy_in, "act_backward");
        check_same(g, xy, "act_backward");
        py::array o = out_or_new(out, g, "act_backward");
        if (is_f32(g)) act_bwd_t<float>(Act(act), g, xy, o, p0, p1);
        else act_bwd_t<double>(Act(act), g, xy, o, p0, p1);
        return o;
    }, py::arg("act"), py::arg("g"), py::arg("xy"), py::arg("p0") = 0.0, py::arg("p1") = 0.0,
    py::arg("out") = py::none(), "g * f'(x); xy is the output y for sigmoid, tanh and exp.");

    m.def("binary", [](int op, const py::array& a_in, const py::array& b_in, const py::object& out) {
        py::array a = float_contig(a_in, "binary"), b = float_contig(b_in, "binary");
        check_same(a, b, "binary");
        py::array o = out_or_new(out, a, "binary");
        if (is_f32(a)) binary_t<float>(Bin(op), a, b, o);
        else binary_t<double>(Bin(op), a, b, o);
        return o;
    }, py::arg("op"), py::arg("a"), py::arg("b"), py::arg("out") = py::none(),
    "a (op) b for same-shape arrays (any strides; a non-contiguous one is copied); op: 0 add, 1 sub, 2 mul, 3 div.");

    m.def("mul_backward", [](const py::array& g_in, const py::array& x_in, const py::array& y_in) {
        py::array g = float_contig(g_in, "mul_backward"), x = float_contig(x_in, "mul_backward"),
                  y = float_contig(y_in, "mul_backward");
        check_same(g, x, "mul_backward");
        check_same(g, y, "mul_backward");
        py::array gx = empty_like(g), gy = empty_like(g);
        if (is_f32(g)) mul_backward_t<float>(g, x, y, gx, gy);
        else mul_backward_t<double>(g, x, y, gx, gy);
        return py::make_tuple(gx, gy);
    }, "(g * y, g * x) for same-shape arrays, in one pass.");

    m.def("binary_scalar", [](int op, const py::array& a_in, double s, bool scalar_first, const py::object& out) {
        py::array a = float_contig(a_in, "binary_scalar");
        py::array o = out_or_new(out, a, "binary_scalar");
        if (is_f32(a)) binary_scalar_t<float>(Bin(op), a, s, scalar_first, o);
        else binary_scalar_t<double>(Bin(op), a, s, scalar_first, o);
        return o;
    }, py::arg("op"), py::arg("a"), py::arg("s"), py::arg("scalar_first") = false, py::arg("out") = py::none(),
    "a (op) s, or s (op) a when scalar_first.");
}

}  // namespace tc
