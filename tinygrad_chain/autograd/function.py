"""User-defined ops: subclass Function with static forward and backward."""
from .grad_mode import no_grad, state
from .node import Node
from .tensor_core import TensorCore, lent


class FunctionCtx:
    """What a Function's forward leaves for its backward."""

    def __init__(self):
        self.saved_tensors = ()
        self.needs_input_grad = ()
        self.materialize_grads = True
        self._non_differentiable = ()

    def save_for_backward(self, *tensors):
        self.saved_tensors = tensors

    def mark_non_differentiable(self, *tensors):
        """These outputs get no gradient (as torch's: they do not require grad)."""
        self._non_differentiable = tuple(tensors)

    def mark_dirty(self, *tensors):
        """Accepted for torch's API: an in-place forward's outputs are new tensors here anyway."""

    def set_materialize_grads(self, value):
        self.materialize_grads = bool(value)


class _FunctionOp:
    """Adapts a Function subclass to the op interface the engine runs."""
    saves_inputs = False
    saves_output = False

    def __init__(self, fn_cls, which, n_outputs):
        self.fn_cls = fn_cls
        self.which = which          # this node carries output `which`
        self.n_outputs = n_outputs
        self.name = fn_cls.__name__
        self.backward_name = f"{fn_cls.__name__}Backward"

    def vjp(self, node, g):
        ctx, outputs = node.saved
        if self.n_outputs == 1:
            grads = self.fn_cls.backward(ctx, g)
        else:  # the VJP is linear: one node per output, the others' gradients zero
            gs = [g if i == self.which else o.detach() * 0.0 for i, o in enumerate(outputs)]
            grads = self.fn_cls.backward(ctx, *gs)
        if not isinstance(grads, tuple):
            grads = (grads,)
        if len(grads) != len(node.parents):
            raise RuntimeError(f"function {self.backward_name} returned an incorrect number of gradients "
                               f"(expected {len(node.parents)}, got {len(grads)})")
        # the engine fits each gradient to its input; here only what a user's backward can get wrong
        for i, (gi, meta) in enumerate(zip(grads, node.in_meta)):
            if gi is None:
                continue
            if not isinstance(gi, TensorCore):
                raise TypeError(f"function {self.backward_name} returned a gradient of type "
                                f"{type(gi).__name__} at index {i}; expected a Tensor or None")
            if meta is None:
                raise RuntimeError(f"function {self.backward_name} returned a gradient different than None at "
                                   f"position {i + 1}, but the corresponding forward input was not a Tensor")
        if state.enabled:  # recorded (create_graph): .grad takes the tensors as they are
            return grads
        # the user's code may hold what its backward returned: lent (engine._owned)
        return tuple(None if gi is None else lent(gi._data, gi._b) for gi in grads)


def once_differentiable(backward):
    """torch's decorator for a backward that cannot itself be differentiated: it runs under no_grad."""
    def run(ctx, *grads):
        with no_grad():
            return backward(ctx, *grads)
    run.__name__, run.__doc__ = backward.__name__, backward.__doc__
    return run


class Function:
    """torch.autograd.Function: forward(ctx, *args) and backward(ctx, *grads), both static."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError

    @classmethod
    def apply(cls, *args, **kwargs):
        ctx = FunctionCtx()
        ctx.needs_input_grad = tuple(isinstance(a, TensorCore) and a.requires_grad for a in args)
        with no_grad():
            out = cls.forward(ctx, *args, **kwargs)
        single = not isinstance(out, tuple)
        outs = (out,) if single else out
        if not (state.enabled and any(ctx.needs_input_grad)):
            return out
        parents = tuple((a.grad_fn or a) if need else None for a, need in zip(args, ctx.needs_input_grad))
        in_meta = tuple((a.shape, a.dtype, a._b) if isinstance(a, TensorCore) else None for a in args)
        results = []
        for i, o in enumerate(outs):
            if not isinstance(o, TensorCore) or not o.dtype.is_floating_point or \
                    any(o is t for t in ctx._non_differentiable):
                results.append(o)
                continue
            node = Node(_FunctionOp(cls, i, len(outs)), {}, parents, in_meta)
            node.saved = (ctx, outs)
            results.append(TensorCore.make(o._data, o._b, True, node, [0]))
        return results[0] if single else tuple(results)
