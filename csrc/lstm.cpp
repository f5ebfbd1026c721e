// The LSTM cell (one step) and a layer's time loop, forward and back. The loop is one call
// each way: every step is one GEMM (h @ W_hh^T added onto the step's input projection) and
// one fused cell kernel, with the saved tensors written in place, instead of a Python loop
// that stacks them at the end. The layouts are backends/compositions.py's lstm_cell / lstm_layer.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "gemm.h"
#include "pyutil.h"

namespace tc {

namespace {
// Rows of the cell kernels split over the threads once a step is big enough.
constexpr i64 CELL_PARALLEL = EW_PARALLEL / 8;

template <class T>
void cell_forward(i64 B, i64 H, const T* gates, const T* c, T* h, T* c2, T* acts, T* tc) {
    auto f = tk<T>().lstm_fwd;
    parallel_for(B, B * H >= CELL_PARALLEL ? 2 : B + 1, 1, [&](i64 b, i64 e) {
        f(e - b, H, gates + b * 4 * H, c + b * H, h + b * H, c2 + b * H, acts + b * 4 * H, tc + b * H);
    });
}

template <class T>
void cell_backward(i64 B, i64 H, const T* gh, const T* gc, const T* c, const T* acts, const T* tc, T* dgates,
                   T* dc) {
    auto f = tk<T>().lstm_bwd;
    parallel_for(B, B * H >= CELL_PARALLEL ? 2 : B + 1, 1, [&](i64 b, i64 e) {
        f(e - b, H, gh + b * H, gc + b * H, c + b * H, acts + b * 4 * H, tc + b * H, dgates + b * 4 * H,
          dc + b * H);
    });
}

template <class T>
void copy(T* dst, const T* src, i64 n) { std::memcpy(dst, src, std::size_t(n) * sizeof(T)); }

// out (T+1, B, H) = h_1..h_T, c_T; acts (T, B, 4H), tcs (T, B, H); hs, cs (T, B, H) = the h and c
// each step started from.
template <class T>
void layer_forward(i64 steps, i64 B, i64 H, const T* xw, const T* h0, const T* c0, const T* w, T* out, T* acts,
                   T* tcs, T* hs, T* cs) {
    const i64 bh = B * H, g4 = B * 4 * H;
    std::vector<T> gates(static_cast<std::size_t>(g4)), c_last(static_cast<std::size_t>(bh));
    for (i64 t = 0; t < steps; ++t) {
        copy(hs + t * bh, t ? out + (t - 1) * bh : h0, bh);
        if (!t) copy(cs, c0, bh);
        copy(gates.data(), xw + t * g4, g4);
        // gates += h_prev @ w^T (w is (4H, H): its transpose by strides)
        GemmArgs<T> g{B, 4 * H, H, hs + t * bh, H, 1, w, 1, H, gates.data(), 4 * H, T(1)};
        gemm<T>(g);
        T* c_next = t + 1 < steps ? cs + (t + 1) * bh : c_last.data();
        cell_forward<T>(B, H, gates.data(), cs + t * bh, out + t * bh, c_next, acts + t * g4, tcs + t * bh);
    }
    copy(out + steps * bh, steps ? c_last.data() : c0, bh);
}

// From grad (T+1, B, H) (the gradients of h_1..h_T and c_T): d_xw (T, B, 4H), dh0, dc0 (B, H) and
// d_w (4H, H), the last one GEMM over all steps.
template <class T>
void layer_backward(i64 steps, i64 B, i64 H, const T* grad, const T* w, const T* acts, const T* tcs, const T* hs,
                    const T* cs, T* d_xw, T* dh, T* dc, T* d_w) {
    const i64 bh = B * H, g4 = B * 4 * H;
    std::vector<T> gh(static_cast<std::size_t>(bh)), dc_next(static_cast<std::size_t>(bh));
    std::fill(dh, dh + bh, T(0));
    copy(dc, grad + steps * bh, bh);
    for (i64 t = steps - 1; t >= 0; --t) {
        const T* g_t = grad + t * bh;
        for (i64 i = 0; i < bh; ++i) gh[std::size_t(i)] = g_t[i] + dh[i];
        cell_backward<T>(B, H, gh.data(), dc, cs + t * bh, acts + t * g4, tcs + t * bh, d_xw + t * g4,
                         dc_next.data());
        copy(dc, dc_next.data(), bh);
        GemmArgs<T> g{B, H, 4 * H, d_xw + t * g4, 4 * H, 1, w, H, 1, dh, H, T(0)};  // dh = dgates @ w
        gemm<T>(g);
    }
    // d_w = d_xw^T (4H x TB) @ hs (TB x H)
    GemmArgs<T> g{4 * H, H, steps * B, d_xw, 1, 4 * H, hs, H, 1, d_w, H, T(0)};
    gemm<T>(g);
}

// The LSTM step over rows of H = c's last size; gates has 4H per row.
void check_lstm(const py::array& gates, const py::array& c, const char* op) {
    for (const py::array* a : {&gates, &c}) {
        check_float(*a, op);
        check_contig(*a, op);
    }
    i64 H = c.ndim() ? c.shape(c.ndim() - 1) : 0;
    if (!gates.dtype().is(c.dtype()) || c.ndim() != gates.ndim() || H < 1 || i64(gates.size()) != 4 * i64(c.size()) ||
        gates.shape(gates.ndim() - 1) != 4 * H)
        throw py::value_error(std::string(op) + ": gates must be c's shape with 4 times its last size, same dtype");
}

void check_shape(const py::array& a, std::vector<i64> want, const char* name, const char* op) {
    bool ok = a.ndim() == py::ssize_t(want.size());
    for (std::size_t i = 0; ok && i < want.size(); ++i) ok = a.shape(py::ssize_t(i)) == want[i];
    if (!ok) {
        std::string s;
        for (i64 n : want) s += (s.empty() ? "" : ", ") + std::to_string(n);
        throw py::value_error(std::string(op) + ": " + name + " must have shape (" + s + ")");
    }
}

void check_all(std::initializer_list<const py::array*> arrays, const py::array& ref, const char* op) {
    for (const py::array* a : arrays) {
        check_float(*a, op);
        check_contig(*a, op);
        if (!a->dtype().is(ref.dtype())) throw py::type_error(std::string(op) + ": arrays must share one dtype");
    }
}
}  // namespace

void bind_lstm(py::module_& m) {
    m.def("lstm_cell_forward", [](const py::array& gates, const py::array& c) {
        check_lstm(gates, c, "lstm_cell_forward");
        std::vector<py::ssize_t> two = shape_of(c);
        two.insert(two.begin(), 2);
        py::array out(c.dtype(), two), acts = empty_like(gates), tc = empty_like(c);
        i64 H = c.shape(c.ndim() - 1), rows = i64(c.size()) / H;
        auto run = [&](auto zero) {
            using T = decltype(zero);
            T* h = mptr<T>(out);
            py::gil_scoped_release nogil;
            cell_forward<T>(rows, H, cptr<T>(gates), cptr<T>(c), h, h + rows * H, mptr<T>(acts), mptr<T>(tc));
        };
        if (is_f32(c)) run(float(0));
        else run(double(0));
        return py::make_tuple(out, acts, tc);
    }, "One LSTM step: gates (..., 4H; i, f, g, o), c (..., H) -> (stack([h, c']), acts, tanh(c')), "
       "acts = sigmoid i, f, o and tanh g in the gates' layout.");
    m.def("lstm_cell_backward", [](const py::array& grad, const py::array& c, const py::array& acts,
                                   const py::array& tc) {
        const char* op = "lstm_cell_backward";
        check_lstm(acts, c, op);
        check_same(c, tc, op);
        check_float(grad, op);
        check_contig(grad, op);
        if (!grad.dtype().is(c.dtype()) || i64(grad.size()) != 2 * i64(c.size()))
            throw py::value_error("lstm_cell_backward: grad must be stack([gh, gc]) shaped like 2 x c");
        py::array dgates = empty_like(acts), dc = empty_like(c);
        i64 H = c.shape(c.ndim() - 1), rows = i64(c.size()) / H;
        auto run = [&](auto zero) {
            using T = decltype(zero);
            const T* gh = cptr<T>(grad);
            py::gil_scoped_release nogil;
            cell_backward<T>(rows, H, gh, gh + rows * H, cptr<T>(c), cptr<T>(acts), cptr<T>(tc), mptr<T>(dgates),
                             mptr<T>(dc));
        };
        if (is_f32(c)) run(float(0));
        else run(double(0));
        return py::make_tuple(dgates, dc);
    }, "The LSTM step's backward: grad = stack([gh, gc]) -> (d gates, d c).");

    m.def("lstm_layer_forward", [](const py::array& xw, const py::array& h0, const py::array& c0,
                                   const py::array& w_hh) {
        const char* op = "lstm_layer_forward";
        check_all({&xw, &h0, &c0, &w_hh}, xw, op);
        if (xw.ndim() != 3 || xw.shape(2) % 4) throw py::value_error(std::string(op) + ": xw must be (T, B, 4H)");
        i64 T_ = xw.shape(0), B = xw.shape(1), H = xw.shape(2) / 4;
        check_shape(h0, {B, H}, "h0", op);
        check_shape(c0, {B, H}, "c0", op);
        check_shape(w_hh, {4 * H, H}, "w_hh", op);
        auto make = [&](i64 a, i64 b, i64 c) { return py::array(xw.dtype(), std::vector<py::ssize_t>{a, b, c}); };
        py::array out = make(T_ + 1, B, H), acts = make(T_, B, 4 * H), tcs = make(T_, B, H), hs = make(T_, B, H),
                  cs = make(T_, B, H);
        auto run = [&](auto zero) {
            using T = decltype(zero);
            py::gil_scoped_release nogil;
            layer_forward<T>(T_, B, H, cptr<T>(xw), cptr<T>(h0), cptr<T>(c0), cptr<T>(w_hh), mptr<T>(out),
                             mptr<T>(acts), mptr<T>(tcs), mptr<T>(hs), mptr<T>(cs));
        };
        if (is_f32(xw)) run(float(0));
        else run(double(0));
        return py::make_tuple(out, acts, tcs, hs, cs);
    }, "T LSTM steps: xw (T, B, 4H; i, f, g, o), h0, c0 (B, H), w_hh (4H, H) -> (out (T+1, B, H) = "
       "h_1..h_T, c_T; acts (T, B, 4H); tanh(c_t) (T, B, H); the h and c each step started from (T, B, H)).");

    m.def("lstm_layer_backward", [](const py::array& grad, const py::array& w_hh, const py::array& acts,
                                    const py::array& tcs, const py::array& hs, const py::array& cs) {
        const char* op = "lstm_layer_backward";
        check_all({&grad, &w_hh, &acts, &tcs, &hs, &cs}, grad, op);
        if (hs.ndim() != 3) throw py::value_error(std::string(op) + ": hs must be (T, B, H)");
        i64 T_ = hs.shape(0), B = hs.shape(1), H = hs.shape(2);
        check_shape(grad, {T_ + 1, B, H}, "grad", op);
        check_shape(w_hh, {4 * H, H}, "w_hh", op);
        check_shape(acts, {T_, B, 4 * H}, "acts", op);
        check_shape(tcs, {T_, B, H}, "tcs", op);
        check_shape(cs, {T_, B, H}, "cs", op);
        py::array d_xw(grad.dtype(), std::vector<py::ssize_t>{T_, B, 4 * H});
        py::array dh(grad.dtype(), std::vector<py::ssize_t>{B, H}), dc(grad.dtype(), std::vector<py::ssize_t>{B, H});
        py::array d_w(grad.dtype(), std::vector<py::ssize_t>{4 * H, H});
        auto run = [&](auto zero) {
            using T = decltype(zero);
            py::gil_scoped_release nogil;
            layer_backward<T>(T_, B, H, cptr<T>(grad), cptr<T>(w_hh), cptr<T>(acts), cptr<T>(tcs), cptr<T>(hs),
                              cptr<T>(cs), mptr<T>(d_xw), mptr<T>(dh), mptr<T>(dc), mptr<T>(d_w));
        };
        if (is_f32(grad)) run(float(0));
        else run(double(0));
        return py::make_tuple(d_xw, dh, dc, d_w);
    }, "Back through lstm_layer_forward: grad (T+1, B, H) -> (d xw, d h0, d c0, d w_hh).");
}

}  // namespace tc
