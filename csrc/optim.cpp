// Fused optimizer updates, in place, one pass over memory per step (torch's formulas for SGD with
// momentum/nesterov/weight decay and Adam/AdamW: backends/formulas.py's rows and scalars).
#include <string>
#include <vector>


#include "pyutil.h"

namespace tc {

namespace {
// The kernels (optim_impl.h, one per ISA) run chunks of [0, n) on the pool.
template <class T>
void sgd_t(i64 n, T* p, const T* g, T* buf, const std::vector<double>& s) {
    const auto& k = tk<T>();
    if (!buf) {
        const auto h = Scalars_sgd<T>::from(s.data());
        py::gil_scoped_release nogil;
        parallel_for(n, EW_PARALLEL, EW_GRAIN, [&](i64 b, i64 e) { k.sgd(e - b, p + b, g + b, h); });
    } else {
        const auto h = Scalars_sgd_momentum<T>::from(s.data());
        py::gil_scoped_release nogil;
        parallel_for(n, EW_PARALLEL, EW_GRAIN, [&](i64 b, i64 e) { k.sgd_momentum(e - b, p + b, g + b, buf + b, h); });
    }
}

template <class T>
void adam_t(i64 n, T* p, const T* g, T* m, T* v, T* vmax, const std::vector<double>& s) {
    const auto& k = tk<T>();
    const auto h = Scalars_adam<T>::from(s.data());
    py::gil_scoped_release nogil;
    parallel_for(n, EW_PARALLEL, EW_GRAIN, [&](i64 b, i64 e) {
        k.adam(e - b, p + b, g + b, m + b, v + b, vmax ? vmax + b : nullptr, h);
    });
}

// The scalars come from backends/formulas.py (sgd_scalars, sgd_momentum_scalars, adam_scalars): a tuple in
// its row's order, read directly (a per-call cost at every parameter size).
template <class S> std::vector<double> scalars_of(const py::tuple& t, const char* op, const char* row) {
    if (int(t.size()) != S::count)
        throw py::value_error(std::string(op) + ": expected the " + std::to_string(S::count) + " scalars of formulas." +
                              row + "_scalars, got " + std::to_string(t.size()));
    std::vector<double> s(S::count);
    for (int i = 0; i < S::count; ++i) {
        s[i] = PyFloat_AsDouble(PyTuple_GET_ITEM(t.ptr(), i));
        if (s[i] == -1.0 && PyErr_Occurred()) throw py::error_already_set();
    }
    return s;
}

// The kernels read and write with no aliasing between arrays (they vectorize on that).
void check_apart(const py::array& a, const py::object& o, const char* op) {
    if (o.is_none()) return;
    py::array b = py::reinterpret_borrow<py::array>(o);
    auto lo_a = static_cast<const char*>(a.data()), lo_b = static_cast<const char*>(b.data());
    if (a.nbytes() && b.nbytes() && lo_a < lo_b + b.nbytes() && lo_b < lo_a + a.nbytes())
        throw py::value_error(std::string(op) + ": the parameter, gradient and state arrays must not share memory");
}

void check_state(const py::array& p, const py::object& o, const char* op) {
    if (o.is_none()) return;
    py::array a = py::reinterpret_borrow<py::array>(o);
    check_same(p, a, op);
    if (!a.writeable()) throw py::value_error(std::string(op) + ": state array is read-only");
}

template <class T> T* opt_ptr(const py::object& o) {
    if (o.is_none()) return nullptr;
    py::array a = py::reinterpret_borrow<py::array>(o);
    return mptr<T>(a);
}
}  // namespace

void bind_optim(py::module_& m) {
    m.def("sgd_step", [](py::array& p, const py::array& g, const py::object& buf, const py::tuple& t) {
        check_float(p, "sgd_step");
        check_contig(p, "sgd_step");
        check_same(p, g, "sgd_step");
        check_state(p, buf, "sgd_step");
        for (const py::object& o : {py::object(g), buf}) check_apart(p, o, "sgd_step");
        check_apart(g, buf, "sgd_step");
        const auto s = buf.is_none() ? scalars_of<Scalars_sgd<float>>(t, "sgd_step", "sgd")
                                     : scalars_of<Scalars_sgd_momentum<float>>(t, "sgd_step", "sgd_momentum");
        if (is_f32(p)) sgd_t<float>(p.size(), mptr<float>(p), cptr<float>(g), opt_ptr<float>(buf), s);
        else sgd_t<double>(p.size(), mptr<double>(p), cptr<double>(g), opt_ptr<double>(buf), s);
    }, py::arg("param"), py::arg("grad"), py::arg("buf"), py::arg("scalars"),
    "In-place SGD step: without buf (None) the sgd row, else sgd_momentum's (its init flag sets buf), "
    "with the scalars backends/formulas.py computes.");

    m.def("adam_step", [](py::array& p, const py::array& g, py::array& m1, py::array& v, const py::object& vmax,
                          const py::tuple& t) {
        check_float(p, "adam_step");
        check_contig(p, "adam_step");
        check_same(p, g, "adam_step");
        check_state(p, m1, "adam_step");
        check_state(p, v, "adam_step");
        const auto s = scalars_of<Scalars_adam<float>>(t, "adam_step", "adam");
        const bool amsgrad = Scalars_adam<double>::from(s.data()).amsgrad != 0;
        if (amsgrad && vmax.is_none()) throw py::value_error("adam_step: amsgrad needs max_exp_avg_sq");
        check_state(p, vmax, "adam_step");
        py::object vm = amsgrad ? vmax : py::none();
        const py::object arrays[] = {g, m1, v, vm};
        for (int i = 0; i < 4; ++i)
            for (int j = i + 1; j < 4; ++j) check_apart(py::reinterpret_borrow<py::array>(arrays[i]), arrays[j], "adam_step");
        for (const py::object& o : arrays) check_apart(p, o, "adam_step");
        if (is_f32(p))
            adam_t<float>(p.size(), mptr<float>(p), cptr<float>(g), mptr<float>(m1), mptr<float>(v), opt_ptr<float>(vm), s);
        else
            adam_t<double>(p.size(), mptr<double>(p), cptr<double>(g), mptr<double>(m1), mptr<double>(v),
                           opt_ptr<double>(vm), s);
    }, py::arg("param"), py::arg("grad"), py::arg("exp_avg"), py::arg("exp_avg_sq"), py::arg("max_exp_avg_sq"),
    py::arg("scalars"), "In-place Adam/AdamW step with the scalars of backends/formulas.py's adam_scalars.");
}

}  // namespace tc
