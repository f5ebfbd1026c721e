// Fused optimizer updates, in place, one pass over memory per step (torch's
// formulas for SGD with momentum/nesterov/weight decay and Adam/AdamW).
#include <cmath>
#include <string>

#include "pyutil.h"

namespace tc {

namespace {
struct SgdHyper { double lr, momentum, dampening, weight_decay; bool nesterov, init_buf, maximize; };

template <class T>
void sgd_t(i64 n, T* p, const T* g, T* buf, const SgdHyper& h) {
    py::gil_scoped_release nogil;
    const T lr = T(h.lr), mom = T(h.momentum), damp = T(1 - h.dampening), wd = T(h.weight_decay);
    const T sign = h.maximize ? T(-1) : T(1);
    parallel_for(n, EW_PARALLEL, EW_GRAIN, [&](i64 b, i64 e) {
        for (i64 i = b; i < e; ++i) {
            T d = sign * g[i] + wd * p[i];
            if (buf) {
                T m = h.init_buf ? d : mom * buf[i] + damp * d;
                buf[i] = m;
                d = h.nesterov ? d + mom * m : m;
            }
            p[i] -= lr * d;
        }
    });
}

struct AdamHyper {
    double lr, beta1, beta2, eps, weight_decay;
    long long step;
    bool amsgrad, decoupled, maximize;
};

template <class T>
void adam_t(i64 n, T* p, const T* g, T* m, T* v, T* vmax, const AdamHyper& h) {
    py::gil_scoped_release nogil;
    const double bc1 = 1 - std::pow(h.beta1, double(h.step)), bc2 = 1 - std::pow(h.beta2, double(h.step));
    const T step_size = T(h.lr / bc1), inv_bc2_sqrt = T(1 / std::sqrt(bc2)), eps = T(h.eps);
    const T b1 = T(h.beta1), b2 = T(h.beta2), wd = T(h.weight_decay);
    const T decay = h.decoupled ? T(1 - h.lr * h.weight_decay) : T(1);
    const T l2 = h.decoupled ? T(0) : wd, sign = h.maximize ? T(-1) : T(1);
    parallel_for(n, EW_PARALLEL, EW_GRAIN, [&](i64 b, i64 e) {
        for (i64 i = b; i < e; ++i) {
            T pi = p[i];
            T gi = sign * g[i] + l2 * pi;
            pi *= decay;
            T mi = m[i] + (gi - m[i]) * (T(1) - b1);  // torch's lerp form
            T vi = b2 * v[i] + (T(1) - b2) * gi * gi;
            m[i] = mi;
            v[i] = vi;
            if (vmax) {
                vi = vmax[i] > vi ? vmax[i] : vi;
                vmax[i] = vi;
            }
            p[i] = pi - step_size * mi / (std::sqrt(vi) * inv_bc2_sqrt + eps);
        }
    });
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
        SgdHyper h{lr, momentum, dampening, weight_decay, nesterov, init_buf, maximize};
        if (is_f32(p)) sgd_t<float>(p.size(), mptr<float>(p), cptr<float>(g), opt_ptr<float>(buf), h);
        else sgd_t<double>(p.size(), mptr<double>(p), cptr<double>(g), opt_ptr<double>(buf), h);
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
        AdamHyper h{lr, beta1, beta2, eps, weight_decay, step, amsgrad, decoupled, maximize};
        py::object vm = amsgrad ? vmax : py::none();
        if (is_f32(p))
            adam_t<float>(p.size(), mptr<float>(p), cptr<float>(g), mptr<float>(m1), mptr<float>(v), opt_ptr<float>(vm), h);
        else
            adam_t<double>(p.size(), mptr<double>(p), cptr<double>(g), mptr<double>(m1), mptr<double>(v), opt_ptr<double>(vm), h);
    }, py::arg("param"), py::arg("grad"), py::arg("exp_avg"), py::arg("exp_avg_sq"), py::arg("max_exp_avg_sq"),
    py::arg("step"), py::arg("lr"), py::arg("beta1"), py::arg("beta2"), py::arg("eps"), py::arg("weight_decay"),
    py::arg("amsgrad"), py::arg("decoupled"), py::arg("maximize") = false,
    "In-place Adam (decoupled=False) or AdamW (decoupled=True) step, torch's formulas.");
}

}  // namespace tc
