"""Shape, movement and indexing ops."""
from tinygrad_chain.autograd.indexed_grad import IndexedGrad

from . import vjp_ops
from .registry import Op, apply, register


@register
class Reshape(Op):
    name = "reshape"
    backward_name = "ViewBackward0"
    view = True

    def forward(self, b, x, shape):
        return b.reshape(x, shape)

    def vjp(self, ctx, g):
        F = vjp_ops.of(g)
        return F.grads(F.reshape(F.read(g), ctx.in_meta[0][0]))


@register
class Permute(Op):
    name = "permute"
    view = True

    def forward(self, b, x, perm):
        return b.transpose(x, perm)

    def vjp(self, ctx, g):
        perm = ctx.attrs["perm"]
        inverse = [0] * len(perm)
        for i, p in enumerate(perm):
            inverse[p] = i
        F = vjp_ops.of(g)
        return F.grads(F.permute(F.read(g), tuple(inverse)))


@register
class Expand(Op):
    name = "expand"
    view = True

    def forward(self, b, x, shape):
        return b.broadcast_to(x, shape)

    def vjp(self, ctx, g):
        F = vjp_ops.of(g)
        return F.grads(F.sum_to_shape(F.read(g), ctx.in_meta[0][0]))


@register
class SumToShape(Op):
    """Sum over broadcast axes: the one op that undoes broadcasting."""
    name = "sum_to_shape"

    def forward(self, b, x, shape):
        return b.sum_to_shape(x, shape)

    def vjp(self, ctx, g):
        F = vjp_ops.of(g)
        return F.grads(F.expand(F.read(g), ctx.in_meta[0][0]))


@register
class Cat(Op):
    name = "cat"

    def forward(self, b, *arrays, axis):
        return b.concatenate(arrays, axis)

    def vjp(self, ctx, g):
        axis = ctx.attrs["axis"]
        grads, start = [], 0
        for meta, need in zip(ctx.in_meta, ctx.needs_input_grad):
            size = meta[0][axis]
            grads.append(g[(slice(None),) * axis + (slice(start, start + size),)] if need else None)
            start += size
        return tuple(grads)


def cat(tensors, axis):
    """Tensors of one dtype joined along `axis`, for VJPs (tc.cat checks and promotes what users pass)."""
    return apply(Cat, *tensors, axis=axis % tensors[0].ndim)


def stack(tensors):
    """Same-shape tensors of one dtype stacked along a new first axis, for VJPs."""
    return apply(Cat, *(t.unsqueeze(0) for t in tensors), axis=0)


@register
class Flip(Op):
    name = "flip"

    def forward(self, b, x, axis):
        return b.flip(x, axis)

    def vjp(self, ctx, g):
        return (g.flip(ctx.attrs["axis"]),)


@register
class Repeat(Op):
    """torch's repeat: tile x (left-padded with size-1 axes) `reps` times."""
    name = "repeat"

    def forward(self, b, x, reps):
        return b.tile(x, reps)

    def vjp(self, ctx, g):
        reps = ctx.attrs["reps"]
        shape = ctx.in_meta[0][0]
        padded = (1,) * (len(reps) - len(shape)) + tuple(shape)
        split = []
        for r, n in zip(reps, padded):
            split += [r, n]
        summed = g.reshape(tuple(split)).sum(dim=tuple(range(0, 2 * len(reps), 2)))
        return (summed.reshape(shape),)


@register
class Pad(Op):
    """Constant padding; widths is a (before, after) pair per axis."""
    name = "pad"
    backward_name = "ConstantPadNdBackward0"

    def forward(self, b, x, widths, value=0.0):
        return b.pad(x, widths, value)

    def vjp(self, ctx, g):
        index = tuple(slice(lo, g.shape[i] - hi) for i, (lo, hi) in enumerate(ctx.attrs["widths"]))
        return (g[index],)


class _GetItem(Op):
    def forward(self, b, x, index):
        return b.getitem(x, index)

    def vjp(self, ctx, g):
        # a gradient itself (not arrays for F.grads): first order a lazy sum of pieces
        return (vjp_ops.of(g).index_grad(g, ctx.in_meta[0][0], ctx.attrs["index"]),)


def _index_grad_arrays(b, g, shape, index):
    """First order: zeros(shape) with g added at index, summed lazily, built once (autograd/indexed_grad.py)."""
    return IndexedGrad(shape, g.dtype, b, [(index, g)])


def _index_grad_recorded(g, shape, index):
    return apply(IndexAddZeros, g, shape=shape, index=index)


@register
class GetItemView(_GetItem):
    """Basic indexing (ints, slices, None, Ellipsis): the result is a view."""
    name = "getitem"
    backward_name = "SliceBackward0"
    view = True


@register
class GetItemCopy(_GetItem):
    """Advanced indexing (integer arrays, boolean masks): the result is a copy."""
    name = "index"
    backward_name = "IndexBackward0"


@register
class IndexAddZeros(Op):
    """zeros(shape) with g added at `index`: repeated indices accumulate."""
    name = "index_add_zeros"

    def forward(self, b, g, shape, index):
        out = b.full(shape, 0, b.dtype_of(g))
        b.index_add(out, index, g)
        return out

    def vjp(self, ctx, gg):
        return (apply(GetItemCopy, gg, index=ctx.attrs["index"]),)


vjp_ops.kernel("index_grad", _index_grad_arrays, _index_grad_recorded)


@register
class IndexPut(Op):
    """A copy of x with x[index] = v (the out-of-place form of __setitem__)."""
    name = "index_put"

    def forward(self, b, x, v, index):
        out = b.copy(x)
        b.setitem(out, index, v)
        return out

    def vjp(self, ctx, g):
        index = ctx.attrs["index"]
        need_x, need_v = ctx.needs_input_grad
        return (apply(IndexPut, g, 0.0, index=index) if need_x else None,
                apply(GetItemCopy, g, index=index) if need_v else None)


@register
class Gather(Op):
    """torch.gather: out[i][j] = x[i][index[i][j]] along `axis`."""
    name = "gather"
    saves_inputs = (1,)

    def forward(self, b, x, index, axis):
        return b.take_along_axis(x, index, axis)

    def vjp(self, ctx, g):
        index = ctx.inputs[1]
        return (apply(ScatterAddZeros, g, index, shape=ctx.in_meta[0][0], axis=ctx.attrs["axis"]), None)


@register
class ScatterAddZeros(Op):
    """zeros(shape) with g added along `axis` at `index` (gather's VJP)."""
    name = "scatter_add_zeros"
    saves_inputs = (1,)

    def forward(self, b, g, index, shape, axis):
        return b.scatter_add_along_axis(shape, index, g, axis)

    def vjp(self, ctx, gg):
        return (apply(Gather, gg, ctx.inputs[1], axis=ctx.attrs["axis"]), None)


@register
class Clone(Op):
    name = "clone"

    def forward(self, b, x):
        return b.copy(x)

    def vjp(self, ctx, g):
        return (g,)


@register
class Cast(Op):
    name = "to_dtype"
    backward_name = "ToCopyBackward0"
    sets_dtype = True

    def forward(self, b, x, dtype):
        return b.astype(x, dtype)

    def vjp(self, ctx, g):
        return (g.to(ctx.in_meta[0][1]),)


@register
class Transfer(Op):
    """Copy to another device; the gradient travels back."""
    name = "to_device"
    backward_name = "ToCopyBackward0"
    changes_device = True

    def forward(self, b, x, target, source):
        out = target.asarray(b.to_numpy(x))
        return target.copy(out) if out is x else out  # never share memory across devices

    def vjp(self, ctx, g):
        return (g.to(ctx.attrs["source"]),)
