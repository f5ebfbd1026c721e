"""Bad input: torch's exception type, a message naming the op and the shapes,
dtypes or devices, and nothing changed by the failed call."""
import numpy as np
import pytest
from helpers import assert_close, to_np

import tinygrad_chain as tc
from tinygrad_chain import backends
from tinygrad_chain.backends.numpy_backend import NumpyBackend


def _snapshot(*ts):
    return [(to_np(t).copy(), t._version[0], None if t.grad is None else to_np(t.grad).copy()) for t in ts]


def _assert_unchanged(before, *ts):
    for (values, version, grad), t in zip(before, ts):
        assert np.array_equal(to_np(t), values, equal_nan=True), "values changed by a failed call"
        assert t._version[0] == version, "version counter moved by a failed call"
        assert (grad is None and t.grad is None) or np.array_equal(to_np(t.grad), grad), ".grad changed"


# ---- shapes --------------------------------------------------------------------------------------
def test_matmul_shape_mismatch():
    a, b = tc.ones(2, 3, requires_grad=True), tc.ones(4, 5)
    with pytest.raises(RuntimeError, match=r"matmul.*\(2x3 and 4x5\)"):
        a @ b
    with pytest.raises(RuntimeError, match=r"matmul.*\[2, 2, 3\] and \[2, 4, 5\]"):
        tc.ones(2, 2, 3) @ tc.ones(2, 4, 5)
    with pytest.raises(RuntimeError, match=r"matmul.*\[3\].*\[4\]"):
        tc.ones(3) @ tc.ones(4)
    with pytest.raises(RuntimeError, match=r"matmul.*\[2, 3\].*\[4\]"):
        tc.ones(2, 3) @ tc.ones(4)
    with pytest.raises(RuntimeError, match="matmul.*1D"):
        tc.tensor(1.0) @ tc.ones(3)
    assert a.grad is None


@pytest.mark.parametrize("expr", ["add", "mul", "sub", "div", "where", "maximum", "iadd"])
def test_broadcast_failure(expr):
    x = tc.ones(2, 3, requires_grad=True)
    y = tc.ones(2, 4)
    z = tc.zeros(2, 3)
    before = _snapshot(x, y, z)
    fn = {"add": lambda: x + y, "mul": lambda: x * y, "sub": lambda: x - y, "div": lambda: x / y,
          "where": lambda: tc.where(tc.ones(4) > 0, x, 0.0), "maximum": lambda: x.maximum(y),
          "iadd": lambda: z.add_(y)}[expr]
    name = {"iadd": "add", "where": "where"}.get(expr, expr)
    with pytest.raises(RuntimeError, match=rf"{name}.*broadcast.*\[2, 3\]"):
        fn()
    _assert_unchanged(before, x, y, z)


def test_inplace_result_must_fit():
    z = tc.zeros(3)
    before = _snapshot(z)
    with pytest.raises(RuntimeError, match=r"add_.*\[3\].*\[2, 3\]"):
        z += tc.ones(2, 3)
    with pytest.raises(RuntimeError, match="add_.*float32.*int64"):
        i = tc.tensor([1, 2])
        i += 0.5
    _assert_unchanged(before, z)


def test_reshape_and_dim_errors():
    x = tc.ones(2, 3)
    with pytest.raises(RuntimeError, match=r"reshape.*\[4, 2\].*size 6"):
        x.reshape(4, 2)
    with pytest.raises(IndexError, match=r"sum.*Dimension out of range.*\[-2, 1\].*got 2"):
        x.sum(dim=2)
    with pytest.raises(IndexError, match="softmax.*Dimension out of range"):
        x.softmax(dim=-3)
    with pytest.raises(RuntimeError, match=r"cat.*\[2, 3\].*\[2, 4\]"):
        tc.cat([x, tc.ones(2, 4)], 0)
    with pytest.raises(RuntimeError, match=r"expand.*\(4\).*\(3\).*\[2, 4\].*\[2, 3\]"):
        x.expand(2, 4)


# ---- backward misuse -------------------------------------------------------------------------------
def test_backward_on_non_scalar_without_gradient():
    x = tc.ones(2, 3, requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match=r"backward.*scalar outputs.*\[2, 3\]"):
        y.backward()
    assert x.grad is None
    y.backward(retain_graph=True, gradient=tc.ones(2, 3))  # the graph is still usable
    assert_close(x.grad, 2 * np.ones((2, 3)))


def test_gradient_of_wrong_shape():
    x = tc.ones(2, 3, requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match=r"Mismatch in shape.*\[3\].*\[2, 3\]"):
        y.backward(tc.ones(3))
    with pytest.raises(RuntimeError, match=r"Mismatch in shape.*\[3, 2\].*\[2, 3\]"):
        tc.autograd.grad(y, x, grad_outputs=tc.ones(3, 2))
    assert x.grad is None
    y.backward(tc.ones(2, 3))
    assert_close(x.grad, 2 * np.ones((2, 3)))


def test_second_backward_through_freed_graph():
    x = tc.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward()
    before = _snapshot(x)
    with pytest.raises(RuntimeError, match=r"(?s)second time.*Backward.*retain_graph=True"):
        y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        tc.autograd.grad(y, x)
    _assert_unchanged(before, x)


def test_backward_without_grad():
    x = tc.ones(2)
    with pytest.raises(RuntimeError, match="does not require grad"):
        x.sum().backward()


# ---- dtypes ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [lambda: tc.tensor([1, 2], requires_grad=True),
                                  lambda: tc.tensor([1, 2]).requires_grad_(),
                                  lambda: tc.arange(3, requires_grad=True),
                                  lambda: tc.zeros(2, dtype=tc.int32, requires_grad=True),
                                  lambda: tc.tensor([True], requires_grad=True)],
                         ids=["tensor", "requires_grad_", "arange", "zeros_int32", "bool"])
def test_requires_grad_on_integer_tensor(make):
    with pytest.raises(RuntimeError, match=r"floating point.*(int64|int32|bool)"):
        make()


def test_integer_requires_grad_leaves_tensor_unchanged():
    t = tc.tensor([1, 2])
    with pytest.raises(RuntimeError, match="int64"):
        t.requires_grad = True
    assert not t.requires_grad


def test_float_index_rejected():
    x = tc.ones(3)
    with pytest.raises(IndexError, match="long, int, byte or bool.*float32"):
        x[tc.tensor([0.0, 1.0])]


# ---- devices ---------------------------------------------------------------------------------------------
class _SecondNumpy(NumpyBackend):
    """A second backend instance with its own name: arrays of the same kind, another device."""
    name = "numpy2"


@pytest.fixture
def two_devices(monkeypatch, device):
    """(this device, another device): a real one when two are built, else a second NumPy backend."""
    others = [d for d in backends.available() if d != device]
    if others:
        return device, others[0]
    monkeypatch.setitem(backends._MODULES, "numpy2", ("numpy_backend", "NumpyBackend"))
    monkeypatch.setitem(backends._loaded, "numpy2", _SecondNumpy())
    return device, "numpy2"


@pytest.fixture
def fake_second_device(monkeypatch):
    monkeypatch.setitem(backends._MODULES, "numpy2", ("numpy_backend", "NumpyBackend"))
    monkeypatch.setitem(backends._loaded, "numpy2", _SecondNumpy())
    return "numpy2"


def _check_mixing(d1, d2):
    a = tc.tensor([1.0, 2.0], device=d1, requires_grad=True)
    b = tc.tensor([3.0, 4.0], device=d2)
    assert a.device == d1 and b.device == d2
    before = _snapshot(a, b)
    pattern = rf"same device.*({d1} and {d2}|{d2} and {d1}).*"
    for fn, op in ((lambda: a + b, "add"), (lambda: a * b, "mul"), (lambda: b - a, "sub"),
                   (lambda: tc.where(a > 0, a, b), "where"), (lambda: tc.cat([a, b]), "cat"),
                   (lambda: tc.stack([a, b]), "cat")):
        with pytest.raises(RuntimeError, match=pattern + op):
            fn()
    with pytest.raises(RuntimeError, match=rf"same device.*matmul.*\[1, 2\] float32 on {d1}, \[2, 1\] float32 on {d2}"):
        a.reshape(1, 2) @ b.reshape(2, 1)
    with pytest.raises(RuntimeError, match=rf"{d2}.*{d1}|{d1}.*{d2}"):
        a[tc.tensor([0, 1], device=d2)]
    with pytest.raises(RuntimeError, match=rf"{d2}.*{d1}|{d1}.*{d2}"):
        (a * 2).backward(tc.ones(2, device=d2))
    _assert_unchanged(before, a, b)
    # .to() moves data, and the gradient travels back
    c = (a.to(d2) * b).sum()
    c.backward()
    assert a.grad.device == d1
    assert_close(a.grad, [3.0, 4.0])


def test_mixing_devices(two_devices):
    _check_mixing(*two_devices)


def test_mixing_devices_second_backend_instance(device, fake_second_device):
    # always runs: two backend objects of the same array type are still two devices
    if device != "numpy":
        pytest.skip("the fake second device is a NumPy backend; the numpy param covers it")
    _check_mixing("numpy", fake_second_device)


# ---- in-place changes to saved tensors -------------------------------------------------------------------------
def _inplace(kind, t):
    if kind == "iadd":
        t += 1
    elif kind == "setitem":
        t[0] = 5.0
    elif kind == "add_":
        t.add_(1)
    elif kind == "mul_":
        t.mul_(2)
    elif kind == "view_setitem":   # through a view that shares the version counter
        t.reshape(-1)[1] = 0.0


@pytest.mark.parametrize("kind", ["iadd", "setitem", "add_", "mul_", "view_setitem"])
def test_inplace_change_to_saved_input(kind):
    x = tc.tensor([1.0, 2.0, 3.0], requires_grad=True)
    other = tc.tensor([1.0, 1.0, 1.0], requires_grad=True)
    z = x * 1.0
    w = z * z                  # MulBackward saves z
    loss = w.sum() + (other * 2).sum()
    _inplace(kind, z)
    with pytest.raises(RuntimeError, match=r"modified by an inplace operation.*MulBackward.*\[3\].*version"):
        loss.backward()
    assert x.grad is None and other.grad is None   # checked before any gradient was written


@pytest.mark.parametrize("kind", ["iadd", "setitem", "add_"])
def test_inplace_change_to_saved_output(kind):
    x = tc.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x.exp()                # ExpBackward saves its output
    _inplace(kind, y)
    with pytest.raises(RuntimeError, match=r"modified by an inplace operation.*ExpBackward.*version 1; expected "
                                           r"version 0"):
        y.sum().backward()
    assert x.grad is None


def test_inplace_on_unsaved_tensor_is_fine():
    x = tc.tensor([1.0, 2.0], requires_grad=True)
    z = x + 0.0               # AddBackward saves nothing
    z += 1
    (z * 3).sum().backward()
    assert_close(x.grad, [3.0, 3.0])
    y = x * 2
    y[0] = 0.0               # y itself is saved by nothing: allowed, gradient masked
    y.sum().backward()
    assert_close(x.grad, [3.0, 5.0])


@pytest.mark.parametrize("kind", ["iadd", "setitem", "add_", "mul_", "zero_", "fill_"])
def test_inplace_on_leaf_requiring_grad(kind):
    x = tc.tensor([1.0, 2.0, 3.0], requires_grad=True)
    before = _snapshot(x)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad.*in-place"):
        if kind == "zero_":
            x.zero_()
        elif kind == "fill_":
            x.fill_(2.0)
        else:
            _inplace(kind, x)
    _assert_unchanged(before, x)
    with tc.no_grad():        # allowed inside no_grad (an optimizer step)
        _inplace(kind if kind not in ("zero_", "fill_") else "mul_", x)
    assert x.is_leaf and x.requires_grad and x._version[0] == 1
