"""torch's tensor API that real scripts reach for, against torch 2.13 (issue 14, items 6, 11, 12, 13).

out= on the functional forms, Tensor.data as a tensor sharing memory, the legacy
constructors, and tril/triu/diag/diagonal/diag_embed/trace/outer, Dropout1d/2d/3d,
flatten_parameters(), __format__ of 0-d tensors, and sparse's not-supported errors.
"""
import warnings

import numpy as np
import pytest

import tinygrad_chain as tc
import tinygrad_chain.nn.functional as F
from helpers import assert_close, to_np
from tinygrad_chain.backends import lazy as fusion

torch = pytest.importorskip("torch")


def _error(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001
        return e
    return None


def _same_error(ours, theirs, match=None):
    theirs_e, ours_e = _error(theirs), _error(ours)
    assert theirs_e is not None and ours_e is not None, (theirs_e, ours_e)
    assert isinstance(ours_e, type(theirs_e)), (ours_e, theirs_e)
    if match:
        assert match in str(ours_e), str(ours_e)


def _pair(rng, *shape, dtype=np.float32, requires_grad=False):
    v = rng.standard_normal(shape).astype(dtype)
    return tc.tensor(v, requires_grad=requires_grad), torch.tensor(v, requires_grad=requires_grad)


# ---- 6: out= -----------------------------------------------------------------------------------------------------
CALLS = [  # (name, args as (lib, a, b) -> tuple)
    ("add", lambda lib, a, b: (a, b)), ("sub", lambda lib, a, b: (a, b)), ("mul", lambda lib, a, b: (a, 2.0)),
    ("div", lambda lib, a, b: (a, b)), ("matmul", lambda lib, a, b: (a, b.t())), ("exp", lambda lib, a, b: (a,)),
    ("sum", lambda lib, a, b: (a, 1)), ("mean", lambda lib, a, b: (a, 0)), ("clamp", lambda lib, a, b: (a, -0.5, 0.5)),
    ("where", lambda lib, a, b: (a > 0, a, b)), ("cat", lambda lib, a, b: ([a, b],)),
    ("stack", lambda lib, a, b: ([a, b], 1)), ("maximum", lambda lib, a, b: (a, b)), ("pow", lambda lib, a, b: (a, 2)),
    ("tril", lambda lib, a, b: (a,)), ("amax", lambda lib, a, b: (a, 1)), ("softmax", lambda lib, a, b: (a, 1)),
    ("eq", lambda lib, a, b: (a, a)), ("argmax", lambda lib, a, b: (a, 1)), ("cumsum", lambda lib, a, b: (a, 0)),
    ("outer", lambda lib, a, b: (a[0], b[1])), ("gather", lambda lib, a, b: (a, 1, lib.zeros(3, 2, dtype=lib.long))),
]


@pytest.mark.parametrize("name, args", CALLS, ids=[c[0] for c in CALLS])
def test_out_writes_in_place_as_torch(device, rng, name, args):
    (a, ta), (b, tb) = _pair(rng, 3, 4), _pair(rng, 3, 4)
    want = getattr(torch, name)(*args(torch, ta, tb))
    dtype = {torch.bool: tc.bool, torch.int64: tc.int64}.get(want.dtype, tc.float32)
    out = tc.empty(*want.shape, dtype=dtype)
    version = out._version[0]
    got = getattr(tc, name)(*args(tc, a, b), out=out)
    assert got is out and out._version[0] > version
    assert_close(out, want.numpy(), atol=1e-6, rtol=1e-6)


def test_out_rules_as_torch(device):
    a, ta = tc.ones(3, requires_grad=True), torch.ones(3, requires_grad=True)
    b, tb = tc.ones(3), torch.ones(3)
    # not differentiable: an input or out requiring grad is an error in grad mode, fine under no_grad
    _same_error(lambda: tc.add(a, b, out=tc.empty(3)), lambda: torch.add(ta, tb, out=torch.empty(3)),
                "don't support automatic differentiation")
    _same_error(lambda: tc.add(b, b, out=tc.empty(3, requires_grad=True)),
                lambda: torch.add(tb, tb, out=torch.empty(3, requires_grad=True)))
    with tc.no_grad():
        o = tc.empty(3, requires_grad=True)
        assert tc.add(a, b, out=o) is o and o.requires_grad and to_np(o).tolist() == [2, 2, 2]
    # dtype: a result may not go into a lower kind; otherwise it is cast
    _same_error(lambda: tc.add(b, b, out=tc.empty(3, dtype=tc.long)),
                lambda: torch.add(tb, tb, out=torch.empty(3, dtype=torch.long)), "can't be cast")
    _same_error(lambda: tc.exp(b, out=tc.empty(3, dtype=tc.bool)),
                lambda: torch.exp(tb, out=torch.empty(3, dtype=torch.bool)))
    for out, tout in ((tc.empty(3, dtype=tc.float64), torch.empty(3, dtype=torch.float64)),):
        tc.add(b, b, out=out)
        torch.add(tb, tb, out=tout)
        assert out.dtype is tc.float64 and to_np(out).tolist() == tout.tolist()
    i = tc.add(tc.ones(3, dtype=tc.long), 1, out=tc.empty(3))
    assert i.dtype is tc.float32 and to_np(i).tolist() == torch.add(torch.ones(3, dtype=torch.long), 1,
                                                                     out=torch.empty(3)).tolist()
    _same_error(lambda: tc.add(b, b, out=[1]), lambda: torch.add(tb, tb, out=[1]), "must be Tensor")


def test_out_resizes_with_torchs_warning(device):
    b = tc.ones(3)
    with pytest.warns(UserWarning, match="was resized since it had shape \\[2\\]"):
        o = tc.add(b, b, out=tc.empty(2))
    assert o.shape == (3,) and to_np(o).tolist() == [2, 2, 2]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        e = tc.mul(b, 3.0, out=tc.empty(0))  # an empty out is resized silently
    assert to_np(e).tolist() == [3, 3, 3]


def test_out_into_a_view_and_tuple_outs(device):
    whole = tc.zeros(6)
    tc.add(tc.ones(3), tc.ones(3), out=whole[:3])
    assert to_np(whole).tolist() == [2, 2, 2, 0, 0, 0]
    x, tx = tc.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]]), torch.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    v, i = tc.empty(2), tc.empty(2, dtype=tc.long)
    r = tc.max(x, 1, out=(v, i))
    tr = torch.max(tx, 1, out=(torch.empty(2), torch.empty(2, dtype=torch.long)))
    assert r.values is v and r.indices is i and to_np(v).tolist() == tr.values.tolist()
    assert to_np(i).tolist() == tr.indices.tolist()
    s = tc.sort(x, 1, out=(tc.empty(2, 3), tc.empty(2, 3, dtype=tc.long)))
    assert to_np(s[0]).tolist() == torch.sort(tx, 1).values.tolist()
    with pytest.raises(TypeError, match="a tuple of 2 tensors"):
        tc.max(x, 1, out=v)


def test_out_sees_pending_readers_first(device):
    """out= is an in-place write: expressions pending on out's old memory are computed first."""
    x = tc.ones(4)
    y = x * 3.0  # may be pending (cpp_fused)
    tc.add(x, x, out=x)
    assert to_np(y).tolist() == [3, 3, 3, 3] and to_np(x).tolist() == [2, 2, 2, 2]


def test_functions_without_out_refuse_it_as_torch(device):
    _same_error(lambda: tc.reshape(tc.ones(4), (2, 2), out=tc.empty(2, 2)),
                lambda: torch.reshape(torch.ones(4), (2, 2), out=torch.empty(2, 2)))


# ---- 11: Tensor.data -----------------------------------------------------------------------------------------
def test_data_is_a_detached_tensor_sharing_memory(device):
    x = tc.tensor([1.0, 2.0], requires_grad=True)
    d = x.data
    assert type(d) is tc.Tensor and not d.requires_grad and d.is_leaf and d.grad_fn is None
    d[0] = 5.0
    assert to_np(x).tolist() == [5.0, 2.0]
    p = tc.nn.Parameter(tc.ones(2))
    assert type(p.data) is tc.Tensor and type(torch.nn.Parameter(torch.ones(2)).data) is torch.Tensor


def test_the_update_idioms_of_real_scripts(device, rng):
    """regression.py's `param.data.add_(-lr * param.grad)`, `p.data -= lr * p.grad`, copy_ into .data."""
    wv = rng.standard_normal((4, 3)).astype(np.float32)
    xv = rng.standard_normal((5, 4)).astype(np.float32)
    ours, theirs = [], []
    for lib, w in ((tc, tc.tensor(wv, requires_grad=True)), (torch, torch.tensor(wv, requires_grad=True))):
        x = lib.tensor(xv)
        for step in range(3):
            loss = ((x @ w).tanh() ** 2).sum()
            loss.backward()
            if step == 0:
                w.data.add_(-0.1 * w.grad)
            elif step == 1:
                w.data -= 0.1 * w.grad
            else:
                w.data.copy_(w.data - 0.1 * w.grad)
            w.grad.zero_()
        (ours if lib is tc else theirs).append(w)
    assert_close(ours[0], theirs[0].detach().numpy(), atol=1e-6, rtol=1e-5)
    assert ours[0].requires_grad and ours[0].is_leaf


def test_data_writes_are_unseen_by_the_version_counter_as_torch(device):
    """torch's .data has its own version counter: writing through it after a forward is not an error
    at backward (the gradient uses the new values); detach() shares the counter and is caught."""
    results = []
    for lib in (tc, torch):
        x = lib.ones(3, requires_grad=True)
        y = (x * x).sum()
        x.data.add_(1.0)
        y.backward()
        results.append(list(x.grad.tolist()))
    assert results[0] == results[1] == [4.0, 4.0, 4.0]
    for lib in (tc, torch):
        x = lib.ones(3, requires_grad=True)
        z = x.exp()
        z.detach().mul_(2)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            z.sum().backward()
    d, td = tc.ones(2, requires_grad=True), torch.ones(2, requires_grad=True)
    a, ta = d.data, td.data
    a.add_(1)
    ta.add_(1)
    assert (d._version[0], a._version[0]) == (td._version, ta._version) == (0, 1)


def test_data_setter_takes_the_other_tensors_memory(device):
    a, ta = tc.zeros(2), torch.zeros(2)
    a.data = tc.ones(3, dtype=tc.float64)
    ta.data = torch.ones(3, dtype=torch.float64)
    assert a.shape == ta.shape == (3,) and a.dtype is tc.float64 and to_np(a).tolist() == ta.tolist()
    _same_error(lambda: setattr(a, "data", [1, 2]), lambda: setattr(ta, "data", [1, 2]), "has to be a tensor")
    m = tc.nn.Linear(2, 2)
    m.weight.data = tc.zeros(2, 2)  # the reset idiom
    assert to_np(m(tc.ones(1, 2)) - m.bias).tolist() == [[0.0, 0.0]]


def test_writes_through_data_compute_pending_readers_first(device):
    """The fusion rule for memory handed out holds: .data is a tensor, and its in-place ops compute
    every pending expression that reads the memory before writing (cpp_fused defers them)."""
    x = tc.tensor(np.arange(6, dtype=np.float32))
    y = x * 2.0
    x.data.fill_(-1.0)
    x.data[0] = 7.0
    assert to_np(y).tolist() == [0, 2, 4, 6, 8, 10]
    p = tc.nn.Parameter(tc.ones(5))
    q = p * 3.0
    p.data.add_(1.0)
    p.data -= 0.5
    assert to_np(q).tolist() == [3.0] * 5 and to_np(p).tolist() == [1.5] * 5
    if fusion.config.min_elements == 1 and getattr(p._b, "fused_ops", None):
        r = p * 2.0
        assert fusion.is_pending(r._data)  # .data does not stop p's memory being fused lazily
        p.data.copy_(tc.zeros(5))
        assert to_np(r).tolist() == [3.0] * 5


def test_from_numpy_meets_the_scripts_other_cpu_tensors(device):
    """torch.from_numpy gives a CPU tensor that mixes with the others: here on the default CPU device,
    still sharing memory; the array stays the caller's, so fused work never reads it lazily."""
    a = np.ones(4, np.float32)
    t = tc.from_numpy(a)
    assert t.device.type == "cpu" and to_np(t + tc.ones(4, device=t.device)).tolist() == [2.0] * 4
    y = t * 3.0
    a[:] = 7.0
    assert to_np(y).tolist() == [3.0] * 4 and to_np(t).tolist() == [7.0] * 4


def test_numpy_access_stays_with_numpy(device):
    x = tc.tensor([1.0, 2.0])
    a = x.numpy()
    assert isinstance(a, np.ndarray) and np.asarray(x).tolist() == [1.0, 2.0]
    a[0] = 9.0  # shares memory
    assert to_np(x).tolist() == [9.0, 2.0]


# ---- 12: legacy constructors -------------------------------------------------------------------------------
LEGACY = [
    ("Tensor", (2, 3)), ("Tensor", ([1, 2],)), ("Tensor", ()), ("Tensor", (3,)), ("Tensor", ((2, 3),)),
    ("Tensor", ([[1, 2], [3, 4]],)), ("FloatTensor", (2, 3)), ("FloatTensor", ([1, 2],)),
    ("LongTensor", ([1.7, 2],)), ("LongTensor", (3,)), ("DoubleTensor", ([1, 2],)), ("BoolTensor", ([1, 0],)),
    ("IntTensor", ([1, 2],)), ("FloatTensor", (np.array([1, 2]),)),
]


@pytest.mark.parametrize("name, args", LEGACY, ids=[f"{n}{a}" for n, a in LEGACY])
def test_legacy_constructors_as_torch(device, name, args):
    ours, theirs = getattr(tc, name)(*args), getattr(torch, name)(*args)
    assert type(ours) is tc.Tensor and type(theirs) is torch.Tensor
    assert ours.shape == theirs.shape and ours.dtype.name == str(theirs.dtype).split(".")[1]
    if args and isinstance(args[0], (list, tuple, np.ndarray)):  # data (sizes leave values uninitialised)
        assert to_np(ours).tolist() == theirs.tolist()
    assert not ours.requires_grad and ours.is_leaf


def test_legacy_constructor_details_as_torch(device):
    assert tc.Tensor(tc.Size([2, 3])).shape == torch.Tensor(torch.Size([2, 3])).shape == (2, 3)
    t = tc.tensor([1, 2])
    alias = tc.Tensor(t)  # torch: the same memory, the same dtype
    assert alias.dtype is tc.int64 and torch.Tensor(torch.tensor([1, 2])).dtype is torch.int64
    alias[0] = 9
    assert to_np(t).tolist() == [9, 2]
    assert tc.LongTensor(tc.tensor([1, 2])).dtype is tc.int64
    for ours, theirs, match in ((lambda: tc.Tensor(2.5), lambda: torch.Tensor(2.5), "must be a sequence"),
                                (lambda: tc.Tensor("a"), lambda: torch.Tensor("a"), None),
                                (lambda: tc.Tensor(2, -1), lambda: torch.Tensor(2, -1), "negative dimension"),
                                (lambda: tc.FloatTensor(tc.tensor([1, 2])),
                                 lambda: torch.FloatTensor(torch.tensor([1, 2])), None),
                                (lambda: tc.Tensor([1, 2], dtype=tc.float64),
                                 lambda: torch.Tensor([1, 2], dtype=torch.float64), None)):
        _same_error(ours, theirs, match)
    p = tc.nn.Parameter(tc.Tensor(3, 4))  # the old layer idiom, then an initialiser
    tc.nn.init.uniform_(p, -1, 1)
    assert p.shape == (3, 4) and p.requires_grad and float(p.abs().max()) <= 1


def test_new_constructors_as_torch(device):
    for lib in (tc, torch):
        x = lib.ones(2, dtype=lib.float64)
        got = [x.new_zeros(2, 3), x.new_zeros((2, 3)), x.new_ones(2), x.new_full((2,), 7), x.new_tensor([1, 2]),
               x.new_zeros(2, dtype=lib.int64)]
        desc = [(str(t.dtype).split(".")[1], tuple(t.shape), t.tolist()) for t in got]
        desc += [(x.new_empty(3).shape == (3,), x.element_size(), x.nelement())]
        if lib is tc:
            ours = desc
            assert all(t.device == x.device for t in got)
    assert ours == desc


def test_legacy_types_isinstance_and_casts(device):
    x, tx = tc.zeros(2), torch.zeros(2)
    for name in ("FloatTensor", "DoubleTensor", "LongTensor", "IntTensor", "BoolTensor"):
        assert isinstance(x, getattr(tc, name)) == isinstance(tx, getattr(torch, name)), name
    assert isinstance(x, tc.Tensor) and not isinstance(x, tc.cuda.FloatTensor)
    i, ti = tc.tensor([1, 2]), torch.tensor([1, 2])
    for to in ("FloatTensor", "DoubleTensor", "BoolTensor"):
        ours, theirs = i.type(getattr(tc, to)), ti.type(getattr(torch, to))
        assert ours.dtype.name == str(theirs.dtype).split(".")[1] and to_np(ours).tolist() == theirs.tolist()
    assert i.type() == ti.type().replace("torch", "tinygrad_chain") == "tinygrad_chain.LongTensor"
    assert i.type("torch.DoubleTensor").dtype is tc.float64 and i.type(tc.float32).dtype is tc.float32
    assert repr(tc.FloatTensor) == "<class 'tinygrad_chain.FloatTensor'>" and tc.FloatTensor.dtype is tc.float32
    m = tc.nn.Linear(2, 2).type(tc.DoubleTensor)
    assert m.weight.dtype is tc.float64 and m.weight.requires_grad


# ---- 13: matrix structure --------------------------------------------------------------------------------------
def _check(ours_fn, theirs_fn, *arrays, atol=1e-6):
    """Values and gradients (with a random upstream gradient) against torch."""
    ours_in = [tc.tensor(a, requires_grad=True) for a in arrays]
    theirs_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, tout = ours_fn(*ours_in), theirs_fn(*theirs_in)
    assert out.shape == tout.shape
    assert_close(out, tout.detach().numpy(), atol=atol)
    g = np.random.default_rng(5).standard_normal(tuple(tout.shape)).astype(arrays[0].dtype)
    (out * tc.tensor(g)).sum().backward()
    (tout * torch.tensor(g)).sum().backward()
    for o, t in zip(ours_in, theirs_in):
        assert_close(o.grad, t.grad.numpy(), atol=atol)


@pytest.mark.parametrize("k", [0, 1, -1, 5, -5])
@pytest.mark.parametrize("shape", [(4, 4), (3, 5), (2, 5, 3)])
def test_tril_triu_as_torch(device, rng, k, shape):
    a = rng.standard_normal(shape).astype(np.float32)
    _check(lambda x: x.tril(k), lambda x: x.tril(k), a)
    _check(lambda x: tc.triu(x, k), lambda x: torch.triu(x, k), a)


@pytest.mark.parametrize("dtype", ["bool", "int32", "int64", "float16"])
def test_tril_triu_keep_the_dtype_as_torch(device, dtype):
    """A bool causal mask stays bool (masked_fill takes only bool masks): torch.triu(ones(n, n, dtype=bool), 1)."""
    ours, theirs = tc.ones(3, 3, dtype=getattr(tc, dtype)), torch.ones(3, 3, dtype=getattr(torch, dtype))
    for f in (lambda x: x.triu(1), lambda x: x.tril(-1)):
        assert f(ours).dtype is getattr(tc, dtype) and f(theirs).dtype == getattr(torch, dtype)
        assert f(ours).tolist() == f(theirs).tolist()


def test_tril_keeps_inf_out_of_the_masked_part(device):
    a = np.array([[1.0, np.inf], [np.nan, 2.0]], np.float32)
    assert to_np(tc.tensor(a).tril()).tolist()[0] == torch.tensor(a).tril().tolist()[0] == [1.0, 0.0]
    m = tc.tensor(a).triu(1)
    assert np.isinf(to_np(m)[0, 1]) and not np.isnan(to_np(m)).any()
    causal = tc.ones(3, 3, dtype=tc.bool).tril()  # the attention-mask idiom
    assert to_np(causal).tolist() == torch.ones(3, 3, dtype=torch.bool).tril().tolist()
    assert tc.ones(2, 2, dtype=tc.long).triu().dtype is tc.int64


@pytest.mark.parametrize("offset, dim1, dim2", [(0, 0, 1), (1, 0, 1), (-2, 0, 1), (1, 0, 2), (-1, 2, 0),
                                                (0, -1, -2), (7, 0, 1)])
def test_diagonal_as_torch(device, rng, offset, dim1, dim2):
    a = rng.standard_normal((3, 4, 5)).astype(np.float32)
    _check(lambda x: x.diagonal(offset, dim1, dim2), lambda x: x.diagonal(offset, dim1, dim2), a)
    _check(lambda x: tc.diagonal(x, offset=offset, dim1=dim1, dim2=dim2),
           lambda x: torch.diagonal(x, offset=offset, dim1=dim1, dim2=dim2), a)


@pytest.mark.parametrize("offset, dim1, dim2", [(0, -2, -1), (1, -2, -1), (-2, -2, -1), (1, 0, 2), (-1, 2, 0)])
def test_diag_embed_as_torch(device, rng, offset, dim1, dim2):
    a = rng.standard_normal((2, 3)).astype(np.float32)
    _check(lambda x: tc.diag_embed(x, offset, dim1, dim2), lambda x: torch.diag_embed(x, offset, dim1, dim2), a)


@pytest.mark.parametrize("k", [0, 2, -1])
def test_diag_trace_outer_as_torch(device, rng, k):
    v, m = rng.standard_normal(3).astype(np.float32), rng.standard_normal((3, 4)).astype(np.float32)
    _check(lambda x: tc.diag(x, k), lambda x: torch.diag(x, k), v)
    _check(lambda x: x.diag(k), lambda x: x.diag(k), m)
    _check(lambda x: tc.trace(x), lambda x: torch.trace(x), m)
    _check(lambda x, y: tc.outer(x, y), lambda x, y: torch.outer(x, y), v, m[0])
    assert tc.trace(tc.arange(9).reshape(3, 3)).item() == torch.trace(torch.arange(9).reshape(3, 3)).item() == 12


def test_matrix_ops_second_derivatives(device):
    """Composed of differentiable ops: a Hessian-vector product flows through them (float64)."""
    a = np.random.default_rng(3).standard_normal((3, 3))
    results = []
    for lib in (tc, torch):
        x = lib.tensor(a, requires_grad=True)
        y = (x.tril(-1) ** 2).sum() + (x.diagonal() ** 3).sum() + lib.diag_embed(x[0]).pow(2).sum()
        (g,) = lib.autograd.grad(y, x, create_graph=True)
        (h,) = lib.autograd.grad((g * lib.ones_like(g)).sum(), x)
        results.append(np.asarray(h.detach().tolist()))
    np.testing.assert_allclose(results[0], results[1], rtol=1e-12)


def test_matrix_op_errors_as_torch(device):
    for ours, theirs, match in (
            (lambda: tc.tril(tc.ones(3)), lambda: torch.tril(torch.ones(3)), "at least 2 dimensions"),
            (lambda: tc.diag(tc.ones(2, 2, 2)), lambda: torch.diag(torch.ones(2, 2, 2)), "1D or 2D"),
            (lambda: tc.trace(tc.ones(2, 2, 2)), lambda: torch.trace(torch.ones(2, 2, 2)), "expected a matrix"),
            (lambda: tc.outer(tc.ones(2, 2), tc.ones(2)), lambda: torch.outer(torch.ones(2, 2), torch.ones(2)), None),
            (lambda: tc.diagonal(tc.ones(2, 2), 0, 1, 1), lambda: torch.diagonal(torch.ones(2, 2), 0, 1, 1), None),
            (lambda: tc.ones(2, 2).diagonal(0, 0, 5), lambda: torch.ones(2, 2).diagonal(0, 0, 5), None)):
        _same_error(ours, theirs, match)


@pytest.mark.parametrize("name, shape", [("Dropout1d", (4, 6, 5)), ("Dropout1d", (6, 5)), ("Dropout2d", (4, 6, 3, 3)),
                                         ("Dropout2d", (6, 3, 3)), ("Dropout3d", (2, 6, 2, 2, 2)),
                                         ("Dropout3d", (6, 2, 2, 2))])
def test_channel_dropout_zeroes_whole_channels(device, name, shape):
    layer = getattr(tc.nn, name)(p=0.5)
    assert repr(layer) == repr(getattr(torch.nn, name)(p=0.5)) == f"{name}(p=0.5, inplace=False)"
    x = tc.ones(*shape, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Dropout2d's 3-D input: torch's warning, also ours
        y = layer(x)
    # the channels, as torch reads them: Dropout2d takes (N, C, ...) of any input (a 3-D one as (N, C, L))
    lead = {"Dropout1d": len(shape) - 1, "Dropout2d": 2, "Dropout3d": 2 if len(shape) == 5 else 1}[name]
    per_channel = to_np(y).reshape(int(np.prod(shape[:lead])), -1)
    for row in per_channel:  # each channel is all zeros or all 1/(1-p)
        assert set(row.tolist()) in ({0.0}, {2.0})
    assert {0.0, 2.0} <= set(per_channel[:, 0].tolist()) or per_channel.shape[0] < 8
    y.sum().backward()
    assert_close(x.grad, to_np(y))  # d(sum)/dx is the mask
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert layer.eval()(x) is x


def test_channel_dropout_errors_and_warnings_as_torch(device):
    _same_error(lambda: F.dropout1d(tc.ones(5)), lambda: torch.nn.functional.dropout1d(torch.ones(5)),
                "Expected 2D or 3D input")
    _same_error(lambda: tc.nn.Dropout2d(1.5), lambda: torch.nn.Dropout2d(1.5), "between 0 and 1")
    with pytest.warns(UserWarning, match="dropout2d"):
        F.dropout2d(tc.ones(3, 4, 5))
    with pytest.warns(UserWarning):
        torch.nn.functional.dropout2d(torch.ones(3, 4, 5))
    assert to_np(F.dropout2d(tc.ones(2, 3, 2, 2), p=1.0)).sum() == 0
    assert F.dropout3d(x := tc.ones(2, 3, 2, 2, 2), training=False) is x


def test_flatten_parameters_is_a_no_op(device):
    for cls in (tc.nn.LSTM, tc.nn.GRU, tc.nn.RNN):
        m = cls(3, 4)
        before = [to_np(p).copy() for p in m.parameters()]
        assert m.flatten_parameters() is None and torch.nn.LSTM(3, 4).flatten_parameters() is None
        assert all((a == to_np(p)).all() for a, p in zip(before, m.parameters()))


def test_format_of_0d_tensors_as_torch(device):
    for spec in ("{:+.2f}", "{:.4f}", "{:e}", "{}", "{:>8.3f}"):
        assert spec.format(tc.tensor(3.14159)) == spec.format(torch.tensor(3.14159)), spec
    assert "{:d}".format(tc.tensor(7)) == "{:d}".format(torch.tensor(7)) == "7"
    assert f"{tc.tensor([1.0, 2.0])}" == str(tc.tensor([1.0, 2.0]))
    _same_error(lambda: "{:.2f}".format(tc.tensor([1.0, 2.0])), lambda: "{:.2f}".format(torch.tensor([1.0, 2.0])))


def test_sparse_is_refused_clearly(device):
    for fn in (lambda: tc.sparse_coo_tensor([[0], [1]], [1.0], (2, 2)), lambda: tc.ones(2, 2).to_sparse(),
               lambda: tc.sparse.mm(tc.ones(2, 2), tc.ones(2, 2)), lambda: tc.sparse_csr_tensor([0], [0], [1.0]),
               lambda: tc.spmm(tc.ones(2, 2), tc.ones(2, 2))):
        with pytest.raises(NotImplementedError, match="sparse tensors are not supported by tinygrad_chain"):
            fn()
    assert tc.ones(2).is_sparse is False and torch.ones(2).is_sparse is False


def test_device_and_layout_flags_as_torch(device):
    """Scripts branch on these (dcgan: `if (input.is_cuda or input.is_xpu) and self.ngpu > 1`)."""
    t = tc.ones(2)
    assert t.is_cpu is (t.device.type == "cpu") and t.is_cuda is (t.device.type == "cuda")
    for flag in ("is_xpu", "is_mps", "is_meta", "is_xla", "is_ipu", "is_maia", "is_mtia", "is_vulkan",
                 "is_mkldnn", "is_quantized", "is_nested", "is_sparse_csr"):
        assert getattr(t, flag) is False and getattr(torch.ones(2), flag) is False, flag
    assert torch.ones(2).is_cpu is True


@pytest.mark.parametrize("args, kwargs", [((1,), {}), ((-5,), {}), ((2, 1), {}), (((1, 2), (1, 2)), {}),
                                          (((-1, 7),), {"dims": (0, 2)}), ((3,), {"dims": -1}), ((0, 1), {})])
def test_roll_as_torch(device, args, kwargs):
    """makemore's MLP builds its context window with torch.roll."""
    x = np.arange(24.0).reshape(2, 3, 4)
    a, ta = tc.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, tout = tc.roll(a, *args, **kwargs), torch.roll(ta, *args, **kwargs)
    assert to_np(out).tolist() == tout.detach().numpy().tolist()
    w = np.arange(24.0).reshape(2, 3, 4) ** 2
    (out * tc.tensor(w)).sum().backward()
    (tout * torch.tensor(w)).sum().backward()
    assert to_np(a.grad).tolist() == ta.grad.numpy().tolist()
    assert to_np(a.roll(*args, **kwargs)).tolist() == tout.detach().numpy().tolist()


def test_roll_errors_as_torch(device):
    for args in (((1, 2),), ((1, 2), 0)):
        with pytest.raises(RuntimeError, match="shifts and dimensions must align"):
            torch.roll(torch.ones(2, 3), *args)
        with pytest.raises(RuntimeError, match="shifts and dimensions must align"):
            tc.roll(tc.ones(2, 3), *args)


@pytest.mark.parametrize("shape, r", [((1, 9, 2, 3), 3), ((2, 3, 8, 2, 2), 2), ((4, 1, 1), 2)])
def test_pixel_shuffle_and_unshuffle_as_torch(device, shape, r):
    """pytorch/examples' super_resolution ends its network with nn.PixelShuffle."""
    x = np.random.default_rng(0).standard_normal(shape)
    a, ta = tc.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, tout = tc.nn.PixelShuffle(r)(a), torch.nn.PixelShuffle(r)(ta)
    assert out.shape == tuple(tout.shape) and to_np(out).tolist() == tout.detach().numpy().tolist()
    w = np.arange(tout.numel(), dtype=np.float64).reshape(tout.shape)
    (out * tc.tensor(w)).sum().backward()
    (tout * torch.tensor(w)).sum().backward()
    assert to_np(a.grad).tolist() == ta.grad.numpy().tolist()
    back, tback = F.pixel_unshuffle(out, r), torch.nn.functional.pixel_unshuffle(tout, r)
    assert to_np(back).tolist() == tback.detach().numpy().tolist() == x.tolist()
    assert repr(tc.nn.PixelShuffle(r)) == repr(torch.nn.PixelShuffle(r))
    assert repr(tc.nn.PixelUnshuffle(r)) == repr(torch.nn.PixelUnshuffle(r))
    assert tc.nn.modules.pixelshuffle.PixelShuffle is tc.nn.PixelShuffle


@pytest.mark.parametrize("name, shape, r", [("pixel_shuffle", (2, 3), 2), ("pixel_shuffle", (5, 2, 2), 2),
                                            ("pixel_shuffle", (4, 2, 2), 0), ("pixel_unshuffle", (1, 3, 3), 2),
                                            ("pixel_unshuffle", (1, 2, 3), 2), ("pixel_unshuffle", (2, 3), 2)])
def test_pixel_shuffle_errors_as_torch(device, name, shape, r):
    with pytest.raises(RuntimeError) as theirs:
        getattr(torch.nn.functional, name)(torch.ones(shape), r)
    with pytest.raises(RuntimeError) as ours:
        getattr(F, name)(tc.ones(shape), r)
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (4, 2, 3, 3), (6, 6)])
def test_orthogonal_init_as_torch(device, shape):
    """super_resolution initialises its convolutions with init.orthogonal_(w, init.calculate_gain('relu'))."""
    gain = tc.nn.init.calculate_gain("relu")
    for lib in (tc, torch):
        w = lib.nn.Parameter(lib.empty(*shape))
        out = lib.nn.init.orthogonal_(w, gain)
        assert out is w and w.requires_grad and w.grad_fn is None and tuple(w.shape) == shape
        m = np.asarray(w.detach().numpy(), dtype=np.float64).reshape(shape[0], -1)
        small = m @ m.T if m.shape[0] <= m.shape[1] else m.T @ m  # the orthonormal side, times gain**2
        np.testing.assert_allclose(small, gain ** 2 * np.eye(min(m.shape)), atol=1e-5)
    h = tc.empty(3, 4, dtype=tc.float16)
    assert tc.nn.init.orthogonal_(h).dtype == tc.float16
    for lib in (tc, torch):
        with pytest.raises(ValueError, match="^Only tensors with 2 or more dimensions are supported$"):
            lib.nn.init.orthogonal_(lib.empty(3))


def test_broadcast_shapes_as_torch(device):
    """tc.broadcast_shapes called this module's max (tc.max) and failed on every input."""
    for shapes in (((2, 1), (3,)), (2, (3, 1)), (), ((1,), (4, 1, 5), (5,)), ((0,), (1,))):
        assert tc.broadcast_shapes(*shapes) == torch.broadcast_shapes(*shapes)
        assert isinstance(tc.broadcast_shapes(*shapes), tc.Size)
    with pytest.raises(RuntimeError) as theirs:
        torch.broadcast_shapes((2,), (3,))
    with pytest.raises(RuntimeError) as ours:
        tc.broadcast_shapes((2,), (3,))
    assert str(ours.value) == str(theirs.value)
