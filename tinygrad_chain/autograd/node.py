"""A node of the tape: one recorded op application.

A node is the context its op's VJP reads: the op's attributes, the input
tensors (when the op saved them), the output (rebuilt from saved data, so
the tape holds no reference cycle) and any extra arrays the forward saved.
"""
import itertools

from .tensor_core import TensorCore

_sequence = itertools.count()


class Node:
    __slots__ = ("op", "attrs", "parents", "in_meta", "seq", "_needs",
                 "_inputs", "_versions", "_out", "_out_version", "saved", "hooks",
                 "retained", "__weakref__")

    def __init__(self, op, attrs, parents, in_meta, inputs=None, versions=None, out=None, saved=None,
                 out_checked=True):
        # csrc/apply.cpp's record() fills the same slots for the nodes apply makes
        self.op = op
        self.attrs = attrs
        # per input: None (no gradient flows there), a leaf Tensor, or a Node
        self.parents = parents
        # per input: (shape, dtype, backend), or None for a Python scalar: what its gradient must fit
        self.in_meta = in_meta
        self.seq = next(_sequence)  # creation order: consumers come later
        self._needs = None  # needs_input_grad, made when first read (VJPs read it once or twice)
        # what the forward saved: the input tensors and their versions then (None where not read),
        # the output as (array, backend, version counter), and any arrays of the op's own
        self._inputs = inputs
        self._versions = versions
        self._out = out
        self._out_version = None if out is None or not out_checked else out[2][0]  # None: not checked
        self.saved = saved
        self.hooks = None      # hooks of the non-leaf tensor this node made
        self.retained = None   # weakrefs of tensors that asked for retain_grad()

    # ---- what the VJP reads --------------------------------------------
    @property
    def needs_input_grad(self):
        needs = self._needs
        if needs is None:
            needs = self._needs = tuple([p is not None for p in self.parents])
        return needs

    @property
    def inputs(self):
        if self._inputs is None:
            raise _freed(self)
        return self._inputs

    @property
    def output(self):
        """The op's output as a tensor whose grad_fn is this node."""
        if self._out is None:
            raise _freed(self)
        data, backend, version = self._out
        return TensorCore.make(data, backend, True, self, version)

    def check_saved(self):
        """Raise if saved tensors were freed or modified in place since the forward."""
        op = self.op
        if (op.saves_inputs and self._inputs is None) or (op.saves_output and self._out is None):
            raise _freed(self)
        if self._versions is not None:
            for t, v in zip(self._inputs, self._versions):
                if v is not None and t._version[0] != v:
                    i = [a is t for a in self._inputs].index(True)  # found here, not counted on every node
                    raise _modified(self, f"input {i}", t, v)
        if self._out_version is not None and self._out is not None and self._out[2][0] != self._out_version:
            data = self._out[0]
            raise _modified(self, "its output", _Described(data.shape, self._out[1].dtype_of(data)),
                            self._out_version, self._out[2][0])

    def release(self):
        """Free what the forward saved (after backward, unless retain_graph)."""
        self._inputs = self._out = self.saved = None

    # ---- torch-like introspection --------------------------------------
    def name(self):
        return f"{self.op.backward_name}"

    @property
    def next_functions(self):
        return tuple((p if isinstance(p, Node) else ("AccumulateGrad" if isinstance(p, TensorCore) else None), 0)
                     for p in self.parents)

    def register_hook(self, fn):
        (self.hooks or self._set_hooks()).append(fn)

    def _set_hooks(self):
        self.hooks = []
        return self.hooks

    def __repr__(self):
        return f"<{self.name()} object at {id(self):#x}>"


class _Described:
    __slots__ = ("shape", "dtype", "_version")

    def __init__(self, shape, dtype):
        self.shape, self.dtype = shape, dtype


def _freed(node):
    return RuntimeError(
        f"Trying to backward through the graph a second time (or directly access saved tensors "
        f"after they have already been freed) in {node.name()}. Saved intermediate values of the "
        f"graph are freed when you call .backward() or autograd.grad(). Specify retain_graph=True "
        f"if you need to backward through the graph a second time or if you need to access saved "
        f"tensors after calling backward.")


def _modified(node, which, t, expected, actual=None):
    actual = t._version[0] if actual is None else actual
    return RuntimeError(
        f"one of the variables needed for gradient computation has been modified by an inplace "
        f"operation: {which} of {node.name()} (shape {list(t.shape)}, dtype {t.dtype.name}) is at "
        f"version {actual}; expected version {expected} instead.")
