// The LSTM cell (one step) and a layer's time loop, forward and back. The loop is one call
// each way: every step is one GEMM (h @ W_hh^T added onto the step's input projection and
// b_hh) and one fused cell kernel, with the saved tensors written in place, instead of a Python
// loop that stacks them at the end. The layouts are backends/compositions.py's lstm_cell / lstm_layer.
#include <algorithm>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <pybind11/stl.h>  // std::optional arguments

#include "gemm.h"
#include "parallel.h"
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

// The rows of a batch never meet in the recurrence (only w_hh's gradient sums over them, one
// GEMM after the loop), so a layer splits its batch over the threads once and each runs all T
// steps on its rows, with no wait per step: a step's GEMM (32x64 @ 64x256 in the benchmark) and
// cell are too small to split themselves. A lone chunk (few rows) lets the step's GEMM thread.
constexpr i64 ROWS_PER_THREAD = 4;
constexpr double LAYER_PARALLEL_FLOPS = 2.0 * 64 * 64 * 64;

template <class F>
void over_rows(i64 steps, i64 B, i64 H, F&& fn) {
    i64 chunks = std::min<i64>(num_threads(), B / ROWS_PER_THREAD);
    if (chunks < 2 || 8.0 * double(steps) * double(B) * double(H) * double(H) < LAYER_PARALLEL_FLOPS)
        return fn(i64(0), B);
    parallel_for(B, 2, (B + chunks - 1) / chunks, fn);
}

// Rows [b0, b1) of a (T, B, width) sequence array at step t.
template <class T>
T* at(T* a, i64 t, i64 B, i64 width, i64 b0) { return a + (t * B + b0) * width; }

// out (T+1, B, H) = h_1..h_T, c_T; acts (T, B, 4H), tcs (T, B, H); hs, cs (T, B, H) = the h and c
// each step started from. bias (4H; may be null) is added to every step's xw.
template <class T>
void layer_forward(i64 steps, i64 B, i64 H, const T* xw, const T* h0, const T* c0, const T* w, const T* bias,
                   T* out, T* acts, T* tcs, T* hs, T* cs) {
    // w^T (H, 4H) once: each step's h @ w^T then reads it in place (row-major), nothing packed per step
    std::vector<T> wt(std::size_t(4 * H * H));
    for (i64 g = 0; g < 4 * H; ++g)
        for (i64 k = 0; k < H; ++k) wt[std::size_t(k * 4 * H + g)] = w[g * H + k];
    over_rows(steps, B, H, [&](i64 b0, i64 b1) {
        const i64 n = b1 - b0;
        std::vector<T> gates(std::size_t(n * 4 * H)), c_last(std::size_t(n * H));
        for (i64 t = 0; t < steps; ++t) {
            T* h = at(hs, t, B, H, b0);
            copy(h, t ? at(out, t - 1, B, H, b0) : h0 + b0 * H, n * H);
            if (!t) copy(cs + b0 * H, c0 + b0 * H, n * H);
            const T* x = at(xw, t, B, 4 * H, b0);
            if (!bias) copy(gates.data(), x, n * 4 * H);
            for (i64 r = 0; bias && r < n; ++r)
                for (i64 j = 0; j < 4 * H; ++j) gates[std::size_t(r * 4 * H + j)] = x[r * 4 * H + j] + bias[j];
            gemm<T>(GemmArgs<T>{n, 4 * H, H, h, H, 1, wt.data(), 4 * H, 1, gates.data(), 4 * H, T(1)});
            T* c_next = t + 1 < steps ? at(cs, t + 1, B, H, b0) : c_last.data();
            cell_forward<T>(n, H, gates.data(), at(cs, t, B, H, b0), at(out, t, B, H, b0), c_next,
                            at(acts, t, B, 4 * H, b0), at(tcs, t, B, H, b0));
        }
        copy(at(out, steps, B, H, b0), steps ? c_last.data() : c0 + b0 * H, n * H);
    });
}

// From grad (T+1, B, H) (the gradients of h_1..h_T and c_T): d_xw (T, B, 4H), dh0, dc0 (B, H) and
// d_w (4H, H), the last one GEMM over all steps.
template <class T>
void layer_backward(i64 steps, i64 B, i64 H, const T* grad, const T* w, const T* acts, const T* tcs, const T* hs,
                    const T* cs, T* d_xw, T* dh_all, T* dc_all, T* d_w) {
    over_rows(steps, B, H, [&](i64 b0, i64 b1) {
        const i64 n = b1 - b0;
        T *dh = dh_all + b0 * H, *dc = dc_all + b0 * H;
        std::vector<T> gh(std::size_t(n * H)), dc_next(std::size_t(n * H));
        std::fill(dh, dh + n * H, T(0));
        copy(dc, at(grad, steps, B, H, b0), n * H);
        for (i64 t = steps - 1; t >= 0; --t) {
            const T* g_t = at(grad, t, B, H, b0);
            for (i64 i = 0; i < n * H; ++i) gh[std::size_t(i)] = g_t[i] + dh[i];
            T* dg = at(d_xw, t, B, 4 * H, b0);
            cell_backward<T>(n, H, gh.data(), dc, at(cs, t, B, H, b0), at(acts, t, B, 4 * H, b0),
                             at(tcs, t, B, H, b0), dg, dc_next.data());
            copy(dc, dc_next.data(), n * H);
            gemm<T>(GemmArgs<T>{n, H, 4 * H, dg, 4 * H, 1, w, H, 1, dh, H, T(0)});  // dh = dgates @ w
        }
    });
    // d_w = d_xw^T (4H x TB) @ hs (TB x H)
    gemm<T>(GemmArgs<T>{4 * H, H, steps * B, d_xw, 1, 4 * H, hs, H, 1, d_w, H, T(0)});
}

// The LSTM step over rows of H = c's last size; gates has 4H per row.
void check_lstm(const py::array& gates, const py::array& c, const char* op) {
    for (const py::array* a : {&gates, &c}) {
        check_float(*a, op);
        check_contig(*a, op);
    }
    i64 H = c.ndim() ? c.shape(c.ndim() - 1) : 0;
    if (!same_dtype(gates.dtype(), c.dtype()) || c.ndim() != gates.ndim() || H < 1 || i64(gates.size()) != 4 * i64(c.size()) ||
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
        if (!same_dtype(a->dtype(), ref.dtype())) throw py::type_error(std::string(op) + ": arrays must share one dtype");
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
        if (!same_dtype(grad.dtype(), c.dtype()) || i64(grad.size()) != 2 * i64(c.size()))
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
                                   const py::array& w_hh, const std::optional<py::array>& b_hh) {
        const char* op = "lstm_layer_forward";
        check_all({&xw, &h0, &c0, &w_hh}, xw, op);
        if (b_hh) check_all({&*b_hh}, xw, op);
        if (xw.ndim() != 3 || xw.shape(2) % 4) throw py::value_error(std::string(op) + ": xw must be (T, B, 4H)");
        i64 T_ = xw.shape(0), B = xw.shape(1), H = xw.shape(2) / 4;
        check_shape(h0, {B, H}, "h0", op);
        check_shape(c0, {B, H}, "c0", op);
        check_shape(w_hh, {4 * H, H}, "w_hh", op);
        if (b_hh) check_shape(*b_hh, {4 * H}, "b_hh", op);
        auto make = [&](i64 a, i64 b, i64 c) { return py::array(xw.dtype(), std::vector<py::ssize_t>{a, b, c}); };
        py::array out = make(T_ + 1, B, H), acts = make(T_, B, 4 * H), tcs = make(T_, B, H), hs = make(T_, B, H),
                  cs = make(T_, B, H);
        auto run = [&](auto zero) {
            using T = decltype(zero);
            py::gil_scoped_release nogil;
            layer_forward<T>(T_, B, H, cptr<T>(xw), cptr<T>(h0), cptr<T>(c0), cptr<T>(w_hh),
                             b_hh ? cptr<T>(*b_hh) : nullptr, mptr<T>(out),
                             mptr<T>(acts), mptr<T>(tcs), mptr<T>(hs), mptr<T>(cs));
        };
        if (is_f32(xw)) run(float(0));
        else run(double(0));
        return py::make_tuple(out, acts, tcs, hs, cs);
    }, py::arg("xw"), py::arg("h0"), py::arg("c0"), py::arg("w_hh"), py::arg("b_hh") = py::none(),
       "T LSTM steps: xw (T, B, 4H; i, f, g, o), h0, c0 (B, H), w_hh (4H, H), b_hh (4H or None) -> (out "
       "(T+1, B, H) = h_1..h_T, c_T; acts (T, B, 4H); tanh(c_t) (T, B, H); the h and c each step started from "
       "(T, B, H)).");

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
