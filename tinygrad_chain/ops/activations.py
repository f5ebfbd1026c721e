"""Activation functions, each a pair of ops made from one row of backends/formulas.py.

The forward op runs the backend's act(name, x, *params); its VJP is the backward op, which
runs act_backward(name, g, saved, *params) (saved: the input, or the output where that is
cheaper, as the row says; a first-order backward calls the backend on arrays, ops/vjp_ops.py).
The backward op is differentiable again: its VJP is itself (linear in g) and g times the
second derivative, written here in Tensor ops, so higher-order gradients are exact.
"""
import math

from tinygrad_chain.backends.formulas import ACT

from . import vjp_ops
from .elementwise import where
from .registry import Op, apply, register


def _pair(cls, name, row=None, second=None, float_only=True, doc=""):
    """Register the op `name` and its backward `name_backward` for formulas.ACT[row] (row: a name, or a
    function of the op's attrs: gelu's `approximate` picks its row). second(saved, **attrs) is the
    derivative of the act's derivative (None: zero, as relu's)."""
    pick = row if callable(row) else (lambda attrs, row=row or name: row)
    saves_output = ACT[pick({})].saves == "y"
    ops = []  # (forward, backward): the registered instances, which apply() takes

    def params(attrs):
        act = ACT[pick(attrs)]
        return [attrs.get(p, default) for p, default in act.params]

    forward_name, backward_name = name, f"{name}_backward"

    class Forward(Op):
        name = forward_name  # in the class body: Op.__init_subclass__ derives torch's grad_fn name from it
        if callable(row) or ACT[name].params:
            def forward(self, b, x, **attrs):
                return b.act(pick(attrs), x, *params(attrs))
        else:  # the per-op path of small tensors: nothing to look up
            def forward(self, b, x):
                return b.act(name, x)

        def vjp(self, ctx, g):
            F = vjp_ops.of(g)
            saved = F.read(ctx.output if saves_output else ctx.inputs[0])
            return F.grads(getattr(F, backward_name)(F.read(g), saved, **ctx.attrs))

    class Backward(Op):
        name = backward_name

        def forward(self, b, g, saved, **attrs):
            return b.act_backward(pick(attrs), g, saved, *params(attrs))

        def vjp(self, ctx, gg):
            g, saved = ctx.inputs
            need_g, need_saved = ctx.needs_input_grad
            return (apply(ops[1], gg, saved, **ctx.attrs) if need_g else None,
                    gg * g * second(saved, **ctx.attrs) if need_saved and second else None)

    for op, op_cls in ((Forward, cls), (Backward, cls + "Backward")):
        op.__name__ = op.__qualname__ = op_cls
    Forward.__doc__, Forward.float_only = doc or None, float_only
    Forward.saves_output, Forward.saves_inputs = saves_output, not saves_output
    Backward.__doc__ = f"g times {name}'s derivative, from its {'output' if saves_output else 'input'}."
    Backward.saves_inputs = True if second else (1,)  # without a second derivative g is not needed
    ops.extend((register(Forward), register(Backward)))
    # the backward's kernel: first order the backend's act_backward, recorded the backward op
    vjp_ops.kernel(backward_name, lambda b, g, saved, **attrs: b.act_backward(pick(attrs), g, saved, *params(attrs)),
                   lambda g, saved, **attrs: apply(ops[1], g, saved, **attrs))
    return ops


_C = math.sqrt(2.0 / math.pi)  # the tanh approximation's scale
_A = 0.044715
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _gelu_second(x, approximate="none"):
    """gelu''(x), in Tensor ops (so it is differentiable again)."""
    if approximate == "tanh":
        t = ((x + _A * x * x * x) * _C).tanh()
        du = _C * (1.0 + 3 * _A * x * x)
        # (1 - t^2) (du - x t du^2 + 3 A C x^2): tanh's derivative from t is the tanh row's (formulas.py)
        return apply(TanhBackward, du - x * t * du * du + 3 * _A * _C * x * x, t)
    pdf = _INV_SQRT_2PI * (-0.5 * x * x).exp()
    return pdf * (2.0 - x * x)


def _silu_second(x):
    s = x.sigmoid()
    return s * (1.0 - s) * (2.0 + x * (1.0 - 2.0 * s))


def _softplus_second(x, beta=1.0, threshold=20.0):
    z = x * beta
    s = z.sigmoid()
    return where(z > threshold, 0.0, beta * s * (1.0 - s))


# y > 0 exactly where x > 0, so relu saves its output and the input can be freed
Relu, ReluBackward = _pair("Relu", "relu", float_only=False)
Sigmoid, SigmoidBackward = _pair("Sigmoid", "sigmoid", second=lambda y: 1.0 - 2.0 * y)
Tanh, TanhBackward = _pair("Tanh", "tanh", second=lambda y: -2.0 * y)
LeakyRelu, LeakyReluBackward = _pair("LeakyRelu", "leaky_relu", float_only=False)
Elu, EluBackward = _pair("Elu", "elu", float_only=False,
                         second=lambda x, alpha=1.0: where(x > 0, 0.0, alpha * x.clamp(max=0.0).exp()))
Gelu, GeluBackward = _pair("Gelu", "gelu", row=lambda attrs: "gelu_tanh" if attrs.get("approximate") == "tanh"
                           else "gelu", second=_gelu_second)
Silu, SiluBackward = _pair("Silu", "silu", second=_silu_second)
Softplus, SoftplusBackward = _pair("Softplus", "softplus", second=_softplus_second)
