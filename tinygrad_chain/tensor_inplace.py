"""Tensor methods that write into a tensor's memory: add_, mul_, x[i] = v, ...

Each computes its result out of place, then copies it in and bumps the
version counter, so backward can tell when a saved tensor was overwritten.
"""
from tinygrad_chain.autograd.grad_mode import state
from tinygrad_chain.autograd.node import Node
from tinygrad_chain.autograd.node import _sequence as _node_seq
from tinygrad_chain.autograd.tensor_core import TensorCore
from tinygrad_chain.ops.inplace import check_writable, read_only_error, update_
from tinygrad_chain.ops.movement import GetItemCopy, IndexPut
from tinygrad_chain.ops.registry import apply


class TensorInplace:
    __slots__ = ()

    # ---- in-place ops ---------------------------------------------------------
    def _inplace(self, name, compute):
        """Compute out of place, then write the result into self's memory.

        With grad enabled the result's node becomes self's grad_fn (torch's
        rebase); self's version counter moves, so a node that saved self
        notices the change at backward.
        """
        base = self._base
        if base is not None and self._synced != self._version[0]:
            self._resync_view()  # its base was written since: the write starts from the base's graph now
        if state.enabled and ((self._requires_grad and self.grad_fn is None) or (
                base is not None and base._requires_grad and base.grad_fn is None)):
            raise RuntimeError(f"{name}: a leaf Variable that requires grad{'' if base is None else ' (or a view of one)'}"
                               f" is being used in an in-place operation.")
        check_writable(name, self)
        alias = TensorCore.make(self._data, self._b, self._requires_grad, self.grad_fn, self._version)
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
        try:
            self._b.copy_into(self._writable(), out._data)
        except ValueError as e:  # NumPy refuses a read-only destination (a fused value, now computed) unwritten
            raise read_only_error(name, self) from e
        if out._requires_grad:
            self.grad_fn, self._requires_grad = out.grad_fn, True
        if base is not None and state.enabled and (out._requires_grad or base._requires_grad):
            _rebase(base, self, out)
        self._version[0] += 1
        if base is not None:
            self._synced = self._version[0]
        return self

    def _resync_view(self):
        """This view's base was written in place since its graph was made (y.zero_() after v = y[0],
        or a write through a sibling view): its graph becomes a read of the base's graph now, at its
        places (torch remakes a view's grad_fn so). Left for later while nothing records. The applies
        call it when they meet such a view (registry.py; csrc/apply.cpp's stale_view)."""
        base = self._base
        if base._requires_grad and not state.enabled:
            return
        self._synced = self._version[0]
        positions = base._b.view_positions(base._data, self._data) if base._requires_grad else None
        if positions is not None:
            read = apply(GetItemCopy, base.reshape(-1), index=(positions,))
            self.grad_fn, self._requires_grad = read.grad_fn, True

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
        src = self._wrap(src)
        if src._b is not self._b:
            src = src.to(self.device)
        return self._inplace("copy_", lambda t: src.expand(*t.shape).to(t.dtype) + 0 * t
                             if t._requires_grad else src.expand(*t.shape).to(t.dtype))

    def fill_(self, value):
        return self._inplace("fill_", lambda t: t * 0 + value)

    def zero_(self):
        return self.fill_(0)

    def _replace_data(self, data):
        """Write new values (a backend array or a number) with no graph, as an in-place op."""
        update_("_replace_data", "copy_into", (self,), (0,), data)
        return self

    def uniform_(self, a=0.0, b=1.0):
        return self._replace_data(self._b.binary("add", self._b.binary("mul", self._b.rand(self.shape, self.dtype),
                                                                       b - a), a))

    def normal_(self, mean=0.0, std=1.0):
        return self._replace_data(self._b.binary("add", self._b.binary("mul", self._b.randn(self.shape, self.dtype),
                                                                       std), mean))


def _rebase(base, view, out):
    """The write of `out` into `view` also changed `base` (torch's CopySlices): base's graph
    becomes its old value with out put at the view's places, so a gradient through base reaches
    out (y[0].mul_(3) then y.sum(): x gets 3 there, not 1). A view that copied (a reshape of
    strided memory) left base alone. Other views of base made before keep their old graphs."""
    positions = base._b.view_positions(base._data, view._data)
    if positions is None:
        return
    old = TensorCore.make(base._data, base._b, base._requires_grad, base.grad_fn, base._version)
    flat = old.reshape(-1)
    new = apply(IndexPut, flat, out.reshape(-1), index=(positions.reshape(-1),)).reshape(base.shape)
    base.grad_fn, base._requires_grad = new.grad_fn, True


def _snapshot_saved_alias(node, alias, start):
    """Nodes this in-place op just made that saved `alias` (self's old value, as in
    y.mul_(x)) get a copy of it: the write into self would otherwise overwrite it."""
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
                snap = TensorCore.make(alias._b.copy(alias._data), alias._b, alias._requires_grad,
                                             alias.grad_fn, [0])
            if n._versions is not None:
                n._versions = tuple(0 if a is alias else v for a, v in zip(ins, n._versions))
            n._inputs = tuple(snap if a is alias else a for a in ins)
        stack.extend(n.parents)
