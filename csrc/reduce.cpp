// Threading and bindings for reductions over the middle axis of a contiguous
// (outer, n, inner) view, and the (r1, k, r2) -> (k,) sum that undoes a
// broadcast. The kernels are in reduce_impl.h.
#include <string>

#include "pyutil.h"

namespace tc {

namespace {
template <class T>
void reduce_t(Red r, const T* x, i64 outer, i64 n, i64 inner, T* out) {
    py::gil_scoped_release nogil;
    i64 total = outer * n * inner;
    if (inner == 1 && outer == 1 && r != Red::max && num_threads() > 1 && n >= EW_PARALLEL) {
        // one long row: partial sums per thread, combined in order
        double parts[64] = {0};
        int nt = num_threads() < 64 ? num_threads() : 64;
        i64 per = (n + nt - 1) / nt;
        parallel_for(nt, 0, 1, [&](i64 b, i64 e) {
            for (i64 t = b; t < e; ++t) {
                T part;
                i64 s = t * per, len = s + per > n ? n - s : per;
                if (len > 0) tk<T>().reduce_rows(Red::sum, 1, len, x + s, &part), parts[t] = double(part);
            }
        });
        double t = 0;
        for (int i = 0; i < nt; ++i) t += parts[i];
        out[0] = T(r == Red::mean ? t / double(n) : t);
        return;
    }
    if (inner == 1) {
        parallel_for(outer, total >= EW_PARALLEL ? 2 : outer + 1, 1 + 4096 / (n + 1), [&](i64 b, i64 e) {
            tk<T>().reduce_rows(r, e - b, n, x + b * n, out + b);
        });
        return;
    }
    // split the (outer, inner) output so both threads get work even when outer == 1
    i64 chunk = 256, cper = (inner + chunk - 1) / chunk;
    parallel_for(outer * cper, total >= EW_PARALLEL ? 2 : outer * cper + 1, 1, [&](i64 b, i64 e) {
        for (i64 u = b; u < e; ++u) {
            i64 o = u / cper, j0 = (u % cper) * chunk, w = inner - j0 < chunk ? inner - j0 : chunk;
            tk<T>().reduce_cols(r, n, inner, w, x + o * n * inner + j0, out + o * inner + j0);
        }
    });
}

// out[k] = sum over r1, r2 of x[r1, k, r2]
template <class T>
void sum_rkr_t(const T* x, i64 r1, i64 k, i64 r2, T* out) {
    py::gil_scoped_release nogil;
    parallel_for(k, r1 * k * r2 >= EW_PARALLEL ? 2 : k + 1, 1, [&](i64 b, i64 e) {
        for (i64 j = b; j < e; ++j) {
            double s = 0;
            for (i64 i = 0; i < r1; ++i) {
                T part;
                tk<T>().reduce_rows(Red::sum, 1, r2, x + (i * k + j) * r2, &part);
                s += double(part);
            }
            out[j] = T(s);
        }
    });
}

// The result's shape: `shape` when given (the caller's final one, so the result is no view
// that the engine would have to copy before it becomes a .grad), else `otherwise`.
std::vector<py::ssize_t> result_shape(const py::object& shape, std::vector<py::ssize_t> otherwise, const char* op) {
    if (shape.is_none()) return otherwise;
    std::vector<py::ssize_t> dims;
    i64 size = 1, want = 1;
    for (auto d : shape.cast<py::tuple>()) {
        dims.push_back(d.cast<py::ssize_t>());
        size *= dims.back();
    }
    for (auto d : otherwise) want *= d;
    if (size != want) throw py::value_error(std::string(op) + ": the result shape does not hold the result's size");
    return dims;
}
}  // namespace

void bind_reduce(py::module_& m) {
    m.def("reduce_axis", [](int red, const py::array& x, i64 outer, i64 n, i64 inner, const py::object& shape) {
        check_float(x, "reduce");
        check_contig(x, "reduce");
        if (outer * n * inner != i64(x.size()) || n < 1)
            throw py::value_error("reduce: (outer, n, inner) does not match the array size");
        py::array out(x.dtype(), result_shape(shape, {outer, inner}, "reduce"));
        if (is_f32(x)) reduce_t<float>(Red(red), cptr<float>(x), outer, n, inner, mptr<float>(out));
        else reduce_t<double>(Red(red), cptr<double>(x), outer, n, inner, mptr<double>(out));
        return out;
    }, py::arg("red"), py::arg("x"), py::arg("outer"), py::arg("n"), py::arg("inner"), py::arg("shape") = py::none(),
       "Reduce (0 sum, 1 mean, 2 max) a contiguous array viewed as (outer, n, inner) over n; returns "
       "(outer, inner), or `shape` when given.");
    m.def("sum_outer_inner", [](const py::array& x, i64 r1, i64 k, i64 r2, const py::object& shape) {
        check_float(x, "sum_to_shape");
        check_contig(x, "sum_to_shape");
        if (r1 * k * r2 != i64(x.size())) throw py::value_error("sum_to_shape: (r1, k, r2) does not match the array size");
        py::array out(x.dtype(), result_shape(shape, {k}, "sum_to_shape"));
        if (is_f32(x)) sum_rkr_t<float>(cptr<float>(x), r1, k, r2, mptr<float>(out));
        else sum_rkr_t<double>(cptr<double>(x), r1, k, r2, mptr<double>(out));
        return out;
    }, py::arg("x"), py::arg("r1"), py::arg("k"), py::arg("r2"), py::arg("shape") = py::none(),
       "Sum a contiguous array viewed as (r1, k, r2) over r1 and r2; returns (k,), or `shape` when given.");
}

}  // namespace tc
