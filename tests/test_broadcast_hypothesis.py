"""Broadcasting and reductions over hypothesis-drawn shapes: each gradient has
its input's shape and equals the NumPy-derived expectation."""
import numpy as np
import pytest
from helpers import assert_close
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_chain as tc

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def _unbroadcast(g, shape):
    """Sum g over the axes broadcasting added (NumPy, for the expectation)."""
    lead = g.ndim - len(shape)
    g = g.sum(axis=tuple(range(lead))) if lead else g
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True) if axes else g


# op: (tinygrad_chain fn, d out/d a, d out/d b) with NumPy partials
BINARY = {
    "add": (lambda a, b: a + b, lambda a, b: np.ones_like(a * b), lambda a, b: np.ones_like(a * b)),
    "sub": (lambda a, b: a - b, lambda a, b: np.ones_like(a * b), lambda a, b: -np.ones_like(a * b)),
    "mul": (lambda a, b: a * b, lambda a, b: b + 0 * a, lambda a, b: a + 0 * b),
    "div": (lambda a, b: a / b, lambda a, b: 1 / b + 0 * a, lambda a, b: -a / (b * b)),
    "pow": (lambda a, b: a ** b, lambda a, b: b * a ** (b - 1), lambda a, b: a ** b * np.log(a)),
    "maximum": (lambda a, b: a.maximum(b), lambda a, b: (a > b) * 1.0, lambda a, b: (a < b) * 1.0),
}


@st.composite
def broadcastable_pair(draw):
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=3))
    a_shape, b_shape = shapes.input_shapes
    seed = draw(st.integers(0, 2 ** 16))
    rng = np.random.default_rng(seed)
    # positive and pairwise distinct (no ties for maximum, log defined for pow)
    a = rng.uniform(0.5, 2.0, a_shape)
    b = rng.uniform(0.5, 2.0, b_shape) + 1e-3
    return a, b


@pytest.mark.parametrize("op", list(BINARY))
def test_binary_broadcast_gradients(op, device):
    fn, da, db = BINARY[op]

    @SETTINGS
    @given(pair=broadcastable_pair(), dtype=st.sampled_from([np.float32, np.float64]))
    def check(pair, dtype):
        a_np, b_np = (np.asarray(x, dtype=dtype) for x in pair)
        a = tc.tensor(a_np, requires_grad=True)
        b = tc.tensor(b_np, requires_grad=True)
        out = fn(a, b)
        out_shape = np.broadcast_shapes(a_np.shape, b_np.shape)
        assert out.shape == out_shape
        g = np.random.default_rng(0).standard_normal(out_shape).astype(dtype)
        out.backward(tc.tensor(g))
        A, B = np.broadcast_to(a_np.astype(np.float64), out_shape), np.broadcast_to(b_np.astype(np.float64),
                                                                                    out_shape)
        tol = dict(atol=1e-4, rtol=1e-4) if dtype == np.float32 else dict(atol=1e-10, rtol=1e-10)
        for t, partial, shape in ((a, da, a_np.shape), (b, db, b_np.shape)):
            assert t.grad.shape == shape and t.grad.dtype is t.dtype
            assert_close(t.grad, _unbroadcast(g * partial(A, B), shape), **tol)

    check()


@st.composite
def reduction_case(draw):
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=3))
    ndim = len(shape)
    if ndim == 0:
        dim = draw(st.sampled_from([None, 0, -1]))
    else:
        axis = st.integers(-ndim, ndim - 1)
        dim = draw(st.one_of(st.none(), axis, st.lists(axis, min_size=1, max_size=ndim,
                                                       unique_by=lambda d: d % ndim).map(tuple)))
    keepdim = draw(st.booleans())
    seed = draw(st.integers(0, 2 ** 16))
    return shape, dim, keepdim, seed


def _np_axis(dim, ndim):
    if dim is None or ndim == 0:
        return None
    return tuple(d % ndim for d in dim) if isinstance(dim, tuple) else dim % ndim


REDUCTIONS = {
    "sum": (lambda x, d, k: x.sum(dim=d, keepdim=k), lambda x, ax, k: x.sum(axis=ax, keepdims=k),
            lambda x, y, ax: np.ones_like(x)),
    "mean": (lambda x, d, k: x.mean(dim=d, keepdim=k), lambda x, ax, k: x.mean(axis=ax, keepdims=k),
             lambda x, y, ax: np.ones_like(x) * y.size / x.size),
    "amax": (lambda x, d, k: x.amax(dim=d, keepdim=k) if d is not None else x.amax(),
             lambda x, ax, k: x.max(axis=ax, keepdims=k) if ax is not None or k else x.max(),
             lambda x, y, ax: (x == x.max(axis=ax, keepdims=True)) * 1.0),
    "prod": (lambda x, d, k: x.prod(dim=d, keepdim=k), lambda x, ax, k: x.prod(axis=ax, keepdims=k),
             lambda x, y, ax: x.prod(axis=ax, keepdims=True) / x),
    "logsumexp": (lambda x, d, k: x.logsumexp(dim=d if d is not None else tuple(range(x.ndim)), keepdim=k),
                  lambda x, ax, k: np.log(np.exp(x).sum(axis=ax, keepdims=k)),
                  lambda x, y, ax: np.exp(x) / np.exp(x).sum(axis=ax, keepdims=True)),
}


@pytest.mark.parametrize("op", list(REDUCTIONS))
def test_reduction_gradients(op, device):
    fn, ref, dref = REDUCTIONS[op]

    @SETTINGS
    @given(case=reduction_case())
    def check(case):
        shape, dim, keepdim, seed = case
        rng = np.random.default_rng(seed)
        size = int(np.prod(shape, dtype=np.int64))
        # distinct values (no ties for amax), away from 0 (prod / x)
        x_np = ((rng.permutation(size) + 1) * 0.25 * np.where(rng.random(size) < 0.5, -1, 1)).reshape(shape)
        x_np = x_np / max(1.0, size / 8)
        x = tc.tensor(x_np, dtype=tc.float64, requires_grad=True)
        if op == "logsumexp" and len(shape) == 0 and dim is None:
            dim_arg = ()
        else:
            dim_arg = dim
        if op == "amax" and dim is None and keepdim:
            y = x.amax(dim=tuple(range(x.ndim)), keepdim=True) if x.ndim else x.amax()
        elif op == "logsumexp" and dim_arg == ():
            y = x.logsumexp(dim=0 if x.ndim else 0, keepdim=keepdim) if x.ndim else x.logsumexp(0, keepdim)
        else:
            y = fn(x, dim_arg, keepdim)
        ax = _np_axis(dim, x_np.ndim)
        want = ref(x_np, ax, keepdim) if not (op == "amax" and dim is None and keepdim and x.ndim == 0) else x_np
        assert y.shape == np.shape(want), f"{op} dim={dim} keepdim={keepdim}: {y.shape} vs {np.shape(want)}"
        assert_close(y, want, atol=1e-10, rtol=1e-10)
        g = rng.standard_normal(y.shape)
        y.backward(tc.tensor(g, dtype=tc.float64))
        assert x.grad.shape == x_np.shape
        kept = ref(x_np, ax, True)
        g_kept = np.reshape(g, np.shape(kept))
        assert_close(x.grad, g_kept * dref(x_np, kept, ax), atol=1e-10, rtol=1e-8)

    check()
