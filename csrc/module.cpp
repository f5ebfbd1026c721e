// tinygrad_chain._C: the pybind11 module. Each kernel family binds itself;
// this file adds GEMM, threads and the CPU-feature dispatch.
#include <string>

#include "gemm.h"
#include "pyutil.h"

namespace tc {
void bind_elementwise(py::module_& m);
void bind_softmax(py::module_& m);
void bind_reduce(py::module_& m);
void bind_optim(py::module_& m);
void bind_conv_window(py::module_& m);
void bind_pool(py::module_& m);

namespace {
// Element strides of the last two axes, and of the batch axis when 3-D.
struct Mat { i64 rows, cols, rs, cs, bs, batch; };

Mat mat_of(const py::array& a, const char* name) {
    if (a.ndim() != 2 && a.ndim() != 3) throw py::value_error(std::string("gemm: ") + name + " must be 2-D or 3-D");
    int d = int(a.ndim());
    i64 item = a.itemsize();
    for (int i = 0; i < d; ++i)
        if (a.strides(i) % item) throw py::value_error(std::string("gemm: ") + name + " has unaligned strides");
    Mat m{a.shape(d - 2), a.shape(d - 1), a.strides(d - 2) / item, a.strides(d - 1) / item, 0, 1};
    if (d == 3) { m.batch = a.shape(0); m.bs = a.strides(0) / item; }
    return m;
}

template <class T>
void gemm_t(const py::array& a, const py::array& b, py::array& c, double beta) {
    Mat A = mat_of(a, "a"), B = mat_of(b, "b"), C = mat_of(c, "out");
    i64 batch = C.batch;
    if (A.cols != B.rows || C.rows != A.rows || C.cols != B.cols || (A.batch != batch && A.batch != 1) ||
        (B.batch != batch && B.batch != 1))
        throw py::value_error("gemm: shapes do not match");
    if (!(c.flags() & py::array::c_style)) throw py::value_error("gemm: out must be C-contiguous");
    if (c.size() == 0) return;
    // out is C-contiguous: its strides follow from its shape (NumPy may report any stride for size-1 axes)
    GemmArgs<T> g{A.rows, B.cols, A.cols, cptr<T>(a), A.rs, A.cs, cptr<T>(b), B.rs, B.cs, mptr<T>(c), C.cols, T(beta)};
    i64 sa = A.batch == 1 ? 0 : A.bs, sb = B.batch == 1 ? 0 : B.bs, sc = C.rows * C.cols;
    py::gil_scoped_release nogil;
    gemm<T>(g, batch, sa, sb, sc);
}
}  // namespace

}  // namespace tc

PYBIND11_MODULE(_C, m) {
    using namespace tc;
    m.doc() = "tinygrad_chain C++ kernels (GEMM, fused elementwise, softmax, reductions, optimizers, conv/pool windows)";
    m.def("gemm", [](const py::array& a, const py::array& b, py::array& out, double beta) {
        check_float(a, "gemm");
        if (!a.dtype().is(b.dtype()) || !a.dtype().is(out.dtype()))
            throw py::type_error("gemm: a, b and out must share one dtype");
        if (!out.writeable()) throw py::value_error("gemm: out is read-only");
        if (is_f32(a)) gemm_t<float>(a, b, out, beta);
        else gemm_t<double>(a, b, out, beta);
    }, py::arg("a"), py::arg("b"), py::arg("out"), py::arg("beta") = 0.0,
    "out = a @ b + beta*out for 2-D or 3-D (batched, batch 1 broadcasts) operands with any strides; "
    "out C-contiguous. Transposed views cost no copy.");
    m.def("set_num_threads", &set_num_threads, "Threads the kernels use.");
    m.def("get_num_threads", &num_threads);
    m.def("isa", [] { return std::string(kernels().name); }, "The instruction set the kernels run with.");
    m.def("set_isa", [](const std::string& s) { return set_isa(s.c_str()); },
          "Force 'generic', 'avx2' or 'avx512' (tests); False if this CPU lacks it.");
    bind_elementwise(m);
    bind_softmax(m);
    bind_reduce(m);
    bind_optim(m);
    bind_conv_window(m);
    bind_pool(m);
}
