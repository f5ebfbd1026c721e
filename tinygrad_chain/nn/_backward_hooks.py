"""Module backward hooks (register_full_backward_hook, register_full_backward_pre_hook): hook(module,
grad_input, grad_output), as torch calls them.

A call of a hooked module passes its tensor inputs and outputs through identity Functions: the outputs' backward
collects grad_output (and runs the pre-hooks, which may replace it), the inputs' backward collects grad_input and,
once every input that needs one has its gradient, runs the hooks (which may replace grad_input). With no input
that requires grad, the hooks run with grad_input all None as soon as grad_output is complete, as torch's.
"""
from tinygrad_chain.autograd.function import Function
from tinygrad_chain.autograd.tensor_core import TensorCore


class _Tap(Function):
    """Identity on one tensor; its backward hands the gradient to `on_grad(i, g)` and returns what it answers."""

    @staticmethod
    def forward(ctx, x, on_grad, i):
        ctx.on_grad, ctx.i = on_grad, i
        return x.clone()

    @staticmethod
    def backward(ctx, g):
        return ctx.on_grad(ctx.i, g), None, None


class _Call:
    """One forward call's gradients, and when to run the hooks."""

    def __init__(self, module, n_in, n_out, wanted_in):
        self.module, self.wanted_in = module, wanted_in
        self.grad_in, self.grad_out = [None] * n_in, [None] * n_out
        self.outs_seen, self.n_out_grad = 0, 0

    def on_output(self, i, g):
        self.grad_out[i] = g
        self.outs_seen += 1
        if self.outs_seen == self.n_out_grad:
            for hook in self.module._backward_pre_hooks.values():
                res = hook(self.module, tuple(self.grad_out))
                if res is not None:
                    self.grad_out = list(res)
            if not self.wanted_in:
                self._run()
        return self.grad_out[i]

    def on_input(self, i, g):
        self.grad_in[i] = g
        self.wanted_in.discard(i)
        if not self.wanted_in:
            self._run()
        return self.grad_in[i]

    def _run(self):
        for hook in self.module._backward_hooks.values():
            res = hook(self.module, tuple(self.grad_in), tuple(self.grad_out))
            if res is not None:
                self.grad_in = list(res)


def hooked_call(module, forward, args, kwargs):
    """forward(*args, **kwargs) with the module's backward hooks attached to this call's gradients."""
    wanted = {i for i, a in enumerate(args) if isinstance(a, TensorCore) and a.requires_grad}
    call = _Call(module, len(args), 0, set(wanted))
    args = tuple(_Tap.apply(a, call.on_input, i) if i in wanted else a for i, a in enumerate(args))
    out = forward(*args, **kwargs)
    single = isinstance(out, TensorCore)
    outs = (out,) if single else tuple(out) if isinstance(out, (tuple, list)) else (out,)
    call.grad_out = [None] * len(outs)
    tapped = []
    for i, o in enumerate(outs):
        if isinstance(o, TensorCore) and o.requires_grad:
            call.n_out_grad += 1
            o = _Tap.apply(o, call.on_output, i)
        tapped.append(o)
    return tapped[0] if single else type(out)(tapped) if isinstance(out, (tuple, list)) else out
