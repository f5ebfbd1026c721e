"""What the engine floor knows of a tensor: its fields, and how results are made.

The registry, the engine and the VJPs make tensors and recognise them, but the
Tensor class with its methods belongs to the API floor above them (tensor.py),
which they never import. So its fields are declared here, in `TensorCore`, and
the API's class subclasses it with `results=True`: that class is then the one
`TensorCore.make` builds, and `isinstance(x, TensorCore)` tells a tensor.
"""
from .in_c import C


class TensorCore:
    __slots__ = ("_data", "_b", "_requires_grad", "_grad", "grad_fn", "_version", "_hooks", "_base", "_synced",
                 "__weakref__")

    def __init_subclass__(cls, results=False, **kwargs):
        super().__init_subclass__(**kwargs)
        if results:
            if TensorCore.make is not _unset:
                raise TypeError(f"{cls.__name__}: results are already made as {TensorCore.make.__self__.__name__}")
            # a bound classmethod is no descriptor: TensorCore.make(...) calls cls._make(...), or the
            # same in C, whose __self__ is cls too
            TensorCore.make = cls._make if C is None else C.tensor_maker(cls)

    @classmethod
    def _make(cls, data, backend, requires_grad, grad_fn, version):  # csrc/apply.cpp's make_of() fills the same slots
        t = _new(cls)
        t._data = data  # a backend array (a fusing backend's may be lazy: backends/lazy.py)
        t._b = backend
        t._requires_grad = requires_grad
        t._grad = None
        t.grad_fn = grad_fn
        t._version = version  # a one-element list, shared with views
        t._hooks = None
        t._base = None  # a view's: the tensor whose memory it shows (registry.py's _view_of)
        t._synced = None  # a view's: the version its graph was made at (older: tensor_inplace.py's _resync_view)
        return t


def _unset(*args):
    raise RuntimeError("tinygrad_chain.tensor is not imported: no class makes tensors yet")


_new = object.__new__
TensorCore.make = _unset


#: the version counter of a lent gradient (below): the engine copies it before it becomes a .grad
LENT = [0]


def lent(array, b):
    """A native array that something else holds (an input's), handed on as a gradient outside
    any graph: the engine copies it before it becomes a .grad, which is written in place."""
    return TensorCore.make(array, b, False, None, LENT)


def constant(array, b):
    """A native array as a Tensor outside any graph: a gradient a first-order VJP computed
    on arrays (ops/vjp_ops.py)."""
    if isinstance(array, b.scalar_type):  # NumPy answers 0-d operands with a scalar, which is not writable
        array = b.asarray(array)
    return TensorCore.make(array, b, False, None, [0])
