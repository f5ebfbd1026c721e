// tinygrad_chain._C.apply: ops/registry.py's apply (check, forward, record a node) in C.
//
// A small op's cost is mostly the interpreter running apply's own steps; torch does them in
// C++. This is the same function, step for step, through the CPython API: registry.py's Python
// apply stays the definition (read it first) and this file calls it back for everything rare
// (inputs on two devices, a forward's ValueError to be named, an op it was not told about), so
// any error is raised by the Python one. Python's apply is also what runs without the
// extension, or after _C.apply_setup(..., enabled=False) (tests run both).
#include <Python.h>
#include <structmember.h>  // PyMemberDef: where a __slots__ member lives

#include "pyutil.h"

namespace tc {
namespace {

// An op's flags as one int (registry.APPLY_BITS gives each its bit), so a call reads one
// attribute instead of ten.
enum : long {
    HAS_CHECK = 1, FLOAT_ONLY = 2, SAVES_EXTRA = 4, SETS_DTYPE = 8, CHANGES_DEVICE = 16, VIEW = 32,
    DIFFERENTIABLE = 64, SAVES_INPUTS = 128, SAVES_OUTPUT = 256, READS_SOME = 512, READS_BY_NEED = 1024,
};
constexpr Py_ssize_t MAX_ARGS = 8;  // more inputs than this: Python's apply

// autograd/tensor_core.py's TensorCore.__slots__, as byte offsets (a subclass keeps them)
struct TensorSlots { Py_ssize_t data, backend, requires_grad, grad, grad_fn, version, hooks, base, synced; };

// autograd/node.py's Node.__slots__, as byte offsets
struct NodeSlots { Py_ssize_t op, attrs, parents, in_meta, seq, needs, inputs, versions, out, out_version, saved, hooks, retained; };

// What apply_setup hands over (kept for the life of the process).
struct Setup {
    bool enabled = false;
    PyObject *python_apply, *tensor_type, *node_type, *state, *shared, *shared_miss, *as_float,
        *no_silent_float64, *shape_error;
    NodeSlots node;
    PyObject* node_sequence;  // node.py's _sequence: Node.seq is its next value
} S;

// The class TensorCore.make builds (tensor.Tensor, once tensor_maker has been called) and its slots.
PyTypeObject* made_type = nullptr;
TensorSlots T;

// interned attribute names
PyObject *s_apply_bits, *s_check, *s_forward, *s_scalar_type, *s_asarray, *s_dtype, *s_float64_native,
    *s_enabled, *s_retain_all, *s_retain_grad, *s_make, *s_dtype_of, *s_shape, *s_saves_inputs, *s_target,
    *s_checked_by_need;

inline PyObject*& slot(PyObject* o, Py_ssize_t off) { return *reinterpret_cast<PyObject**>(reinterpret_cast<char*>(o) + off); }

// Fill an empty slot of a fresh object (tp_alloc zeroed it) with a new reference.
inline void put(PyObject* o, Py_ssize_t off, PyObject* v) { slot(o, off) = Py_NewRef(v); }

// Where instances of `type` keep the __slots__ member `name` (found on the type or a base).
Py_ssize_t slot_offset(PyObject* type, const char* name) {
    PyObject* d = PyObject_GetAttrString(type, name);  // a class gives its member descriptor itself
    Py_ssize_t off = d && Py_IS_TYPE(d, &PyMemberDescr_Type) ? reinterpret_cast<PyMemberDescrObject*>(d)->d_member->offset : -1;
    Py_XDECREF(d);
    if (off < 0) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "apply: %s is not a __slots__ member of %R", name, type);
    }
    return off;
}

int tensor_slots(PyObject* type, TensorSlots& t) {
    struct { Py_ssize_t* off; const char* name; } slots[] = {
        {&t.data, "_data"}, {&t.backend, "_b"}, {&t.requires_grad, "_requires_grad"}, {&t.grad, "_grad"},
        {&t.grad_fn, "grad_fn"}, {&t.version, "_version"}, {&t.hooks, "_hooks"}, {&t.base, "_base"},
        {&t.synced, "_synced"}};
    for (auto& f : slots)
        if ((*f.off = slot_offset(type, f.name)) < 0) return -1;
    return 0;
}

PyObject* python_apply(PyObject* const* a, size_t nargsf, PyObject* kwnames) {
    return PyObject_Vectorcall(S.python_apply, a, nargsf, kwnames);
}

// An owned reference that lets go by itself.
struct Ref {
    PyObject* p = nullptr;
    Ref() = default;
    explicit Ref(PyObject* o) : p(o) {}
    Ref(const Ref&) = delete;
    Ref& operator=(const Ref&) = delete;
    ~Ref() { Py_XDECREF(p); }
    void reset(PyObject* o) { Py_XDECREF(p); p = o; }
    PyObject* release() { PyObject* o = p; p = nullptr; return o; }
    explicit operator bool() const { return p != nullptr; }
};

int truth(PyObject* o) { return o == Py_True ? 1 : o == Py_False || o == Py_None ? 0 : PyObject_IsTrue(o); }

// _SHARED.get(record) or _shared(record): one shared tuple per distinct record (see registry.py).
PyObject* shared(PyObject* record) {
    PyObject* kept = PyDict_GetItemWithError(S.shared, record);
    if (kept) return Py_NewRef(kept);
    if (PyErr_Occurred()) return nullptr;
    return PyObject_CallOneArg(S.shared_miss, record);
}

PyObject* call_method(PyObject* name, std::initializer_list<PyObject*> args) {
    return PyObject_VectorcallMethod(name, args.begin(), args.size(), nullptr);
}

// forward's ValueError as Python's apply raises it: `raise _shape_error(op, args, e) from None`.
void raise_shape_error(PyObject* op, PyObject* args) {
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb) PyException_SetTraceback(value, tb);
    Ref err(PyObject_CallFunctionObjArgs(S.shape_error, op, args, value, nullptr));
    Py_XDECREF(type);
    Py_XDECREF(tb);
    if (!err) {
        Py_XDECREF(value);
        return;
    }
    PyException_SetContext(err.p, value);  // steals value
    PyException_SetCause(err.p, nullptr);  // None, and __suppress_context__: "from None"
    PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(err.p)), err.p);
}

// A tensor's slot as an owned reference; a deleted one raises Python's AttributeError.
PyObject* field(PyObject* t, Py_ssize_t off, const char* name) {
    PyObject* v = slot(t, off);
    return v ? Py_NewRef(v) : PyObject_GetAttrString(t, name);
}

// The node's records of the inputs (`inputs`: apply's args as a tuple), as registry.py's apply builds them.
PyObject* record(PyObject* op, long bits, PyObject* inputs, PyObject* source, PyObject* attrs, PyObject* out,
                 PyObject* b, PyObject* version, PyObject* saved) {
    bool read = bits & SAVES_INPUTS;
    Py_ssize_t n = PyTuple_GET_SIZE(inputs);
    PyObject* const* args = &PyTuple_GET_ITEM(inputs, 0);
    Ref parents(PyTuple_New(n)), meta(PyTuple_New(n)), versions(read ? PyTuple_New(n) : nullptr);
    if (!parents || !meta || (read && !versions)) return nullptr;
    Ref read_some(bits & READS_SOME ? PyObject_GetAttr(op, s_saves_inputs) : nullptr);
    if ((bits & READS_SOME) && !read_some) return nullptr;
    for (Py_ssize_t i = 0; i < n; ++i) {
        PyObject* a = args[i];
        if (!PyObject_TypeCheck(a, reinterpret_cast<PyTypeObject*>(S.tensor_type))) {
            PyTuple_SET_ITEM(parents.p, i, Py_NewRef(Py_None));
            PyTuple_SET_ITEM(meta.p, i, Py_NewRef(Py_None));
            if (read) PyTuple_SET_ITEM(versions.p, i, Py_NewRef(Py_None));
            continue;
        }
        // read again, as Python's apply does: the forward ran in between
        Ref d(field(a, T.data, "_data")), rg_obj(field(a, T.requires_grad, "_requires_grad"));
        if (!d || !rg_obj) return nullptr;
        int rg = truth(rg_obj.p);
        if (rg < 0) return nullptr;
        Ref fn(rg ? field(a, T.grad_fn, "grad_fn") : Py_NewRef(Py_None));
        if (!fn) return nullptr;
        PyTuple_SET_ITEM(parents.p, i, Py_NewRef(!rg ? Py_None : fn.p != Py_None ? fn.p : a));
        Ref shape(PyObject_GetAttr(d.p, s_shape)), dtype(call_method(s_dtype_of, {source, d.p}));
        if (!shape || !dtype) return nullptr;
        PyObject* m = PyTuple_Pack(3, shape.p, dtype.p, source);
        if (!m) return nullptr;
        PyTuple_SET_ITEM(meta.p, i, m);
        Ref counter(field(a, T.version, "_version"));
        Ref v(counter ? PySequence_GetItem(counter.p, 0) : nullptr);  // every input's, as Python reads them
        if (!v) return nullptr;
        if (read) {
            int r = 1;
            if (read_some) {
                Ref index(PyLong_FromSsize_t(i));
                if ((r = index ? PySequence_Contains(read_some.p, index.p) : -1) < 0) return nullptr;
            }
            PyTuple_SET_ITEM(versions.p, i, Py_NewRef(r ? v.p : Py_None));
        }
    }
    // grad_reads: only what the needed gradients read is checked (registry.py's _checked_by_need)
    bool out_checked = bits & SAVES_OUTPUT;
    if (bits & READS_BY_NEED) {
        long need = 0;
        for (Py_ssize_t i = 0; i < n && i < 62; ++i)
            if (PyTuple_GET_ITEM(parents.p, i) != Py_None) need |= 1L << i;
        Ref table(PyObject_GetAttr(op, s_checked_by_need));
        Ref checked(table ? PySequence_GetItem(table.p, need) : nullptr);
        if (!checked || !PyTuple_Check(checked.p)) return nullptr;
        Py_ssize_t m = PyTuple_GET_SIZE(checked.p) - 1;
        for (Py_ssize_t i = 0; read && i < n; ++i)
            if (i >= m || PyTuple_GET_ITEM(checked.p, i) != Py_True) {
                PyObject* old = PyTuple_GET_ITEM(versions.p, i);
                PyTuple_SET_ITEM(versions.p, i, Py_NewRef(Py_None));
                Py_DECREF(old);
            }
        out_checked = out_checked && PyTuple_GET_ITEM(checked.p, m) == Py_True;
    }
    meta.reset(shared(meta.p));
    if (!meta) return nullptr;
    if (read) {
        versions.reset(shared(versions.p));
        if (!versions) return nullptr;
    }
    Ref out_record((bits & SAVES_OUTPUT) ? PyTuple_Pack(3, out, b, version) : Py_NewRef(Py_None));
    Ref out_version(out_checked ? PySequence_GetItem(version, 0) : Py_NewRef(Py_None));
    Ref seq(PyIter_Next(S.node_sequence));
    if (!out_record || !out_version || !seq) return nullptr;
    // Node.__init__'s slots, filled here without its frame
    PyTypeObject* type = reinterpret_cast<PyTypeObject*>(S.node_type);
    PyObject* node = type->tp_alloc(type, 0);
    if (!node) return nullptr;
    const NodeSlots& k = S.node;
    put(node, k.op, op);
    put(node, k.attrs, attrs);
    put(node, k.parents, parents.p);
    put(node, k.in_meta, meta.p);
    put(node, k.seq, seq.p);
    put(node, k.needs, Py_None);
    put(node, k.inputs, read ? inputs : Py_None);
    put(node, k.versions, read ? versions.p : Py_None);
    put(node, k.out, out_record.p);
    put(node, k.out_version, out_version.p);
    put(node, k.saved, saved ? saved : Py_None);
    put(node, k.hooks, Py_None);
    put(node, k.retained, Py_None);
    return node;
}

// TensorCore.make: tensor_core.py's _make, the slots filled without its frame.
PyObject* make_of(PyTypeObject* type, PyObject* out, PyObject* b, PyObject* requires_grad, PyObject* node,
                  PyObject* version) {
    PyObject* t = type->tp_alloc(type, 0);
    if (!t) return nullptr;
    put(t, T.data, out);
    put(t, T.backend, b);
    put(t, T.requires_grad, requires_grad);
    put(t, T.grad, Py_None);
    put(t, T.grad_fn, node);
    put(t, T.version, version);
    put(t, T.hooks, Py_None);
    put(t, T.base, Py_None);
    put(t, T.synced, Py_None);
    return t;
}

// A view's _base (registry.py's _view_of): the tensor whose memory it shows, its input's base or its input;
// and _synced, the version its graph is made at.
PyObject* view_of(PyObject* result, PyObject* input) {
    if (!result || !made_type) return result;  // made by Python's make: no view to note
    PyObject* root = slot(input, T.base);
    Py_XSETREF(slot(result, T.base), Py_NewRef(root && root != Py_None ? root : input));
    PyObject* version = slot(result, T.version);
    if (version && PyList_Check(version) && PyList_GET_SIZE(version) > 0)
        Py_XSETREF(slot(result, T.synced), Py_NewRef(PyList_GET_ITEM(version, 0)));
    return result;
}

// 1: x is a view whose base was written in place since its graph was made (Python's apply remakes the graph:
// tensor_inplace.py's _resync_view); 0: not; -1: an error is set.
int stale_view(PyObject* x) {
    PyObject *base = slot(x, T.base), *synced = slot(x, T.synced), *version = slot(x, T.version);
    if (!base || base == Py_None || !synced || synced == Py_None) return 0;
    if (!PyList_Check(version) || PyList_GET_SIZE(version) < 1) return 1;  // Python's apply says what is wrong
    int same = PyObject_RichCompareBool(synced, PyList_GET_ITEM(version, 0), Py_EQ);
    return same < 0 ? -1 : !same;
}

PyObject* make(PyObject* out, PyObject* b, PyObject* requires_grad, PyObject* node, PyObject* version) {
    if (!made_type) {  // tensor.py not imported yet: Python's TensorCore.make raises that
        Ref maker(PyObject_GetAttr(S.tensor_type, s_make));
        PyObject* args[] = {out, b, requires_grad, node, version};
        return maker ? PyObject_Vectorcall(maker.p, args, 5, nullptr) : nullptr;
    }
    return make_of(made_type, out, b, requires_grad, node, version);
}

// the callable tensor_maker returns: its self is the class
PyObject* make_method(PyObject* cls, PyObject* const* a, Py_ssize_t n) {
    if (n != 5) {
        PyErr_Format(PyExc_TypeError, "make(data, backend, requires_grad, grad_fn, version) takes 5 arguments, not %zd", n);
        return nullptr;
    }
    return make_of(reinterpret_cast<PyTypeObject*>(cls), a[0], a[1], a[2], a[3], a[4]);
}

PyMethodDef make_def = {"make", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(make_method)), METH_FASTCALL,
                        "make(data, backend, requires_grad, grad_fn, version): a tensor of this class."};

PyObject* tensor_maker(PyObject*, PyObject* cls) {
    if (!PyType_Check(cls) || made_type) {
        PyErr_SetString(PyExc_TypeError, made_type ? "tensor_maker: a class makes tensors already" : "tensor_maker: expected a class");
        return nullptr;
    }
    if (tensor_slots(cls, T) < 0) return nullptr;
    made_type = reinterpret_cast<PyTypeObject*>(Py_NewRef(cls));
    return PyCFunction_NewEx(&make_def, cls, nullptr);
}

PyObject* apply(PyObject*, PyObject* const* a, Py_ssize_t nargsf, PyObject* kwnames) {
    Py_ssize_t n = PyVectorcall_NARGS(nargsf) - 1, nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    if (!S.enabled || n < 1 || n > MAX_ARGS) return python_apply(a, nargsf, kwnames);
    PyObject* op = a[0];
    PyObject* const* args = a + 1;
    Ref bits_obj(PyObject_GetAttr(op, s_apply_bits));
    if (!bits_obj) {  // an op registry.register did not make
        PyErr_Clear();
        return python_apply(a, nargsf, kwnames);
    }
    long bits = PyLong_AsLong(bits_obj.p);
    if (bits == -1 && PyErr_Occurred()) return nullptr;

    // Cases Python's apply handles (or raises for) before anything runs: sent there before anything runs here
    if (nkw > 16) return python_apply(a, nargsf, kwnames);
    bool has_target = false;
    for (Py_ssize_t k = 0; k < nkw; ++k) {
        PyObject* name = PyTuple_GET_ITEM(kwnames, k);
        if (PyUnicode_CompareWithASCIIString(name, "op") == 0) return python_apply(a, nargsf, kwnames);
        has_target |= PyUnicode_CompareWithASCIIString(name, "target") == 0;
    }
    if ((bits & CHANGES_DEVICE) && !has_target) return python_apply(a, nargsf, kwnames);
    if ((bits & VIEW) && !PyObject_TypeCheck(args[0], reinterpret_cast<PyTypeObject*>(S.tensor_type)))
        return python_apply(a, nargsf, kwnames);

    // the inputs: their backend (one device, else Python's apply moves CPU scalars or names the devices)
    // and their arrays, held here (check() may replace a tensor's array, another thread too), laid out
    // as forward's arguments: op, backend, arrays..., attribute values...
    PyObject* stack[2 + MAX_ARGS + 16];
    Ref held[MAX_ARGS], backend;
    bool requires_grad = false;
    for (Py_ssize_t i = 0; i < n; ++i) {
        PyObject* x = args[i];
        stack[2 + i] = x;
        if (!PyObject_TypeCheck(x, reinterpret_cast<PyTypeObject*>(S.tensor_type))) {
            // Python numbers go through; anything else (a NumPy scalar, None, a string) Python's apply checks
            if (!PyFloat_CheckExact(x) && !PyLong_Check(x)) return python_apply(a, nargsf, kwnames);
            continue;
        }
        PyObject *d = slot(x, T.data), *xb = slot(x, T.backend), *rg = slot(x, T.requires_grad);
        if (!d || !xb || !rg || !slot(x, T.grad_fn) || !slot(x, T.version) || (backend && xb != backend.p))
            return python_apply(a, nargsf, kwnames);
        int stale = stale_view(x);
        if (stale) return stale < 0 ? nullptr : python_apply(a, nargsf, kwnames);
        if (!backend) backend.reset(Py_NewRef(xb));
        int r = truth(rg);
        if (r < 0) return nullptr;
        requires_grad |= r;
        held[i].reset(Py_NewRef(d));
        stack[2 + i] = d;
    }
    if (!backend) return python_apply(a, nargsf, kwnames);  // it raises: no tensor argument
    PyObject* b = backend.p;
    for (Py_ssize_t k = 0; k < nkw; ++k) stack[2 + n + k] = args[n + k];
    stack[0] = op;
    stack[1] = b;

    if (bits & HAS_CHECK) {
        PyObject* check_args[1 + MAX_ARGS + 16];
        check_args[0] = op;
        for (Py_ssize_t i = 0; i < n + nkw; ++i) check_args[1 + i] = args[i];
        Ref ok(PyObject_VectorcallMethod(s_check, check_args, size_t(1 + n), kwnames));
        if (!ok) return nullptr;
    }
    Ref floats;  // _as_float's arrays, kept alive while forward runs
    if (bits & FLOAT_ONLY) {
        Ref arrays(PyList_New(n));
        if (!arrays) return nullptr;
        for (Py_ssize_t i = 0; i < n; ++i) PyList_SET_ITEM(arrays.p, i, Py_NewRef(stack[2 + i]));
        floats.reset(PyObject_CallFunctionObjArgs(S.as_float, b, arrays.p, nullptr));
        if (!floats) return nullptr;
        if (!PyList_Check(floats.p) || PyList_GET_SIZE(floats.p) != n) {
            PyErr_SetString(PyExc_TypeError, "apply: _as_float must return a list of the arrays");
            return nullptr;
        }
        for (Py_ssize_t i = 0; i < n; ++i) stack[2 + i] = PyList_GET_ITEM(floats.p, i);
    }
    Ref all_args(PyTuple_New(n));  // args as a tuple: Python's helpers take it, a node keeps it
    if (!all_args) return nullptr;
    for (Py_ssize_t i = 0; i < n; ++i) PyTuple_SET_ITEM(all_args.p, i, Py_NewRef(args[i]));
    Ref out(PyObject_VectorcallMethod(s_forward, stack, size_t(2 + n), kwnames));
    if (!out) {
        if (PyErr_ExceptionMatches(PyExc_ValueError)) raise_shape_error(op, all_args.p);
        return nullptr;
    }
    Ref saved;
    if (bits & SAVES_EXTRA) {  // out, saved = out
        Ref pair(PySequence_Fast(out.p, "cannot unpack non-iterable forward result"));
        if (!pair) return nullptr;
        Py_ssize_t got = PySequence_Fast_GET_SIZE(pair.p);
        if (got != 2) {
            if (got > 2) PyErr_SetString(PyExc_ValueError, "too many values to unpack (expected 2)");
            else PyErr_Format(PyExc_ValueError, "not enough values to unpack (expected 2, got %zd)", got);
            return nullptr;
        }
        saved.reset(Py_NewRef(PySequence_Fast_GET_ITEM(pair.p, 1)));
        out.reset(Py_NewRef(PySequence_Fast_GET_ITEM(pair.p, 0)));
    }
    {  // NumPy returns scalars, not arrays, for 0-d results
        Ref scalar_type(PyObject_GetAttr(b, s_scalar_type));
        if (!scalar_type) return nullptr;
        int r = PyObject_IsInstance(out.p, scalar_type.p);
        if (r < 0) return nullptr;
        if (r) out.reset(call_method(s_asarray, {b, out.p}));
        if (!out) return nullptr;
    }
    {  // no float64 where torch gives the default float
        Ref dtype(PyObject_GetAttr(out.p, s_dtype)), f64(dtype ? PyObject_GetAttr(b, s_float64_native) : nullptr);
        if (!dtype || !f64) return nullptr;
        if (dtype.p == f64.p && !(bits & SETS_DTYPE)) {
            out.reset(PyObject_CallFunctionObjArgs(S.no_silent_float64, b, out.p, all_args.p, nullptr));
            if (!out) return nullptr;
        }
    }
    PyObject* source = b;
    Ref attrs(PyDict_New());
    if (!attrs) return nullptr;
    for (Py_ssize_t k = 0; k < nkw; ++k)
        if (PyDict_SetItem(attrs.p, PyTuple_GET_ITEM(kwnames, k), args[n + k]) < 0) return nullptr;
    if (bits & CHANGES_DEVICE) b = PyDict_GetItem(attrs.p, s_target);  // there: checked above
    Ref version((bits & VIEW) ? field(args[0], T.version, "_version") : PyList_New(1));
    if (!version) return nullptr;
    if (!(bits & VIEW)) PyList_SET_ITEM(version.p, 0, PyLong_FromLong(0));

    int recording = requires_grad && (bits & DIFFERENTIABLE);
    if (recording) {
        Ref enabled(PyObject_GetAttr(S.state, s_enabled));
        recording = enabled ? truth(enabled.p) : -1;
        if (recording < 0) return nullptr;
    }
    if (!recording) {
        PyObject* made = make(out.p, b, Py_False, Py_None, version.p);
        return (bits & VIEW) ? view_of(made, args[0]) : made;
    }

    Ref node(record(op, bits, all_args.p, source, attrs.p, out.p, b, version.p, saved.p));
    if (!node) return nullptr;
    Ref result(make(out.p, b, Py_True, node.p, version.p));
    if (!result) return nullptr;
    if (bits & VIEW) view_of(result.p, args[0]);
    Ref retain_all(PyObject_GetAttr(S.state, s_retain_all));
    int r = retain_all ? truth(retain_all.p) : -1;
    if (r < 0) return nullptr;
    if (r) {
        Ref done(call_method(s_retain_grad, {result.p}));
        if (!done) return nullptr;
    }
    return result.release();
}

PyObject* apply_setup(PyObject*, PyObject* args) {
    Setup s;
    int enabled;
    if (!PyArg_ParseTuple(args, "OOOOOOOOOOp", &s.python_apply, &s.tensor_type, &s.node_type, &s.node_sequence, &s.state,
                          &s.shared, &s.shared_miss, &s.as_float, &s.no_silent_float64, &s.shape_error, &enabled))
        return nullptr;
    if (!PyType_Check(s.tensor_type) || !PyType_Check(s.node_type) || !PyDict_Check(s.shared)) {
        PyErr_SetString(PyExc_TypeError, "apply_setup: expected the TensorCore and Node classes and the _SHARED dict");
        return nullptr;
    }
    if (tensor_slots(s.tensor_type, T) < 0) return nullptr;
    NodeSlots& k = s.node;
    struct { Py_ssize_t* off; const char* name; } node_slots[] = {
        {&k.op, "op"}, {&k.attrs, "attrs"}, {&k.parents, "parents"}, {&k.in_meta, "in_meta"}, {&k.seq, "seq"},
        {&k.needs, "_needs"}, {&k.inputs, "_inputs"}, {&k.versions, "_versions"}, {&k.out, "_out"},
        {&k.out_version, "_out_version"}, {&k.saved, "saved"}, {&k.hooks, "hooks"}, {&k.retained, "retained"}};
    for (auto& f : node_slots)
        if ((*f.off = slot_offset(s.node_type, f.name)) < 0) return nullptr;
    if (!PyIter_Check(s.node_sequence)) {
        PyErr_SetString(PyExc_TypeError, "apply_setup: node_sequence must be an iterator");
        return nullptr;
    }
    for (PyObject* o : {s.node_sequence, s.python_apply, s.tensor_type, s.node_type, s.state, s.shared, s.shared_miss, s.as_float,
                        s.no_silent_float64, s.shape_error})
        Py_INCREF(o);  // kept for good: the modules that own them live as long
    s.enabled = enabled;
    S = s;
    Py_RETURN_NONE;
}

PyObject* apply_enabled(PyObject*, PyObject* arg) {
    int on = PyObject_IsTrue(arg);
    if (on < 0) return nullptr;
    bool was = S.enabled;
    S.enabled = on && S.python_apply;
    return PyBool_FromLong(was);
}

PyMethodDef methods[] = {
    {"apply", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(apply)), METH_FASTCALL | METH_KEYWORDS,
     "apply(op, *args, **attrs): ops/registry.py's apply, in C."},
    {"apply_setup", apply_setup, METH_VARARGS,
     "apply_setup(python_apply, TensorCore, Node, node_sequence, state, shared, shared_miss, as_float, "
     "no_silent_float64, shape_error, enabled)"},
    {"tensor_maker", tensor_maker, METH_O,
     "tensor_maker(cls): TensorCore.make for cls (tensor.Tensor) in C; its __self__ is cls."},
    {"apply_enabled", apply_enabled, METH_O, "Use the C apply (True) or always Python's; returns the old setting."},
    {nullptr, nullptr, 0, nullptr},
};

}  // namespace

void bind_apply(py::module_& m) {
    struct { PyObject** name; const char* text; } names[] = {
        {&s_apply_bits, "apply_bits"}, {&s_check, "check"}, {&s_forward, "forward"}, {&s_scalar_type, "scalar_type"},
        {&s_asarray, "asarray"}, {&s_dtype, "dtype"}, {&s_float64_native, "float64_native"}, {&s_enabled, "enabled"},
        {&s_retain_all, "retain_all"}, {&s_retain_grad, "retain_grad"}, {&s_make, "make"}, {&s_dtype_of, "dtype_of"},
        {&s_shape, "shape"}, {&s_saves_inputs, "saves_inputs"}, {&s_target, "target"},
        {&s_checked_by_need, "checked_by_need"},
    };
    for (auto& n : names)
        if (!(*n.name = PyUnicode_InternFromString(n.text))) throw py::error_already_set();
    if (PyModule_AddFunctions(m.ptr(), methods) < 0) throw py::error_already_set();
}

}  // namespace tc
