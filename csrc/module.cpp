// tinygrad_chain._C: the pybind11 module. Each kernel family binds itself;
// this file adds GEMM, threads and the CPU-feature dispatch.
#include <string>
#include <vector>

#include "gemm.h"
#include "pyutil.h"

namespace tc {
void bind_elementwise(py::module_& m);
void bind_softmax(py::module_& m);
void bind_reduce(py::module_& m);
void bind_optim(py::module_& m);
void bind_conv_window(py::module_& m);
void bind_pool(py::module_& m);
void bind_fused(py::module_& m);
void bind_lstm(py::module_& m);
void bind_layernorm(py::module_& m);
void bind_apply(py::module_& m);

namespace {
// The matrix (last two) axes of an operand, in elements.
struct Mat { i64 rows, cols, rs, cs; };

Mat mat_of(const py::array& a, const char* name) {
    int d = int(a.ndim());
    if (d < 2) throw py::value_error(std::string("gemm: ") + name + " must have 2 or more dimensions");
    i64 item = a.itemsize();
    for (int i = 0; i < d; ++i)
        if (a.strides(i) % item) throw py::value_error(std::string("gemm: ") + name + " has unaligned strides");
    return {a.shape(d - 2), a.shape(d - 1), a.strides(d - 2) / item, a.strides(d - 1) / item};
}

// Each product's element offset into `a`, for out's batch axes `shape`: any strides (a transposed
// or sliced batch costs no copy); a 2-D operand, or a size-1 batch axis, repeats.
std::vector<i64> batch_offsets(const py::array& a, const std::vector<i64>& shape, i64 total, const char* name) {
    int nb = int(shape.size()), da = int(a.ndim()) - 2;
    std::vector<i64> off(std::size_t(total), 0);
    if (da == 0) return off;
    if (da != nb) throw py::value_error(std::string("gemm: ") + name + " must be 2-D or have out's batch axes");
    for (int j = 0; j < nb; ++j)
        if (a.shape(j) != shape[j] && a.shape(j) != 1) throw py::value_error("gemm: batch shapes do not match");
    std::vector<i64> idx(std::size_t(nb), 0);
    for (i64 i = 0; i < total; ++i) {
        i64 o = 0;
        for (int j = 0; j < nb; ++j)
            if (a.shape(j) != 1) o += idx[j] * (a.strides(j) / a.itemsize());
        off[std::size_t(i)] = o;
        for (int j = nb - 1; j >= 0 && ++idx[j] == shape[j]; --j) idx[j] = 0;
    }
    return off;
}

// The epilogue's arrays (None: that step is skipped): bias of out's columns, mask shaped like out.
template <class T>
Epilogue<T> epilogue_of(const py::array& c, const py::object& bias, bool relu, const py::object& mask) {
    Epilogue<T> ep;
    ep.relu = relu;
    auto own = [&](const py::object& o, const char* name, i64 size) {
        py::array a = py::reinterpret_borrow<py::array>(o);
        if (!same_dtype(a.dtype(), c.dtype()) || !(a.flags() & py::array::c_style) || a.size() != size)
            throw py::value_error(std::string("gemm: ") + name + " must be C-contiguous, of out's dtype and " +
                                  std::to_string(size) + " elements");
        return cptr<T>(a);
    };
    i64 rows = c.ndim() == 2 ? c.shape(0) : 0, cols = c.shape(c.ndim() - 1);
    if ((relu || !bias.is_none() || !mask.is_none()) && c.ndim() != 2)
        throw py::value_error("gemm: bias, relu and mask need a 2-D out");
    if (!bias.is_none()) ep.bias = own(bias, "bias", cols);
    if (!mask.is_none()) {
        ep.mask = own(mask, "mask", rows * cols);
        ep.ldm = cols;
    }
    return ep;
}

template <class T>
void gemm_t(const py::array& a, const py::array& b, py::array& c, double beta, Epilogue<T> ep = {}) {
    Mat A = mat_of(a, "a"), B = mat_of(b, "b"), C = mat_of(c, "out");
    if (A.cols != B.rows || C.rows != A.rows || C.cols != B.cols) throw py::value_error("gemm: shapes do not match");
    if (!(c.flags() & py::array::c_style)) throw py::value_error("gemm: out must be C-contiguous");
    std::vector<i64> shape(c.shape(), c.shape() + c.ndim() - 2);
    i64 batch = 1;
    for (i64 n : shape) batch *= n;
    auto oa = batch_offsets(a, shape, batch, "a"), ob = batch_offsets(b, shape, batch, "b");
    if (c.size() == 0) return;
    std::vector<i64> oc(static_cast<std::size_t>(batch));
    for (i64 i = 0; i < batch; ++i) oc[std::size_t(i)] = i * C.rows * C.cols;
    // out is C-contiguous: its strides follow from its shape (NumPy may report any stride for size-1 axes)
    GemmArgs<T> g{A.rows, B.cols, A.cols, cptr<T>(a), A.rs, A.cs, cptr<T>(b), B.rs, B.cs, mptr<T>(c), C.cols, T(beta), ep};
    py::gil_scoped_release nogil;
    gemm<T>(g, batch, {oa.data(), ob.data(), oc.data()});
}
}  // namespace

}  // namespace tc

PYBIND11_MODULE(_C, m) {
    using namespace tc;
    m.doc() = "tinygrad_chain C++ kernels (GEMM, fused elementwise, softmax, layer norm, reductions, optimizers, conv/pool windows)";
    m.def("gemm", [](const py::array& a, const py::array& b, py::array& out, double beta, const py::object& bias,
                     bool relu, const py::object& mask) {
        check_float(a, "gemm");
        if (!same_dtype(a.dtype(), b.dtype()) || !same_dtype(a.dtype(), out.dtype()))
            throw py::type_error("gemm: a, b and out must share one dtype");
        if (!out.writeable()) throw py::value_error("gemm: out is read-only");
        if (is_f32(a)) gemm_t<float>(a, b, out, beta, epilogue_of<float>(out, bias, relu, mask));
        else gemm_t<double>(a, b, out, beta, epilogue_of<double>(out, bias, relu, mask));
    }, py::arg("a"), py::arg("b"), py::arg("out"), py::arg("beta") = 0.0, py::arg("bias") = py::none(),
    py::arg("relu") = false, py::arg("mask") = py::none(),
    "out = a @ b + beta*out; out C-contiguous with batch axes before the last two, a and b either 2-D or "
    "with out's batch axes (size 1 broadcasts), any strides: transposed views cost no copy. A 2-D out may "
    "then take, in this order, out += bias (a row), out = maximum(out, 0) (relu=True) and out *= (mask > 0) "
    "(mask shaped like out): NumPy's bits for those ops, applied per tile while it is in cache.");
    m.def("set_num_threads", &set_num_threads, "Threads the kernels use.");
    m.def("get_num_threads", &num_threads);
    m.def("_cgroup_cpu_limit", &cgroup_cpu_limit, "For tests: the CPU quota read from a cgroup tree.");
    m.def("isa", [] { return std::string(kernels().name); }, "The instruction set the kernels run with.");
    m.def("set_isa", [](const std::string& s) { return set_isa(s.c_str()); },
          "Force 'generic', 'avx2' or 'avx512' (tests); False if this CPU lacks it.");
    m.def("opcodes", [] {
#define TC_NAME(name) #name,
        auto names = [](std::initializer_list<const char*> v) {
            py::list out;
            for (const char* n : v) out.append(n);
            return out;
        };
        py::dict d;
        d["act"] = names({TC_ACT_OPS(TC_NAME)});
        d["binary"] = names({TC_BIN_OPS(TC_NAME)});
        d["softmax"] = names({TC_SOFT_OPS(TC_NAME)});
        d["reduce"] = names({TC_RED_OPS(TC_NAME)});
        d["fused"] = names({TC_FUSED_OPS(TC_NAME)});
#undef TC_NAME
        return d;
    }, "Each opcode family's names, in opcode order (the enums of common.h): Python looks opcodes up here.");
    bind_elementwise(m);
    bind_softmax(m);
    bind_reduce(m);
    bind_optim(m);
    bind_conv_window(m);
    bind_pool(m);
    bind_fused(m);
    bind_lstm(m);
    bind_layernorm(m);
    bind_apply(m);
}
