"""sort / argsort / msort / topk / kthvalue / median against torch: values, indices,
gradients (first and second order), dims, keepdim, descending, NaN, errors.

Indices are compared only where values are distinct (torch's order among ties may
differ from our stable sort); with ties, values only."""
import numpy as np
import pytest
from helpers import assert_close, to_np

torch = pytest.importorskip("torch")
import tinygrad_chain as tc  # noqa: E402

torch.set_num_threads(1)


def distinct(rng, shape):
    n = int(np.prod(shape, dtype=np.int64))
    return ((rng.permutation(n) - n / 2) * 0.5 + rng.uniform(0, 0.1, n)).reshape(shape)


def both(a, requires_grad=False):
    return (tc.tensor(a, requires_grad=requires_grad),
            torch.tensor(a, requires_grad=requires_grad))


def check_pair(ours, theirs, values=True, indices=True):
    assert type(ours).__name__ == type(theirs).__name__
    assert ours._fields == ("values", "indices")
    v, i = ours  # unpackable
    assert v is ours.values and i is ours.indices
    assert i.dtype is tc.int64 and not i.requires_grad
    assert tuple(v.shape) == tuple(theirs.values.shape) and tuple(i.shape) == tuple(theirs.indices.shape)
    if values:
        assert_close(v, theirs.values.detach().numpy(), atol=0, rtol=0)
    if indices:
        assert np.array_equal(to_np(i), theirs.indices.numpy())


SHAPES_DIMS = [((6,), -1), ((3, 5), 1), ((3, 5), 0), ((2, 3, 4), 1), ((2, 3, 4), -3), ((), 0), ((), -1),
               ((0, 3), 1), ((2, 0), 0)]


@pytest.mark.parametrize("shape,dim", SHAPES_DIMS)
@pytest.mark.parametrize("descending", [False, True])
def test_sort_and_argsort(shape, dim, descending, rng):
    x, t = both(distinct(rng, shape))
    check_pair(tc.sort(x, dim, descending), torch.sort(t, dim, descending))
    check_pair(x.sort(dim=dim, descending=descending, stable=True), t.sort(dim=dim, descending=descending,
                                                                           stable=True))
    assert np.array_equal(to_np(tc.argsort(x, dim, descending)), torch.argsort(t, dim, descending).numpy())
    assert np.array_equal(to_np(x.argsort(dim=dim, descending=descending, stable=True)),
                          t.argsort(dim=dim, descending=descending, stable=True).numpy())


def test_sort_defaults_and_msort(rng):
    x, t = both(distinct(rng, (4, 3)))
    check_pair(x.sort(), t.sort())
    assert np.array_equal(to_np(x.argsort()), t.argsort().numpy())
    assert_close(tc.msort(x), torch.msort(t).numpy(), atol=0, rtol=0)
    assert_close(x.msort(), torch.msort(t).numpy(), atol=0, rtol=0)


def test_stable_ties_keep_order():
    a = np.array([[2, 1, 2, 0, 1, 2], [1, 1, 1, 0, 0, 0]], dtype=np.float32)
    x, t = both(a)
    for desc in (False, True):
        ours, theirs = x.sort(dim=1, descending=desc, stable=True), t.sort(dim=1, descending=desc, stable=True)
        check_pair(ours, theirs)  # torch's stable sort is deterministic: indices compared too


@pytest.mark.parametrize("dtype", ["int64", "int32", "bool", "float64"])
def test_sort_other_dtypes(dtype, rng):
    a = (rng.integers(0, 2 if dtype == "bool" else 50, (3, 6))).astype(dtype)
    x, t = both(a)
    for desc in (False, True):
        ours, theirs = x.sort(1, desc), t.sort(1, desc)
        assert ours.values.dtype is x.dtype
        check_pair(ours, theirs, indices=False)  # ties: values only


def test_nan_sorts_as_largest():
    a = np.array([[3.0, np.nan, 1.0, np.nan, 2.0], [np.nan, -1.0, 4.0, 2.0, -3.0]], dtype=np.float32)
    x, t = both(a)
    for desc in (False, True):
        ours, theirs = x.sort(1, desc), t.sort(1, desc)
        check_pair(ours, theirs, indices=False)
        # the indices point at the right values (NaN ties may be ordered differently)
        assert_close(x.gather(1, ours.indices), theirs.values.numpy(), atol=0, rtol=0)
    check_pair(x.topk(2, 1), t.topk(2, 1), indices=False)
    check_pair(x.topk(2, 1, largest=False), t.topk(2, 1, largest=False))
    check_pair(x.kthvalue(4, 1), t.kthvalue(4, 1))
    check_pair(x.kthvalue(5, 1), t.kthvalue(5, 1), indices=False)
    check_pair(x.median(1), t.median(1))  # NaN in a row: NaN, at the row's first NaN
    assert np.isnan(x.median().item()) and np.isnan(t.median().item())


@pytest.mark.parametrize("shape,dim", [((7,), 0), ((3, 5), 1), ((4, 3), 0), ((2, 3, 4), -1), ((), 0)])
@pytest.mark.parametrize("largest", [True, False])
def test_topk(shape, dim, largest, rng):
    x, t = both(distinct(rng, shape))
    n = 1 if not shape else shape[dim]
    for k in sorted({0, 1, n // 2, n}):
        check_pair(tc.topk(x, k, dim, largest), torch.topk(t, k, dim, largest))
        check_pair(x.topk(k, dim=dim, largest=largest, sorted=True), t.topk(k, dim=dim, largest=largest,
                                                                            sorted=True))
    check_pair(x.topk(1), t.topk(1))


@pytest.mark.parametrize("shape,dim", [((7,), 0), ((3, 5), 1), ((4, 3), 0), ((2, 3, 4), -2), ((), 0)])
@pytest.mark.parametrize("keepdim", [False, True])
def test_kthvalue(shape, dim, keepdim, rng):
    x, t = both(distinct(rng, shape))
    n = 1 if not shape else shape[dim]
    for k in sorted({1, (n + 1) // 2, n}):
        check_pair(tc.kthvalue(x, k, dim, keepdim), torch.kthvalue(t, k, dim, keepdim))
        check_pair(x.kthvalue(k, dim=dim, keepdim=keepdim), t.kthvalue(k, dim=dim, keepdim=keepdim))


@pytest.mark.parametrize("shape,dim", [((7,), 0), ((6,), 0), ((3, 5), 1), ((4, 4), 0), ((2, 3, 4), -1),
                                       ((), 0), ((3, 0), 0)])
@pytest.mark.parametrize("keepdim", [False, True])
def test_median(shape, dim, keepdim, rng):
    x, t = both(distinct(rng, shape))
    check_pair(tc.median(x, dim, keepdim), torch.median(t, dim, keepdim))
    check_pair(x.median(dim=dim, keepdim=keepdim), t.median(dim=dim, keepdim=keepdim))
    m = x.median()
    assert isinstance(m, tc.Tensor) and m.shape == ()
    assert_close(m, t.median().numpy(), atol=0, rtol=0)  # the lower median for an even count


def test_median_ints_and_ties():
    a = np.array([[1, 3, 3, 2, 3, 1], [5, 5, 5, 5, 0, 0]])
    x, t = both(a)
    assert x.median().item() == t.median().item() and x.median().dtype is tc.int64
    check_pair(x.median(1), t.median(1), indices=False)
    check_pair(x.median(0), t.median(0), indices=False)


def test_median_of_empty_is_nan():
    assert np.isnan(tc.median(tc.zeros(0)).item()) and np.isnan(torch.median(torch.zeros(0)).item())


# ---- gradients ---------------------------------------------------------------------------
CASES = [
    ("sort", lambda lib, x: lib.sort(x, 1).values),
    ("sort_desc_dim0", lambda lib, x: lib.sort(x, 0, descending=True).values),
    ("msort", lambda lib, x: lib.msort(x)),
    ("topk", lambda lib, x: lib.topk(x, 2, 1).values),
    ("topk_smallest", lambda lib, x: lib.topk(x, 3, 0, largest=False).values),
    ("kthvalue", lambda lib, x: lib.kthvalue(x, 2, 1).values),
    ("kthvalue_keepdim", lambda lib, x: lib.kthvalue(x, 3, 0, keepdim=True).values),
    ("median_dim", lambda lib, x: lib.median(x, 1).values),
    ("median_all", lambda lib, x: lib.median(x)),
]


@pytest.mark.parametrize("name,fn", CASES, ids=[c[0] for c in CASES])
def test_gradients_match_torch(name, fn, rng):
    a = distinct(rng, (4, 5))
    x, t = both(a, requires_grad=True)
    out_t = fn(torch, t)
    w = rng.standard_normal(tuple(out_t.shape))
    # first order: g scattered back through the indices
    (out_t * torch.tensor(w)).sum().backward()
    (fn(tc, x) * tc.tensor(w)).sum().backward()
    assert_close(x.grad, t.grad.numpy(), atol=1e-12, rtol=0)
    # second order through a nonlinear function of the values (create_graph)
    x2, t2 = both(a, requires_grad=True)
    (gt,) = torch.autograd.grad((fn(torch, t2) ** 3 * torch.tensor(w)).sum(), t2, create_graph=True)
    (gx,) = tc.autograd.grad((fn(tc, x2) ** 3 * tc.tensor(w)).sum(), x2, create_graph=True)
    assert gx.requires_grad
    assert_close(gx, gt.detach().numpy(), atol=1e-10, rtol=1e-10)
    (hx,) = tc.autograd.grad((gx * gx).sum(), x2)
    (ht,) = torch.autograd.grad((gt * gt).sum(), t2)
    assert_close(hx, ht.numpy(), atol=1e-9, rtol=1e-9)


def test_indices_carry_no_grad(rng):
    x = tc.tensor(distinct(rng, (3, 4)), requires_grad=True)
    for out in (x.sort(1), x.topk(2), x.kthvalue(2), x.median(0)):
        assert out.values.requires_grad and out.values.grad_fn is not None
        assert out.indices.dtype is tc.int64 and not out.indices.requires_grad and out.indices.grad_fn is None
    assert not x.argsort().requires_grad


def test_float32_stays_float32(rng):
    x = tc.tensor(distinct(rng, (3, 4)).astype(np.float32), requires_grad=True)
    v = x.sort(1).values
    assert v.dtype is tc.float32
    v.sum().backward()
    assert x.grad.dtype is tc.float32


# ---- errors --------------------------------------------------------------------------------
def _same_error(fn_tc, fn_torch, words=()):
    with pytest.raises(Exception) as theirs:
        fn_torch()
    with pytest.raises(type(theirs.value)) as ours:
        fn_tc()
    for w in words:
        assert w in str(ours.value), f"{w!r} not in {ours.value}"


@pytest.mark.parametrize("call", [
    lambda lib, x: lib.sort(x, 2), lambda lib, x: lib.sort(x, -3), lambda lib, x: lib.argsort(x, 2),
    lambda lib, x: lib.topk(x, 1, 2), lambda lib, x: lib.kthvalue(x, 1, -3), lambda lib, x: lib.median(x, 2),
    lambda lib, x: lib.msort(x[0, 0]).sort(1)])
def test_bad_dim_is_index_error(call):
    x, t = both(np.zeros((2, 3)))
    _same_error(lambda: call(tc, x), lambda: call(torch, t), ["Dimension out of range"])


def test_k_out_of_range():
    x, t = both(np.arange(6.0).reshape(2, 3))
    _same_error(lambda: x.topk(4), lambda: t.topk(4), ["topk", "k=4", "size 3", "[2, 3]"])
    _same_error(lambda: x.topk(-1), lambda: t.topk(-1), ["topk", "k=-1"])
    _same_error(lambda: x.topk(3, 0), lambda: t.topk(3, 0), ["topk", "size 2"])
    _same_error(lambda: x.kthvalue(4), lambda: t.kthvalue(4), ["kthvalue", "k=4", "size 3", "[2, 3]"])
    _same_error(lambda: x.kthvalue(0), lambda: t.kthvalue(0), ["kthvalue", "k=0"])
    s, st = both(np.array(1.0))
    _same_error(lambda: s.topk(2), lambda: st.topk(2), ["topk"])


def test_median_errors():
    x, t = both(np.zeros((0, 3)))
    _same_error(lambda: x.median(0), lambda: t.median(0), ["median", "dim 0", "[0, 3]"])
    y, u = both(np.zeros((2, 3)))
    _same_error(lambda: y.median(keepdim=True), lambda: u.median(keepdim=True), ["median"])


def test_return_types_print_and_compare(rng):
    x = tc.tensor(distinct(rng, (2, 3)))
    out = x.sort()
    assert repr(out).startswith("sort(values=")
    assert isinstance(out, tuple) and len(out) == 2
    assert type(out) is tc.return_types.sort
    assert type(x.topk(1)) is tc.return_types.topk
    assert type(x.kthvalue(1)) is tc.return_types.kthvalue
    assert type(x.median(0)) is tc.return_types.median
