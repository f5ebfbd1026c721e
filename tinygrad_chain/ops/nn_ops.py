"""Neural-network ops: convolution, pooling and the fused cross-entropy.

Convolution is im2col plus one matmul (``backend.conv2d``). Its three ops
close under differentiation, so gradients of every order stay convolutions:

    conv2d            d/dx: conv_transpose2d   d/dw: conv2d_weight
    conv_transpose2d  d/dz: conv2d             d/dw: conv2d_weight (roles swapped)
    conv2d_weight     d/dx: conv_transpose2d   d/dg: conv2d

Images are NCHW; `padding` is (top, bottom, left, right) so that "same"
padding with an even kernel (asymmetric, as torch pads) is exact.
When no graph is being recorded (a first-order backward) the VJPs take fast
paths through arrays the forward saved (im2col columns, log-sum-exp).
"""
from tinygrad_chain.autograd.grad_mode import state

from .registry import Op, apply, constant, register


def _conv_attrs(a):
    return {"stride": a["stride"], "padding": a["padding"], "dilation": a["dilation"], "groups": a["groups"]}


# ---- convolution -------------------------------------------------------------------
@register
class Conv2d(Op):
    """conv2d(x (N, C, H, W), w (O, C/groups, kh, kw)[, bias (O,)]) -> (N, O, OH, OW)."""
    name = "conv2d"
    backward_name = "ConvolutionBackward0"
    saves_inputs = (0, 1)
    saves_extra = True  # the im2col columns of x, for the weight gradient

    def forward(self, b, x, w, bias=None, *, stride, padding, dilation, groups):
        return b.conv2d(x, w, bias, stride, padding, dilation, groups)

    def vjp(self, ctx, g):
        x, w = ctx.inputs[0], ctx.inputs[1]
        need = ctx.needs_input_grad
        conv = _conv_attrs(ctx.attrs)
        gb = (g.sum((0, 2, 3)) if need[2] else None,) if len(need) == 3 else ()
        if not state.enabled:  # first order: one kernel, reusing im2col(x) and one layout of g
            b = g._b
            gx, gw = b.conv2d_backward(g._array, w._array, ctx.saved, tuple(x.shape), need_input=need[0],
                                       need_weight=need[1], **conv)
            return (constant(gx, b) if need[0] else None, constant(gw, b) if need[1] else None) + gb
        gx = apply(ConvTranspose2d, g, w, out_hw=tuple(x.shape[2:]), **conv) if need[0] else None
        gw = apply(Conv2dWeight, x, g, w_shape=tuple(w.shape), **conv) if need[1] else None
        return (gx, gw) + gb


@register
class ConvTranspose2d(Op):
    """conv_transpose2d(z (N, Cin, H, W), w (Cin, Cout/groups, kh, kw)) -> (N, Cout, *out_hw):
    the adjoint of conv2d with weight w, i.e. conv2d's input gradient."""
    name = "conv_transpose2d"
    backward_name = "ConvolutionBackward0"
    saves_inputs = (0, 1)

    def forward(self, b, z, w, *, stride, padding, dilation, groups, out_hw):
        shape = (z.shape[0], w.shape[1] * groups) + tuple(out_hw)
        return b.conv2d_input_grad(z, w, shape, stride, padding, dilation, groups)

    def vjp(self, ctx, g):
        z, w = ctx.inputs
        need = ctx.needs_input_grad
        conv = _conv_attrs(ctx.attrs)
        return (apply(Conv2d, g, w, **conv) if need[0] else None,
                apply(Conv2dWeight, g, z, w_shape=tuple(w.shape), cols=None, **conv) if need[1] else None)


@register
class Conv2dWeight(Op):
    """conv2d's weight gradient: conv2d_weight(x, g) has the weight's shape (w_shape)."""
    name = "conv2d_weight"
    backward_name = "ConvolutionBackwardBackward0"
    saves_inputs = (0, 1)

    def forward(self, b, x, g, *, w_shape, stride, padding, dilation, groups, cols=None):
        return b.conv2d_weight_grad(x, g, w_shape, stride, padding, dilation, groups, cols)

    def vjp(self, ctx, gg):
        x, g = ctx.inputs
        need = ctx.needs_input_grad
        conv = _conv_attrs(ctx.attrs)
        return (apply(ConvTranspose2d, g, gg, out_hw=tuple(x.shape[2:]), **conv) if need[0] else None,
                apply(Conv2d, x, gg, **conv) if need[1] else None)


# ---- pooling ------------------------------------------------------------------------
@register
class MaxPool2d(Op):
    """Window maxima; the gradient goes to the (first) argmax of each window, as torch."""
    name = "max_pool2d"
    backward_name = "MaxPool2DWithIndicesBackward"
    saves_extra = True  # flat argmax indices

    def forward(self, b, x, *, kernel, stride, padding, dilation, out_hw):
        return b.max_pool2d(x, kernel, stride, padding, dilation, out_hw)

    def vjp(self, ctx, g):
        a = ctx.attrs
        overlapping = any(s < k for s, k in zip(a["stride"], a["kernel"])) or any(d != 1 for d in a["dilation"])
        return (apply(MaxPool2dBackward, g, indices=ctx.saved, x_shape=ctx.in_meta[0][0],
                      overlapping=overlapping),)


@register
class MaxPool2dBackward(Op):
    """g put at the argmax positions of zeros(x_shape); linear in g, its VJP gathers."""
    name = "max_pool2d_backward"

    def forward(self, b, g, *, indices, x_shape, overlapping):
        return b.max_pool2d_backward(g, indices, x_shape, overlapping)

    def vjp(self, ctx, gg):
        idx = ctx.attrs["indices"]
        n, c, oh, ow = idx.shape
        index = constant(idx, gg._b).reshape(n, c, oh * ow)
        return (gg.reshape(n, c, -1 if n * c else gg.shape[2] * gg.shape[3]).gather(2, index).reshape(idx.shape),)


def pool_divisor(b, dtype, x_shape, kernel, stride, padding, out_hw, count_include_pad, divisor_override):
    """avg_pool2d's divisor: a number, or an (OH, OW) array where windows differ (torch's rule)."""
    if divisor_override:
        return float(divisor_override)
    sizes = []
    for n, k, s, p, o in zip(x_shape[2:], kernel, stride, padding, out_hw):
        row = []
        for i in range(o):
            start = i * s - p
            end = min(start + k, n + p)
            size = end - start
            if not count_include_pad:
                size = min(end, n) - max(start, 0)
            row.append(size)
        sizes.append(row)
    hs, ws = sizes
    if len(set(hs)) <= 1 and len(set(ws)) <= 1:
        return float((hs[0] if hs else 1) * (ws[0] if ws else 1))
    return b.asarray([[h * w for w in ws] for h in hs], dtype)


@register
class AvgPool2d(Op):
    name = "avg_pool2d"
    backward_name = "AvgPool2DBackward"

    def forward(self, b, x, *, kernel, stride, padding, out_hw, divisor):
        return b.avg_pool2d(x, kernel, stride, padding, out_hw, divisor)

    def vjp(self, ctx, g):
        a = ctx.attrs
        return (apply(AvgPool2dBackward, g, x_shape=ctx.in_meta[0][0], kernel=a["kernel"], stride=a["stride"],
                      padding=a["padding"], divisor=a["divisor"]),)


@register
class AvgPool2dBackward(Op):
    name = "avg_pool2d_backward"

    def check(self, g, *, x_shape, **attrs):
        # the kernels take batch and channels from g: a g of other ones would make a gradient that is not x's
        if g.ndim != 4 or tuple(g.shape[:2]) != tuple(x_shape[:2]):
            raise RuntimeError(f"avg_pool2d_backward: grad_output of shape {list(g.shape)} does not match the "
                               f"input's batch and channels {list(x_shape[:2])}")

    def forward(self, b, g, *, x_shape, kernel, stride, padding, divisor):
        return b.avg_pool2d_backward(g, x_shape, kernel, stride, padding, divisor)

    def vjp(self, ctx, gg):
        a = ctx.attrs
        return (apply(AvgPool2d, gg, kernel=a["kernel"], stride=a["stride"], padding=a["padding"],
                      out_hw=tuple(ctx.in_meta[0][0][2:]), divisor=a["divisor"]),)


# ---- losses ---------------------------------------------------------------------------
@register
class CrossEntropy(Op):
    """Per-row losses logsumexp(x[i]) - x[i, t[i]] for logits (N, C) and int targets (N,),
    0 where t == ignore_index. Fused for stability and speed; reductions, class weights and
    label smoothing are composed around it in nn.functional.cross_entropy."""
    name = "cross_entropy"
    backward_name = "NllLossBackward0"
    saves_inputs = (0, 1)
    saves_extra = True  # the row log-sum-exp

    def forward(self, b, logits, target, *, ignore_index):
        return b.cross_entropy(logits, target, ignore_index)

    def vjp(self, ctx, g):
        logits, target = ctx.inputs
        ignore = ctx.attrs["ignore_index"]
        if not state.enabled:  # first order: one fused kernel from the saved log-sum-exp
            b = logits._b
            gx = b.cross_entropy_backward(g._array, logits._array, ctx.saved, target._array, ignore)
            return constant(gx, b), None
        valid = target != ignore
        safe = target.masked_fill(~valid, 0)
        classes = constant(target._b.arange(0, logits.shape[1], 1, target.dtype), target._b)
        onehot = (safe.unsqueeze(1) == classes).to(logits.dtype)
        return (logits.softmax(1) - onehot) * (g * valid.to(g.dtype)).unsqueeze(1), None
