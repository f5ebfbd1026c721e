// Bindings and threading for layer norm over the last n elements of a contiguous array
// (rows = everything before them); the kernels are in layernorm_impl.h.
#include <string>

#include "pyutil.h"

namespace tc {

namespace {
// Rows per chunk so each chunk has a few thousand elements; serial below EW_PARALLEL elements: a
// Transformer's (512, 64) takes ~20 us alone, and handing half to a second thread cost more
// than it saved on a loaded 2-core host (48 us)
template <class F>
void over_ln_rows(i64 rows, i64 n, F&& f) {
    parallel_for(rows, (EW_PARALLEL + n - 1) / n, n >= 4096 ? 1 : 4096 / n, f);
}

// w, b: None or a contiguous array of n elements of x's dtype
const void* param(const py::object& p, const py::array& x, i64 n, const char* what) {
    if (p.is_none()) return nullptr;
    py::array a = py::reinterpret_borrow<py::array>(p);
    if (!same_dtype(a.dtype(), x.dtype()) || a.size() != n || !(a.flags() & py::array::c_style))
        throw py::value_error(std::string("layer_norm: ") + what + " must be a contiguous array of " +
                              std::to_string(n) + " elements of the input's dtype");
    return a.data();
}

i64 rows_of(const py::array& x, i64 n, const char* op) {
    check_float(x, op);
    check_contig(x, op);
    if (n <= 0 || x.size() % n) throw py::value_error(std::string(op) + ": n must be positive and divide the size");
    return x.size() / n;
}

template <class T>
py::tuple fwd_t(const py::array& x, const py::object& w, const py::object& b, double eps, i64 n) {
    i64 rows = rows_of(x, n, "layer_norm");
    const T* wp = static_cast<const T*>(param(w, x, n, "weight"));
    const T* bp = static_cast<const T*>(param(b, x, n, "bias"));
    py::array y = empty_like(x), mean(x.dtype(), std::vector<py::ssize_t>{rows}), rstd(x.dtype(), std::vector<py::ssize_t>{rows});
    const T* xp = cptr<T>(x);
    T *yp = mptr<T>(y), *mp = mptr<T>(mean), *rp = mptr<T>(rstd);
    auto f = tk<T>().ln_fwd;
    {
        py::gil_scoped_release nogil;
        over_ln_rows(rows, n, [&](i64 s, i64 e) { f(e - s, n, xp + s * n, wp, bp, eps, yp + s * n, mp + s, rp + s); });
    }
    return py::make_tuple(y, mean, rstd);
}

template <class T>
py::tuple bwd_t(const py::array& g, const py::array& x, const py::array& mean, const py::array& rstd,
                const py::object& w, i64 n, bool need_x, bool need_w, bool need_b) {
    i64 rows = rows_of(x, n, "layer_norm_backward");
    check_same(x, g, "layer_norm_backward");
    for (const py::array* s : {&mean, &rstd})
        if (!same_dtype(s->dtype(), x.dtype()) || s->size() != rows || !(s->flags() & py::array::c_style))
            throw py::value_error("layer_norm_backward: mean and rstd must be contiguous, one per row, of x's dtype");
    const T* wp = static_cast<const T*>(param(w, x, n, "weight"));
    const T *gp = cptr<T>(g), *xp = cptr<T>(x), *mp = cptr<T>(mean), *rp = cptr<T>(rstd);
    py::object dx = py::none(), dw = py::none(), db = py::none();
    T *dxp = nullptr, *dwp = nullptr, *dbp = nullptr;
    std::vector<py::ssize_t> cols{n};
    if (need_x) { py::array a = empty_like(x); dxp = mptr<T>(a); dx = a; }
    if (need_w) { py::array a(x.dtype(), cols); dwp = mptr<T>(a); dw = a; }
    if (need_b) { py::array a(x.dtype(), cols); dbp = mptr<T>(a); db = a; }
    const auto& k = tk<T>();
    {
        py::gil_scoped_release nogil;
        if (dxp)
            over_ln_rows(rows, n, [&](i64 s, i64 e) { k.ln_bwd_x(e - s, n, gp + s * n, xp + s * n, mp + s, rp + s, wp, dxp + s * n); });
        if (dwp || dbp) {  // blocks of 256 columns, each summed over every row: no partial sums to combine
            constexpr i64 C = 256;
            parallel_for((n + C - 1) / C, rows * n >= EW_PARALLEL ? 2 : (n + C - 1) / C + 1, 1, [&](i64 s, i64 e) {
                for (i64 c = s; c < e; ++c) {
                    i64 j = c * C, width = n - j < C ? n - j : C;
                    k.ln_bwd_wb(rows, n, width, gp + j, xp + j, mp, rp, dwp ? dwp + j : nullptr, dbp ? dbp + j : nullptr);
                }
            });
        }
    }
    return py::make_tuple(dx, dw, db);
}
}  // namespace

void bind_layernorm(py::module_& m) {
    m.def("layer_norm_forward", [](const py::array& x, const py::object& w, const py::object& b, double eps, i64 n) {
        return is_f32(x) ? fwd_t<float>(x, w, b, eps, n) : fwd_t<double>(x, w, b, eps, n);
    }, "(y, mean, rstd): x normalized over rows of its last n elements, times w and plus b (each None or n\n"
       "elements); mean and rstd have one entry per row.");
    m.def("layer_norm_backward", [](const py::array& g, const py::array& x, const py::array& mean,
                                    const py::array& rstd, const py::object& w, i64 n, bool need_x, bool need_w,
                                    bool need_b) {
        check_float(x, "layer_norm_backward");
        return is_f32(x) ? bwd_t<float>(g, x, mean, rstd, w, n, need_x, need_w, need_b)
                         : bwd_t<double>(g, x, mean, rstd, w, n, need_x, need_w, need_b);
    }, "(dx, dw, db), each None unless asked for: the gradients of layer_norm_forward given the output\n"
       "gradient g and the forward's mean and rstd.");
}

}  // namespace tc
