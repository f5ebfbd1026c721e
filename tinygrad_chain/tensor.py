"""The Tensor: a backend array, its device, and the tape node that made it.

Every method reaches `ops.registry.apply`, the one dispatch function. The
methods are written out by kind: the core here (inspection, autograd,
conversion), math in tensor_math.py, shape and indexing in tensor_shape.py,
sorting and sampling in tensor_sort.py, in-place writes in tensor_inplace.py.
"""
import builtins
import numbers
import weakref

from tinygrad_chain import creation, dtypes, legacy
from tinygrad_chain.autograd import engine
from tinygrad_chain.autograd.tensor_core import TensorCore
from tinygrad_chain.creation import tensor  # noqa: F401  (tinygrad_chain.tensor.tensor: tc.tensor)
from tinygrad_chain.device import backend_for, device_of
from tinygrad_chain.device import device as _device
from tinygrad_chain.formatting import tensor_repr
from tinygrad_chain.ops import movement as M
from tinygrad_chain.ops.registry import apply
from tinygrad_chain.size import _size
from tinygrad_chain.sparse import not_supported
from tinygrad_chain.tensor_compose import TensorCompose, add_inplace_methods
from tinygrad_chain.tensor_index import TensorIndex
from tinygrad_chain.tensor_inplace import TensorInplace
from tinygrad_chain.tensor_math import TensorMath
from tinygrad_chain.tensor_matrix import TensorMatrix
from tinygrad_chain.tensor_shape import TensorShape
from tinygrad_chain.tensor_sort import TensorSort


class Tensor(TensorCore, TensorMath, TensorShape, TensorMatrix, TensorSort, TensorInplace, TensorIndex, TensorCompose,
             results=True):
    __slots__ = ()  # the fields are TensorCore's; results of ops are made as this class
    __array_priority__ = 1000  # numpy_array * tensor gives a Tensor

    def __init__(self, *args, device=None):
        """torch's legacy constructor: Tensor(2, 3) is uninitialised of shape (2, 3), Tensor([1, 2])
        holds data as the default float dtype, Tensor(t) shares t's memory (legacy.py). tc.tensor(data)
        is the constructor to use."""
        t = legacy.new(args, None, device, "Tensor")
        self._data, self._b, self._version = t._data, t._b, t._version
        self._requires_grad = False
        self._grad = self.grad_fn = self._hooks = self._base = self._synced = None

    # ---- the data ------------------------------------------------------
    @property
    def data(self):
        """This tensor's values as a new leaf tensor sharing its memory, outside autograd (torch's
        .data): `p.data.add_(u)` and `p.data -= lr * p.grad` write the parameter in place, unseen by
        the version counter (as torch's; detach() shares the counter)."""
        return Tensor._make(self._data, self._b, False, None, [0])

    @data.setter
    def data(self, value):
        """Take value's memory (and with it its shape, dtype and device), as torch does."""
        if not isinstance(value, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(value).__name__}")
        self._data, self._b = value._data, value._b

    def _writable(self):
        """The backend array, about to be written in place by the caller itself."""
        return self._b.writable(self._data)

    # ---- inspection ----------------------------------------------------
    @property
    def shape(self):
        return _size(self._data.shape)

    @property
    def dtype(self):
        return self._b.dtype_of(self._data)

    @property
    def device(self):
        return device_of(self._b)

    @property
    def ndim(self):
        return self._data.ndim

    def dim(self):
        return self._data.ndim

    def size(self, dim=None):
        return _size(self._data.shape) if dim is None else self._data.shape[dim]

    def numel(self):
        return self._data.size

    def __len__(self):
        if not self._data.ndim:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    @property
    def is_leaf(self):
        return self.grad_fn is None

    @property
    def is_cuda(self):
        return self._b.device_type == "cuda"

    @property
    def is_cpu(self):
        return self._b.device_type == "cpu"

    # torch's other device and layout flags: scripts test them to pick a code path (dcgan: input.is_xpu);
    # none of these devices or layouts exists here.
    is_xpu = is_mps = is_meta = is_xla = is_ipu = is_maia = is_mtia = is_vulkan = False
    is_mkldnn = is_quantized = is_nested = is_sparse_csr = False

    def numpy(self):
        if self._b.device_type == "cuda":
            raise TypeError(f"can't convert {self.device} device tensor to numpy. Use Tensor.cpu() to copy the "
                            f"tensor to host memory first.")
        if self._requires_grad:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                               "instead.")
        return self._b.to_numpy(self._b.shared(self._data))

    def __array__(self, dtype=None, copy=None):
        out = self._b.to_numpy(self._b.shared(self._data))
        return out if dtype is None else out.astype(dtype)

    def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
        """A DLPack capsule of this tensor's memory (not a copy), for torch.from_dlpack,
        np.from_dlpack, cupy.from_dlpack or tc.from_dlpack."""
        if self._requires_grad:
            raise RuntimeError("Can't export tensors that require gradient, use tensor.detach()")
        return self._b.to_dlpack(self._data, stream=stream, max_version=max_version, dl_device=dl_device,
                                 copy=copy)

    def __dlpack_device__(self):
        return self._b.dlpack_device(self._data)

    def item(self):
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted to Scalar")
        return self._b.to_numpy(self._data).item()

    def tolist(self):
        return self._b.to_numpy(self._data).tolist()

    def __repr__(self):
        return tensor_repr(self)

    def __format__(self, spec):
        """A 0-d tensor formats as its number: f"{loss:.4f}" (as torch); others only with no spec."""
        if self._data.ndim == 0:
            return format(self.item(), spec)
        return object.__format__(self, spec)

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        return builtins.bool(self.item())

    def __float__(self):
        return builtins.float(self.item())

    def __int__(self):
        return builtins.int(self.item())

    def __index__(self):
        if self.dtype.is_floating_point:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return builtins.int(self.item())

    def __hash__(self):
        return id(self)

    def __iter__(self):
        if not self._data.ndim:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    # ---- autograd --------------------------------------------------------
    @property
    def grad(self):
        return self._grad

    @grad.setter
    def grad(self, value):
        # checked here, at the assignment, as torch: optimizers and the engine trust .grad to fit
        if value is not None:
            _check_grad(self, value)
        self._grad = value

    @property
    def requires_grad(self):
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        self.requires_grad_(value)

    def requires_grad_(self, requires_grad=True):
        if self.grad_fn is not None and not requires_grad:
            raise RuntimeError("you can only change requires_grad flags of leaf variables. If you want to use "
                               "a computed variable in a subgraph that doesn't require differentiation use "
                               "var_no_grad = var.detach().")
        if requires_grad and not self.dtype.is_floating_point:
            raise RuntimeError(f"only Tensors of floating point dtype can require gradients, got {self.dtype.name}")
        self._requires_grad = builtins.bool(requires_grad)
        return self

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate d(self)/d(leaf) into every leaf's .grad (the chain rule)."""
        seed = engine.seed(self, gradient, "backward")
        if inputs is not None:
            inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
            grads = engine.backward([self], [seed], retain_graph=retain_graph or create_graph,
                                    create_graph=create_graph, inputs=inputs, allow_unused=True)
            for t, g in zip(inputs, grads):
                if g is not None:
                    t.grad = g if t.grad is None else t.grad + g
            return
        engine.backward([self], [seed], retain_graph=builtins.bool(retain_graph or create_graph),
                        create_graph=create_graph)

    def retain_grad(self):
        """Keep this non-leaf tensor's gradient in .grad after backward."""
        if self.grad_fn is None:
            if not self._requires_grad:
                raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
            return
        node = self.grad_fn
        node.retained = (node.retained or ()) + (weakref.ref(self),)

    @property
    def retains_grad(self):
        node = self.grad_fn
        return builtins.bool(node is not None and node.retained and any(r() is self for r in node.retained))

    def register_hook(self, hook):
        """Call hook(grad) when this tensor's gradient is computed; it may return a replacement."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            self.grad_fn.register_hook(hook)
            hooks = self.grad_fn.hooks
        else:
            self._hooks = self._hooks or []
            self._hooks.append(hook)
            hooks = self._hooks
        return _HookHandle(hooks, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """Call hook(self) during backward, as soon as this leaf's .grad holds the new gradient."""
        if self.grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        return _HookHandle(engine.register_post_accumulate_hook(self, hook), hook)

    def detach(self):
        """The same data, cut from the graph (shares memory and version counter)."""
        return Tensor._make(self._data, self._b, False, None, self._version)

    def detach_(self):
        self.grad_fn = None
        self._requires_grad = False
        return self

    def _sum_to_shape(self, shape):
        return apply(M.SumToShape, self, shape=tuple(shape))

    # ---- conversion ------------------------------------------------------
    def to(self, *args, dtype=None, device=None, non_blocking=False, copy=False, memory_format=None):
        """to(dtype), to(device), to(device, dtype), or to(other_tensor). non_blocking and
        memory_format are accepted as torch's: transfers here are synchronous, and memory contiguous."""
        for a in args:
            if isinstance(a, Tensor):
                device, dtype = a.device, a.dtype
            elif isinstance(a, dtypes.DType):
                dtype = a
            elif a is not None:
                device = a
        out = self
        if device is not None:
            target = backend_for(device)
            if target is not self._b:
                out = apply(M.Transfer, out, target=target, source=self._b.name)
        if dtype is not None:
            dtype = dtypes.get(dtype)
            if dtype is not out.dtype:
                out = apply(M.Cast, out, dtype=dtype)
        if copy and out is self:
            out = self.clone()
        return out

    def float(self):
        return self.to(dtypes.float32)

    def double(self):
        return self.to(dtypes.float64)

    def half(self):
        return self.to(dtypes.float16)

    def bfloat16(self):
        return self.to(dtypes.bfloat16)

    def long(self):
        return self.to(dtypes.int64)

    def int(self):
        return self.to(dtypes.int32)

    def short(self):
        return self.to(dtypes.int16)

    def char(self):
        return self.to(dtypes.int8)

    def byte(self):
        return self.to(dtypes.uint8)

    def bool(self):
        return self.to(dtypes.bool_)

    def type(self, dtype=None, non_blocking=False):
        """type() names this tensor's type ('tinygrad_chain.FloatTensor'); type(tc.DoubleTensor),
        type(tc.float64) or type('torch.DoubleTensor') casts."""
        return legacy.type_name(self) if dtype is None else legacy.cast(self, dtype)

    def cpu(self, memory_format=None):
        return self if self._b.device_type == "cpu" else self.to("cpu")

    def cuda(self, device=None, non_blocking=False, memory_format=None):
        return self.to(_device("cuda" if device is None else device))

    def pin_memory(self, device=None):
        """A no-op: page-locked memory speeds up copies to a GPU, and this library's copies are
        synchronous. Returns self, as a CPU tensor (torch returns a pinned copy)."""
        if self._b.device_type != "cpu":
            raise RuntimeError(f"cannot pin '{self.device}' memory: only dense CPU tensors can be pinned")
        return self

    def is_pinned(self, device=None):
        return False

    # ---- torch's new_* constructors: of this tensor's dtype and device unless told ----------------
    def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
        return tensor(data, dtype=dtype or self.dtype, device=device or self._b.name, requires_grad=requires_grad)

    def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False):
        return creation.full(size, fill_value, dtype or self.dtype, device or self._b.name, requires_grad)

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
        return self.new_full(size, 0, dtype, device, requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
        return self.new_full(size, 1, dtype, device, requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False):
        return creation.empty(*size, dtype=dtype or self.dtype, device=device or self._b.name,
                              requires_grad=requires_grad)

    def element_size(self):
        return self.dtype.itemsize

    def nelement(self):
        return self._data.size

    def clone(self, memory_format=None):
        return apply(M.Clone, self)

    def __deepcopy__(self, memo):
        # copy.deepcopy(module) must not deep-copy the backend object (tensors would change device)
        if self.grad_fn is not None:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) support the deepcopy "
                               "protocol at the moment. Use detach() first.")
        t = type(self)._make(self._b.copy(self._data), self._b, self._requires_grad, None, [0])
        if self.grad is not None:
            t.grad = self.grad.detach().clone()
        memo[id(self)] = t
        return t

    def __copy__(self):
        # copy.copy shares the memory, as torch's (pickling, below, copies it)
        t = type(self)._make(self._data, self._b, self._requires_grad, self.grad_fn, self._version)
        t._grad, t._hooks = self._grad, self._hooks
        return t

    def __reduce_ex__(self, protocol):
        # pickle (multiprocessing queues, DataLoader workers, spawn's arguments): the values, dtype,
        # device and requires_grad; as torch, a result comes back as a leaf, without .grad
        host = self._b.to_numpy(self._b.shared(self._data))
        return _rebuild, (type(self), host, self.dtype, self._b.name, self._requires_grad)

    def contiguous(self, memory_format=None):
        return self

    def is_contiguous(self, memory_format=None):
        return True  # as contiguous() answers: every op takes any layout

    def stride(self, dim=None):
        """The row-major strides of this shape, in elements (what contiguous() promises)."""
        out, step = [], 1
        for n in reversed(self._data.shape):
            out.append(step)
            step *= builtins.max(n, 1)
        out = tuple(reversed(out))
        return out if dim is None else out[dim]

    def data_ptr(self):
        """The address of the first element (NumPy and CuPy arrays both say where their data starts)."""
        data = self._b.shared(self._data)
        interface = getattr(data, "__array_interface__", None) or getattr(data, "__cuda_array_interface__", None)
        return interface["data"][0] if interface else id(data)

    def apply_(self, callable):  # noqa: A002
        """Each element replaced by callable(element), in Python (CPU tensors, as torch)."""
        values = [callable(v) for v in self.reshape(-1).tolist()]
        return self._replace_data(creation.tensor(values, dtype=self.dtype, device=self.device)
                                  .reshape(self.shape)._data)

    def ndimension(self):
        return self._data.ndim

    def get_device(self):
        return 0 if self._b.device_type == "cuda" else -1

    @property
    def itemsize(self):
        return self.element_size()

    @property
    def nbytes(self):
        return self.numel() * self.element_size()

    def share_memory_(self):
        return self  # one process's memory; tinygrad_chain.distributed sends copies

    def is_shared(self):
        return False

    # ---- sparse: out of scope (sparse.py) ---------------------------------
    is_sparse = False

    def to_sparse(self, *args, **kwargs):
        raise not_supported("Tensor.to_sparse")

    to_sparse_coo = to_sparse_csr = to_sparse

    def is_floating_point(self):
        return self.dtype.is_floating_point

    def _wrap(self, x):
        """x as a tensor on self's device (Python numbers take self's dtype)."""
        return _as_tensor(x, self)


add_inplace_methods(Tensor)


class _HookHandle:
    def __init__(self, hooks, hook):
        self._hooks, self._hook = hooks, hook

    def remove(self):
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


# ---- helpers -------------------------------------------------------------------
def _as_tensor(x, like):
    if isinstance(x, Tensor):
        return x
    return tensor(x, dtype=like.dtype if isinstance(x, numbers.Number) else None, device=like.device)


def _check_grad(t, g):
    if not isinstance(g, Tensor):
        raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of type {type(g).__name__}")
    if g is t:
        raise RuntimeError("can't assign a tensor as its own grad")
    if g.dtype is not t.dtype:
        raise RuntimeError(f"attempting to assign a gradient with dtype '{g.dtype.name}' to a tensor with dtype "
                           f"'{t.dtype.name}'. Please ensure that the gradient and the tensor have the same dtype")
    if g._b is not t._b:
        raise RuntimeError(f"attempting to assign a gradient with device '{g._b.name}' to a tensor with device "
                           f"'{t._b.name}'. Please ensure that the gradient and the tensor are on the same device")
    if g.shape != t.shape:
        raise RuntimeError(f"attempting to assign a gradient of size '{list(g.shape)}' to a tensor of size "
                           f"'{list(t.shape)}'. Please ensure that the gradient and the tensor are the same size")


def _rebuild(cls, host, dtype, device, requires_grad):
    """The unpickled tensor (Tensor.__reduce_ex__), on the device it left when this process has it."""
    t = tensor(host, dtype=dtype, device=device)
    return cls._make(t._data, t._b, requires_grad, None, t._version)
