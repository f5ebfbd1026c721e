"""Reductions, and the stable softmax family."""
from tinygrad_chain.dims import dim_index

from . import vjp_ops
from .elementwise import where
from .registry import Op, apply, register


def normalize_dims(dim, ndim, op="reduce"):
    """None, or the sorted tuple of non-negative axes that `dim` names."""
    if dim is None:
        return None
    dims = tuple(dim) if isinstance(dim, (tuple, list)) else (dim,)
    if not dims:  # torch: dim=() reduces over everything for sum/mean
        return None
    out = [dim_index(d, ndim, op) for d in dims]
    if len(set(out)) != len(out):
        raise RuntimeError(f"{op}: dim {dims} appears multiple times in the list of dims")
    return tuple(sorted(out)) if ndim else None


def expand_back(g, shape, axes, keepdim, F=vjp_ops.RECORDED):
    """Broadcast a reduction's gradient back over the axes it reduced (in namespace F: ops/vjp_ops.py)."""
    if not keepdim:
        g = F.reshape(g, tuple(1 if axes is None or i in axes else n for i, n in enumerate(shape)))
    return F.expand(g, shape)


class _Reduce(Op):
    def forward(self, b, x, axis=None, keepdims=False):
        return b.reduce(self.name, x, axis, keepdims)


@register
class Sum(_Reduce):
    name = "sum"

    def vjp(self, ctx, g):
        F = vjp_ops.of(g)
        return F.grads(expand_back(F.read(g), ctx.in_meta[0][0], ctx.attrs["axis"], ctx.attrs["keepdims"], F))


@register
class Prod(_Reduce):
    name = "prod"
    saves_inputs = True
    saves_output = True

    def vjp(self, ctx, g):
        x = ctx.inputs[0]
        axis, keep = ctx.attrs["axis"], ctx.attrs["keepdims"]
        g = expand_back(g, x.shape, axis, keep)
        # the product of the other elements, also right when some are zero
        is_zero = x == 0
        nonzero = where(is_zero, 1.0, x)

        def over_axis(t, fn):
            return expand_back(getattr(t, fn)(dim=axis, keepdim=keep) if axis is not None else getattr(t, fn)(),
                               x.shape, axis, keep)
        prod_nonzero = over_axis(nonzero, "prod")
        zeros = over_axis(is_zero, "sum")
        # zsum is 0 but carries the zeros' derivative, so second derivatives stay right with 1 or 2 zeros
        zsum = over_axis(where(is_zero, x, 0.0), "sum")
        at_zero = where(zeros == 1, prod_nonzero, where(zeros == 2, (zsum - x) * prod_nonzero, 0.0))
        at_nonzero = where(zeros == 0, prod_nonzero / nonzero, where(zeros == 1, zsum * prod_nonzero / nonzero, 0.0))
        return (g * where(is_zero, at_zero, at_nonzero),)


class _Extremum(_Reduce):
    """amax / amin: the gradient is shared evenly among tied extrema (as torch)."""
    saves_inputs = True
    saves_output = True

    def vjp(self, ctx, g):
        x = ctx.inputs[0]
        axis, keep = ctx.attrs["axis"], ctx.attrs["keepdims"]
        hit = x == expand_back(ctx.output, x.shape, axis, keep)
        count = hit.sum(dim=axis, keepdim=True) if axis is not None else hit.sum()
        return (where(hit, expand_back(g, x.shape, axis, keep) / count, 0.0),)


@register
class Amax(_Extremum):
    name = "amax"

    def forward(self, b, x, axis=None, keepdims=False):
        return b.reduce("max", x, axis, keepdims)


@register
class Amin(_Extremum):
    name = "amin"

    def forward(self, b, x, axis=None, keepdims=False):
        return b.reduce("min", x, axis, keepdims)


class _ArgReduce(Op):
    differentiable = False

    def forward(self, b, x, axis=None, keepdims=False):
        return b.arg_reduce(self.name, x, axis, keepdims)


@register
class Argmax(_ArgReduce):
    name = "argmax"


@register
class Argmin(_ArgReduce):
    name = "argmin"


@register
class Cumsum(Op):
    name = "cumsum"

    def forward(self, b, x, axis=0):
        return b.cumsum(x, axis)

    def vjp(self, ctx, g):
        axis = ctx.attrs["axis"]
        return (g.flip(axis).cumsum(axis).flip(axis),)


@register
class Logsumexp(Op):
    name = "logsumexp"
    saves_inputs = True
    float_only = True

    def forward(self, b, x, axis=None, keepdims=False):
        if x.size == 0:  # no max to shift by: the sum of no exps is 0, its log -inf (torch)
            return b.unary("log", b.reduce("sum", b.unary("exp", x), axis, keepdims))
        return b.logsumexp(x, axis, keepdims)

    def vjp(self, ctx, g):
        # g * softmax(x), not g * exp(x - lse): lse rounds where it is large (1e4 in float32: by 5e-4),
        # and exp would carry that error into every gradient
        x = ctx.inputs[0]
        axis, keep = ctx.attrs["axis"], ctx.attrs["keepdims"]
        return (expand_back(g, x.shape, axis, keep) * _softmax_over(x, axis),)


def _softmax_over(x, axes):
    """softmax of x over `axes` (None: all) taken together, as one axis."""
    axes = tuple(range(x.ndim)) if axes is None else axes
    if len(axes) == 1:
        return x.softmax(axes[0])
    perm = [d for d in range(x.ndim) if d not in axes] + list(axes)
    t = x.permute(*perm)
    p = t.reshape(*t.shape[:x.ndim - len(axes)], -1).softmax(-1).reshape(t.shape)
    return p.permute(*sorted(range(x.ndim), key=perm.__getitem__))


def _normaliser(op_name, empty, second):
    """The op `op_name` along an axis (softmax or log_softmax: the backend's stable kernel; `empty`, a
    unary, for an empty x) and its backward op (the backend's `op_name`_backward of g and the saved
    output y), whose own VJP is second(u, g, y, axis, need_g, need_y)."""
    class Forward(Op):
        name = op_name
        saves_output = True
        float_only = True

        def forward(self, b, x, axis):
            if x.size == 0:  # nothing to normalise (the kernels' max has no identity)
                return b.unary(empty, x)
            return getattr(b, op_name)(x, axis)

        def vjp(self, ctx, g):
            F = vjp_ops.of(g)
            return F.grads(getattr(F, backward.name)(F.read(g), F.read(ctx.output), ctx.attrs["axis"]))

    class Backward(Op):
        name = op_name + "_backward"
        saves_inputs = True

        def forward(self, b, g, y, axis):
            return getattr(b, self.name)(g, y, axis)

        def vjp(self, ctx, u):
            g, y = ctx.inputs
            return second(u, g, y, ctx.attrs["axis"], *ctx.needs_input_grad)

    backward = register(Backward)
    # first order the backend's `op_name`_backward itself (same arguments); recorded, the op above
    vjp_ops.kernel(backward.name, None, lambda g, y, axis: apply(backward, g, y, axis=axis))
    return register(Forward), backward


def _softmax_second(u, g, y, axis, need_g, need_y):
    """softmax_backward(g, y) = y * (g - sum(g * y))."""
    return (apply(SoftmaxBackward, u, y, axis=axis) if need_g else None,
            u * g - u * (g * y).sum(axis, keepdim=True) - g * (u * y).sum(axis, keepdim=True) if need_y else None)


def _log_softmax_second(u, g, y, axis, need_g, need_y):
    """log_softmax_backward(g, y) = g - exp(y) * sum(g)."""
    p = y.exp()
    return (u - (u * p).sum(axis, keepdim=True) if need_g else None,
            -u * p * g.sum(axis, keepdim=True) if need_y else None)


Softmax, SoftmaxBackward = _normaliser("softmax", "exp", _softmax_second)
LogSoftmax, LogSoftmaxBackward = _normaliser("log_softmax", "neg", _log_softmax_second)


@register
class Norm(Op):
    """The p-norm over `axis`; its gradient is 0 where the norm is 0."""
    name = "norm"
    backward_name = "LinalgVectorNormBackward0"
    saves_inputs = True
    saves_output = True
    float_only = True

    def forward(self, b, x, p=2.0, axis=None, keepdims=False):
        return b.vector_norm(x, p, axis, keepdims)  # one backend call: half precision computes it in float32

    def vjp(self, ctx, g):
        x = ctx.inputs[0]
        p, axis, keep = ctx.attrs["p"], ctx.attrs["axis"], ctx.attrs["keepdims"]
        n = expand_back(ctx.output, x.shape, axis, keep)
        g = expand_back(g, x.shape, axis, keep)
        safe_n = where(n == 0, 1.0, n)
        if p == 0:  # a count: piecewise constant
            return (g * 0.0,)
        if p == float("inf"):
            hit = x.abs() == n
            count = hit.sum(dim=axis, keepdim=True) if axis is not None else hit.sum()
            return (where(hit & (n != 0), g * x.sign() / count, 0.0),)
        if p == 2:
            return (where(n == 0, 0.0, g * x / safe_n),)
        return (where(n == 0, 0.0, g * x.sign() * x.abs() ** (p - 1) / safe_n ** (p - 1)),)
