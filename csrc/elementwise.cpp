// Bindings and threading for the fused activation and arithmetic kernels.
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

void check_in(const py::array& a, const char* op) { check_float(a, op); check_contig(a, op); }

// The LSTM step over rows of H = c's last size; gates has 4H per row. Threads split the rows.
void check_lstm(const py::array& gates, const py::array& c, const char* op) {
    check_in(gates, op);
    check_in(c, op);
    i64 H = c.ndim() ? c.shape(c.ndim() - 1) : 0;
    if (!gates.dtype().is(c.dtype()) || c.ndim() != gates.ndim() || H < 1 || i64(gates.size()) != 4 * i64(c.size()) ||
        gates.shape(gates.ndim() - 1) != 4 * H)
        throw py::value_error(std::string(op) + ": gates must be c's shape with 4 times its last size, same dtype");
}

template <class T>
void lstm_fwd_t(const py::array& gates, const py::array& c, py::array& out, py::array& acts, py::array& tc) {
    i64 H = c.shape(c.ndim() - 1), rows = c.size() / H;
    const T *g = cptr<T>(gates), *cp = cptr<T>(c);
    T *h = mptr<T>(out), *c2 = h + rows * H, *a = mptr<T>(acts), *t = mptr<T>(tc);
    auto f = tk<T>().lstm_fwd;
    py::gil_scoped_release nogil;
    parallel_for(rows, rows * H >= EW_PARALLEL / 8 ? 2 : rows + 1, 1, [&](i64 b, i64 e) {
        f(e - b, H, g + b * 4 * H, cp + b * H, h + b * H, c2 + b * H, a + b * 4 * H, t + b * H);
    });
}

template <class T>
void lstm_bwd_t(const py::array& grad, const py::array& c, const py::array& acts, const py::array& tc,
                py::array& dgates, py::array& dc) {
    i64 H = c.shape(c.ndim() - 1), rows = c.size() / H;
    const T *gh = cptr<T>(grad), *gc = gh + rows * H, *cp = cptr<T>(c), *a = cptr<T>(acts), *t = cptr<T>(tc);
    T *dg = mptr<T>(dgates), *d = mptr<T>(dc);
    auto f = tk<T>().lstm_bwd;
    py::gil_scoped_release nogil;
    parallel_for(rows, rows * H >= EW_PARALLEL / 8 ? 2 : rows + 1, 1, [&](i64 b, i64 e) {
        f(e - b, H, gh + b * H, gc + b * H, cp + b * H, a + b * 4 * H, t + b * H, dg + b * 4 * H, d + b * H);
    });
}
}  // namespace

void bind_elementwise(py::module_& m) {
    m.def("act_forward", [](int act, const py::array& x, double p0, double p1, const py::object& out) {
        check_in(x, "act_forward");
        py::array y = out_or_new(out, x, "act_forward");
        if (is_f32(x)) act_fwd_t<float>(Act(act), x, y, p0, p1);
        else act_fwd_t<double>(Act(act), x, y, p0, p1);
        return y;
    }, py::arg("act"), py::arg("x"), py::arg("p0") = 0.0, py::arg("p1") = 0.0, py::arg("out") = py::none(),
    "y = f(x) for activation code `act` (see ACT in the Python wrapper).");

    m.def("act_backward", [](int act, const py::array& g, const py::array& xy, double p0, double p1,
                             const py::object& out) {
        check_in(g, "act_backward");
        check_same(g, xy, "act_backward");
        py::array o = out_or_new(out, g, "act_backward");
        if (is_f32(g)) act_bwd_t<float>(Act(act), g, xy, o, p0, p1);
        else act_bwd_t<double>(Act(act), g, xy, o, p0, p1);
        return o;
    }, py::arg("act"), py::arg("g"), py::arg("xy"), py::arg("p0") = 0.0, py::arg("p1") = 0.0,
    py::arg("out") = py::none(), "g * f'(x); xy is the output y for sigmoid, tanh and exp.");

    m.def("binary", [](int op, const py::array& a, const py::array& b, const py::object& out) {
        check_in(a, "binary");
        check_same(a, b, "binary");
        py::array o = out_or_new(out, a, "binary");
        if (is_f32(a)) binary_t<float>(Bin(op), a, b, o);
        else binary_t<double>(Bin(op), a, b, o);
        return o;
    }, py::arg("op"), py::arg("a"), py::arg("b"), py::arg("out") = py::none(),
    "a (op) b for same-shape arrays; op: 0 add, 1 sub, 2 mul, 3 div.");

    m.def("mul_backward", [](const py::array& g, const py::array& x, const py::array& y) {
        check_in(g, "mul_backward");
        check_same(g, x, "mul_backward");
        check_same(g, y, "mul_backward");
        py::array gx = empty_like(g), gy = empty_like(g);
        if (is_f32(g)) mul_backward_t<float>(g, x, y, gx, gy);
        else mul_backward_t<double>(g, x, y, gx, gy);
        return py::make_tuple(gx, gy);
    }, "(g * y, g * x) for same-shape contiguous arrays, in one pass.");

    m.def("lstm_cell_forward", [](const py::array& gates, const py::array& c) {
        check_lstm(gates, c, "lstm_cell_forward");
        std::vector<py::ssize_t> two = shape_of(c);
        two.insert(two.begin(), 2);
        py::array out(c.dtype(), two), acts = empty_like(gates), tc = empty_like(c);
        if (is_f32(c)) lstm_fwd_t<float>(gates, c, out, acts, tc);
        else lstm_fwd_t<double>(gates, c, out, acts, tc);
        return py::make_tuple(out, acts, tc);
    }, "One LSTM step: gates (..., 4H; i, f, g, o), c (..., H) -> (stack([h, c']), acts, tanh(c')), "
       "acts = sigmoid i, f, o and tanh g in the gates' layout.");
    m.def("lstm_cell_backward", [](const py::array& grad, const py::array& c, const py::array& acts,
                                   const py::array& tc) {
        check_lstm(acts, c, "lstm_cell_backward");
        check_same(c, tc, "lstm_cell_backward");
        check_in(grad, "lstm_cell_backward");
        if (!grad.dtype().is(c.dtype()) || i64(grad.size()) != 2 * i64(c.size()))
            throw py::value_error("lstm_cell_backward: grad must be stack([gh, gc]) shaped like 2 x c");
        py::array dgates = empty_like(acts), dc = empty_like(c);
        if (is_f32(c)) lstm_bwd_t<float>(grad, c, acts, tc, dgates, dc);
        else lstm_bwd_t<double>(grad, c, acts, tc, dgates, dc);
        return py::make_tuple(dgates, dc);
    }, "The LSTM step's backward: grad = stack([gh, gc]) -> (d gates, d c).");

    m.def("binary_scalar", [](int op, const py::array& a, double s, bool scalar_first, const py::object& out) {
        check_in(a, "binary_scalar");
        py::array o = out_or_new(out, a, "binary_scalar");
        if (is_f32(a)) binary_scalar_t<float>(Bin(op), a, s, scalar_first, o);
        else binary_scalar_t<double>(Bin(op), a, s, scalar_first, o);
        return o;
    }, py::arg("op"), py::arg("a"), py::arg("s"), py::arg("scalar_first") = false, py::arg("out") = py::none(),
    "a (op) s, or s (op) a when scalar_first.");
}

}  // namespace tc
