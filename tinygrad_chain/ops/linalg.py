"""Linear algebra: matmul (2-D and batched), linear and einsum."""
from . import vjp_ops
from ._matrix import eye_like
from .registry import Op, apply, register


@register
class Matmul(Op):
    """Matrix product of operands with 2 or more dims, batch dims broadcast.

    (1-D operands are unsqueezed and squeezed around it by Tensor.matmul.)
    """
    name = "matmul"
    backward_name = "MmBackward0"
    saves_inputs = True
    grad_reads = ((1,), (0,))

    def check(self, x, y):
        xs, ys = x._data.shape, y._data.shape  # the arrays' plain tuples: a tc.Size costs a call per index
        if xs[-1] != ys[-2]:
            if len(xs) == 2 and len(ys) == 2:
                raise RuntimeError(f"matmul: mat1 and mat2 shapes cannot be multiplied "
                                   f"({xs[0]}x{xs[1]} and {ys[0]}x{ys[1]})")
            raise RuntimeError(f"matmul: shapes {list(xs)} and {list(ys)} cannot be multiplied: "
                               f"the last dim of the first ({xs[-1]}) must match the second-to-last "
                               f"dim of the second ({ys[-2]})")
        if x._data.dtype is not y._data.dtype and x.dtype is not y.dtype:  # the arrays' dtypes: no call
            raise RuntimeError(f"matmul: expected both operands to have the same dtype, but got "
                               f"{x.dtype.name} and {y.dtype.name}")

    def forward(self, b, x, y):
        return b.matmul(x, y)

    def vjp(self, ctx, g):
        need_x, need_y = ctx.needs_input_grad
        F = vjp_ops.of(g)
        x, y, g = F.read(ctx.inputs[0]), F.read(ctx.inputs[1]), F.read(g)
        gx = F.matmul(g, F.mT(y)) if need_x else None  # the engine sums broadcast batch dims back to x's shape
        if not need_y:
            gy = None
        elif y.ndim == 2 and x.ndim > 2:
            # one y served every batch element: the sum of x_i^T g_i is one GEMM over the folded rows
            gy = F.matmul(F.mT(F.reshape(x, (-1, x.shape[-1]))), F.reshape(g, (-1, g.shape[-1])))
        else:
            gy = F.matmul(F.mT(x), g)
        return F.grads(gx, gy)


@register
class Linear(Op):
    """linear(x (..., in), w (out, in)[, bias (out,)]) = x @ w.T + bias as one op: w's gradient
    g^T x comes out in w's own layout (no transposed view to copy into .grad), and one node
    replaces three (transpose, matmul, add)."""
    name = "linear"
    backward_name = "AddmmBackward0"
    saves_inputs = (0, 1)
    grad_reads = ((1,), (0,), ())  # x's gradient reads w, w's reads x, the bias's neither

    def check(self, x, w, bias=None):
        dts = {t.dtype for t in (x, w, bias) if t is not None}
        if len(dts) > 1:
            raise RuntimeError(f"linear: expected input, weight and bias to share one dtype, got "
                               f"{', '.join(t.dtype.name for t in (x, w, bias) if t is not None)}")

    def forward(self, b, x, w, bias=None):
        return b.linear(x, w, bias)

    def vjp(self, ctx, g):
        need = ctx.needs_input_grad
        F = vjp_ops.of(g)
        x, w, g = F.read(ctx.inputs[0]), F.read(ctx.inputs[1]), F.read(g)
        rows = F.reshape(g, (-1, g.shape[-1]))  # every batch element's gradient, one row each
        gx = F.matmul(g, w) if need[0] else None
        gw = F.matmul(F.mT(rows), F.reshape(x, (-1, x.shape[-1]))) if need[1] else None
        if len(need) == 2:
            return F.grads(gx, gw)
        return F.grads(gx, gw, F.sum(rows, (0,)) if need[2] else None)


@register
class Einsum(Op):
    name = "einsum"
    saves_inputs = True

    def forward(self, b, *arrays, equation):
        return b.einsum(equation, *arrays)

    def vjp(self, ctx, g):
        ins, out = parse_einsum(ctx.attrs["equation"])
        operands = ctx.inputs
        grads = []
        for k, (sk, need) in enumerate(zip(ins, ctx.needs_input_grad)):
            grads.append(_einsum_operand_grad(g, out, ins, operands, k) if need else None)
        return tuple(grads)


def parse_einsum(equation):
    """(input subscripts, output subscripts) of an explicit-letter equation."""
    equation = equation.replace(" ", "")
    lhs, _, rhs = equation.partition("->")
    ins = lhs.split(",")
    if "->" not in equation:  # implicit output: letters used once, sorted
        letters = "".join(ins)
        rhs = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    return ins, rhs


def spell_out_ellipsis(equation, ndims):
    """The equation with each "..." replaced by letters of its own (right-aligned, as
    broadcasting aligns them), so the VJP only ever meets explicit letters.
    `ndims`: each operand's number of dimensions."""
    equation = equation.replace(" ", "")
    if "..." not in equation:
        return equation
    ins, rhs = equation.split("->") if "->" in equation else (equation, None)
    ins = ins.split(",")
    if rhs is None:  # implicit output: the broadcast dimensions, then letters used once, sorted
        letters = "".join(ins).replace(".", "")
        rhs = "..." + "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    width = max((nd - (len(sub) - 3) for sub, nd in zip(ins, ndims) if "..." in sub), default=0)
    unused = [c for c in "ZYXWVUTSRQPONMLKJIHGFEDCBAzyxwvutsrqponmlkjihgfedcba" if c not in equation]
    if width > len(unused):
        raise RuntimeError(f"einsum(): {equation!r} needs more letters than remain for its {width} broadcast "
                           f"dimensions")
    fresh = "".join(unused[:width][::-1])
    spelled = [sub.replace("...", fresh[width - (nd - (len(sub) - 3)):]) if "..." in sub else sub
               for sub, nd in zip(ins, ndims)]
    return ",".join(spelled) + "->" + rhs.replace("...", fresh)


def _einsum_operand_grad(g, out, ins, operands, k):
    """The VJP of einsum for operand k: g contracted with every other operand."""
    sk = ins[k]
    shape = operands[k].shape
    others = [ins[j] for j in range(len(ins)) if j != k]
    reachable = set(out).union(*others) if others else set(out)
    unique = "".join(dict.fromkeys(sk))
    target = "".join(c for c in unique if c in reachable)
    sizes = {c: shape[i] for i, c in enumerate(sk)}
    gk = apply(Einsum, g, *[operands[j] for j in range(len(ins)) if j != k],
               equation=",".join([out] + others) + "->" + target)
    # letters only operand k had were summed inside it: broadcast back over them
    if target != unique:
        gk = gk.reshape(tuple(sizes[c] if c in target else 1 for c in unique)).expand(
            *(sizes[c] for c in unique))
    # repeated letters (a diagonal, as in "ii->i"): place the gradient on the diagonal
    if unique != sk:
        fresh = iter(c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in sk and c not in out)
        spelled, eyes, eye_terms = [], [], []
        seen = set()
        for c in sk:
            if c in seen:
                d = next(fresh)
                spelled.append(d)
                eyes.append(eye_like(g, sizes[c]))
                eye_terms.append(c + d)
            else:
                seen.add(c)
                spelled.append(c)
        gk = apply(Einsum, gk, *eyes, equation=",".join([unique] + eye_terms) + "->" + "".join(spelled))
    return gk
