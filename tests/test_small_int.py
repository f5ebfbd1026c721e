"""uint8, int8 and int16 as torch has them: creation, casts, promotion against torch.result_type,
wrap-around, reductions (sums accumulate in int64), uint8/bool masks, from_numpy sharing and
tc.save/tc.load, on every device (the C++ kernels take float32/float64 only: these go to NumPy)."""
import io
import itertools
import warnings

import numpy as np
import pytest
import torch

import tinygrad_chain as tc

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]
SMALL = ["uint8", "int8", "int16"]


def _pair(name, values=None):
    values = values if values is not None else ([[0, 1, 3], [5, 7, 2]] if name != "bool" else [[0, 1, 1], [1, 0, 1]])
    return tc.tensor(values, dtype=getattr(tc, name)), torch.tensor(values, dtype=getattr(torch, name))


def _same(ours, theirs):
    assert ours.dtype.name == str(theirs.dtype).split(".")[-1], (ours.dtype, theirs.dtype)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("op", ["add", "mul", "sub", "div", "lt", "eq", "ge"])
def test_promotion_pairs_as_torch(op):
    for a, b in itertools.product(DTYPES, DTYPES):
        (xa, ta), (xb, tb) = _pair(a), _pair(b)
        if op == "sub" and "bool" in (a, b):
            continue  # torch refuses any bool tensor in a subtraction; here only bool - bool (NumPy's TypeError)
        expected = getattr(torch, op)(ta, tb)
        if op in ("add", "mul", "sub"):
            assert tc.result_type(xa, xb).name == str(torch.result_type(ta, tb)).split(".")[-1], (a, b)
        _same(getattr(tc, op)(xa, xb), expected)


@pytest.mark.parametrize("name", SMALL)
def test_creation_and_aliases(name):
    assert tc.short is tc.int16 and torch.short is torch.int16
    x, t = _pair(name, [1, 2, 100])
    _same(x, t)
    _same(tc.zeros(3, dtype=getattr(tc, name)) + 4, torch.zeros(3, dtype=getattr(torch, name)) + 4)
    _same(tc.arange(5, dtype=getattr(tc, name)), torch.arange(5, dtype=getattr(torch, name)))
    info, tinfo = tc.iinfo(getattr(tc, name)), torch.iinfo(getattr(torch, name))
    assert (info.min, info.max, info.bits) == (tinfo.min, tinfo.max, tinfo.bits)


def test_casts_as_torch():
    values = [-3.7, -1.0, 0.0, 0.5, 1.9, 100.0, 200.0]
    x, t = tc.tensor(values), torch.tensor(values)
    for m in ("byte", "char", "short"):
        if m != "byte":  # a negative float to uint8 is undefined in C: torch's values are not a rule
            _same(getattr(x, m)(), getattr(t, m)())
    _same((x / 255 * 255).clamp(0, 255).byte(), (t / 255 * 255).clamp(0, 255).byte())
    i, ti = tc.tensor([-300, -1, 0, 127, 128, 255, 256, 40000]), torch.tensor([-300, -1, 0, 127, 128, 255, 256, 40000])
    for m in ("byte", "char", "short"):  # integer casts wrap as torch
        _same(getattr(i, m)(), getattr(ti, m)())
        _same(i.to(getattr(tc, {"byte": "uint8", "char": "int8", "short": "int16"}[m])), getattr(ti, m)())
    img, timg = _pair("uint8", [[0, 128, 255]])
    _same(img.float() / 255, timg.float() / 255)
    _same(img / 255, timg / 255)
    _same(img.to(tc.int16) - 200, timg.to(torch.int16) - 200)


@pytest.mark.parametrize("name", SMALL)
def test_python_scalars_and_wraparound(name):
    x, t = _pair(name, [1, 100, 120])
    for f in (lambda v: v + 200, lambda v: v * 3, lambda v: v - 5, lambda v: 7 - v, lambda v: v * -1,
              lambda v: v + 300, lambda v: v // 3, lambda v: v % 7, lambda v: v < 300, lambda v: v == 100,
              lambda v: v + v, lambda v: v * v, lambda v: -v if name != "uint8" else v):
        _same(f(x), f(t))
    _same(x * 0.5, t * 0.5)
    _same(x + True, t + True)
    _same(x + tc.tensor(2), t + torch.tensor(2))  # a 0-d int64 tensor joins the small dtype
    _same(x + tc.tensor(2.5), t + torch.tensor(2.5))


@pytest.mark.parametrize("name", SMALL)
def test_reductions_as_torch(name):
    x, t = _pair(name, [[100, 120, 7], [90, 3, 127]])
    for f in (lambda v: v.sum(), lambda v: v.sum(0), lambda v: v.sum(1, keepdim=True), lambda v: v.prod(),
              lambda v: v.cumsum(0), lambda v: v.max(), lambda v: v.min(1)[0], lambda v: v.argmax(),
              lambda v: v.amax(0), lambda v: v.float().mean()):
        _same(f(x), f(t))
    with pytest.raises(RuntimeError):
        t.mean()
    with pytest.raises(RuntimeError):
        x.mean()


def test_masks_as_torch():
    x, t = tc.arange(6.0).reshape(2, 3), torch.arange(6.0).reshape(2, 3)
    (mb, tmb), (mu, tmu) = _pair("bool", [[1, 0, 1], [0, 1, 1]]), _pair("uint8", [[1, 0, 1], [0, 1, 1]])
    _same(x[mb], t[tmb])
    with warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        got = x[mu]
    with warnings.catch_warnings(record=True) as theirs:
        warnings.simplefilter("always")
        expected = t[tmu]
    _same(got, expected)  # a uint8 index is a mask, with torch's deprecation warning
    assert any("uint8" in str(w.message) for w in ours) and any("uint8" in str(w.message) for w in theirs)
    _same(x[tc.tensor([1, 0], dtype=tc.int32)], t[torch.tensor([1, 0], dtype=torch.int32)])
    for name in ("int8", "int16"):  # not index dtypes for torch
        with pytest.raises(IndexError, match="long, int, byte or bool"):
            t[torch.tensor([1, 0], dtype=getattr(torch, name))]
        with pytest.raises(IndexError, match="long, int, byte or bool"):
            x[tc.tensor([1, 0], dtype=getattr(tc, name))]


@pytest.mark.parametrize("name", SMALL)
def test_from_numpy_shares_memory(name):
    a = np.array([1, 2, 3], dtype=name)
    x = tc.from_numpy(a)
    assert x.dtype is getattr(tc, name)
    a[0] = 9
    x[2] = 7
    assert x.tolist() == [9, 2, 3][:2] + [7] and a.tolist() == [9, 2, 7]
    assert x.numpy().dtype == np.dtype(name)


@pytest.mark.parametrize("name", SMALL)
def test_save_load_round_trip(name):
    x = tc.tensor([-1, 0, 1, 100], dtype=getattr(tc, "int16" if name == "int16" else name)) if name != "uint8" \
        else tc.tensor([0, 1, 200, 255], dtype=tc.uint8)
    buf = io.BytesIO()
    tc.save({"x": x, "d": x.dtype}, buf)
    buf.seek(0)
    back = tc.load(buf)
    assert back["d"] is x.dtype and back["x"].dtype is x.dtype
    assert back["x"].tolist() == x.tolist()
