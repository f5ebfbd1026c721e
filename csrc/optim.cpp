// Fused optimizer updates, in place, one pass over memory per step (torch's
// formulas for SGD with momentum/nesterov/weight decay and Adam/AdamW).
#include <cmath>
#include <string>

#include "pyutil.h"

namespace tc {

namespace {
// The kernels (optim_impl.h, one per ISA) run chunks of [0, n) on the pool.
template <class T>
void sgd_t(i64 n, T* p, const T* g, T* buf, const SgdArgs<T>& h) {
    py::gil_scoped_release nogil;
    const auto& k = tk<T>();
    parallel_for(n, EW_PARALLEL, EW_GRAIN, [&](i64 b, i64 e) { k.sgd(e - b, p + b, g + b, buf ? buf + b : nullptr, h); });
}

template <class T>
void adam_t(i64 n, T* p, const T* g, T* m, T* v, T* vmax, const AdamArgs<T>& h) {
    py::gil_scoped_release nogil;
    const auto& k = tk<T>();
    parallel_for(n, EW_PARALLEL, EW_GRAIN, [&](i64 b, i64 e) {
        k.adam(e - b, p + b, g + b, m + b, v + b, vmax ? vmax + b : nullptr, h);
    });
}

template <class T>
SgdArgs<T> sgd_args(double lr, double momentum, double dampening, double weight_decay, bool nesterov,
                    bool init_buf, bool maximize) {
    return {T(lr), T(momentum), T(1 - dampening), T(weight_decay), maximize ? T(-1) : T(1), nesterov, init_buf};
}

template <class T>
AdamArgs<T> adam_args(long long step, double lr, double beta1, double beta2, double eps, double weight_decay,
                      bool decoupled, bool maximize) {
    const double bc1 = 1 - std::pow(beta1, double(step)), bc2 = 1 - std::pow(beta2, double(step));
    return {T(beta2), T(1 - beta1), T(1 - beta2), decoupled ? T(0) : T(weight_decay),
            decoupled ? T(1 - lr * weight_decay) : T(1), maximize ? T(-1) : T(1), T(lr / bc1), T(1 / std::sqrt(bc2)),
            T(eps), std::abs(1 - beta1) < 0.5};
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
    m.def("sgd_step", [](py::array& p, const py::array& g, const py::object& buf, double lr, double momentum,
                         double dampening, bool nesterov, double weight_decay, bool init_buf, bool maximize) {
        check_float(p, "sgd_step");
        check_contig(p, "sgd_step");
        check_same(p, g, "sgd_step");
        check_state(p, buf, "sgd_step");
        for (const py::object& o : {py::object(g), buf}) check_apart(p, o, "sgd_step");
        check_apart(g, buf, "sgd_step");
        if (is_f32(p))
            sgd_t<float>(p.size(), mptr<float>(p), cptr<float>(g), opt_ptr<float>(buf),
                         sgd_args<float>(lr, momentum, dampening, weight_decay, nesterov, init_buf, maximize));
        else
            sgd_t<double>(p.size(), mptr<double>(p), cptr<double>(g), opt_ptr<double>(buf),
                          sgd_args<double>(lr, momentum, dampening, weight_decay, nesterov, init_buf, maximize));
    }, py::arg("param"), py::arg("grad"), py::arg("buf"), py::arg("lr"), py::arg("momentum"), py::arg("dampening"),
    py::arg("nesterov"), py::arg("weight_decay"), py::arg("init_buf"), py::arg("maximize") = false,
    "In-place SGD step; buf (or None without momentum) is the momentum buffer, set to d when init_buf.");

    m.def("adam_step", [](py::array& p, const py::array& g, py::array& m1, py::array& v, const py::object& vmax,
                          long long step, double lr, double beta1, double beta2, double eps, double weight_decay,
                          bool amsgrad, bool decoupled, bool maximize) {
        check_float(p, "adam_step");
        check_contig(p, "adam_step");
        check_same(p, g, "adam_step");
        check_state(p, m1, "adam_step");
        check_state(p, v, "adam_step");
        if (amsgrad && vmax.is_none()) throw py::value_error("adam_step: amsgrad needs max_exp_avg_sq");
        check_state(p, vmax, "adam_step");
        if (step < 1) throw py::value_error("adam_step: step counts from 1");
        py::object vm = amsgrad ? vmax : py::none();
        const py::object arrays[] = {g, m1, v, vm};
        for (int i = 0; i < 4; ++i)
            for (int j = i + 1; j < 4; ++j) check_apart(py::reinterpret_borrow<py::array>(arrays[i]), arrays[j], "adam_step");
        for (const py::object& o : arrays) check_apart(p, o, "adam_step");
        if (is_f32(p))
            adam_t<float>(p.size(), mptr<float>(p), cptr<float>(g), mptr<float>(m1), mptr<float>(v), opt_ptr<float>(vm),
                          adam_args<float>(step, lr, beta1, beta2, eps, weight_decay, decoupled, maximize));
        else
            adam_t<double>(p.size(), mptr<double>(p), cptr<double>(g), mptr<double>(m1), mptr<double>(v),
                           opt_ptr<double>(vm), adam_args<double>(step, lr, beta1, beta2, eps, weight_decay, decoupled, maximize));
    }, py::arg("param"), py::arg("grad"), py::arg("exp_avg"), py::arg("exp_avg_sq"), py::arg("max_exp_avg_sq"),
    py::arg("step"), py::arg("lr"), py::arg("beta1"), py::arg("beta2"), py::arg("eps"), py::arg("weight_decay"),
    py::arg("amsgrad"), py::arg("decoupled"), py::arg("maximize") = false,
    "In-place Adam (decoupled=False) or AdamW (decoupled=True) step, torch's formulas.");
}

}  // namespace tc
