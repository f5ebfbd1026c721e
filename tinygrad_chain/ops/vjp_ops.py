"""The two namespaces a VJP computes with, so that each op's VJP is written once.

A VJP that calls fused backend kernels takes `F = vjp_ops.of(g)` and writes its gradient with
F's functions: F.read its operands, compute with F.matmul, F.conv2d_backward, ..., and return
F.grads(...). `of` is the one place the namespace is chosen:

- first order (grad mode off in the backward pass, the engine's default): `Arrays`, the
  backend's own methods on the operands' arrays, nothing recorded; F.grads wraps the results
  as constant Tensors, once.
- create_graph: `RECORDED`, the same functions in differentiable Tensor ops, so the backward
  pass is itself recorded and can be differentiated again.

The generic functions (matmul, mT, reshape, permute, expand, sum_to_shape, sum, mul, div, neg,
mul_backward, uniform_value) are here; an op's own backward kernel is added beside the op with
`kernel(name, arrays, recorded)`. A name with no array form there is the backend's method of that name (same arguments). One kernel,
index_grad, takes and returns gradients rather than arrays: first order it is the engine's
lazy IndexedGrad.
"""
import functools
import operator

from tinygrad_chain.autograd.grad_mode import state
from tinygrad_chain.autograd.tensor_core import constant, lent


def of(g):
    """The namespace for a VJP whose output gradient is g (see the module docstring)."""
    if state.enabled:
        return RECORDED
    arrays = _ARRAYS.get(g._b)
    if arrays is None:
        arrays = _ARRAYS[g._b] = Arrays(g._b)
    return arrays


class Arrays:
    """First order: the backend's methods on arrays; the backend of one VJP call is `b`."""
    #: a Tensor's array
    read = operator.attrgetter("_data")

    def __init__(self, b):
        self.b = b

    # Backend methods are looked up on each call, never bound here once: tc.compile shadows them
    # on the backend instance while it traces a step.
    def __getattr__(self, name):  # an op's kernel: its array form (bound once), or the backend's own
        form = _ARRAY_FORMS.get(name)
        if form is None:
            return getattr(self.b, name)
        fn = functools.partial(form, self.b)
        setattr(self, name, fn)
        return fn

    def matmul(self, a, c):
        return self.b.matmul(a, c)

    def reshape(self, a, shape):
        return self.b.reshape(a, shape)

    def mul_backward(self, g, x, y):
        return self.b.mul_backward(g, x, y)

    def uniform_value(self, a):
        return self.b.uniform_value(a)

    def mT(self, a):  # noqa: N802 (torch's name)
        """a with its last two axes swapped."""
        return self.b.transpose(a, tuple(range(a.ndim - 2)) + (a.ndim - 1, a.ndim - 2))

    def permute(self, a, perm):
        return self.b.transpose(a, perm)

    def expand(self, a, shape):
        return self.b.broadcast_to(a, shape)

    def sum_to_shape(self, a, shape):
        return self.b.sum_to_shape(a, shape)

    def sum(self, a, axis):
        return self.b.reduce("sum", a, axis, False)

    def mul(self, a, c):
        return self.b.binary("mul", a, c)

    def div(self, a, c):
        return self.b.binary("div", a, c)

    def neg(self, a):
        return self.b.unary("neg", a)

    def grads(self, *gs):
        """The gradients as Tensors outside any graph (None stays None)."""
        b = self.b
        if len(gs) == 1:  # most VJPs: no loop (a comprehension is a call of its own)
            a = gs[0]
            return (None if a is None else constant(a, b),)
        return tuple([None if a is None else constant(a, b) for a in gs])

    def lent(self, *gs):
        """grads of arrays something else holds (an input's): the engine copies one before it
        becomes a .grad (tensor_core.lent)."""
        b = self.b
        return tuple([None if a is None else lent(a, b) for a in gs])


class Recorded:
    """create_graph: the same functions as recorded Tensor ops (an op's kernels are added by `kernel`)."""
    @staticmethod
    def read(t):
        return t

    @staticmethod
    def grads(*gs):
        return gs

    lent = grads

    @staticmethod
    def matmul(a, b):
        return a @ b

    @staticmethod
    def mT(a):  # noqa: N802
        return a.mT

    @staticmethod
    def reshape(a, shape):
        return a.reshape(shape)

    @staticmethod
    def permute(a, perm):
        return a.permute(*perm)

    @staticmethod
    def expand(a, shape):
        return a.expand(*shape)

    @staticmethod
    def sum_to_shape(a, shape):
        return a._sum_to_shape(shape)

    @staticmethod
    def sum(a, axis):
        return a.sum(axis)

    @staticmethod
    def mul(a, c):
        return a * c

    @staticmethod
    def div(a, c):
        return a / c

    @staticmethod
    def neg(a):
        return -a

    @staticmethod
    def mul_backward(g, x, y):
        return g * y, g * x

    @staticmethod
    def uniform_value(a):
        return None  # a shortcut on its value would drop the gradient's dependence on it


RECORDED = Recorded()
_ARRAYS = {}       # backend -> its Arrays namespace
_ARRAY_FORMS = {}  # kernel name -> arrays(b, ...)


def kernel(name, arrays, recorded):
    """Add an op's backward kernel to both namespaces: `arrays(b, ...)` computes it with backend b on
    arrays (None: the backend's method `name`, same arguments), `recorded(...)` in Tensor ops."""
    if arrays is not None:
        _ARRAY_FORMS[name] = arrays
    setattr(Recorded, name, staticmethod(recorded))
