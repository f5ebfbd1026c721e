"""The Tensor: a backend array, its device, and the tape node that made it.

Every method reaches `ops.registry.apply`, the one dispatch function.
"""
import builtins
import numbers

from tinygrad_chain import dtypes
from tinygrad_chain.autograd import engine
from tinygrad_chain.autograd.grad_mode import state
from tinygrad_chain.autograd.node import _sequence as _node_seq
from tinygrad_chain.device import backend_for, device
from tinygrad_chain.ops import activations as A
from tinygrad_chain.ops import elementwise as E
from tinygrad_chain.ops import linalg as L
from tinygrad_chain.ops import movement as M
from tinygrad_chain.ops import reduce as R
from tinygrad_chain.ops import registry
from tinygrad_chain.ops.registry import apply


class Tensor:
    __slots__ = ("data", "_b", "_requires_grad", "grad", "grad_fn", "_version", "_hooks", "__weakref__")
    __array_priority__ = 1000  # numpy_array * tensor gives a Tensor

    def __init__(self, data, dtype=None, device=None, requires_grad=False):
        t = tensor(data, dtype=dtype if dtype is not None else _default_for(data), device=device,
                   requires_grad=requires_grad)
        self.data, self._b, self._requires_grad = t.data, t._b, t._requires_grad
        self.grad = self.grad_fn = self._hooks = None
        self._version = [0]

    @classmethod
    def _make(cls, data, backend, requires_grad, grad_fn, version):
        t = object.__new__(cls)
        t.data = data
        t._b = backend
        t._requires_grad = requires_grad
        t.grad = None
        t.grad_fn = grad_fn
        t._version = version  # a one-element list, shared with views
        t._hooks = None
        return t

    # ---- inspection ----------------------------------------------------
    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self._b.dtype_of(self.data)

    @property
    def device(self):
        return device(self._b.name)

    @property
    def ndim(self):
        return self.data.ndim

    def dim(self):
        return self.data.ndim

    def size(self, dim=None):
        return self.data.shape if dim is None else self.data.shape[dim]

    def numel(self):
        return self.data.size

    def __len__(self):
        if not self.data.ndim:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    @property
    def is_leaf(self):
        return self.grad_fn is None

    @property
    def is_cuda(self):
        return self._b.device_type == "cuda"

    def numpy(self):
        if self._b.device_type == "cuda":
            raise TypeError(f"can't convert {self.device} device tensor to numpy. Use Tensor.cpu() to copy the "
                            f"tensor to host memory first.")
        if self._requires_grad:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                               "instead.")
        return self._b.to_numpy(self.data)

    def __array__(self, dtype=None, copy=None):
        out = self._b.to_numpy(self.data)
        return out if dtype is None else out.astype(dtype)

    def item(self):
        if self.data.size != 1:
            raise RuntimeError(f"a Tensor with {self.data.size} elements cannot be converted to Scalar")
        return self._b.to_numpy(self.data).item()

    def tolist(self):
        return self._b.to_numpy(self.data).tolist()

    def __repr__(self):
        from tinygrad_chain.formatting import tensor_repr
        return tensor_repr(self)

    def __bool__(self):
        if self.data.size != 1:
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
        if not self.data.ndim:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.data.shape[0]))

    # ---- autograd --------------------------------------------------------
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
        seed = _seed(self, gradient, "backward")
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
        import weakref
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

    def detach(self):
        """The same data, cut from the graph (shares memory and version counter)."""
        return Tensor._make(self.data, self._b, False, None, self._version)

    def detach_(self):
        self.grad_fn = None
        self._requires_grad = False
        return self

    def _sum_to_shape(self, shape):
        return apply(M.SumToShape, self, shape=tuple(shape))

    # ---- conversion ------------------------------------------------------
    def to(self, *args, dtype=None, device=None, copy=False):
        """to(dtype), to(device), to(device, dtype), or to(other_tensor)."""
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

    def long(self):
        return self.to(dtypes.int64)

    def int(self):
        return self.to(dtypes.int32)

    def bool(self):
        return self.to(dtypes.bool_)

    def type(self, dtype=None):
        return self.dtype if dtype is None else self.to(dtypes.get(dtype))

    def cpu(self):
        return self if self._b.device_type == "cpu" else self.to("cpu")

    def cuda(self, device=None):
        return self.to("cuda")

    def clone(self):
        return apply(M.Clone, self)

    def __deepcopy__(self, memo):
        # copy.deepcopy(module) must not deep-copy the backend object (tensors would change device)
        if self.grad_fn is not None:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) support the deepcopy "
                               "protocol at the moment. Use detach() first.")
        t = type(self)._make(self._b.copy(self.data), self._b, self._requires_grad, None, [0])
        if self.grad is not None:
            t.grad = self.grad.detach().clone()
        memo[id(self)] = t
        return t

    def contiguous(self):
        return self

    def is_floating_point(self):
        return self.dtype.is_floating_point

    # ---- arithmetic ------------------------------------------------------
    def __add__(self, other):
        return apply(E.Add, self, other)

    def __radd__(self, other):
        return apply(E.Add, other, self)

    def __sub__(self, other):
        return apply(E.Sub, self, other)

    def __rsub__(self, other):
        return apply(E.Sub, other, self)

    def __mul__(self, other):
        return apply(E.Mul, self, other)

    def __rmul__(self, other):
        return apply(E.Mul, other, self)

    def __truediv__(self, other):
        return apply(E.Div, self, other)

    def __rtruediv__(self, other):
        return apply(E.Div, other, self)

    def __floordiv__(self, other):
        return apply(E.REGISTRY_floordiv, self, other)

    def __rfloordiv__(self, other):
        return apply(E.REGISTRY_floordiv, other, self)

    def __mod__(self, other):
        return apply(E.Remainder, self, other)

    def __rmod__(self, other):
        return apply(E.Remainder, other, self)

    def __pow__(self, other):
        return apply(E.Pow, self, other)

    def __rpow__(self, other):
        return apply(E.Pow, other, self)

    def __neg__(self):
        return apply(E.Neg, self)

    def __pos__(self):
        return self

    def __abs__(self):
        return apply(E.Abs, self)

    def __matmul__(self, other):
        return self.matmul(other)

    def __rmatmul__(self, other):
        return _as_tensor(other, self).matmul(self)

    add = __add__
    mul = __mul__
    multiply = __mul__
    div = __truediv__
    divide = __truediv__
    true_divide = __truediv__
    floor_divide = __floordiv__
    remainder = __mod__
    pow = __pow__
    neg = __neg__
    negative = __neg__
    abs = __abs__

    def sub(self, other, alpha=1):
        return self - (other * alpha if alpha != 1 else other)

    subtract = sub

    # ---- comparisons and logic (bool results, never require grad) --------
    def __eq__(self, other):
        return apply(E.REGISTRY_eq, self, other)

    def __ne__(self, other):
        return apply(E.REGISTRY_ne, self, other)

    def __lt__(self, other):
        return apply(E.REGISTRY_lt, self, other)

    def __le__(self, other):
        return apply(E.REGISTRY_le, self, other)

    def __gt__(self, other):
        return apply(E.REGISTRY_gt, self, other)

    def __ge__(self, other):
        return apply(E.REGISTRY_ge, self, other)

    def __and__(self, other):
        return apply(E.REGISTRY_logical_and, self, other)

    def __or__(self, other):
        return apply(E.REGISTRY_logical_or, self, other)

    def __xor__(self, other):
        return apply(E.REGISTRY_logical_xor, self, other)

    def __invert__(self):
        return apply(E.REGISTRY_logical_not, self)

    eq, ne, lt, le, gt, ge = __eq__, __ne__, __lt__, __le__, __gt__, __ge__
    logical_and, logical_or, logical_xor, logical_not = __and__, __or__, __xor__, __invert__

    def isnan(self):
        return apply(E.REGISTRY_isnan, self)

    def isinf(self):
        return apply(E.REGISTRY_isinf, self)

    def equal(self, other):
        return self.shape == other.shape and builtins.bool((self == other).all())

    def allclose(self, other, rtol=1e-05, atol=1e-08):
        return builtins.bool(((self - other).abs() <= atol + rtol * other.abs()).all())

    def all(self, dim=None, keepdim=False):
        return self.bool().long().sum(dim, keepdim) == (self.numel() if dim is None else _count(self, dim))

    def any(self, dim=None, keepdim=False):
        return self.bool().long().sum(dim, keepdim) > 0

    # ---- unary math ------------------------------------------------------
    def exp(self):
        return apply(E.Exp, self)

    def log(self):
        return apply(E.Log, self)

    def log1p(self):
        return apply(E.Log1p, self)

    def expm1(self):
        return apply(E.Expm1, self)

    def sqrt(self):
        return apply(E.Sqrt, self)

    def rsqrt(self):
        return apply(E.Rsqrt, self)

    def sin(self):
        return apply(E.Sin, self)

    def cos(self):
        return apply(E.Cos, self)

    def tan(self):
        return apply(E.Tan, self)

    def tanh(self):
        return apply(A.Tanh, self)

    def sigmoid(self):
        return apply(A.Sigmoid, self)

    def relu(self):
        return apply(A.Relu, self)

    def erf(self):
        return apply(E.Erf, self)

    def sign(self):
        return apply(E.REGISTRY_sign, self)

    def floor(self):
        return apply(E.REGISTRY_floor, self)

    def ceil(self):
        return apply(E.REGISTRY_ceil, self)

    def round(self):
        return apply(E.REGISTRY_round, self)

    def reciprocal(self):
        return apply(E.Reciprocal, self)

    def square(self):
        return self * self

    def maximum(self, other):
        return apply(E.Maximum, self, other)

    def minimum(self, other):
        return apply(E.Minimum, self, other)

    def clamp(self, min=None, max=None):  # noqa: A002
        if min is None and max is None:
            raise RuntimeError("clamp: At least one of 'min' or 'max' must not be None")
        if isinstance(min, Tensor) or isinstance(max, Tensor):
            out = self if min is None else self.maximum(min)
            return out if max is None else out.minimum(max)
        return apply(E.Clamp, self, min=min, max=max)

    clip = clamp

    def where(self, condition, other):
        """torch's Tensor.where: where(condition, self, other)."""
        return E.where(condition, self, other)

    def masked_fill(self, mask, value):
        return E.where(mask, value, self)

    # ---- reductions --------------------------------------------------------
    def sum(self, dim=None, keepdim=False, dtype=None):
        x = self if dtype is None else self.to(dtype)
        if x.dtype is dtypes.bool_:
            x = x.long()
        return apply(R.Sum, x, axis=R.normalize_dims(dim, x.ndim, "sum"), keepdims=keepdim)

    def mean(self, dim=None, keepdim=False, dtype=None):
        x = self if dtype is None else self.to(dtype)
        if not x.dtype.is_floating_point:
            raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either a floating "
                               f"point or complex dtype. Got: {x.dtype.name}")
        return x.sum(dim, keepdim) * (1.0 / _count(x, dim))

    def var(self, dim=None, unbiased=None, keepdim=False, correction=None):
        correction = _correction(unbiased, correction)
        centered = self - self.mean(dim, keepdim=True)
        return (centered * centered).sum(dim, keepdim) / builtins.max(_count(self, dim) - correction, 0)

    def std(self, dim=None, unbiased=None, keepdim=False, correction=None):
        return self.var(dim, unbiased, keepdim, correction).sqrt()

    def prod(self, dim=None, keepdim=False):
        return apply(R.Prod, self, axis=R.normalize_dims(dim, self.ndim, "prod"), keepdims=keepdim)

    def amax(self, dim=None, keepdim=False):
        return apply(R.Amax, self, axis=R.normalize_dims(() if dim is None else dim, self.ndim, "amax"),
                     keepdims=keepdim)

    def amin(self, dim=None, keepdim=False):
        return apply(R.Amin, self, axis=R.normalize_dims(() if dim is None else dim, self.ndim, "amin"),
                     keepdims=keepdim)

    def max(self, dim=None, keepdim=False):
        """max() -> a value; max(dim) -> (values, indices); max(other) -> maximum."""
        if isinstance(dim, Tensor):
            return self.maximum(dim)
        return self.amax() if dim is None else _values_indices(self, dim, keepdim, "argmax")

    def min(self, dim=None, keepdim=False):
        if isinstance(dim, Tensor):
            return self.minimum(dim)
        return self.amin() if dim is None else _values_indices(self, dim, keepdim, "argmin")

    def argmax(self, dim=None, keepdim=False):
        return _arg(self, R.Argmax, dim, keepdim)

    def argmin(self, dim=None, keepdim=False):
        return _arg(self, R.Argmin, dim, keepdim)

    def logsumexp(self, dim, keepdim=False):
        return apply(R.Logsumexp, self, axis=R.normalize_dims(dim, self.ndim, "logsumexp"), keepdims=keepdim)

    def softmax(self, dim):
        return apply(R.Softmax, self, axis=_dim(dim, self.ndim, "softmax"))

    def log_softmax(self, dim):
        return apply(R.LogSoftmax, self, axis=_dim(dim, self.ndim, "log_softmax"))

    def norm(self, p="fro", dim=None, keepdim=False):
        p = 2.0 if p in ("fro", None) else builtins.float(p)
        return apply(R.Norm, self, p=p, axis=R.normalize_dims(dim, self.ndim, "norm"), keepdims=keepdim)

    def cumsum(self, dim):
        return apply(R.Cumsum, self, axis=_dim(dim, self.ndim, "cumsum"))

    # ---- shape -----------------------------------------------------------------
    def reshape(self, *shape):
        shape = _shape_arg(shape)
        new = _infer_shape(shape, self.data.size, self.shape)
        if new == self.shape:
            return self if not self._requires_grad else apply(M.Reshape, self, shape=new)
        return apply(M.Reshape, self, shape=new)

    view = reshape

    def view_as(self, other):
        return self.reshape(other.shape)

    def reshape_as(self, other):
        return self.reshape(other.shape)

    def flatten(self, start_dim=0, end_dim=-1):
        if self.ndim == 0:
            return self.reshape(1)
        s = _dim(start_dim, self.ndim, "flatten")
        e = _dim(end_dim, self.ndim, "flatten")
        shape = self.shape
        return self.reshape(shape[:s] + (-1,) + shape[e + 1:])

    def unflatten(self, dim, sizes):
        d = _dim(dim, self.ndim, "unflatten")
        return self.reshape(self.shape[:d] + tuple(sizes) + self.shape[d + 1:])

    def unsqueeze(self, dim):
        d = _dim(dim, self.ndim + 1, "unsqueeze")
        return self.reshape(self.shape[:d] + (1,) + self.shape[d:])

    def squeeze(self, dim=None):
        if dim is None:
            return self.reshape(tuple(n for n in self.shape if n != 1))
        dims = R.normalize_dims(dim, self.ndim, "squeeze") or ()
        return self.reshape(tuple(n for i, n in enumerate(self.shape) if not (i in dims and n == 1)))

    def permute(self, *dims):
        dims = _shape_arg(dims)
        if sorted(_dim(d, self.ndim, "permute") for d in dims) != list(range(self.ndim)):
            raise RuntimeError(f"permute: dims {list(dims)} are not a permutation of the {self.ndim} dims of "
                               f"a tensor of shape {list(self.shape)}")
        return apply(M.Permute, self, perm=tuple(_dim(d, self.ndim, "permute") for d in dims))

    def transpose(self, dim0, dim1):
        perm = list(range(self.ndim))
        a, b = _dim(dim0, self.ndim, "transpose"), _dim(dim1, self.ndim, "transpose")
        perm[a], perm[b] = perm[b], perm[a]
        return apply(M.Permute, self, perm=tuple(perm))

    swapaxes = transpose

    def t(self):
        if self.ndim > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {self.ndim}D")
        return self if self.ndim < 2 else self.transpose(0, 1)

    @property
    def T(self):  # noqa: N802
        return self if self.ndim < 2 else self.permute(*reversed(range(self.ndim)))

    @property
    def mT(self):  # noqa: N802
        if self.ndim < 2:
            raise RuntimeError(f"tensor.mT is only supported on matrices or batches of matrices. Got "
                               f"{self.ndim}-D tensor.")
        return self.transpose(-2, -1)

    def expand(self, *sizes):
        sizes = _shape_arg(sizes)
        lead = len(sizes) - self.ndim
        if lead < 0:
            raise RuntimeError(f"expand: the number of sizes provided ({len(sizes)}) must be greater or equal "
                               f"to the number of dimensions in the tensor ({self.ndim})")
        shape = tuple(self.shape[i - lead] if n == -1 else n for i, n in enumerate(sizes))
        for i, n in enumerate(self.shape):
            if n != 1 and n != shape[i + lead]:
                raise RuntimeError(f"expand: the expanded size of the tensor ({shape[i + lead]}) must match the "
                                   f"existing size ({n}) at non-singleton dimension {i + lead}. Target sizes: "
                                   f"{list(sizes)}. Tensor sizes: {list(self.shape)}")
        return self if shape == self.shape else apply(M.Expand, self, shape=shape)

    def broadcast_to(self, shape):
        return self.expand(*shape)

    def expand_as(self, other):
        return self.expand(*other.shape)

    def flip(self, dims):
        dims = (dims,) if isinstance(dims, builtins.int) else tuple(dims)
        return apply(M.Flip, self, axis=R.normalize_dims(dims, self.ndim, "flip"))

    def repeat(self, *sizes):
        sizes = _shape_arg(sizes)
        if len(sizes) < self.ndim:
            raise RuntimeError(f"repeat: Number of dimensions of repeat dims ({len(sizes)}) can not be smaller "
                               f"than number of dimensions of tensor ({self.ndim})")
        return apply(M.Repeat, self, reps=tuple(sizes))

    def split(self, split_size_or_sections, dim=0):
        return split(self, split_size_or_sections, dim)

    def chunk(self, chunks, dim=0):
        return chunk(self, chunks, dim)

    def unbind(self, dim=0):
        d = _dim(dim, self.ndim, "unbind")
        return tuple(self[(slice(None),) * d + (i,)] for i in range(self.shape[d]))

    def gather(self, dim, index):
        return gather(self, dim, index)

    def narrow(self, dim, start, length):
        d = _dim(dim, self.ndim, "narrow")
        return self[(slice(None),) * d + (slice(start, start + length),)]

    # ---- indexing ------------------------------------------------------------
    def __getitem__(self, index):
        index, basic = _index(self, index)
        return apply(M.GetItemView if basic else M.GetItemCopy, self, index=index)

    def __setitem__(self, index, value):
        index, _ = _index(self, index)
        if isinstance(value, Tensor) and value.dtype is not self.dtype:
            value = value.to(self.dtype)
        self._inplace("__setitem__", lambda t: apply(M.IndexPut, t, value, index=index))

    # ---- linear algebra ------------------------------------------------------
    def matmul(self, other):
        other = _as_tensor(other, self)
        if self.ndim == 0 or other.ndim == 0:
            raise RuntimeError(f"matmul: both arguments need to be at least 1D, but they are {self.ndim}D and "
                               f"{other.ndim}D")
        x = self.unsqueeze(0) if self.ndim == 1 else self
        y = other.unsqueeze(-1) if other.ndim == 1 else other
        if x.shape[-1] != y.shape[-2] and (self.ndim == 1 or other.ndim == 1):
            raise RuntimeError(f"matmul: size mismatch, got input ({list(self.shape)}) and "
                               f"({list(other.shape)}): {x.shape[-1]} != {y.shape[-2]}")
        out = apply(L.Matmul, x, y)
        if other.ndim == 1:
            out = out.squeeze(-1)
        if self.ndim == 1:
            out = out.squeeze(-2 if other.ndim > 1 else -1)
        return out

    mm = matmul
    bmm = matmul

    def dot(self, other):
        return (self * other).sum()

    # ---- activations ------------------------------------------------------
    def leaky_relu(self, negative_slope=0.01):
        return apply(A.LeakyRelu, self, negative_slope=negative_slope)

    # ---- in-place ops ---------------------------------------------------------
    def _inplace(self, name, compute):
        """Compute out of place, then write the result into self's memory.

        With grad enabled the result's node becomes self's grad_fn (torch's
        rebase); self's version counter moves, so a node that saved self
        notices the change at backward.
        """
        if state.enabled and self._requires_grad and self.grad_fn is None:
            raise RuntimeError(f"{name}: a leaf Variable that requires grad is being used in an in-place "
                               f"operation.")
        alias = Tensor._make(self.data, self._b, self._requires_grad, self.grad_fn, self._version)
        start = next(_node_seq)
        out = compute(alias)
        if out.grad_fn is not None:
            _snapshot_saved_alias(out.grad_fn, alias, start)
        if out.shape != self.shape:
            raise RuntimeError(f"{name}: output with shape {list(self.shape)} doesn't match the broadcast "
                               f"shape {list(out.shape)}")
        if out.dtype is not self.dtype:
            if out.dtype.is_floating_point and not self.dtype.is_floating_point:
                raise RuntimeError(f"{name}: result type {out.dtype.name} can't be cast to the desired output "
                                   f"type {self.dtype.name}")
            out = out.to(self.dtype)
        self._b.copy_into(self.data, out.data)
        if out._requires_grad:
            self.grad_fn, self._requires_grad = out.grad_fn, True
        self._version[0] += 1
        return self

    def __iadd__(self, other):
        return self._inplace("add_", lambda t: t + other)

    def __isub__(self, other):
        return self._inplace("sub_", lambda t: t - other)

    def __imul__(self, other):
        return self._inplace("mul_", lambda t: t * other)

    def __itruediv__(self, other):
        return self._inplace("div_", lambda t: t / other)

    def add_(self, other, alpha=1):
        return self._inplace("add_", lambda t: t + (other * alpha if alpha != 1 else other))

    def sub_(self, other, alpha=1):
        return self._inplace("sub_", lambda t: t - (other * alpha if alpha != 1 else other))

    def mul_(self, other):
        return self._inplace("mul_", lambda t: t * other)

    def div_(self, other):
        return self._inplace("div_", lambda t: t / other)

    def clamp_(self, min=None, max=None):  # noqa: A002
        return self._inplace("clamp_", lambda t: t.clamp(min, max))

    def copy_(self, src):
        src = _as_tensor(src, self)
        if src._b is not self._b:
            src = src.to(self.device)
        return self._inplace("copy_", lambda t: src.expand(*t.shape).to(t.dtype) + 0 * t
                             if t._requires_grad else src.expand(*t.shape).to(t.dtype))

    def fill_(self, value):
        return self._inplace("fill_", lambda t: t * 0 + value)

    def zero_(self):
        return self.fill_(0)

    def _replace_data(self, data):
        """Write new values with no graph (for initialisers and optimizers)."""
        self._b.copy_into(self.data, data)
        self._version[0] += 1
        return self

    def uniform_(self, a=0.0, b=1.0):
        return self._replace_data(self._b.binary("add", self._b.binary("mul", self._b.rand(self.shape, self.dtype),
                                                                       b - a), a))

    def normal_(self, mean=0.0, std=1.0):
        return self._replace_data(self._b.binary("add", self._b.binary("mul", self._b.randn(self.shape, self.dtype),
                                                                       std), mean))


def _snapshot_saved_alias(node, alias, start):
    """Nodes this in-place op just made that saved `alias` (self's old value, as in
    y.mul_(x)) get a copy of it: the write into self would otherwise overwrite it."""
    from tinygrad_chain.autograd.node import Node
    snap = None
    stack, seen = [node], set()
    while stack:
        n = stack.pop()
        if type(n) is not Node or n.seq < start or n in seen:
            continue
        seen.add(n)
        ins = n._inputs
        if ins is not None and any(a is alias for a in ins):
            if snap is None:
                snap = Tensor._make(alias._b.copy(alias.data), alias._b, alias._requires_grad, alias.grad_fn, [0])
            if n._versions is not None:
                n._versions = tuple(0 if a is alias else v for a, v in zip(ins, n._versions))
            n._inputs = tuple(snap if a is alias else a for a in ins)
        stack.extend(n.parents)


class _HookHandle:
    def __init__(self, hooks, hook):
        self._hooks, self._hook = hooks, hook

    def remove(self):
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


registry.Tensor = Tensor
# the non-differentiable and zero-gradient elementwise ops, by name
for _name in ("eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor", "logical_not",
              "isnan", "isinf", "floordiv", "sign", "floor", "ceil", "round"):
    setattr(E, f"REGISTRY_{_name}", registry.REGISTRY[_name])


# ---- helpers -------------------------------------------------------------------
def _default_for(data):
    return None if hasattr(data, "dtype") else dtypes.get_default_dtype()


def _as_tensor(x, like):
    if isinstance(x, Tensor):
        return x
    return tensor(x, dtype=like.dtype if isinstance(x, numbers.Number) else None, device=like.device)


def _dim(d, ndim, op):
    n = builtins.max(ndim, 1)
    if not -n <= d < n:
        raise IndexError(f"{op}: Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {d})")
    return d % n


def _count(x, dim):
    axes = R.normalize_dims(dim, x.ndim)
    n = 1
    for i, s in enumerate(x.shape):
        if axes is None or i in axes:
            n *= s
    return n


def _correction(unbiased, correction):
    if correction is not None:
        return correction
    return 1 if unbiased is None or unbiased else 0


def _shape_arg(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def _infer_shape(shape, size, old):
    shape = tuple(builtins.int(n) for n in shape)
    if shape.count(-1) > 1:
        raise RuntimeError("reshape: only one dimension can be inferred")
    known = 1
    for n in shape:
        if n != -1:
            known *= n
    if -1 in shape:
        if known == 0 or size % known:
            raise RuntimeError(f"reshape: shape '{list(shape)}' is invalid for input of size {size}")
        shape = tuple(size // known if n == -1 else n for n in shape)
    elif known != size:
        raise RuntimeError(f"reshape: shape '{list(shape)}' is invalid for input of size {size} "
                           f"(input shape {list(old)})")
    return shape


def _values_indices(x, dim, keepdim, arg):
    from collections import namedtuple
    d = _dim(dim, x.ndim, arg[3:])
    idx = apply(R.Argmax if arg == "argmax" else R.Argmin, x, axis=d, keepdims=True)
    values = gather(x, d, idx)
    if not keepdim:
        values, idx = values.squeeze(d), idx.squeeze(d)
    return _MinMax(values, idx)


def _arg(x, op, dim, keepdim):
    if dim is None:
        out = apply(op, x.reshape(-1), axis=0, keepdims=False)
        return out.reshape((1,) * x.ndim) if keepdim else out
    return apply(op, x, axis=_dim(dim, x.ndim, op.name), keepdims=keepdim)


def _index(x, index):
    """The native index for x[index], and whether it is basic (a view)."""
    if not isinstance(index, tuple):
        index = (index,)
    out = []
    basic = True
    for i in index:
        if isinstance(i, Tensor):
            if i._b is not x._b:
                raise RuntimeError(f"indices should be on the same device as the indexed tensor "
                                   f"({i.device} vs {x.device})")
            if i.dtype.is_floating_point:
                raise IndexError(f"tensors used as indices must be long, int or bool tensors, got {i.dtype.name}")
            out.append(i.data)
            basic = False
        elif isinstance(i, (list, tuple)) or hasattr(i, "dtype"):
            out.append(x._b.asarray(i))
            basic = False
        else:
            out.append(i)
    return tuple(out), basic


def _seed(t, gradient, what):
    if not t._requires_grad:
        raise RuntimeError(f"{what}: element 0 of tensors does not require grad and does not have a grad_fn")
    if gradient is None:
        if t.data.size != 1:
            raise RuntimeError(f"{what}: grad can be implicitly created only for scalar outputs (the output has "
                               f"shape {list(t.shape)}); pass gradient=")
        return Tensor._make(t._b.full(t.shape, 1, t.dtype), t._b, False, None, [0])
    gradient = _as_tensor(gradient, t)
    if gradient.shape != t.shape:
        raise RuntimeError(f"{what}: Mismatch in shape: grad_output[0] has a shape of {list(gradient.shape)} and "
                           f"output[0] has a shape of {list(t.shape)}.")
    if gradient._b is not t._b:
        raise RuntimeError(f"{what}: gradient is on device {gradient.device} but the output is on {t.device}")
    return gradient.to(t.dtype)


from collections import namedtuple  # noqa: E402

_MinMax = namedtuple("_MinMax", ["values", "indices"])


# ---- functions over several tensors ------------------------------------------------
def tensor(data, dtype=None, device=None, requires_grad=False):
    """A new leaf tensor holding a copy of data (torch.tensor)."""
    if isinstance(data, Tensor):
        data = data.detach()
        b = backend_for(device) if device is not None else data._b
        arr = b.copy(b.asarray(data._b.to_numpy(data.data)) if b is not data._b else data.data)
    else:
        b = backend_for(device)
        if isinstance(data, (list, tuple)) and any(isinstance(e, Tensor) for e in data):
            data = [e.tolist() if isinstance(e, Tensor) else e for e in data]
        native = hasattr(data, "dtype")
        arr = b.asarray(data)
        if native:
            arr = b.copy(arr)
        if dtype is None and not native:
            dt = b.dtype_of(arr) if arr.dtype.kind != "f" else dtypes.get_default_dtype()
            dtype = dt
    if dtype is not None:
        dtype = dtypes.get(dtype)
        if b.dtype_of(arr) is not dtype:
            arr = b.astype(arr, dtype)
    t = Tensor._make(arr, b, False, None, [0])
    if requires_grad:
        t.requires_grad_(True)
    return t


def cat(tensors, dim=0):
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("cat(): expected a non-empty list of Tensors")
    ref = tensors[0]
    d = _dim(dim, ref.ndim, "cat")
    for i, t in enumerate(tensors):
        if t.ndim != ref.ndim or any(a != b for j, (a, b) in enumerate(zip(t.shape, ref.shape)) if j != d):
            raise RuntimeError(f"cat: Sizes of tensors must match except in dimension {d}. Expected "
                               f"{list(ref.shape)} but got {list(t.shape)} for tensor number {i} in the list.")
    dt = ref.dtype
    for t in tensors[1:]:
        dt = dtypes.promote_types(dt, t.dtype)
    tensors = [t if t.dtype is dt else t.to(dt) for t in tensors]
    return apply(M.Cat, *tensors, axis=d)


concat = cat
concatenate = cat


def stack(tensors, dim=0):
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    for i, t in enumerate(tensors):
        if t.shape != tensors[0].shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(tensors[0].shape)} at "
                               f"entry 0 and {list(t.shape)} at entry {i}")
    d = _dim(dim, tensors[0].ndim + 1, "stack")
    return cat([t.unsqueeze(d) for t in tensors], d)


def split(x, split_size_or_sections, dim=0):
    d = _dim(dim, x.ndim, "split")
    n = x.shape[d]
    if isinstance(split_size_or_sections, builtins.int):
        step = split_size_or_sections
        sizes = [builtins.min(step, n - s) for s in range(0, n, step)] or [0]
    else:
        sizes = list(split_size_or_sections)
        if builtins.sum(sizes) != n:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size "
                               f"at dimension {d}), but got split_sizes={sizes}")
    out, start = [], 0
    for s in sizes:
        out.append(x.narrow(d, start, s))
        start += s
    return tuple(out)


def chunk(x, chunks, dim=0):
    d = _dim(dim, x.ndim, "chunk")
    n = x.shape[d]
    return split(x, -(-n // chunks) if n else 1, d)


def gather(x, dim, index):
    d = _dim(dim, x.ndim, "gather")
    if index.ndim != x.ndim:
        raise RuntimeError(f"gather: Index tensor must have the same number of dimensions as input tensor "
                           f"({index.ndim} vs {x.ndim})")
    return apply(M.Gather, x, index, axis=d)


def einsum(equation, *operands):
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    ins, _ = L.parse_einsum(equation)
    if len(ins) != len(operands):
        raise RuntimeError(f"einsum(): the equation {equation!r} names {len(ins)} operands but "
                           f"{len(operands)} were given")
    for sub, t in zip(ins, operands):
        if "." not in sub and len(sub) != t.ndim:
            raise RuntimeError(f"einsum(): the subscripts {sub!r} do not match an operand of shape "
                               f"{list(t.shape)}")
    return apply(L.Einsum, *operands, equation=equation.replace(" ", ""))


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    b = backend_for(device)
    t = Tensor._make(b.eye(n, n if m is None else m, dtypes.get(dtype or dtypes.get_default_dtype())), b, False,
                     None, [0])
    return t.requires_grad_(True) if requires_grad else t
