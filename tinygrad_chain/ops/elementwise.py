"""Elementwise ops: arithmetic, comparisons and math functions.

Each VJP is written with Tensor ops (so it can be differentiated again).
Ops whose derivative is infinite somewhere (sqrt, log, div, pow...) use
`_times`, which keeps a zero upstream gradient zero: the gradient of
`where(x > 0, sqrt(x), 0)` at x = -1 stays finite.
"""
import math

from tinygrad_chain.autograd.tensor_core import TensorCore

from . import vjp_ops
from .registry import Op, _describe, apply, register


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _times(g, d):
    """g * d, but exactly 0 where g is 0 (an inf or NaN in d does not leak).

    d is masked before the product, so 0 * inf is never computed (no NumPy warning).
    A finite Python d is applied to g directly: masking it would make it a tensor of
    the default dtype, rounding it to float32 inside float64 work."""
    if _is_number(d) and math.isfinite(d):
        return g * d
    return g * where(g != 0, d, 0.0)


def _both(ctx, ga, gb):
    need_a, need_b = ctx.needs_input_grad
    return (ga() if need_a else None, gb() if need_b else None)


# ---- binary arithmetic ---------------------------------------------------------
@register
class Add(Op):
    name = "add"

    def forward(self, b, x, y):
        return b.binary("add", x, y)

    def vjp(self, ctx, g):
        return g, g


@register
class Sub(Op):
    name = "sub"

    def forward(self, b, x, y):
        return b.binary("sub", x, y)

    def vjp(self, ctx, g):
        F = vjp_ops.of(g)
        return g, (F.grads(F.neg(F.read(g)))[0] if ctx.needs_input_grad[1] else None)


@register
class Mul(Op):
    name = "mul"
    saves_inputs = True
    grad_reads = ((1,), (0,))  # x's gradient reads y, y's reads x

    def forward(self, b, x, y):
        return b.binary("mul", x, y)

    def vjp(self, ctx, g):
        x, y = ctx.inputs
        F = vjp_ops.of(g)
        gv = F.read(g)
        tensor = TensorCore  # a factor may be a number; the arrays' shapes (Tensor.shape makes a tc.Size)
        if not isinstance(x, tensor):  # a Python number factor: g times it, one backend call first order
            return F.grads(None, F.mul(gv, x))
        if not isinstance(y, tensor):
            return F.grads(F.mul(gv, y), None)
        need_x, need_y = ctx.needs_input_grad
        xv, yv = F.read(x), F.read(y)
        if x._data.shape == y._data.shape == g._data.shape and x.dtype == y.dtype == g.dtype:
            # same shapes: fewer passes over memory
            if F.uniform_value(gv) == 1.0:
                # the gradient of a sum: g * y is y. Lent, not copied: gradients are never
                # written in place, and the engine copies one before it becomes a .grad
                return F.lent(yv if need_x else None, xv if need_y else None)
            if need_x and need_y:
                return F.grads(*F.mul_backward(gv, xv, yv))
        # each product at the output's shape (the engine sums a broadcast one back to its input's)
        return F.grads(F.mul(gv, yv) if need_x else None, F.mul(gv, xv) if need_y else None)


@register
class Div(Op):
    name = "div"
    saves_inputs = True
    grad_reads = ((1,), (0, 1))
    float_only = True

    def forward(self, b, x, y):
        return b.binary("div", x, y)

    def vjp(self, ctx, g):
        x, y = ctx.inputs
        # a Python divisor meets g at g's precision: g / 14, not g times 1/14 rounded to float32
        if _is_number(y):
            F = vjp_ops.of(g)
            return F.grads(F.div(F.read(g), y) if ctx.needs_input_grad[0] else None, None)
        d_x = lambda: _times(g, 1.0 / y)  # noqa: E731
        return _both(ctx, d_x, lambda: _times(g, -(x / y) / y))  # torch's order: y * y underflows first


@register
class Pow(Op):
    name = "pow"
    saves_inputs = True
    grad_reads = ((0, 1), (0, -1))  # the exponent's gradient reads the output
    saves_output = True

    def check(self, x, y):
        _check_not_both_bool(self, x, y)

    def forward(self, b, x, y):
        return b.binary("pow", x, y)

    def vjp(self, ctx, g):
        x, y = ctx.inputs

        def d_base():
            if not hasattr(y, "shape"):  # Python exponent
                if y == 0:
                    return g * 0.0
                return _times(g, y * x ** (y - 1)) if y != 1 else g
            # 0 where the exponent is 0, as torch: 0 * x ** 1 there, not 0 * 0 ** -1 = NaN at x = 0
            return _times(g, y * x ** where(y == 0, 1.0, y - 1))

        def d_exponent():
            # d/dy x**y = x**y log x; 0 where x == 0 (torch's convention for y >= 0)
            if not hasattr(x, "shape"):  # Python base, as in 2.0 ** t
                return _times(g, ctx.output * (math.log(x) if x > 0 else 0.0 if x == 0 else math.nan))
            x_pos = where(x == 0, 1.0, x)
            return _times(g, ctx.output * x_pos.log())
        return _both(ctx, d_base, d_exponent)


@register
class Maximum(Op):
    name = "maximum"
    saves_inputs = True

    def forward(self, b, x, y):
        return b.binary("maximum", x, y)

    def vjp(self, ctx, g):
        x, y = ctx.inputs
        return _split_by(g, x > y, x == y, ctx)


@register
class Minimum(Op):
    name = "minimum"
    saves_inputs = True

    def forward(self, b, x, y):
        return b.binary("minimum", x, y)

    def vjp(self, ctx, g):
        x, y = ctx.inputs
        return _split_by(g, x < y, x == y, ctx)


def _split_by(g, first, tie, ctx):
    """Route g to the winner of a max/min; ties share it half and half."""
    half = g * 0.5
    return _both(ctx, lambda: where(first, g, where(tie, half, 0.0)),
                 lambda: where(first, 0.0, where(tie, half, g)))


def _check_not_both_bool(op, x, y):
    """bool // bool, % and ** have no bool result: torch refuses them (NumPy makes int8, a dtype we lack)."""
    def is_bool(a):
        return a.dtype.name == "bool" if hasattr(a, "dtype") else isinstance(a, bool)

    if is_bool(x) and is_bool(y):
        raise RuntimeError(f"{op.name}: not implemented for two bool operands (inputs: {_describe((x, y))})")


def _check_integer_divisor(op, x, y):
    """Integer // 0 and % 0 have no value: ZeroDivisionError on every device, as torch refuses too
    (NumPy and the C++ kernels would return 0). A float operand makes it float division: inf/nan."""
    def floating(a):
        return a.dtype.is_floating_point if hasattr(a, "dtype") else isinstance(a, float)

    if floating(x) or floating(y):
        return
    _check_not_both_bool(op, x, y)
    if bool((y == 0).any()) if hasattr(y, "dtype") else y == 0:
        raise ZeroDivisionError(f"{op.name}: integer division by zero (inputs: {_describe((x, y))})")


@register
class Remainder(Op):
    name = "remainder"
    saves_inputs = True

    def check(self, x, y):
        _check_integer_divisor(self, x, y)

    def forward(self, b, x, y):
        return b.binary("remainder", x, y)

    def vjp(self, ctx, g):
        x, y = ctx.inputs
        return _both(ctx, lambda: g, lambda: -g * (x / y).floor())


# ---- non-differentiable elementwise (comparisons, rounding) ---------------------
class _Constant(Op):
    """An op whose output never requires grad."""
    differentiable = False
    fn = None

    def forward(self, b, *arrays):
        if len(arrays) == 1:
            return b.unary(self.fn, arrays[0])
        return b.binary(self.fn, *arrays)


def _constant(name):
    return register(type("".join(p.capitalize() for p in name.split("_")), (_Constant,), {"name": name, "fn": name}))


Eq, Ne, Lt, Le, Gt, Ge = (_constant(n) for n in ("eq", "ne", "lt", "le", "gt", "ge"))
LogicalAnd, LogicalOr, LogicalXor, LogicalNot = (
    _constant(n) for n in ("logical_and", "logical_or", "logical_xor", "logical_not"))
Isnan, Isinf = (_constant(n) for n in ("isnan", "isinf"))


class _Bitwise(_Constant):
    """&, |, ^ and ~: bitwise on integer tensors, logical on bool ones (torch); floats refused."""

    def check(self, *args):
        for a in args:
            if isinstance(a, float) or getattr(a, "dtype", None) is not None and a.dtype.is_floating_point:
                raise RuntimeError(f"{self.name}: not implemented for floating-point operands (inputs: "
                                   f"{_describe(args)}); compare first, or use logical_and/or/xor/not")


BitwiseAnd, BitwiseOr, BitwiseXor, BitwiseNot = (
    register(type("".join(p.capitalize() for p in n.split("_")), (_Bitwise,), {"name": n, "fn": n}))
    for n in ("bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not"))


@register
class Floordiv(_Constant):
    name = fn = "floordiv"

    def check(self, x, y):
        _check_integer_divisor(self, x, y)


class _ZeroGrad(Op):
    """Piecewise-constant functions: differentiable, with gradient zero (as torch)."""

    def forward(self, b, x):
        return b.unary(self.name, x)

    def vjp(self, ctx, g):
        return (g * 0.0,)


Sign, Floor, Ceil, Round = (register(type(n.capitalize(), (_ZeroGrad,), {"name": n}))
                            for n in ("sign", "floor", "ceil", "round"))


# ---- unary math ----------------------------------------------------------------
class _Unary(Op):
    fn = None

    def forward(self, b, x):
        return b.unary(self.fn or self.name, x)


@register
class Neg(_Unary):
    name = "neg"

    def vjp(self, ctx, g):
        return (-g,)


@register
class Abs(_Unary):
    name = "abs"
    saves_inputs = True

    def vjp(self, ctx, g):
        return (g * ctx.inputs[0].sign(),)  # sign(0) = 0: gradient 0 at 0


@register
class Exp(_Unary):
    name = "exp"
    saves_output = True
    float_only = True

    def vjp(self, ctx, g):
        return (g * ctx.output,)


@register
class Log(_Unary):
    name = "log"
    saves_inputs = True
    float_only = True

    def vjp(self, ctx, g):
        return (_times(g, 1.0 / ctx.inputs[0]),)


@register
class Log1p(_Unary):
    name = "log1p"
    saves_inputs = True
    float_only = True

    def vjp(self, ctx, g):
        return (_times(g, 1.0 / (ctx.inputs[0] + 1.0)),)


@register
class Expm1(_Unary):
    name = "expm1"
    saves_output = True
    float_only = True

    def vjp(self, ctx, g):
        return (g * (ctx.output + 1.0),)


@register
class Sqrt(_Unary):
    name = "sqrt"
    saves_output = True
    float_only = True

    def vjp(self, ctx, g):
        return (_times(g, 0.5 / ctx.output),)


@register
class Rsqrt(Op):
    name = "rsqrt"
    saves_output = True
    float_only = True

    def forward(self, b, x):
        return b.binary("div", 1, b.unary("sqrt", x))

    def vjp(self, ctx, g):
        y = ctx.output
        return (_times(g, -0.5 * y * y * y),)


@register
class Reciprocal(_Unary):
    name = "reciprocal"
    saves_output = True
    float_only = True

    def vjp(self, ctx, g):
        y = ctx.output
        return (_times(g, -(y * y)),)


@register
class Sin(_Unary):
    name = "sin"
    saves_inputs = True
    float_only = True

    def vjp(self, ctx, g):
        return (g * ctx.inputs[0].cos(),)


@register
class Cos(_Unary):
    name = "cos"
    saves_inputs = True
    float_only = True

    def vjp(self, ctx, g):
        return (-g * ctx.inputs[0].sin(),)


@register
class Tan(_Unary):
    name = "tan"
    saves_output = True
    float_only = True

    def vjp(self, ctx, g):
        y = ctx.output
        return (g * (y * y + 1.0),)


@register
class Atan(_Unary):
    name = "atan"
    saves_inputs = True
    float_only = True

    def vjp(self, ctx, g):
        x = ctx.inputs[0]
        return (g / (x * x + 1.0),)


class _ArcSine(_Unary):
    """asin and acos: d/dx = +-1 / sqrt(1 - x^2)."""
    saves_inputs = True
    float_only = True
    sign = 1.0

    def vjp(self, ctx, g):
        x = ctx.inputs[0]
        return (_times(g, self.sign * (1.0 - x * x).rsqrt()),)


@register
class Asin(_ArcSine):
    name = "asin"


@register
class Acos(_ArcSine):
    name = "acos"
    sign = -1.0


@register
class Erf(_Unary):
    name = "erf"
    saves_inputs = True
    float_only = True

    def vjp(self, ctx, g):
        x = ctx.inputs[0]
        return (g * (2.0 / math.sqrt(math.pi)) * (-(x * x)).exp(),)


@register
class Where(Op):
    name = "where"
    saves_inputs = (0,)  # only the condition is read by the VJP

    def forward(self, b, cond, x, y):
        return b.where(cond, x, y)

    def vjp(self, ctx, g):
        cond = ctx.inputs[0]
        _, need_x, need_y = ctx.needs_input_grad
        return (None, where(cond, g, 0.0) if need_x else None, where(cond, 0.0, g) if need_y else None)


_NO_BRANCH = object()


def where(cond, x=_NO_BRANCH, y=_NO_BRANCH):
    """torch.where(cond, x, y): no gradient leaks into the branch not taken. torch.where(cond) alone is
    cond.nonzero(as_tuple=True)."""
    if x is _NO_BRANCH and y is _NO_BRANCH:
        return cond.nonzero(as_tuple=True)
    if x is _NO_BRANCH or y is _NO_BRANCH:
        raise TypeError("where() takes 1 or 3 arguments: where(condition) or where(condition, input, other)")
    return apply(Where, cond, x, y)


@register
class Clamp(Op):
    name = "clamp"
    backward_name = "ClampBackward1"  # torch's overload number for clamp(min, max) with numbers
    saves_inputs = True

    def forward(self, b, x, min=None, max=None):  # noqa: A002
        return b.clip(x, min, max)

    def vjp(self, ctx, g):
        x = ctx.inputs[0]
        lo, hi = ctx.attrs.get("min"), ctx.attrs.get("max")
        keep = None
        if lo is not None:
            keep = x >= lo
        if hi is not None:
            keep = (x <= hi) if keep is None else keep.logical_and(x <= hi)
        return (g if keep is None else where(keep, g, 0.0),)
