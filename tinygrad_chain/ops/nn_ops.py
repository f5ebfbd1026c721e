"""Neural-network ops: convolution, pooling, layer norm and the fused cross-entropy.

Convolution is im2col plus one matmul (``backend.conv2d``). Its three ops
close under differentiation, so gradients of every order stay convolutions:

    conv2d            d/dx: conv_transpose2d   d/dw: conv2d_weight
    conv_transpose2d  d/dz: conv2d             d/dw: conv2d_weight (roles swapped)
    conv2d_weight     d/dx: conv_transpose2d   d/dg: conv2d

Images are NCHW; `padding` is (top, bottom, left, right) so that "same"
padding with an even kernel (asymmetric, as torch pads) is exact.
Conv2d's, LayerNorm's and CrossEntropy's VJPs are written once against ops/vjp_ops.py: first order, one
backend kernel reusing what the forward saved (im2col columns, row statistics, log-sum-exp); with create_graph,
the same gradients in recorded ops.
"""
from . import vjp_ops
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
        F = vjp_ops.of(g)
        gv = F.read(g)
        gx, gw = F.conv2d_backward(gv, F.read(x), F.read(w), ctx.saved, need[0], need[1], conv)
        if len(need) == 3:  # the bias's: g summed over all but the channels
            return F.grads(gx, gw, F.sum(gv, (0, 2, 3)) if need[2] else None)
        return F.grads(gx, gw)


def _conv2d_backward_arrays(b, g, x, w, cols, need_input, need_weight, conv):
    """First order: one kernel, reusing the forward's im2col(x) (cols) and one layout of g."""
    return b.conv2d_backward(g, w, cols, tuple(x.shape), need_input=need_input, need_weight=need_weight, **conv)


def _conv2d_backward_recorded(g, x, w, cols, need_input, need_weight, conv):
    """conv2d's gradients as the two ops that differentiate again (the table above)."""
    return (apply(ConvTranspose2d, g, w, out_hw=tuple(x.shape[2:]), **conv) if need_input else None,
            apply(Conv2dWeight, x, g, w_shape=tuple(w.shape), **conv) if need_weight else None)


vjp_ops.kernel("conv2d_backward", _conv2d_backward_arrays, _conv2d_backward_recorded)


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
        F = vjp_ops.of(g)
        return F.grads(F.max_pool2d_backward(F.read(g), ctx.saved, ctx.in_meta[0][0], overlapping))


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


# first order the backend's max_pool2d_backward itself (same arguments); recorded, the op above
vjp_ops.kernel("max_pool2d_backward", None, lambda g, indices, x_shape, overlapping: apply(
    MaxPool2dBackward, g, indices=indices, x_shape=x_shape, overlapping=overlapping))


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


# ---- normalization --------------------------------------------------------------------
@register
class LayerNorm(Op):
    """layer_norm(x, weight, bias) over the last k axes of x (torch's native_layer_norm): one pass of
    the backend saving each row's mean and rstd = 1 / sqrt(var + eps), and one backward kernel for
    the three gradients. weight and bias have the last k axes' shape, or are None."""
    name = "layer_norm"
    backward_name = "NativeLayerNormBackward0"
    saves_inputs = (0, 1)
    saves_extra = True  # (mean, rstd), one per row
    optional_inputs = True

    def forward(self, b, x, weight, bias, *, k, eps):
        out, mean, rstd = b.layer_norm(x, weight, bias, eps, k)
        return out, (mean, rstd)

    def vjp(self, ctx, g):
        x, w = ctx.inputs[0], ctx.inputs[1]
        need = ctx.needs_input_grad
        F = vjp_ops.of(g)
        mean, rstd = ctx.saved
        return F.grads(*F.layer_norm_backward(F.read(g), F.read(x), mean, rstd, None if w is None else F.read(w),
                                              ctx.attrs["k"], ctx.attrs["eps"], *need))


def _layer_norm_backward_arrays(b, g, x, mean, rstd, w, k, eps, need_input, need_weight, need_bias):
    """First order: the backend's kernel, from the forward's statistics (eps is in rstd already)."""
    return b.layer_norm_backward(g, x, mean, rstd, w, k, need_input, need_weight, need_bias)


def _layer_norm_backward_recorded(g, x, mean, rstd, w, k, eps, need_input, need_weight, need_bias):
    """The same gradients in recorded ops, the statistics recomputed from x so that they
    differentiate too (the saved ones are constants)."""
    axes, lead = tuple(range(x.ndim - k, x.ndim)), tuple(range(x.ndim - k))
    centred = x - x.mean(axes, keepdim=True)
    r = ((centred * centred).mean(axes, keepdim=True) + eps).rsqrt()
    xhat = centred * r
    gw = g if w is None else g * w
    dx = r * (gw - gw.mean(axes, keepdim=True) - xhat * (gw * xhat).mean(axes, keepdim=True)) if need_input else None
    def over_rows(a):
        return a.sum(lead) if lead else a

    return dx, over_rows(g * xhat) if need_weight else None, over_rows(g) if need_bias else None


vjp_ops.kernel("layer_norm_backward", _layer_norm_backward_arrays, _layer_norm_backward_recorded)


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
        F = vjp_ops.of(g)
        gx = F.cross_entropy_backward(F.read(g), F.read(logits), ctx.saved, F.read(target), ctx.attrs["ignore_index"])
        return F.grads(gx, None)


def _cross_entropy_backward_recorded(g, logits, stats, target, ignore_index):
    """g[:, None] * (softmax(logits) - onehot(target)), zero rows where target == ignore_index, in
    recorded ops (stats, the forward's log-sum-exp, is recomputed inside softmax)."""
    valid = target != ignore_index
    safe = target.masked_fill(~valid, 0)
    classes = constant(target._b.arange(0, logits.shape[1], 1, target.dtype), target._b)
    onehot = (safe.unsqueeze(1) == classes).to(logits.dtype)
    return (logits.softmax(1) - onehot) * (g * valid.to(g.dtype)).unsqueeze(1)


vjp_ops.kernel("cross_entropy_backward", None, _cross_entropy_backward_recorded)  # arrays: the backend's
