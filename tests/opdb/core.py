"""Op database records for the core ops (elementwise, activations, reductions,
softmax family, movement/indexing, linear algebra, casts, backward ops).

Shapes are tiny on purpose: gradcheck perturbs every input element.
Samples used by gradcheck keep away from kinks (|x| > 0.1 for abs/relu,
distinct values for max/min, fractions away from integers for floor/round);
samples with ties or values at kinks are marked `grad=False` (forward only).
"""
import numpy as np

from tinygrad_chain.ops import REGISTRY
from tinygrad_chain.ops.registry import apply

from . import INTERNAL, OpInfo, Sample


# ---- sample helpers ---------------------------------------------------------------
def U(rng, dtype, shape, lo=-2.0, hi=2.0):
    """Uniform values in [lo, hi)."""
    return np.asarray(rng.uniform(lo, hi, size=shape), dtype=dtype)


def NZ(rng, dtype, shape, lo=0.2, hi=2.0):
    """Values with lo <= |x| < hi, random signs (away from 0)."""
    mag = rng.uniform(lo, hi, size=shape)
    sign = np.where(rng.random(shape) < 0.5, -1.0, 1.0)
    return np.asarray(mag * sign, dtype=dtype)


def POS(rng, dtype, shape, lo=0.3, hi=2.0):
    return np.asarray(rng.uniform(lo, hi, size=shape), dtype=dtype)


def DISTINCT(rng, dtype, shape, gap=0.3):
    """Values pairwise at least `gap` apart (no ties: smooth max/min/sort)."""
    n = int(np.prod(shape, dtype=np.int64))
    v = (rng.permutation(n) - n / 2) * gap + rng.uniform(0, gap / 4, size=n)
    return np.asarray(v.reshape(shape), dtype=dtype)


def FRAC(rng, dtype, shape):
    """Values whose fractional part is in (0.1, 0.4) or (0.6, 0.9): away from the
    jumps of floor, ceil and round."""
    k = rng.integers(-3, 3, size=shape)
    f = rng.uniform(0.1, 0.4, size=shape) + np.where(rng.random(shape) < 0.5, 0.0, 0.5)
    return np.asarray(k + f, dtype=dtype)


def TIES(dtype, shape):
    """Small integers with many repeats (ties for max/min/argmax)."""
    n = int(np.prod(shape, dtype=np.int64))
    return np.asarray((np.arange(n) % 3).reshape(shape), dtype=dtype)


UNARY_SHAPES = [(), (4,), (2, 1, 3)]


def _unary_samples(gen, kwargs=None, shapes=UNARY_SHAPES):
    def samples(rng, dtype):
        return [Sample((gen(rng, dtype, s),), dict(kwargs or {})) for s in shapes]
    return samples


def unary(op, ref, gen=U, name=None, call=None, kwargs=None, **kw):
    call = call or (lambda tc, x, **k: getattr(x, op)(**k))
    return OpInfo(ops=(op,), name=name or op, call=call, samples=_unary_samples(gen, kwargs), ref=ref, **kw)


# ---- binary --------------------------------------------------------------------------
BINARY_SHAPES = [((3,), (3,)), ((2, 3), (3,)), ((2, 1), (1, 3)), ((), (2, 3)), ((1, 2, 1), (3, 1, 4))]


def _binary_samples(gen_a, gen_b, scalar_a=1.5, scalar_b=0.75):
    def samples(rng, dtype):
        out = [Sample((gen_a(rng, dtype, sa), gen_b(rng, dtype, sb))) for sa, sb in BINARY_SHAPES]
        # Python scalars on either side are constants (no gradient, no float64 promotion)
        out.append(Sample((gen_a(rng, dtype, (2, 3)), scalar_b)))
        out.append(Sample((scalar_a, gen_b(rng, dtype, (2, 3)))))
        return out
    return samples


def binary(op, fn, ref, gen_a=U, gen_b=U, name=None, scalar_a=1.5, scalar_b=0.75, **kw):
    return OpInfo(ops=(op,), name=name or op, call=lambda tc, a, b: fn(a, b),
                  samples=_binary_samples(gen_a, gen_b, scalar_a, scalar_b), ref=lambda np, a, b: ref(a, b), **kw)


def _remainder_samples(rng, dtype):
    out = []
    for sa, sb in BINARY_SHAPES:
        shape = np.broadcast_shapes(sa, sb)
        b = rng.uniform(0.7, 1.5, size=sb)
        q = rng.integers(-3, 3, size=shape) + rng.uniform(0.2, 0.8, size=shape)  # x / y away from integers
        a = (q * b)
        # a must have shape sa: pick the sa-shaped slice of a (b broadcasts back)
        a = np.broadcast_to(a, shape)[tuple(slice(0, n) if n == m else slice(0, 1)
                                            for n, m in zip((1,) * (len(shape) - len(sa)) + tuple(sa), shape))]
        a = a.reshape(sa)
        # re-check: keep x / y away from integers, else nudge
        frac = np.mod(np.broadcast_to(a, shape) / np.broadcast_to(b, shape), 1.0)
        if np.any((frac < 0.05) | (frac > 0.95)):
            continue
        out.append(Sample((a.astype(dtype), b.astype(dtype))))
    out.append(Sample((np.array([2.3, -1.7, 0.4]).astype(dtype), 0.75)))
    return out


def _pow_samples(rng, dtype):
    return [Sample((POS(rng, dtype, (3,)), U(rng, dtype, (3,), -1.5, 1.5))),
            Sample((POS(rng, dtype, (2, 3)), U(rng, dtype, (3,), -1.5, 1.5))),
            Sample((POS(rng, dtype, ()), U(rng, dtype, (2,), 0.5, 2.0))),
            Sample((NZ(rng, dtype, (2, 3)), 2.0)),       # x ** 2 of negatives
            Sample((NZ(rng, dtype, (2, 2)), 3)),          # integer exponent
            Sample((POS(rng, dtype, (3,)), 0.5)),
            Sample((POS(rng, dtype, (3,)), -1.5)),
            Sample((2.0, U(rng, dtype, (2, 3)))),         # Python base: 2.0 ** x
            Sample((U(rng, dtype, (3,)), 0), grad=True),  # x ** 0 == 1, gradient 0
            Sample((np.array([0.0, 1.0, 2.0], dtype=dtype), 2.0))]  # base 0 with exponent 2: gradient 0


def _cmp_samples(rng, dtype):
    a = TIES(dtype, (2, 3))
    return [Sample((a, TIES(dtype, (3,))[::-1].copy())), Sample((a, 1.0)), Sample((1.0, a)),
            Sample((TIES(dtype, ()), a))]


def _logic_samples(rng, dtype):
    a = rng.random((2, 3)) < 0.5
    return [Sample((a, rng.random((3,)) < 0.5)), Sample((a, a)), Sample((np.array(True), a))]


def _floordiv_samples(rng, dtype):
    return [Sample((U(rng, dtype, (2, 3), -5, 5), POS(rng, dtype, (3,), 0.5, 2))),
            Sample((U(rng, dtype, (4,), -5, 5), 2.0)), Sample((7.0, POS(rng, dtype, (3,), 0.5, 2)))]


def _minmax_samples(rng, dtype):
    a, b = np.split(DISTINCT(rng, dtype, (2, 2, 3)), 2)
    ties = TIES(dtype, (2, 3))
    return [Sample((a[0], b[0])), Sample((a[0], b[0][0])), Sample((DISTINCT(rng, dtype, (2, 1)),
                                                                   DISTINCT(rng, dtype, (1, 3)) + 0.05)),
            Sample((ties, ties[::-1].copy()), grad=False),   # ties share the gradient (checked vs torch)
            Sample((a[0], 0.01))]


BINARY = [
    binary("add", lambda a, b: a + b, np.add),
    binary("sub", lambda a, b: a - b, np.subtract),
    binary("mul", lambda a, b: a * b, np.multiply),
    binary("div", lambda a, b: a / b, np.divide, gen_b=NZ),
    OpInfo(ops=("pow",), name="pow", call=lambda tc, a, b: a ** b, samples=_pow_samples,
           ref=lambda np, a, b: np.power(a, b)),
    OpInfo(ops=("remainder",), name="remainder", call=lambda tc, a, b: a % b, samples=_remainder_samples,
           ref=lambda np, a, b: np.remainder(a, b)),
    OpInfo(ops=("floordiv",), name="floordiv", call=lambda tc, a, b: a // b, samples=_floordiv_samples,
           ref=lambda np, a, b: np.floor_divide(a, b), differentiable=False,
           torch_forward_only="torch has no derivative for floor_divide (ours is zero, as for floor)"),
]
for _op in ("maximum", "minimum"):
    BINARY.append(OpInfo(ops=(_op,), name=_op,
                         call=(lambda op: lambda tc, a, b: getattr(tc, op)(a, b if hasattr(b, "shape")
                                                                           else tc.tensor(b, dtype=a.dtype)))(_op),
                         samples=_minmax_samples, ref=(lambda op: lambda np, a, b: getattr(np, op)(a, b))(_op)))

_CMP = {"eq": np.equal, "ne": np.not_equal, "lt": np.less, "le": np.less_equal, "gt": np.greater,
        "ge": np.greater_equal}
_PYOP = {"eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "lt": lambda a, b: a < b,
         "le": lambda a, b: a <= b, "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b}
for _op in _CMP:
    BINARY.append(OpInfo(ops=(_op,), name=_op, call=(lambda f: lambda tc, a, b: f(a, b))(_PYOP[_op]),
                         samples=_cmp_samples, ref=(lambda f: lambda np, a, b: f(a, b))(_CMP[_op]),
                         differentiable=False))
for _op in ("logical_and", "logical_or", "logical_xor"):
    BINARY.append(OpInfo(ops=(_op,), name=_op, call=(lambda op: lambda tc, a, b: getattr(a, op)(b))(_op),
                         samples=_logic_samples, ref=(lambda op: lambda np, a, b: getattr(np, op)(a, b))(_op),
                         differentiable=False))


def _bitwise_samples(rng, dtype):  # integers of both signs, and bools: & | ^ on either (torch's)
    a, b = rng.integers(-9, 9, (2, 3)), rng.integers(-9, 9, (3,))
    return [Sample((a, b)), Sample((a, 6)), Sample((rng.random((2, 3)) < 0.5, np.array(True)))]


for _op, _f in (("bitwise_and", lambda a, b: a & b), ("bitwise_or", lambda a, b: a | b),
                ("bitwise_xor", lambda a, b: a ^ b)):
    BINARY.append(OpInfo(ops=(_op,), name=_op, call=(lambda f: lambda tc, a, b: f(a, b))(_f),
                         samples=_bitwise_samples, ref=(lambda op: lambda np, a, b: getattr(np, op)(a, b))(_op),
                         differentiable=False))


def _special_values(rng, dtype):
    return [Sample((np.array([0.0, np.nan, np.inf, -np.inf, 1.5], dtype=dtype),)),
            Sample((U(rng, dtype, (2, 2)),))]


def _logical_not_samples(rng, dtype):
    return [Sample((rng.random((2, 3)) < 0.5,)), Sample((np.array(False),))]


# ---- unary math ------------------------------------------------------------------------
UNARY = [
    unary("neg", lambda np, x: -x),
    unary("abs", lambda np, x: np.abs(x), gen=NZ),
    unary("exp", lambda np, x: np.exp(x)),
    unary("log", lambda np, x: np.log(x), gen=POS),
    unary("log1p", lambda np, x: np.log1p(x), gen=lambda r, d, s: U(r, d, s, -0.6, 2.0)),
    unary("expm1", lambda np, x: np.expm1(x)),
    unary("sqrt", lambda np, x: np.sqrt(x), gen=POS),
    unary("rsqrt", lambda np, x: 1 / np.sqrt(x), gen=POS),
    unary("reciprocal", lambda np, x: 1 / x, gen=NZ),
    unary("sin", lambda np, x: np.sin(x), gen=lambda r, d, s: U(r, d, s, -3, 3)),
    unary("cos", lambda np, x: np.cos(x), gen=lambda r, d, s: U(r, d, s, -3, 3)),
    unary("tan", lambda np, x: np.tan(x), gen=lambda r, d, s: U(r, d, s, -1.2, 1.2)),
    unary("atan", lambda np, x: np.arctan(x)),
    unary("asin", lambda np, x: np.arcsin(x), gen=lambda r, d, s: U(r, d, s, -0.9, 0.9)),
    unary("acos", lambda np, x: np.arccos(x), gen=lambda r, d, s: U(r, d, s, -0.9, 0.9)),
    # the backend's erf is a Chebyshev fit with relative error ~1.2e-7, also in float64
    unary("erf", lambda np, x: _erf(x)),
    unary("sign", lambda np, x: np.sign(x), gen=NZ),
    unary("floor", lambda np, x: np.floor(x), gen=FRAC),
    unary("ceil", lambda np, x: np.ceil(x), gen=FRAC),
    unary("round", lambda np, x: np.round(x), gen=FRAC),
    OpInfo(ops=("isnan",), name="isnan", call=lambda tc, x: x.isnan(), samples=_special_values,
           ref=lambda np, x: np.isnan(x), differentiable=False),
    OpInfo(ops=("isinf",), name="isinf", call=lambda tc, x: x.isinf(), samples=_special_values,
           ref=lambda np, x: np.isinf(x), differentiable=False),
    OpInfo(ops=("logical_not",), name="logical_not", call=lambda tc, x: x.logical_not(), samples=_logical_not_samples,
           ref=lambda np, x: np.logical_not(x), differentiable=False),
    OpInfo(ops=("bitwise_not",), name="bitwise_not", call=lambda tc, x: ~x,
           samples=lambda rng, dtype: _logical_not_samples(rng, dtype) + [Sample((rng.integers(-9, 9, (2, 3)),))],
           ref=lambda np, x: np.invert(x), differentiable=False),
    OpInfo(ops=("sign", "floor", "round"), name="sign_at_zero_and_halves",
           call=lambda tc, x: (x.sign(), x.floor(), x.round()),
           samples=lambda rng, dtype: [Sample((np.array([0.0, -0.0, 0.5, 1.5, 2.5, -0.5, -1.0], dtype=dtype),),
                                              grad=False)],
           ref=lambda np, x: (np.sign(x), np.floor(x), np.round(x))),  # round half to even, as torch
]


def _erf(x):
    import math
    return np.vectorize(math.erf, otypes=[np.float64])(x)


# ---- where and clamp ------------------------------------------------------------------
def _where_samples(rng, dtype):
    return [Sample((rng.random((2, 3)) < 0.5, U(rng, dtype, (2, 3)), U(rng, dtype, (2, 3)))),
            Sample((rng.random((3,)) < 0.5, U(rng, dtype, (2, 1)), U(rng, dtype, ()))),
            Sample((rng.random((2, 3)) < 0.5, U(rng, dtype, (2, 3)), 0.0)),
            Sample((rng.random((2, 3)) < 0.5, -1.0, U(rng, dtype, (3,))))]


def _clamp_samples(rng, dtype):
    x = DISTINCT(rng, dtype, (2, 4), gap=0.5) + 0.25   # never within 0.1 of the bounds below
    return [Sample((x,), {"min": -0.6, "max": 0.6}), Sample((x,), {"min": 0.1}), Sample((x,), {"max": -0.1}),
            Sample((np.array([-1.0, 0.0, 1.0], dtype=dtype),), {"min": 0.0, "max": 1.0}, grad=False)]


MISC = [
    OpInfo(ops=("where",), name="where", call=lambda tc, c, x, y: tc.where(c, x, y), samples=_where_samples,
           ref=lambda np, c, x, y: np.where(c, x, y)),
    OpInfo(ops=("clamp",), name="clamp", call=lambda tc, x, **k: x.clamp(**k), samples=_clamp_samples,
           ref=lambda np, x, min=None, max=None: np.clip(x, min, max)),
]


# ---- activations ---------------------------------------------------------------------
# References from torch's own kernels in float64 (forward: torch.nn.functional; backward ops:
# torch.ops.aten's *_backward), not a restatement of backends/formulas.py.
def _torch(fn, *fixed):
    """ref(np, *arrays, **kwargs) calling torch's fn(*tensors, *fixed, **kwargs) on the float64 inputs."""
    def ref(np, *arrays, **kwargs):
        import torch
        f = fn(torch) if callable(fn) else getattr(torch.ops.aten, fn)
        return f(*(torch.from_numpy(np.asarray(a)) for a in arrays), *fixed, **kwargs).numpy()
    return ref


def _softplus_samples(rng, dtype):
    x = NZ(rng, dtype, (2, 4), 0.2, 3.0)
    return [Sample((x,)), Sample((x,), {"beta": 2.0, "threshold": 1.0}),   # kink at x = 0.5: keep away
            Sample((U(rng, dtype, (3,)) + 25.0,), {})]


def _F(name):
    return lambda tc, x, **k: getattr(tc.nn.functional, name)(x, **k)


ACTIVATIONS = [
    unary("relu", _torch(lambda t: t.relu), gen=NZ),
    unary("sigmoid", _torch(lambda t: t.sigmoid), gen=lambda r, d, s: U(r, d, s, -4, 4)),
    unary("tanh", _torch(lambda t: t.tanh)),
    unary("leaky_relu", _torch(lambda t: t.nn.functional.leaky_relu), gen=NZ, call=_F("leaky_relu"),
          kwargs={"negative_slope": 0.2}),
    unary("elu", _torch(lambda t: t.nn.functional.elu), gen=NZ, call=_F("elu"), kwargs={"alpha": 0.7}),
    unary("gelu", _torch(lambda t: t.nn.functional.gelu), call=_F("gelu")),
    unary("gelu", _torch(lambda t: t.nn.functional.gelu), name="gelu_tanh", call=_F("gelu"),
          kwargs={"approximate": "tanh"}),
    unary("silu", _torch(lambda t: t.nn.functional.silu), call=_F("silu")),
    OpInfo(ops=("softplus",), name="softplus", call=_F("softplus"), samples=_softplus_samples,
           ref=_torch(lambda t: t.nn.functional.softplus)),
]


# ---- backward ops (not public API: called through the registry) ----------------------
def _R(name):
    return REGISTRY[name]


def _relu_bw_samples(rng, dtype):
    return [Sample((U(rng, dtype, (2, 3)), NZ(rng, dtype, (2, 3)))), Sample((U(rng, dtype, ()), NZ(rng, dtype, ())))]


def _act_bw_samples(lo, hi):
    def samples(rng, dtype):
        return [Sample((U(rng, dtype, (2, 3)), U(rng, dtype, (2, 3), lo, hi))),
                Sample((U(rng, dtype, (4,)), U(rng, dtype, (4,), lo, hi)))]
    return samples


def _softmax_bw_samples(rng, dtype):
    return [Sample((U(rng, dtype, (2, 3)), U(rng, dtype, (2, 3), 0.1, 0.9)), {"axis": 1}),
            Sample((U(rng, dtype, (3, 2)), U(rng, dtype, (3, 2), 0.1, 0.9)), {"axis": 0})]


def _logsoftmax_bw_samples(rng, dtype):
    return [Sample((U(rng, dtype, (2, 3)), U(rng, dtype, (2, 3), -3, -0.1)), {"axis": 1}),
            Sample((U(rng, dtype, (3, 2)), U(rng, dtype, (3, 2), -3, -0.1)), {"axis": 0})]


def _softmax_bw_ref(np, g, y, axis):
    return y * (g - (g * y).sum(axis, keepdims=True))


def _gx_samples(gen, kwargs_list=({},)):
    def samples(rng, dtype):
        return [Sample((U(rng, dtype, s), gen(rng, dtype, s)), dict(k)) for k in kwargs_list for s in ((2, 3), ())]
    return samples


BACKWARD_OPS = [
    OpInfo(ops=("leaky_relu_backward",), name="leaky_relu_backward", no_torch=INTERNAL,
           call=lambda tc, g, x, **k: apply(_R("leaky_relu_backward"), g, x, **k),
           samples=_gx_samples(NZ, ({"negative_slope": 0.2},)),
           ref=_torch(lambda t: lambda g, x, negative_slope: t.ops.aten.leaky_relu_backward(g, x, negative_slope,
                                                                                               False)),
           zero_grad_inputs=(1,)),
    OpInfo(ops=("elu_backward",), name="elu_backward", no_torch=INTERNAL,
           call=lambda tc, g, x, **k: apply(_R("elu_backward"), g, x, **k),
           samples=_gx_samples(NZ, ({"alpha": 0.7},)),
           ref=_torch(lambda t: lambda g, x, alpha: t.ops.aten.elu_backward(g, alpha, 1, 1, False, x))),
    OpInfo(ops=("gelu_backward",), name="gelu_backward", no_torch=INTERNAL,
           call=lambda tc, g, x, **k: apply(_R("gelu_backward"), g, x, **k),
           samples=_gx_samples(U, ({"approximate": "none"}, {"approximate": "tanh"})),
           ref=_torch("gelu_backward")),
    OpInfo(ops=("silu_backward",), name="silu_backward", no_torch=INTERNAL,
           call=lambda tc, g, x: apply(_R("silu_backward"), g, x),
           samples=_gx_samples(U), ref=_torch("silu_backward")),
    OpInfo(ops=("softplus_backward",), name="softplus_backward", no_torch=INTERNAL,
           call=lambda tc, g, x, **k: apply(_R("softplus_backward"), g, x, **k),
           samples=_gx_samples(NZ, ({"beta": 1.0, "threshold": 20.0}, {"beta": 2.0, "threshold": 1.0})),
           ref=_torch("softplus_backward")),

    OpInfo(ops=("relu_backward",), name="relu_backward", no_torch=INTERNAL,
           call=lambda tc, g, y: apply(_R("relu_backward"), g, y),
           samples=_relu_bw_samples, ref=_torch("threshold_backward", 0), zero_grad_inputs=(1,)),
    OpInfo(ops=("sigmoid_backward",), name="sigmoid_backward", no_torch=INTERNAL,
           call=lambda tc, g, y: apply(_R("sigmoid_backward"), g, y), samples=_act_bw_samples(0.1, 0.9),
           ref=_torch("sigmoid_backward")),
    OpInfo(ops=("tanh_backward",), name="tanh_backward", no_torch=INTERNAL,
           call=lambda tc, g, y: apply(_R("tanh_backward"), g, y), samples=_act_bw_samples(-0.9, 0.9),
           ref=_torch("tanh_backward")),
    OpInfo(ops=("softmax_backward",), name="softmax_backward", no_torch=INTERNAL,
           call=lambda tc, g, y, axis: apply(_R("softmax_backward"), g, y, axis=axis), samples=_softmax_bw_samples,
           ref=_softmax_bw_ref),
    OpInfo(ops=("log_softmax_backward",), name="log_softmax_backward", no_torch=INTERNAL,
           call=lambda tc, g, y, axis: apply(_R("log_softmax_backward"), g, y, axis=axis),
           samples=_logsoftmax_bw_samples, ref=lambda np, g, y, axis: g - np.exp(y) * g.sum(axis, keepdims=True)),
]


# ---- reductions ------------------------------------------------------------------------
REDUCE_ARGS = [dict(), dict(dim=0), dict(dim=-1), dict(dim=(0, 2)), dict(dim=1, keepdim=True),
               dict(dim=(-1, 0), keepdim=True)]


def _reduce_samples(gen, args=REDUCE_ARGS, extra=()):
    def samples(rng, dtype):
        out = [Sample((gen(rng, dtype, (2, 3, 2)),), dict(a)) for a in args]
        out.append(Sample((gen(rng, dtype, ()),), {}))              # 0-d
        out.append(Sample((gen(rng, dtype, (1, 3)),), {"dim": 0}))   # size-1 dim
        out += [Sample((gen(rng, dtype, s),), dict(k), grad=g) for s, k, g in extra]
        return out
    return samples


def _np_reduce(fn):
    def ref(np, x, dim=None, keepdim=False):
        return fn(x, axis=dim, keepdims=keepdim)
    return ref


def _prod_samples(rng, dtype):
    out = _reduce_samples(U)(rng, dtype)
    x = U(rng, dtype, (2, 3))
    x1 = x.copy()
    x1[0, 1] = 0.0                     # one zero: the product of the others
    x2 = x1.copy()
    x2[0, 2] = 0.0                     # two zeros in a row: gradient 0
    out += [Sample((x1,), {}), Sample((x1,), {"dim": 1}), Sample((x2,), {"dim": 1}), Sample((x2,), {})]
    for s in out:
        s.torch = not isinstance(s.kwargs.get("dim"), tuple)  # torch's prod takes one dim
    return out


def _extremum_samples(rng, dtype):
    out = _reduce_samples(DISTINCT)(rng, dtype)
    t = TIES(dtype, (2, 3))
    out += [Sample((t,), {}, grad=False), Sample((t,), {"dim": 1}, grad=False)]
    return out


def _arg_samples(rng, dtype):
    t = TIES(dtype, (2, 3, 2))
    d = DISTINCT(rng, dtype, (2, 3))
    return [Sample((t,), {}), Sample((t,), {"dim": 1}), Sample((t,), {"dim": -1, "keepdim": True}),
            Sample((d,), {"dim": 0}), Sample((d,), {}), Sample((TIES(dtype, ()),), {})]


def _arg_ref(fn):
    def ref(np, x, dim=None, keepdim=False):
        if dim is None:
            out = fn(x.reshape(-1))
            return out.reshape((1,) * x.ndim) if keepdim else out
        return fn(x, axis=dim, keepdims=keepdim)
    return ref


def _dims_only_samples(gen, dims=(0, -1, 1)):
    def samples(rng, dtype):
        return [Sample((gen(rng, dtype, (2, 3)),), {"dim": d % 2 if d == 1 else d}) for d in dims] + \
               [Sample((gen(rng, dtype, (2, 1, 3)),), {"dim": 1})]
    return samples


def _softmax_ref(np, x, dim):
    e = np.exp(x - x.max(dim, keepdims=True))
    return e / e.sum(dim, keepdims=True)


def _log_softmax_ref(np, x, dim):
    s = x - x.max(dim, keepdims=True)
    return s - np.log(np.exp(s).sum(dim, keepdims=True))


def _logsumexp_ref(np, x, dim, keepdim=False):
    m = x.max(axis=dim, keepdims=True)
    out = np.log(np.exp(x - m).sum(axis=dim, keepdims=True)) + m
    return out if keepdim else np.squeeze(out, axis=dim)


def _logsumexp_samples(rng, dtype):
    return [Sample((U(rng, dtype, (2, 3)),), {"dim": 1}), Sample((U(rng, dtype, (2, 3)),), {"dim": -2}),
            Sample((U(rng, dtype, (2, 3, 2)),), {"dim": (0, 2), "keepdim": True}),
            Sample((U(rng, dtype, (2, 3)) * 10 + 500.0,), {"dim": 1}),        # large: stable, no overflow
            Sample((U(rng, dtype, (3,)),), {"dim": 0})]


def _norm_ref(np, x, p="fro", dim=None, keepdim=False):
    p = 2.0 if p == "fro" else p
    a = np.abs(x)
    if p == np.inf:
        return a.max(axis=dim, keepdims=keepdim)
    return (a ** p).sum(axis=dim, keepdims=keepdim) ** (1.0 / p)


def _norm_samples(rng, dtype):
    return [Sample((NZ(rng, dtype, (2, 3)),), {}), Sample((NZ(rng, dtype, (2, 3)),), {"dim": 1}),
            Sample((NZ(rng, dtype, (2, 3)),), {"dim": -2, "keepdim": True}),
            Sample((NZ(rng, dtype, (2, 3)),), {"p": 1}), Sample((NZ(rng, dtype, (2, 3)),), {"p": 3, "dim": 0}),
            Sample((DISTINCT(rng, dtype, (2, 3), 0.3) + 0.1,), {"p": float("inf"), "dim": 1}),
            Sample((NZ(rng, dtype, ()),), {})]


def _cumsum_samples(rng, dtype):
    return [Sample((U(rng, dtype, (2, 3)),), {"dim": 1}), Sample((U(rng, dtype, (2, 3)),), {"dim": -2}),
            Sample((U(rng, dtype, (4,)),), {"dim": 0})]


def _var_ref(np, x, dim=None, correction=1, keepdim=False):
    return x.var(axis=dim, ddof=correction, keepdims=keepdim)


def _var_samples(rng, dtype):
    x = U(rng, dtype, (3, 4))
    return [Sample((x,), {}), Sample((x,), {"dim": 1}), Sample((x,), {"dim": 0, "correction": 0}),
            Sample((x,), {"dim": -1, "keepdim": True, "correction": 2}), Sample((U(rng, dtype, (2, 3, 2)),),
                                                                                  {"dim": (0, 2)})]


def _max_dim_ref(fn):
    def ref(np, x, dim, keepdim=False):
        return fn(x, axis=dim, keepdims=keepdim)
    return ref


def _max_dim_samples(rng, dtype):
    d = DISTINCT(rng, dtype, (2, 3, 2))
    return [Sample((d,), {"dim": 1}), Sample((d,), {"dim": -1, "keepdim": True}), Sample((d,), {"dim": 0})]


REDUCTIONS = [
    OpInfo(ops=("sum",), name="sum", call=lambda tc, x, **k: x.sum(**k), samples=_reduce_samples(U),
           ref=_np_reduce(np.sum)),
    OpInfo(ops=("sum", "mul"), name="mean", call=lambda tc, x, **k: x.mean(**k), samples=_reduce_samples(U),
           ref=_np_reduce(np.mean)),
    OpInfo(ops=("prod",), name="prod", call=lambda tc, x, **k: x.prod(**k), samples=_prod_samples,
           ref=_np_reduce(np.prod)),
    OpInfo(ops=("amax",), name="amax", call=lambda tc, x, **k: x.amax(**k), samples=_extremum_samples,
           ref=_np_reduce(np.max)),
    OpInfo(ops=("amin",), name="amin", call=lambda tc, x, **k: x.amin(**k), samples=_extremum_samples,
           ref=_np_reduce(np.min)),
    OpInfo(ops=("argmax",), name="argmax", call=lambda tc, x, **k: x.argmax(**k), samples=_arg_samples,
           ref=_arg_ref(np.argmax), differentiable=False),
    OpInfo(ops=("argmin",), name="argmin", call=lambda tc, x, **k: x.argmin(**k), samples=_arg_samples,
           ref=_arg_ref(np.argmin), differentiable=False),
    OpInfo(ops=("argmax", "gather"), name="max_dim_values", call=lambda tc, x, **k: x.max(**k).values,
           samples=_max_dim_samples, ref=_max_dim_ref(np.max)),
    OpInfo(ops=("argmin", "gather"), name="min_dim_values", call=lambda tc, x, **k: x.min(**k).values,
           samples=_max_dim_samples, ref=_max_dim_ref(np.min)),
    OpInfo(ops=("sum", "sub", "mul", "div"), name="var", call=lambda tc, x, **k: x.var(**k), samples=_var_samples,
           ref=_var_ref),
    OpInfo(ops=("sum", "sqrt"), name="std", call=lambda tc, x, **k: x.std(**k), samples=_var_samples,
           ref=lambda np, x, **k: np.sqrt(_var_ref(np, x, **k))),
    OpInfo(ops=("cumsum",), name="cumsum", call=lambda tc, x, dim: x.cumsum(dim), samples=_cumsum_samples,
           ref=lambda np, x, dim: np.cumsum(x, axis=dim)),
    # float32: torch's gradient is exp(x - lse), and lse rounds (at 500 by 3e-5, which the gradient
    # inherits); ours is softmax(x), exact to float32 (test_float32_accuracy checks it against float64)
    OpInfo(ops=("logsumexp",), name="logsumexp", call=lambda tc, x, **k: x.logsumexp(**k),
           samples=_logsumexp_samples, ref=_logsumexp_ref,
           torch_tolerances={"float32": dict(rtol=5e-5, atol=1e-6)}),
    OpInfo(ops=("softmax",), name="softmax", call=lambda tc, x, dim: x.softmax(dim),
           samples=_dims_only_samples(U), ref=_softmax_ref),
    OpInfo(ops=("log_softmax",), name="log_softmax", call=lambda tc, x, dim: x.log_softmax(dim),
           samples=_dims_only_samples(U), ref=_log_softmax_ref),
    OpInfo(ops=("norm",), name="norm", call=lambda tc, x, **k: x.norm(**k), samples=_norm_samples, ref=_norm_ref),
]


# ---- movement and indexing ----------------------------------------------------------------
def _S(*samples):
    return lambda rng, dtype: [s(rng, dtype) for s in samples]


def _one(in_shape, gen=U, **kwargs):
    return lambda rng, dtype: Sample((gen(rng, dtype, in_shape),), dict(kwargs))


def _getitem_ref(np, x, index):
    return x[index]


def _index_samples(rng, dtype):
    x = U(rng, dtype, (4, 3))
    return [Sample((x,), {"index": np.array([0, 2, 2, 3, 0])}),                    # repeats accumulate
            Sample((x,), {"index": (slice(None), np.array([2, 0, 2]))}),
            Sample((x,), {"index": (np.array([[1, 1], [3, 0]]), np.array([[0, 2], [2, 2]]))}),
            Sample((x,), {"index": x > 0}),                                        # boolean mask
            Sample((x,), {"index": (np.array([True, False, True, True]),)}),
            Sample((x,), {"index": [-1, 0, -1]}),                                  # a list, negative indices
            Sample((x,), {"index": (Ellipsis, np.array([1, 1]))})]


def _getitem_samples(rng, dtype):
    x = U(rng, dtype, (3, 4, 2))
    return [Sample((x,), {"index": 1}), Sample((x,), {"index": -1}), Sample((x,), {"index": (slice(0, 2), 3)}),
            Sample((x,), {"index": (Ellipsis, 0)}), Sample((x,), {"index": (None, 1, slice(None, None, 2))}),
            Sample((x,), {"index": (slice(None, None, -1), slice(1, 3), None)}, torch=False),  # torch: step > 0
            Sample((x,), {"index": (1, -2, 0)}), Sample((U(rng, dtype, ()),), {"index": ()}),
            Sample((U(rng, dtype, (4,)),), {"index": slice(-3, None)})]


def _to_native(x, index):
    b = x._b
    if isinstance(index, tuple):
        return tuple(b.asarray(i) if hasattr(i, "dtype") else i for i in index)
    return b.asarray(index) if hasattr(index, "dtype") else index


def _index_add_zeros_samples(rng, dtype):
    return [Sample((U(rng, dtype, (5, 3)),), {"shape": (4, 3), "index": (np.array([0, 2, 2, 3, 0]),)}),
            Sample((U(rng, dtype, (2, 2)),), {"shape": (3, 3), "index": (np.array([[0, 0], [2, 0]]),
                                                                         np.array([[1, 1], [2, 1]]))}),
            Sample((U(rng, dtype, (2,)),), {"shape": (3, 2), "index": (1,)})]


def _index_add_zeros_ref(np, g, shape, index):
    out = np.zeros(shape, dtype=g.dtype)
    np.add.at(out, index, g)
    return out


def _index_put_samples(rng, dtype):
    x = U(rng, dtype, (3, 4))
    return [Sample((x, U(rng, dtype, (4,))), {"index": (1,)}),
            Sample((x, U(rng, dtype, ())), {"index": (slice(None), slice(1, 3))}),
            Sample((x, U(rng, dtype, (2, 4))), {"index": (np.array([0, 2]),)}),
            Sample((x, U(rng, dtype, (3,))), {"index": (slice(None), -1)}),
            Sample((x, 5.0), {"index": (0, 0)})]


def _setitem_call(tc, x, v, index):
    y = x.clone()
    y[index] = v
    return y


def _index_put_ref(np, x, v, index):
    y = x.copy()
    y[index] = v
    return y


def _gather_samples(rng, dtype):
    x = U(rng, dtype, (3, 4))
    return [Sample((x, np.array([[0, 0], [3, 1], [2, 2]])), {"dim": 1}),
            Sample((x, np.array([[0, 1, 2, 0], [2, 2, 2, 2]])), {"dim": 0}),
            Sample((x, np.array([[1], [0], [3]])), {"dim": -1})]


def _scatter_samples(rng, dtype):
    return [Sample((U(rng, dtype, (3, 2)), np.array([[0, 0], [3, 1], [2, 2]])), {"shape": (3, 4), "axis": 1}),
            Sample((U(rng, dtype, (2, 4)), np.array([[0, 1, 2, 0], [2, 2, 2, 2]])), {"shape": (3, 4), "axis": 0})]


def _scatter_ref(np, g, index, shape, axis):
    out = np.zeros(shape, dtype=g.dtype)
    idx = list(np.indices(index.shape, sparse=True))
    idx[axis] = index
    np.add.at(out, tuple(idx), g)
    return out


def _cat_samples(rng, dtype):
    return [Sample((U(rng, dtype, (2, 3)), U(rng, dtype, (1, 3))), {"dim": 0}),
            Sample((U(rng, dtype, (2, 1)), U(rng, dtype, (2, 3)), U(rng, dtype, (2, 2))), {"dim": -1}),
            Sample((U(rng, dtype, (3,)),), {"dim": 0})]


def _stack_samples(rng, dtype):
    return [Sample((U(rng, dtype, (2, 3)), U(rng, dtype, (2, 3))), {"dim": 0}),
            Sample((U(rng, dtype, (2,)), U(rng, dtype, (2,)), U(rng, dtype, (2,))), {"dim": -1}),
            Sample((U(rng, dtype, ()), U(rng, dtype, ())), {"dim": 0})]


def _split_samples(rng, dtype):
    x = U(rng, dtype, (5, 2))
    return [Sample((x,), {"split_size_or_sections": 2, "dim": 0}),
            Sample((x,), {"split_size_or_sections": [1, 4], "dim": 0}),
            Sample((x,), {"split_size_or_sections": 1, "dim": -1})]


def _split_ref(np, x, split_size_or_sections, dim):
    n = x.shape[dim]
    if isinstance(split_size_or_sections, int):
        cuts = list(range(split_size_or_sections, n, split_size_or_sections))
    else:
        cuts = list(np.cumsum(split_size_or_sections)[:-1])
    return tuple(np.split(x, cuts, axis=dim))


def _chunk_ref(np, x, chunks, dim):
    n = x.shape[dim]
    step = -(-n // chunks)
    return tuple(np.split(x, list(range(step, n, step)), axis=dim))


def _repeat_ref(np, x, reps):
    return np.tile(x, reps)


def _pad_ref(np, x, pad, value=None):
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    crop = tuple(slice(max(-lo, 0), x.shape[d] - max(-hi, 0)) for d, (lo, hi) in enumerate(widths))
    x = x[crop]
    widths = [(max(lo, 0), max(hi, 0)) for lo, hi in widths]
    return np.pad(x, widths, constant_values=0.0 if value is None else value)


MOVEMENT = [
    OpInfo(ops=("reshape",), name="reshape", call=lambda tc, x, shape: x.reshape(shape),
           samples=_S(_one((2, 3), shape=(3, 2)), _one((2, 3), shape=(-1,)), _one((), shape=(1, 1)),
                      _one((2, 1, 3), shape=(3, -1, 1))),
           ref=lambda np, x, shape: x.reshape(shape)),
    OpInfo(ops=("reshape",), name="flatten_squeeze_unsqueeze",
           call=lambda tc, x: (x.flatten(), x.squeeze(), x.squeeze(1), x.unsqueeze(-1), x.unsqueeze(0),
                               x.flatten(1)),
           samples=_S(_one((2, 1, 3))),
           ref=lambda np, x: (x.reshape(-1), x.squeeze(), x.squeeze(1), x[..., None], x[None],
                              x.reshape(2, -1))),
    OpInfo(ops=("permute",), name="permute", call=lambda tc, x, dims: x.permute(*dims),
           samples=_S(_one((2, 3, 2), dims=(2, 0, 1)), _one((2, 3), dims=(-1, 0)), _one((3,), dims=(0,))),
           ref=lambda np, x, dims: np.transpose(x, dims)),
    OpInfo(ops=("permute",), name="transpose_T_mT", call=lambda tc, x: (x.transpose(0, -1), x.T, x.mT),
           samples=_S(_one((2, 3, 2))),
           ref=lambda np, x: (np.swapaxes(x, 0, -1), np.transpose(x), np.swapaxes(x, -1, -2))),
    OpInfo(ops=("expand",), name="expand", call=lambda tc, x, shape: x.expand(*shape),
           samples=_S(_one((3, 1), shape=(3, 4)), _one((1, 3), shape=(2, -1, 3)), _one((), shape=(2, 2)),
                      _one((2,), shape=(3, 2))),
           ref=lambda np, x, shape: np.broadcast_to(x, tuple(n if n != -1 else x.shape[i - (len(shape) - x.ndim)]
                                                             for i, n in enumerate(shape)))),
    OpInfo(ops=("sum_to_shape",), name="sum_to_shape",
           no_torch="the engine's broadcast undo, a Tensor method torch does not have",
           call=lambda tc, x, shape: x._sum_to_shape(shape),
           samples=_S(_one((2, 3, 4), shape=(3, 1)), _one((2, 3), shape=(1, 3)), _one((2, 3), shape=()),
                      _one((2, 3), shape=(2, 3))),
           ref=lambda np, x, shape: _sum_to(np, x, shape)),
    OpInfo(ops=("cat",), name="cat", call=lambda tc, *xs, dim: tc.cat(xs, dim), samples=_cat_samples,
           ref=lambda np, *xs, dim: np.concatenate(xs, axis=dim)),
    OpInfo(ops=("cat", "reshape"), name="stack", call=lambda tc, *xs, dim: tc.stack(xs, dim),
           samples=_stack_samples, ref=lambda np, *xs, dim: np.stack(xs, axis=dim)),
    OpInfo(ops=("getitem",), name="split", call=lambda tc, x, **k: tc.split(x, **k), samples=_split_samples,
           ref=_split_ref),
    OpInfo(ops=("getitem",), name="chunk", call=lambda tc, x, chunks, dim: x.chunk(chunks, dim),
           samples=_S(_one((5, 2), chunks=2, dim=0), _one((2, 6), chunks=3, dim=-1), _one((3,), chunks=5, dim=0)),
           ref=_chunk_ref),
    OpInfo(ops=("flip",), name="flip", call=lambda tc, x, dims: x.flip(dims),
           samples=_S(_one((2, 3), dims=0), _one((2, 3, 2), dims=(0, -1)), _one((3,), dims=(-1,))),
           ref=lambda np, x, dims: np.flip(x, dims)),
    OpInfo(ops=("repeat",), name="repeat", call=lambda tc, x, reps: x.repeat(*reps),
           samples=_S(_one((2, 3), reps=(2, 1)), _one((2,), reps=(3, 2)), _one((), reps=(2,)),
                      _one((1, 2), reps=(2, 1, 3))),
           ref=_repeat_ref),
    OpInfo(ops=("pad",), name="pad", call=lambda tc, x, **k: tc.nn.functional.pad(x, **k),
           samples=_S(_one((2, 3), pad=(1, 2)), _one((2, 3), pad=(1, 0, 0, 2), value=1.5),
                      _one((2, 4), pad=(-1, 1)), _one((3,), pad=(0, 0))),
           ref=_pad_ref),
    OpInfo(ops=("getitem",), name="getitem", call=lambda tc, x, index: x[index], samples=_getitem_samples,
           ref=_getitem_ref),
    OpInfo(ops=("index",), name="index", call=lambda tc, x, index: x[index], samples=_index_samples,
           ref=_getitem_ref),
    OpInfo(ops=("index_add_zeros",), name="index_add_zeros", no_torch=INTERNAL,
           call=lambda tc, g, shape, index: apply(_R("index_add_zeros"), g, shape=shape, index=_to_native(g, index)),
           samples=_index_add_zeros_samples, ref=_index_add_zeros_ref),
    OpInfo(ops=("index_put",), name="setitem", call=lambda tc, x, v, index: _setitem_call(tc, x, v, index),
           samples=_index_put_samples, ref=_index_put_ref),
    OpInfo(ops=("gather",), name="gather", call=lambda tc, x, idx, dim: x.gather(dim, idx), samples=_gather_samples,
           ref=lambda np, x, idx, dim: np.take_along_axis(x, idx, dim)),
    OpInfo(ops=("scatter_add_zeros",), name="scatter_add_zeros", no_torch=INTERNAL,
           call=lambda tc, g, idx, shape, axis: apply(_R("scatter_add_zeros"), g, idx, shape=shape, axis=axis),
           samples=_scatter_samples, ref=_scatter_ref),
    OpInfo(ops=("clone",), name="clone", call=lambda tc, x: x.clone(), samples=_S(_one((2, 3)), _one(())),
           ref=lambda np, x: x.copy()),
    # the cast goes through float32: first derivatives checked with a coarser step
    OpInfo(ops=("to_dtype",), name="to_dtype", call=lambda tc, x: _round_trip(tc, x),
           samples=_S(_one((2, 3)), _one(())), ref=lambda np, x: x.astype(np.float32).astype(x.dtype),
           gradcheck_kwargs={"eps": 1e-2, "atol": 1e-4}, keeps_dtype=True),
    OpInfo(ops=("to_device",), name="to_device",
           no_torch="a transfer between two of our backends; torch has one CPU device",
           call=lambda tc, x: apply(_R("to_device"), x, target=x._b, source=x._b.name),
           samples=_S(_one((2, 3)), _one(())), ref=lambda np, x: x.copy()),
]


def _round_trip(tc, x):
    other = tc.float64 if x.dtype is tc.float32 else tc.float32
    return x.to(other).to(x.dtype)


def _sum_to(np, x, shape):
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, n in enumerate(shape) if n == 1 and x.shape[i + lead] != 1)
    return x.sum(axis=axes, keepdims=True).reshape(shape)


# ---- linear algebra --------------------------------------------------------------------
MATMUL_SHAPES = [((2, 3), (3, 2)), ((2, 2, 3), (3, 2)), ((2, 1, 2, 3), (3, 3, 2)), ((3,), (3, 2)), ((2, 3), (3,)),
                 ((3,), (3,)), ((3,), (2, 3, 2)), ((2, 2, 3), (3,)), ((1, 3), (2, 3, 1))]


def _linear_samples(rng, dtype):
    return [
        Sample((U(rng, dtype, (3, 4)), U(rng, dtype, (5, 4)), U(rng, dtype, (5,)))),
        Sample((U(rng, dtype, (2, 3, 4)), U(rng, dtype, (5, 4)))),
        Sample((U(rng, dtype, (4,)), U(rng, dtype, (2, 4)), U(rng, dtype, (2,)))),
        Sample((U(rng, dtype, (2, 2, 3, 4)), U(rng, dtype, (3, 4)), U(rng, dtype, (3,)))),
    ]


def _matmul_samples(rng, dtype):
    return [Sample((U(rng, dtype, a), U(rng, dtype, b))) for a, b in MATMUL_SHAPES]


EINSUM_CASES = [("ij,jk->ik", ((2, 3), (3, 2))), ("bij,bjk->bik", ((2, 2, 3), (2, 3, 2))), ("ij->ji", ((2, 3),)),
                ("ij->", ((2, 3),)), ("i,i->", ((3,), (3,))), ("i,j->ij", ((2,), (3,))), ("ii->i", ((3, 3),)),
                ("ii", ((3, 3),)), ("ij,jk,kl->il", ((2, 3), (3, 2), (2, 2))), ("ij,ij->i", ((2, 3), (2, 3))),
                ("ijk->k", ((2, 2, 3),)), ("ij,jk", ((2, 3), (3, 2))),
                # broadcast dimensions, spelled "...": nn.Bilinear's equation, implicit output, size-1 broadcast
                ("...i,oij,...j->...o", ((2, 3), (2, 3, 2), (2, 2))), ("...ij,...jk", ((2, 1, 2, 3), (3, 2))),
                ("i...,i...->...", ((2, 3, 1), (2, 2)))]


def _einsum_samples(rng, dtype):
    return [Sample(tuple(U(rng, dtype, s) for s in shapes), {"equation": eq}) for eq, shapes in EINSUM_CASES]


LINALG = [
    OpInfo(ops=("matmul",), name="matmul", call=lambda tc, a, b: a @ b, samples=_matmul_samples,
           ref=lambda np, a, b: np.matmul(a, b)),
    OpInfo(ops=("linear",), name="linear", call=lambda tc, *a: tc.nn.functional.linear(*a), samples=_linear_samples,
           ref=lambda np, x, w, b=None: np.matmul(x, w.T) + (0 if b is None else b)),
    OpInfo(ops=("einsum",), name="einsum", call=lambda tc, *xs, equation: tc.einsum(equation, *xs),
           samples=_einsum_samples, ref=lambda np, *xs, equation: np.einsum(equation, *xs)),
]


OPS = BINARY + UNARY + MISC + ACTIVATIONS + BACKWARD_OPS + REDUCTIONS + MOVEMENT + LINALG
