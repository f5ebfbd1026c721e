// Small helpers for the bindings: dtype dispatch and argument checks.
// The Python wrapper already hands over contiguous float32/float64 arrays;
// these checks turn a misuse into a Python exception instead of a crash.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "common.h"

namespace tc {
namespace py = pybind11;

// By value, not identity: an unpickled array (another process's, a DataLoader worker's) carries its
// own float32 descriptor object, equal to NumPy's but not the same one.
inline bool same_dtype(const py::dtype& a, const py::dtype& b) {
    return a.is(b) || py::detail::npy_api::get().PyArray_EquivTypes_(a.ptr(), b.ptr());
}
inline bool is_f32(const py::array& a) { return same_dtype(a.dtype(), py::dtype::of<float>()); }
inline bool is_f64(const py::array& a) { return same_dtype(a.dtype(), py::dtype::of<double>()); }

inline void check_float(const py::array& a, const char* op) {
    if (!is_f32(a) && !is_f64(a))
        throw py::type_error(std::string(op) + ": expected a float32 or float64 array, got " +
                             std::string(py::str(a.dtype())));
}

inline void check_contig(const py::array& a, const char* op) {
    if (!(a.flags() & py::array::c_style))
        throw py::value_error(std::string(op) + ": expected a C-contiguous array");
}

inline void check_same(const py::array& a, const py::array& b, const char* op) {
    check_contig(b, op);
    if (!same_dtype(a.dtype(), b.dtype()) || a.size() != b.size())
        throw py::value_error(std::string(op) + ": arrays differ in dtype or size");
}

inline std::vector<py::ssize_t> shape_of(const py::array& a) {
    return std::vector<py::ssize_t>(a.shape(), a.shape() + a.ndim());
}

inline py::array empty_like(const py::array& a) { return py::array(a.dtype(), shape_of(a)); }

// `out` if given (checked), else a new array shaped like `a`.
inline py::array out_or_new(const py::object& out, const py::array& a, const char* op) {
    if (out.is_none()) return empty_like(a);
    py::array o = py::reinterpret_borrow<py::array>(out);
    check_same(a, o, op);
    if (!o.writeable()) throw py::value_error(std::string(op) + ": out is read-only");
    return o;
}

template <class T> inline const T* cptr(const py::array& a) { return static_cast<const T*>(a.data()); }
template <class T> inline T* mptr(py::array& a) { return static_cast<T*>(a.mutable_data()); }

// Elementwise work is memory-bound: threads pay off from ~64K elements.
constexpr i64 EW_PARALLEL = 1 << 16;
constexpr i64 EW_GRAIN = 1024;

}  // namespace tc
