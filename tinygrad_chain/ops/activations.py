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
    fuse = "relu"
    saves_output = True  # y > 0 exactly where x > 0; the input can be freed

    def forward(self, b, x):
        return b.relu(x)

    def vjp(self, ctx, g):
        return (apply(ReluBackward, g, ctx.output),)


@register
class ReluBackward(Op):
    """g where y > 0, else 0 (so relu has gradient 0 at 0)."""
    name = "relu_backward"
    fuse = "relu_backward"
    saves_inputs = (1,)

    def forward(self, b, g, y):
        return b.relu_backward(g, y)

    def vjp(self, ctx, gg):
        return (apply(ReluBackward, gg, ctx.inputs[1]), None)


@register
class Sigmoid(Op):
    name = "sigmoid"
    fuse = "sigmoid"
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
    fuse = "sigmoid_backward"
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
    fuse = "tanh"
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
    fuse = "tanh_backward"
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
        return b.leaky_relu(x, negative_slope)

    def vjp(self, ctx, g):
        return (apply(LeakyReluBackward, g, ctx.inputs[0], negative_slope=ctx.attrs["negative_slope"]),)


@register
class LeakyReluBackward(Op):
    """g where x > 0, else g * negative_slope."""
    name = "leaky_relu_backward"
    saves_inputs = (1,)

    def forward(self, b, g, x, negative_slope):
        return b.leaky_relu_backward(g, x, negative_slope)

    def vjp(self, ctx, gg):
        return (apply(LeakyReluBackward, gg, ctx.inputs[1], **ctx.attrs), None)


@register
class Elu(Op):
    name = "elu"
    saves_inputs = True

    def forward(self, b, x, alpha=1.0):
        return b.elu(x, alpha)

    def vjp(self, ctx, g):
        return (apply(EluBackward, g, ctx.inputs[0], alpha=ctx.attrs["alpha"]),)


@register
class EluBackward(Op):
    """g where x > 0, else g * alpha * e^x."""
    name = "elu_backward"
    saves_inputs = True

    def forward(self, b, g, x, alpha):
        return b.elu_backward(g, x, alpha)

    def vjp(self, ctx, gg):
        g, x = ctx.inputs
        need_g, need_x = ctx.needs_input_grad
        second = where(x > 0, 0.0, ctx.attrs["alpha"] * x.clamp(max=0.0).exp())  # elu'' (x), differentiable
        return (apply(EluBackward, gg, x, **ctx.attrs) if need_g else None, gg * g * second if need_x else None)


_C = math.sqrt(2.0 / math.pi)  # the tanh approximation's scale
_A = 0.044715
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


@register
class Gelu(Op):
    name = "gelu"
    saves_inputs = True
    float_only = True

    def forward(self, b, x, approximate="none"):
        return b.gelu(x, approximate)

    def vjp(self, ctx, g):
        return (apply(GeluBackward, g, ctx.inputs[0], approximate=ctx.attrs["approximate"]),)


@register
class GeluBackward(Op):
    """g * gelu'(x)."""
    name = "gelu_backward"
    saves_inputs = True

    def forward(self, b, g, x, approximate):
        return b.gelu_backward(g, x, approximate)

    def vjp(self, ctx, gg):
        g, x = ctx.inputs
        need_g, need_x = ctx.needs_input_grad
        return (apply(GeluBackward, gg, x, **ctx.attrs) if need_g else None,
                gg * g * _gelu_second(x, ctx.attrs["approximate"]) if need_x else None)


def _gelu_second(x, approximate):
    """gelu''(x), in Tensor ops (so it is differentiable again)."""
    if approximate == "tanh":
        t = ((x + _A * x * x * x) * _C).tanh()
        du = _C * (1.0 + 3 * _A * x * x)
        return (1.0 - t * t) * (du - x * t * du * du + 3 * _A * _C * x * x)
    pdf = _INV_SQRT_2PI * (-0.5 * x * x).exp()
    return pdf * (2.0 - x * x)


@register
class Silu(Op):
    name = "silu"
    saves_inputs = True
    float_only = True

    def forward(self, b, x):
        return b.silu(x)

    def vjp(self, ctx, g):
        return (apply(SiluBackward, g, ctx.inputs[0]),)


@register
class SiluBackward(Op):
    """g * s * (1 + x * (1 - s)), s = sigmoid(x)."""
    name = "silu_backward"
    saves_inputs = True

    def forward(self, b, g, x):
        return b.silu_backward(g, x)

    def vjp(self, ctx, gg):
        g, x = ctx.inputs
        need_g, need_x = ctx.needs_input_grad
        if not need_x:
            return (apply(SiluBackward, gg, x), None)
        s = x.sigmoid()
        second = s * (1.0 - s) * (2.0 + x * (1.0 - 2.0 * s))
        return (apply(SiluBackward, gg, x) if need_g else None, gg * g * second)


@register
class Softplus(Op):
    name = "softplus"
    saves_inputs = True
    float_only = True

    def forward(self, b, x, beta=1.0, threshold=20.0):
        return b.softplus(x, beta, threshold)

    def vjp(self, ctx, g):
        return (apply(SoftplusBackward, g, ctx.inputs[0], **ctx.attrs),)


@register
class SoftplusBackward(Op):
    """g * sigmoid(beta * x), and g where beta * x > threshold (the linear part)."""
    name = "softplus_backward"
    saves_inputs = True

    def forward(self, b, g, x, beta, threshold):
        return b.softplus_backward(g, x, beta, threshold)

    def vjp(self, ctx, gg):
        g, x = ctx.inputs
        beta, threshold = ctx.attrs["beta"], ctx.attrs["threshold"]
        need_g, need_x = ctx.needs_input_grad
        if not need_x:
            return (apply(SoftplusBackward, gg, x, **ctx.attrs), None)
        z = x * beta
        s = z.sigmoid()
        second = where(z > threshold, 0.0, beta * s * (1.0 - s))
        return (apply(SoftplusBackward, gg, x, **ctx.attrs) if need_g else None, gg * g * second)
