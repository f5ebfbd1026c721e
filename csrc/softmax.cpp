// Bindings and threading for softmax / log_softmax / logsumexp / cross-entropy
// along the last axis (rows = everything before it).
#include <string>

#include "pyutil.h"

namespace tc {

namespace {
i64 last_dim(const py::array& a) { return a.ndim() == 0 ? 1 : a.shape(a.ndim() - 1); }

// Rows per chunk so each chunk has a few thousand elements.
i64 row_grain(i64 cols) { return cols >= 4096 ? 1 : 4096 / (cols < 1 ? 1 : cols); }

template <class F>
void over_rows(i64 rows, i64 cols, F&& f) {
    py::gil_scoped_release nogil;
    parallel_for(rows, cols > 0 ? (EW_PARALLEL / 4 + cols - 1) / cols : rows + 1, row_grain(cols), f);
}

template <class T>
py::array soft_fwd_t(SoftKind kind, const py::array& x) {
    py::array y = empty_like(x);
    i64 cols = last_dim(x), rows = cols ? x.size() / cols : 0;
    const T* xp = cptr<T>(x);
    T* yp = mptr<T>(y);
    auto f = tk<T>().soft_fwd;
    over_rows(rows, cols, [&](i64 b, i64 e) { f(kind, e - b, cols, xp + b * cols, yp + b * cols); });
    return y;
}

template <class T>
py::array soft_bwd_t(SoftKind kind, const py::array& g, const py::array& y) {
    py::array o = empty_like(g);
    i64 cols = last_dim(g), rows = cols ? g.size() / cols : 0;
    const T *gp = cptr<T>(g), *yp = cptr<T>(y);
    T* op = mptr<T>(o);
    auto f = tk<T>().soft_bwd;
    over_rows(rows, cols, [&](i64 b, i64 e) { f(kind, e - b, cols, gp + b * cols, yp + b * cols, op + b * cols); });
    return o;
}

template <class T>
py::array lse_t(const py::array& x) {
    std::vector<py::ssize_t> shape(x.shape(), x.shape() + (x.ndim() ? x.ndim() - 1 : 0));
    py::array out(x.dtype(), shape);
    i64 cols = last_dim(x), rows = x.ndim() ? out.size() : 1;
    const T* xp = cptr<T>(x);
    T* op = mptr<T>(out);
    auto f = tk<T>().logsumexp;
    over_rows(rows, cols, [&](i64 b, i64 e) { f(e - b, cols, xp + b * cols, op + b); });
    return out;
}

void check_targets(const py::array& t, i64 rows, i64 cols, i64 ignore, const char* op) {
    if (!same_dtype(t.dtype(), py::dtype::of<std::int64_t>()) || t.size() != rows || !(t.flags() & py::array::c_style))
        throw py::value_error(std::string(op) + ": target must be a contiguous int64 array with one entry per row");
    const std::int64_t* tp = static_cast<const std::int64_t*>(t.data());
    for (i64 r = 0; r < rows; ++r)
        if (tp[r] != ignore && (tp[r] < 0 || tp[r] >= cols))
            throw py::index_error(std::string(op) + ": target " + std::to_string(tp[r]) +
                                  " is out of bounds for " + std::to_string(cols) + " classes");
}

template <class T>
py::tuple ce_fwd_t(const py::array& x, const py::array& t, i64 ignore) {
    i64 rows = x.shape(0), cols = x.shape(1);
    check_targets(t, rows, cols, ignore, "cross_entropy");
    py::array loss(x.dtype(), std::vector<py::ssize_t>{rows}), stats(x.dtype(), std::vector<py::ssize_t>{rows, 2});
    const T* xp = cptr<T>(x);
    const std::int64_t* tp = static_cast<const std::int64_t*>(t.data());
    T *lp = mptr<T>(loss), *sp = mptr<T>(stats);
    auto f = tk<T>().ce_fwd;
    over_rows(rows, cols, [&](i64 b, i64 e) { f(e - b, cols, xp + b * cols, tp + b, ignore, lp + b, sp + 2 * b); });
    return py::make_tuple(loss, stats);
}

template <class T>
py::array ce_bwd_t(const py::array& g, const py::array& x, const py::array& stats, const py::array& t, i64 ignore) {
    i64 rows = x.shape(0), cols = x.shape(1);
    check_targets(t, rows, cols, ignore, "cross_entropy_backward");
    py::array o = empty_like(x);
    const T *gp = cptr<T>(g), *xp = cptr<T>(x), *sp = cptr<T>(stats);
    const std::int64_t* tp = static_cast<const std::int64_t*>(t.data());
    T* op = mptr<T>(o);
    auto f = tk<T>().ce_bwd;
    over_rows(rows, cols, [&](i64 b, i64 e) { f(e - b, cols, gp + b, xp + b * cols, sp + 2 * b, tp + b, ignore, op + b * cols); });
    return o;
}

void check_in(const py::array& a, const char* op) { check_float(a, op); check_contig(a, op); }

void check_2d(const py::array& x, const char* op) {
    if (x.ndim() != 2) throw py::value_error(std::string(op) + ": expected 2-D logits (N, C)");
}
}  // namespace

void bind_softmax(py::module_& m) {
    m.def("softmax_forward", [](int kind, const py::array& x) {
        check_in(x, "softmax");
        return is_f32(x) ? soft_fwd_t<float>(SoftKind(kind), x) : soft_fwd_t<double>(SoftKind(kind), x);
    }, "kind 0: softmax, 1: log_softmax, over the last axis.");
    m.def("softmax_backward", [](int kind, const py::array& g, const py::array& y) {
        check_in(g, "softmax_backward");
        check_same(g, y, "softmax_backward");
        return is_f32(g) ? soft_bwd_t<float>(SoftKind(kind), g, y) : soft_bwd_t<double>(SoftKind(kind), g, y);
    }, "Gradient of softmax (kind 0) or log_softmax (kind 1) given the output y.");
    m.def("logsumexp", [](const py::array& x) {
        check_in(x, "logsumexp");
        return is_f32(x) ? lse_t<float>(x) : lse_t<double>(x);
    }, "log(sum(exp(x))) over the last axis (the axis is dropped).");
    m.def("cross_entropy_forward", [](const py::array& x, const py::array& t, i64 ignore) {
        check_in(x, "cross_entropy");
        check_2d(x, "cross_entropy");
        return is_f32(x) ? ce_fwd_t<float>(x, t, ignore) : ce_fwd_t<double>(x, t, ignore);
    }, "Per-row losses for logits (N, C) and int64 targets (N,), and the (N, 2) stats the backward needs\n"
       "(each row's shift m and log(sum(exp(x - m)))).");
    m.def("cross_entropy_backward", [](const py::array& g, const py::array& x, const py::array& stats,
                                       const py::array& t, i64 ignore) {
        check_in(x, "cross_entropy_backward");
        check_2d(x, "cross_entropy_backward");
        if (!same_dtype(g.dtype(), x.dtype()) || !same_dtype(stats.dtype(), x.dtype()) || g.size() != x.shape(0) ||
            stats.size() != 2 * x.shape(0) || !(g.flags() & py::array::c_style) ||
            !(stats.flags() & py::array::c_style))
            throw py::value_error("cross_entropy_backward: g (N,) and stats (N, 2) must be contiguous arrays of the "
                                  "logits' dtype");
        return is_f32(x) ? ce_bwd_t<float>(g, x, stats, t, ignore) : ce_bwd_t<double>(g, x, stats, t, ignore);
    }, "g[:, None] * (softmax(x) - onehot(t)); zero rows where t == ignore_index.");
}

}  // namespace tc
