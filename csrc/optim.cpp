// Fused optimizer updates, in place, one pass over memory per step (torch's formulas for SGD with
// momentum/nesterov/weight decay and Adam/AdamW: backends/formulas.py's rows and scalars).
#include <algorithm>
#include <initializer_list>
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

// The checks a step makes before it writes anything (a foreach step makes every parameter's first).
void check_sgd(const py::array& p, const py::array& g, const py::object& buf) {
    check_float(p, "sgd_step");
    check_contig(p, "sgd_step");
    check_same(p, g, "sgd_step");
    check_state(p, buf, "sgd_step");
    for (const py::object& o : {py::object(g), buf}) check_apart(p, o, "sgd_step");
    check_apart(g, buf, "sgd_step");
}

std::vector<double> sgd_scalars(const py::object& buf, const py::tuple& t) {
    return buf.is_none() ? scalars_of<Scalars_sgd<float>>(t, "sgd_step", "sgd")
                         : scalars_of<Scalars_sgd_momentum<float>>(t, "sgd_step", "sgd_momentum");
}

void run_sgd(py::array& p, const py::array& g, const py::object& buf, const std::vector<double>& s) {
    if (is_f32(p)) sgd_t<float>(p.size(), mptr<float>(p), cptr<float>(g), opt_ptr<float>(buf), s);
    else sgd_t<double>(p.size(), mptr<double>(p), cptr<double>(g), opt_ptr<double>(buf), s);
}

// Returns max_exp_avg_sq when amsgrad reads it, else None.
py::object check_adam(const py::array& p, const py::array& g, const py::array& m1, const py::array& v,
                      const py::object& vmax, const std::vector<double>& s) {
    check_float(p, "adam_step");
    check_contig(p, "adam_step");
    check_same(p, g, "adam_step");
    check_state(p, m1, "adam_step");
    check_state(p, v, "adam_step");
    const bool amsgrad = Scalars_adam<double>::from(s.data()).amsgrad != 0;
    if (amsgrad && vmax.is_none()) throw py::value_error("adam_step: amsgrad needs max_exp_avg_sq");
    check_state(p, vmax, "adam_step");
    py::object vm = amsgrad ? vmax : py::none();
    const py::object arrays[] = {g, m1, v, vm};
    for (int i = 0; i < 4; ++i)
        for (int j = i + 1; j < 4; ++j) check_apart(py::reinterpret_borrow<py::array>(arrays[i]), arrays[j], "adam_step");
    for (const py::object& o : arrays) check_apart(p, o, "adam_step");
    return vm;
}

void run_adam(py::array& p, const py::array& g, py::array& m1, py::array& v, const py::object& vm,
              const std::vector<double>& s) {
    if (is_f32(p))
        adam_t<float>(p.size(), mptr<float>(p), cptr<float>(g), mptr<float>(m1), mptr<float>(v), opt_ptr<float>(vm), s);
    else
        adam_t<double>(p.size(), mptr<double>(p), cptr<double>(g), mptr<double>(m1), mptr<double>(v),
                       opt_ptr<double>(vm), s);
}

// How a foreach step reads a list: written in place, and whether an element may be None (a state the
// step's flags leave unused).
struct Use { const py::list* list; bool written, optional; };

// Whether a foreach step's kernels take element i of a list as it is: a C-contiguous array (writable
// where written) of the parameter's dtype and shape, or a float32 or float64 parameter. Otherwise the
// caller runs the group's single steps (NumPy's, or their errors).
bool fits(const py::list& l, std::size_t i, const py::array* p, const Use& use) {
    py::handle o = l[i];
    if (use.optional && o.is_none()) return true;
    if (!py::isinstance<py::array>(o)) return false;
    auto a = py::reinterpret_borrow<py::array>(o);
    if (!(a.flags() & py::array::c_style) || (use.written && !a.writeable())) return false;
    if (!p) return is_f32(a) || is_f64(a);
    return same_dtype(a.dtype(), p->dtype()) && a.ndim() == p->ndim() && std::equal(a.shape(), a.shape() + a.ndim(), p->shape());
}

bool all_fit(const py::list& ps, std::initializer_list<Use> others) {
    for (const Use& use : others)
        if (use.list->size() != ps.size()) throw py::value_error("optimizer foreach step: lists of different lengths");
    for (std::size_t i = 0; i < ps.size(); ++i) {
        if (!fits(ps, i, nullptr, {&ps, true, false})) return false;
        py::array p = py::reinterpret_borrow<py::array>(ps[i]);
        for (const Use& use : others)
            if (!fits(*use.list, i, &p, use)) return false;
    }
    return true;
}

template <class T> T at(const py::list& l, std::size_t i) { return py::reinterpret_borrow<T>(l[i]); }
}  // namespace

void bind_optim(py::module_& m) {
    m.def("sgd_step", [](py::array& p, const py::array& g, const py::object& buf, const py::tuple& t) {
        check_sgd(p, g, buf);
        run_sgd(p, g, buf, sgd_scalars(buf, t));
    }, py::arg("param"), py::arg("grad"), py::arg("buf"), py::arg("scalars"),
    "In-place SGD step: without buf (None) the sgd row, else sgd_momentum's (its init flag sets buf), "
    "with the scalars backends/formulas.py computes.");

    m.def("sgd_steps", [](const py::list& ps, const py::list& gs, const py::list& bufs, const py::tuple& t) {
        if (!all_fit(ps, {{&gs, false, false}, {&bufs, true, true}})) return false;
        std::size_t none = 0;
        for (const auto& b : bufs) none += b.is_none();
        if (none != 0 && none != bufs.size()) return false;  // one row for all: with momentum or without
        std::vector<std::vector<double>> s;
        for (std::size_t i = 0; i < ps.size(); ++i) {  // every parameter checked before any is written
            check_sgd(at<py::array>(ps, i), at<py::array>(gs, i), bufs[i]);
            s.push_back(sgd_scalars(bufs[i], t));
        }
        for (std::size_t i = 0; i < ps.size(); ++i) {
            py::array p = at<py::array>(ps, i);
            run_sgd(p, at<py::array>(gs, i), bufs[i], s[i]);
        }
        return true;
    }, py::arg("params"), py::arg("grads"), py::arg("bufs"), py::arg("scalars"),
    "sgd_step on each parameter of a list (torch's foreach: one call per parameter group). False, with "
    "nothing written, when an array is not one the kernels take as it is (see sgd_step).");

    m.def("adam_step", [](py::array& p, const py::array& g, py::array& m1, py::array& v, const py::object& vmax,
                          const py::tuple& t) {
        const auto s = scalars_of<Scalars_adam<float>>(t, "adam_step", "adam");
        run_adam(p, g, m1, v, check_adam(p, g, m1, v, vmax, s), s);
    }, py::arg("param"), py::arg("grad"), py::arg("exp_avg"), py::arg("exp_avg_sq"), py::arg("max_exp_avg_sq"),
    py::arg("scalars"), "In-place Adam/AdamW step with the scalars of backends/formulas.py's adam_scalars.");

    m.def("adam_steps", [](const py::list& ps, const py::list& gs, const py::list& m1s, const py::list& vs,
                           const py::list& vmaxs, const py::list& ts) {
        if (ts.size() != ps.size()) throw py::value_error("adam_steps: one scalars tuple per parameter");
        if (!all_fit(ps, {{&gs, false, false}, {&m1s, true, false}, {&vs, true, false}, {&vmaxs, true, true}}))
            return false;
        std::vector<std::vector<double>> s;
        std::vector<py::object> vm;
        for (std::size_t i = 0; i < ps.size(); ++i) {  // every parameter checked before any is written
            if (!py::isinstance<py::tuple>(ts[i])) throw py::type_error("adam_steps: scalars must be tuples");
            s.push_back(scalars_of<Scalars_adam<float>>(at<py::tuple>(ts, i), "adam_step", "adam"));
            vm.push_back(check_adam(at<py::array>(ps, i), at<py::array>(gs, i), at<py::array>(m1s, i),
                                    at<py::array>(vs, i), vmaxs[i], s[i]));
        }
        for (std::size_t i = 0; i < ps.size(); ++i) {
            py::array p = at<py::array>(ps, i), m1 = at<py::array>(m1s, i), v = at<py::array>(vs, i);
            run_adam(p, at<py::array>(gs, i), m1, v, vm[i], s[i]);
        }
        return true;
    }, py::arg("params"), py::arg("grads"), py::arg("exp_avgs"), py::arg("exp_avg_sqs"), py::arg("max_exp_avg_sqs"),
    py::arg("scalars"), "adam_step on each parameter of a list (one scalars tuple each); False, with nothing "
    "written, when an array is not one the kernels take as it is.");
}

}  // namespace tc
