"""Activation functions.

relu, sigmoid and tanh have backward ops of their own (relu_backward...),
registered like any op: a fast backend fuses them into one kernel, and their
own VJPs keep higher-order gradients exact.
"""
import math

from .elementwise import where
from .registry import Op, apply, register


@register
class Relu(Op):
    name = "relu"
    saves_output = True  # y > 0 exactly where x > 0; the input can be freed

    def forward(self, b, x):
        return b.relu(x)

    def vjp(self, ctx, g):
        return (apply(ReluBackward, g, ctx.output),)


@register
class ReluBackward(Op):
    """g where y > 0, else 0 (so relu has gradient 0 at 0)."""
    name = "relu_backward"
    saves_inputs = (1,)

    def forward(self, b, g, y):
        return b.relu_backward(g, y)

    def vjp(self, ctx, gg):
        return (apply(ReluBackward, gg, ctx.inputs[1]), None)


@register
class Sigmoid(Op):
    name = "sigmoid"
    saves_output = True
    float_only = True

    def forward(self, b, x):
        return b.sigmoid(x)

    def vjp(self, ctx, g):
        return (apply(SigmoidBackward, g, ctx.output),)


@register
class SigmoidBackward(Op):
    """g * y * (1 - y)."""
    name = "sigmoid_backward"
    saves_inputs = True

    def forward(self, b, g, y):
        return b.sigmoid_backward(g, y)

    def vjp(self, ctx, gg):
        g, y = ctx.inputs
        need_g, need_y = ctx.needs_input_grad
        return (apply(SigmoidBackward, gg, y) if need_g else None,
                gg * g * (1.0 - 2.0 * y) if need_y else None)


@register
class Tanh(Op):
    name = "tanh"
    saves_output = True
    float_only = True

    def forward(self, b, x):
        return b.unary("tanh", x)

    def vjp(self, ctx, g):
        return (apply(TanhBackward, g, ctx.output),)


@register
class TanhBackward(Op):
    """g * (1 - y**2)."""
    name = "tanh_backward"
    saves_inputs = True

    def forward(self, b, g, y):
        return b.tanh_backward(g, y)

    def vjp(self, ctx, gg):
        g, y = ctx.inputs
        need_g, need_y = ctx.needs_input_grad
        return (apply(TanhBackward, gg, y) if need_g else None,
                -2.0 * gg * g * y if need_y else None)


@register
class LeakyRelu(Op):
    name = "leaky_relu"
    saves_inputs = True

    def forward(self, b, x, negative_slope=0.01):
        return b.where(b.binary("gt", x, 0), x, b.binary("mul", x, negative_slope))

    def vjp(self, ctx, g):
        x = ctx.inputs[0]
        return (where(x > 0, g, g * ctx.attrs["negative_slope"]),)


@register
class Elu(Op):
    name = "elu"
    saves_inputs = True
    saves_output = True

    def forward(self, b, x, alpha=1.0):
        neg = b.binary("mul", b.unary("expm1", b.binary("minimum", x, 0)), alpha)
        return b.where(b.binary("gt", x, 0), x, neg)

    def vjp(self, ctx, g):
        x = ctx.inputs[0]
        alpha = ctx.attrs["alpha"]
        # d/dx alpha*(e^x - 1) = alpha*e^x, computed from x so it is differentiable again
        return (where(x > 0, g, g * alpha * x.clamp(max=0.0).exp()),)


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


@register
class Gelu(Op):
    name = "gelu"
    saves_inputs = True
    float_only = True

    def forward(self, b, x, approximate="none"):
        if approximate == "tanh":
            inner = b.binary("mul", b.binary("add", x, b.binary("mul", b.binary("pow", x, 3), 0.044715)),
                             _SQRT_2_OVER_PI)
            return b.binary("mul", b.binary("mul", x, 0.5), b.binary("add", b.unary("tanh", inner), 1))
        cdf = b.binary("mul", b.binary("add", b.unary("erf", b.binary("mul", x, _INV_SQRT_2)), 1), 0.5)
        return b.binary("mul", x, cdf)

    def vjp(self, ctx, g):
        x = ctx.inputs[0]
        if ctx.attrs["approximate"] == "tanh":
            t = ((x + 0.044715 * x * x * x) * _SQRT_2_OVER_PI).tanh()
            dinner = _SQRT_2_OVER_PI * (1.0 + 3 * 0.044715 * x * x)
            return (g * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * dinner),)
        cdf = 0.5 * (1.0 + (x * _INV_SQRT_2).erf())
        pdf = _INV_SQRT_2PI * (-0.5 * x * x).exp()
        return (g * (cdf + x * pdf),)


@register
class Silu(Op):
    name = "silu"
    saves_inputs = True
    float_only = True

    def forward(self, b, x):
        return b.binary("mul", x, b.sigmoid(x))

    def vjp(self, ctx, g):
        x = ctx.inputs[0]
        s = x.sigmoid()
        return (g * s * (1.0 + x * (1.0 - s)),)


@register
class Softplus(Op):
    name = "softplus"
    saves_inputs = True
    float_only = True

    def forward(self, b, x, beta=1.0, threshold=20.0):
        return b.softplus(x, beta, threshold)

    def vjp(self, ctx, g):
        x = ctx.inputs[0]
        beta, threshold = ctx.attrs["beta"], ctx.attrs["threshold"]
        z = x * beta
        return (where(z > threshold, g, g * z.sigmoid()),)
